"""One helper for peer-controlled text that reaches a terminal, log, report or error.

A peer (or a file) can put anything in a string: ANSI escape sequences that rewrite
the operator's terminal, newlines that forge log lines, megabytes of text.
:func:`peer_text` turns any value into one short, printable, single-line string.
"""

from __future__ import annotations

__all__ = ["peer_text", "DEFAULT_MAX_CHARS"]

#: Longest sanitized string (in characters, before the ellipsis marker).
DEFAULT_MAX_CHARS = 200


def peer_text(value: object, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Return ``value`` as printable single-line text, at most ``max_chars`` long.

    ``bytes`` are decoded as UTF-8 with replacement.  Every character that is not
    printable (control characters including ESC, CR, LF and TAB, Unicode line
    separators, bidi overrides, unassigned code points...) becomes a ``\\xNN`` /
    ``\\uNNNN`` escape, and backslashes are doubled, so the result cannot change
    the terminal's state or start a new log line.  Longer text is cut and marked
    with ``...[+N chars]``.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value[: 4 * max_chars + 4]).decode("utf-8", "replace")
        extra = max(0, len(value) - (4 * max_chars + 4))
    else:
        text = value if isinstance(value, str) else repr(value)
        extra = 0
    out: list[str] = []
    used = 0
    for i, ch in enumerate(text):
        if ch == "\\":
            piece = "\\\\"
        elif ch.isprintable():
            piece = ch
        else:
            code = ord(ch)
            piece = (
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        if used + len(piece) > max_chars:
            return "".join(out) + f"...[+{len(text) - i + extra} chars]"
        out.append(piece)
        used += len(piece)
    if extra:
        return "".join(out) + f"...[+{extra} bytes]"
    return "".join(out)
