"""A counting semaphore shared by every process of a server: ``n`` slot files and ``flock``.

The multi-process server (``make serve``) runs several Streamlit processes; a limit such as
"two heavy computations at a time" must hold across all of them, not per process. Each slot is
a file ``<dir>/<name>.<i>.lock``; holding the slot is holding an exclusive ``fcntl.flock`` on
that file through a file descriptor of one's own. Such a lock

* conflicts with every other open file description, so threads of one process contend too;
* is released by the kernel when its holder dies (a killed process never leaks a slot).

Nothing here imports streamlit; it is plain POSIX (Linux, macOS).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["FileSemaphore"]


class FileSemaphore:
    """At most ``n`` holders at once among every thread of every process using ``directory``.

    The interface is :class:`threading.Semaphore`'s: ``acquire(blocking, timeout)`` returns
    whether a slot was taken, ``release()`` frees the one this thread took, and ``with sem:``
    holds one for the block. A waiting ``acquire`` polls the slots every ``poll`` seconds.
    """

    def __init__(self, directory: str | os.PathLike[str], name: str, n: int,
                 poll: float = 0.05) -> None:
        if n < 1:
            raise ValueError(f"n={n!r} must be >= 1")
        if not name or "/" in name:
            raise ValueError(f"name={name!r} must be a non-empty file name")
        self.directory, self.name, self.n, self.poll = Path(directory), name, n, poll
        self.directory.mkdir(parents=True, exist_ok=True)
        self._held = threading.local()  # per thread: the descriptors of the slots it holds

    def _paths(self) -> list[Path]:
        return [self.directory / f"{self.name}.{i}.lock" for i in range(self.n)]

    def _try_once(self) -> int | None:
        for path in self._paths():
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a slot; wait for one unless ``blocking`` is False (at most ``timeout`` s)."""
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout={timeout!r} must be >= 0")
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = self._try_once()
            if fd is not None:
                stack: list[int] = getattr(self._held, "fds", [])
                stack.append(fd)
                self._held.fds = stack
                return True
            if not blocking or (end is not None and time.monotonic() >= end):
                return False
            time.sleep(self.poll if end is None else max(0.0, min(self.poll,
                                                                   end - time.monotonic())))

    def release(self) -> None:
        """Free the slot this thread took last."""
        stack: list[int] = getattr(self._held, "fds", [])
        if not stack:
            raise ValueError("release() of a FileSemaphore this thread does not hold")
        fd = stack.pop()
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def holders(self) -> int:
        """How many slots are held now, by anyone (a snapshot: it may change at once)."""
        busy = 0
        for path in self._paths():
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy += 1
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        return busy

    def __enter__(self) -> FileSemaphore:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
