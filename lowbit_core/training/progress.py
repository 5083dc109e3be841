"""The one-line progress bar of the long command-line jobs (curve library, sweeps)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``[####....] 12/40 runs · 1 failed · 0:35 left  <label>`` on ``stream`` (default stderr),
    redrawn in place; the time left extrapolates the mean time per finished run."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.stream, self.width = total, stream or sys.stderr, width
        self.t0 = time.monotonic()

    def update(self, done: int, failed: int = 0, label: str = "") -> None:
        n = done + failed
        el = time.monotonic() - self.t0
        eta = "--:--"
        if n:
            left = int(el / n * (self.total - n))
            eta = f"{left // 60}:{left % 60:02d}"
        fill = int(self.width * n / self.total) if self.total else self.width
        self.stream.write(f"\r[{'#' * fill}{'.' * (self.width - fill)}] {done}/{self.total} runs"
                          f" · {failed} failed · {eta} left {label:<40}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
