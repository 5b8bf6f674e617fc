"""Progress bars per phase on stderr, with rate and ETA.

On a terminal one bar is redrawn in place (at most 10 times a second); when stderr is not a
terminal only a line per finished phase is written, so logs stay readable.  ``quiet``
silences everything (errors are still printed by the driver).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress", "format_count", "format_bytes"]

_BAR = 24


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
        self._phase: str | None = None
        self._start = 0.0
        self._last_draw = 0.0
        self._done = 0
        self._total = 0
        self.phase_times: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        with self._lock:
            now = time.monotonic()
            if phase != self._phase:
                self._finish_locked(now)
                self._phase, self._start, self._last_draw = phase, now, 0.0
            self._done, self._total = done, total
            if total and done >= total:
                self._finish_locked(now)
            elif self._tty and not self._quiet and now - self._last_draw >= 0.1:
                self._last_draw = now
                self._stream.write("\r" + self._line(now) + "\x1b[K")
                self._stream.flush()

    def _line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        done, total = self._done, self._total
        rate = done / elapsed
        frac = min(1.0, done / total) if total else 0.0
        fill = int(frac * _BAR)
        bar = "#" * fill + "." * (_BAR - fill)
        eta = _eta((total - done) / rate) if rate > 0 and total > done else "0:00"
        return (
            f"{self._label}{self._phase:<15} [{bar}] {frac * 100:5.1f}% "
            f"{format_count(done)}/{format_count(total)} {format_count(rate)}/s ETA {eta}"
        )

    def _finish_locked(self, now: float) -> None:
        if self._phase is None:
            return
        elapsed = now - self._start
        self.phase_times[self._phase] = self.phase_times.get(self._phase, 0.0) + elapsed
        if not self._quiet:
            rate = self._done / elapsed if elapsed > 0 else 0.0
            text = (
                f"{self._label}{self._phase:<15} done: {format_count(self._done)} in "
                f"{elapsed:.1f} s ({format_count(rate)}/s)"
            )
            self._stream.write(("\r" + text + "\x1b[K\n") if self._tty else text + "\n")
            self._stream.flush()
        self._phase = None

    def finish(self) -> None:
        """Close the current bar (end of the run or error)."""
        with self._lock:
            self._finish_locked(time.monotonic())

    def info(self, text: str) -> None:
        """A one-line status message (suppressed by quiet)."""
        if self._quiet:
            return
        with self._lock:
            if self._tty and self._phase is not None:
                self._stream.write("\r\x1b[K")
            self._stream.write(f"{self._label}{text}\n")
            self._stream.flush()
