"""Progress bars per phase on stderr, with rate and ETA.

On a terminal one bar is redrawn in place (at most 10 times a second); when stderr is not a
terminal only a line per finished phase is written, so logs stay readable.  ``quiet``
silences progress and summaries; errors and warnings (rejected connection attempts) are
always printed.  Every line goes through :func:`terminal_line`, so no control character can
reach the terminal whatever a message carries.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from ..._sanitize import peer_text

__all__ = ["Progress", "format_count", "format_bytes", "terminal_line", "MAX_LINE_CHARS"]

_BAR = 24
#: Longest line the tool writes to stderr (longer messages are cut, with a marker).
MAX_LINE_CHARS = 2000


def terminal_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` unchanged when it is printable and short, else through
    :func:`fedcrypto._sanitize.peer_text` (the last guard before the terminal: peer strings
    are sanitized where they enter messages already)."""
    if len(text) <= limit and text.isprintable():
        return text
    return peer_text(text, limit)


def format_count(n: float) -> str:
    """``1234567`` -> ``1.23M``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def format_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def _eta(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return (
        f"{seconds // 60}:{seconds % 60:02d}"
        if seconds < 3600
        else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    )


class Progress:
    """Callable ``progress(phase, done, total)`` handed to the PSI party.

    Phases may interleave (a streaming protocol hashes batch 2 while masking the peer's batch
    1): each phase keeps its own counters, the bar shows the phase reported last, and a
    ``done`` line is printed when a phase reaches its total.  A phase's clock starts at the
    previous report of any phase (the work happened in between).

    ``stream``: where to draw (stderr); ``quiet``: draw nothing; ``label``: prefix (used by
    ``psi local`` to tell the two parties apart).
    """

    def __init__(
        self, *, stream: TextIO | None = None, quiet: bool = False, label: str = ""
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._quiet = quiet
        self._label = f"{label} " if label else ""
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last_event = time.monotonic()
        self._last_draw = 0.0
        self._current: str | None = None
        self._drawn = False
        self._phases: dict[str, list[float]] = {}  # phase -> [start, done, total, finished]
        self.phase_times: dict[str, float] = {}

    def reset_clock(self) -> None:
        """Start timing from now (call when the protocol starts)."""
        with self._lock:
            self._last_event = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            now = time.monotonic()
            state = self._phases.get(phase)
            if state is None or state[3]:
                state = self._phases[phase] = [self._last_event, 0.0, 0.0, 0.0]
            state[1], state[2] = float(done), float(total)
            self._last_event = now
            self._current = phase
            if total and done >= total:
                state[3] = 1.0
                self._finish_phase(phase, state, now)
            elif self._tty and not self._quiet and now - self._last_draw >= 0.1:
                self._last_draw = now
                self._stream.write("\r" + self._line(phase, state, now) + "\x1b[K")
                self._stream.flush()
                self._drawn = True

    def _line(self, phase: str, state: list[float], now: float) -> str:
        start, done, total = state[0], state[1], state[2]
        elapsed = max(now - start, 1e-9)
        rate = done / elapsed
        frac = min(1.0, done / total) if total else 0.0
        fill = int(frac * _BAR)
        bar = "#" * fill + "." * (_BAR - fill)
        eta = _eta((total - done) / rate) if rate > 0 and total > done else "0:00"
        return (
            f"{self._label}{phase:<15} [{bar}] {frac * 100:5.1f}% "
            f"{format_count(done)}/{format_count(total)} {format_count(rate)}/s ETA {eta}"
        )

    def _finish_phase(self, phase: str, state: list[float], now: float) -> None:
        elapsed = max(now - state[0], 1e-9)
        self.phase_times[phase] = self.phase_times.get(phase, 0.0) + elapsed
        if self._quiet:
            return
        rate = state[1] / elapsed
        text = (
            f"{self._label}{phase:<15} done: {format_count(state[1])} in "
            f"{elapsed:.1f} s ({format_count(rate)}/s)"
        )
        if self._tty and self._drawn:
            self._stream.write("\r\x1b[K")
        self._drawn = False
        self._stream.write(text + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """Clear an unfinished bar (end of the run or error)."""
        with self._lock:
            if self._tty and self._drawn and not self._quiet:
                self._stream.write("\r\x1b[K")
                self._stream.flush()
            self._drawn = False

    def info(self, text: str) -> None:
        """A one-line status message (suppressed by quiet)."""
        if not self._quiet:
            self._line_out(text)

    def warn(self, text: str) -> None:
        """A one-line warning, printed even when quiet (``fedcrypto psi: warning: ...``)."""
        self._line_out(f"fedcrypto psi: warning: {text}", label=False)

    def _line_out(self, text: str, *, label: bool = True) -> None:
        with self._lock:
            if self._tty and self._drawn:
                self._stream.write("\r\x1b[K")
                self._drawn = False
            prefix = self._label if label else ""
            self._stream.write(terminal_line(f"{prefix}{text}") + "\n")
            self._stream.flush()
