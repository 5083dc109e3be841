"""Seconds this process has spent compiling numba kernels (a clock that time limits subtract).

A page's time limit is about the work a setting asks for, not about the one-off cost of compiling
the kernels on a fresh server (the first run of the Gradient variance page compiles for about
10 s when numba's disk cache is empty, while the run itself takes under a second). numba
announces every compilation as a ``"numba:compile"`` event; :func:`compile_seconds` is the wall
time spent inside the outermost of them, over all threads, since the listener was installed (at
import). Nested compilations (a kernel compiling the functions it calls) are counted once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from numba.core import event

__all__ = ["compile_seconds"]

_lock = threading.Lock()
_total = 0.0
_local = threading.local()


class _Clock(event.Listener):  # type: ignore[misc]
    def on_start(self, ev: Any) -> None:
        depth = getattr(_local, "depth", 0)
        if depth == 0:
            _local.t0 = time.monotonic()
        _local.depth = depth + 1

    def on_end(self, ev: Any) -> None:
        global _total
        depth = getattr(_local, "depth", 0) - 1
        if depth < 0:  # an end without its start (installed mid-compilation): ignore it
            return
        _local.depth = depth
        if depth == 0:
            with _lock:
                _total += time.monotonic() - _local.t0


event.register("numba:compile", _Clock())  # type: ignore[no-untyped-call]


def compile_seconds() -> float:
    """Wall-clock seconds spent compiling numba kernels in this process so far (all threads)."""
    with _lock:
        return _total
