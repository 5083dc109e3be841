"""One :class:`~lowbit_core.training.pool.TrainPool` for every process of a server.

``make serve`` runs several Streamlit processes. Each with its own pool would bound live runs
per process (two processes, two runs at once on a 2-core machine), keep separate queues (a
visitor's place would be its place in one process only) and train the same settings once per
process. Instead one *pool server* process holds the only pool, and every Streamlit process
talks to it through a :class:`RemotePool` (the pool's public methods, over a Unix socket).

* ``python -m lowbit_core.training.pool_server --address RUN/pool.sock --authkey-file KEY``
  serves a pool (its forkserver loads torch at once: the pool is warm before the first run);
* :func:`connect` returns a :class:`RemotePool` whose methods are the pool's: ``submit``
  (raising :class:`~lowbit_core.training.pool.PoolBusy` as the pool does), ``job``, ``find``,
  ``cancel``, ``counts``, ``warming``, and the attributes ``workers``, ``threads``.

If the pool server cannot be reached, ``submit`` raises ``PoolBusy`` saying so and the
read-only calls answer "nothing known" (None, zero counts), so a page never shows a traceback.
Messages are pickled over :mod:`multiprocessing.connection` with an HMAC authkey; the socket
file is created with the owner's permissions only. Nothing here imports streamlit.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from .pool import JobSnapshot, PoolBusy, TrainPool
from .train import TrainParams

__all__ = ["EXPOSED", "RemotePool", "connect", "main", "serve"]

_LOG = logging.getLogger(__name__)

#: the pool methods a client may call
EXPOSED = frozenset({"submit", "job", "find", "cancel", "counts", "warming", "info"})


def _info(pool: TrainPool) -> dict[str, int]:
    return {"workers": pool.workers, "threads": pool.threads, "max_queue": pool.max_queue,
            "max_per_owner": pool.max_per_owner}


def _handle(pool: TrainPool, conn: Connection) -> None:
    """Answer one client connection's calls until it closes."""
    with conn:
        while True:
            try:
                method, args, kwargs = conn.recv()
            except (EOFError, OSError):
                return
            try:
                if method not in EXPOSED:
                    raise ValueError(f"method={method!r} is not a pool method")
                if method == "info":
                    result: Any = _info(pool)
                else:
                    result = getattr(pool, method)(*args, **kwargs)
                reply: tuple[str, Any] = ("ok", result)
            except Exception as exc:  # sent back and raised in the client
                reply = ("err", exc)
            try:
                conn.send(reply)
            except (OSError, ValueError):
                return


def serve(address: str, authkey: bytes, pool: TrainPool | None = None,
          ready: Callable[[], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serve ``pool`` (default: a new, warming :class:`TrainPool`) on the Unix socket
    ``address`` until ``stop`` is set or the process is terminated; then shut the pool down."""
    pool = pool if pool is not None else TrainPool()
    path = Path(address)
    if path.exists():
        path.unlink()
    old = os.umask(0o177)  # the socket file: owner only
    try:
        listener = Listener(address, family="AF_UNIX", authkey=authkey)
    finally:
        os.umask(old)
    stop = stop or threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn = listener.accept()
            except (OSError, EOFError, AuthenticationError):  # closed at shutdown, or a
                if stop.is_set():  # client that failed the authkey check or hung up
                    return
                continue
            threading.Thread(target=_handle, args=(pool, conn), daemon=True,
                             name="pool-client").start()

    threading.Thread(target=accept, daemon=True, name="pool-accept").start()
    if ready is not None:
        ready()
    try:
        stop.wait()
    finally:
        listener.close()
        pool.shutdown()


class RemotePool:
    """A client of a pool server with the pool's interface (thread-safe).

    Connections are pooled: a call takes an idle one (or opens one), so concurrent sessions do
    not wait for each other; a broken connection is dropped and the call tried once more.
    """

    def __init__(self, address: str, authkey: bytes, timeout: float = 10.0) -> None:
        self.address, self._authkey, self._timeout = address, authkey, timeout
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        info = self._call("info")
        self.workers: int = int(info["workers"])
        self.threads: int = int(info["threads"])
        self.max_queue: int = int(info["max_queue"])
        self.max_per_owner: int = int(info["max_per_owner"])

    def _conn(self) -> Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return Client(self.address, family="AF_UNIX", authkey=self._authkey)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.send((method, args, kwargs))
                if not conn.poll(self._timeout):
                    raise TimeoutError(f"the pool server did not answer {method} in "
                                       f"{self._timeout:.0f} s")
                status, value = conn.recv()
            except (EOFError, OSError):
                conn.close()
                if attempt:
                    raise
                continue
            with self._lock:
                self._idle.append(conn)
            if status == "err":
                raise value
            return value
        raise AssertionError("unreachable")

    def _read(self, method: str, default: Any, *args: Any) -> Any:
        try:
            return self._call(method, *args)
        except (EOFError, OSError) as exc:
            _LOG.warning("pool server unreachable (%s): %s", method, exc)
            return default

    def submit(self, p: TrainParams, owner: str, label: str = "", counted: bool = True) -> str:
        try:
            key: str = self._call("submit", p, owner, label, counted)
        except (EOFError, OSError) as exc:
            raise PoolBusy(f"the training server is not reachable ({exc}); try again in a "
                           "minute") from exc
        return key

    def job(self, key: str) -> JobSnapshot | None:
        snap: JobSnapshot | None = self._read("job", None, key)
        return snap

    def find(self, p: TrainParams) -> JobSnapshot | None:
        snap: JobSnapshot | None = self._read("find", None, p)
        return snap

    def cancel(self, key: str, owner: str) -> None:
        self._read("cancel", None, key, owner)

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = self._read("counts", {"running": 0, "queued": 0})
        return c

    def warming(self) -> float | None:
        w: float | None = self._read("warming", None)
        return w

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


def connect(address: str, authkey: bytes) -> RemotePool:
    """A :class:`RemotePool` on the pool server at ``address`` (raises OSError if down)."""
    return RemotePool(address, authkey)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", required=True, help="Unix socket path to listen on")
    ap.add_argument("--authkey-file", required=True, help="file holding the shared secret")
    ap.add_argument("--workers", type=int, default=None, help="runs at once (default: cores)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="pool-server: %(message)s")
    authkey = Path(a.authkey_file).read_bytes().strip()
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pool = TrainPool(workers=a.workers)
    serve(a.address, authkey, pool,
          ready=lambda: _LOG.info("listening on %s (%d runs at a time)", a.address,
                                  pool.workers), stop=stop)
    sys.exit(0)


if __name__ == "__main__":
    main()
