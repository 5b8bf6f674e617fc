"""peer_text: peer-controlled strings become one short printable line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedcrypto._sanitize import peer_text


def test_escapes_terminal_and_log_injection() -> None:
    evil = "name\x1b[2J\x1b]0;pwned\x07\r\nFAKE LOG LINE\u2028\u202e\x00\\"
    out = peer_text(evil)
    assert "\x1b" not in out and "\n" not in out and "\r" not in out
    assert "\u2028" not in out and "\u202e" not in out and "\x00" not in out
    assert out.startswith("name\\x1b[2J")
    assert out.endswith("\\\\")


def test_bytes_and_objects() -> None:
    assert peer_text(b"ab\xffc") == "ab\ufffdc"
    assert peer_text(12) == "12"
    assert peer_text(["a\n"]) == "['a\\\\n']"


def test_truncates_long_text() -> None:
    out = peer_text("x" * 10_000, max_chars=50)
    assert out.startswith("x" * 50) and out.endswith("...[+9950 chars]")
    out = peer_text(b"y" * 10_000, max_chars=10)
    assert len(out) < 40 and "+" in out


@given(st.one_of(st.text(), st.binary()))
def test_always_single_printable_line(value: str | bytes) -> None:
    out = peer_text(value, max_chars=64)
    assert out.isprintable()
    assert len(out) <= 64 + len("...[+99999999 chars]")
