"""A bounded pool of training worker processes shared by every visitor of the lab.

Live runs are CPU-heavy torch loops: run in the web server's process they would hold the GIL
and stall every other session. :class:`TrainPool` runs each one in its own worker process (at
most ``workers`` at once, the rest wait in a FIFO queue), streams its curve rows back over a
pipe, and keeps finished results by configuration, so the same run asked for twice (by one
visitor or by two) trains once.

* :meth:`TrainPool.submit` queues a run (or joins the identical one already queued, running or
  finished) for an *owner* (a browser session) and returns its key;
* :meth:`TrainPool.job` returns a consistent snapshot (state, queue position, progress, rows);
* :meth:`TrainPool.cancel` drops an owner's interest; a run nobody wants any more is removed
  from the queue or its process terminated.

Worker processes come from a ``forkserver`` that has imported torch and the training code once,
so a run starts in milliseconds without forking the (multi-threaded) server. Each worker uses
``threads`` torch threads; with the defaults on a 2-core machine that is one run at a time on
one core, which leaves the other core to the web server. Nothing here imports streamlit.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing as mp
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
from multiprocessing.connection import Connection
from multiprocessing.context import set_spawning_popen  # type: ignore[attr-defined]
from typing import Any, Protocol

import pandas as pd

from .train import CURVE_COLUMNS, TrainParams

__all__ = [
    "JobSnapshot", "JobState", "Pool", "PoolBusy", "TrainPool", "default_layout", "run_key",
    "warm_up",
]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)


class PoolBusy(RuntimeError):
    """The run was not queued: the owner or the whole pool has too many runs waiting."""


def run_key(p: TrainParams) -> str:
    """A stable id of a run's configuration (the cache key): every field of ``p``."""
    return hashlib.sha1(repr(p).encode()).hexdigest()[:16]


def default_layout(cpus: int | None = None) -> tuple[int, int]:
    """``(workers, torch threads per worker)`` for a machine with ``cpus`` cores.

    One core is left to the web server: 2 cores -> one run on one thread; 4 -> two runs on one
    thread each; 8 -> two runs on three threads each.
    """
    n = cpus if cpus is not None else (os.cpu_count() or 1)
    workers = 1 if n <= 3 else 2
    return workers, max(1, (n - 1) // workers)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of one run's state (safe to read without the pool's lock)."""

    key: str
    label: str
    params: TrainParams
    state: JobState
    position: int  #: 1-based place in the queue (0 when not queued)
    step: int  #: last step reported
    steps: int  #: planned steps
    rows: tuple[dict[str, object], ...]  #: curve rows so far (CURVE_COLUMNS)
    error: str  #: why a run failed
    wall_s: float  #: seconds the run has been training (so far, or in total)
    result: dict[str, Any]  #: final figures of a finished run (TrainResult fields)
    #: running, but its worker process has not started yet: the pool's workers are still
    #: loading torch (the first run after a server start), see :meth:`TrainPool.warming`
    starting: bool = False

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.steps) if self.steps else 0.0

    def curve(self) -> pd.DataFrame:
        """The rows so far as a tidy frame (columns CURVE_COLUMNS)."""
        return pd.DataFrame(list(self.rows), columns=CURVE_COLUMNS)


class Pool(Protocol):
    """What the pages use of a pool: a :class:`TrainPool` in this process, or a
    :class:`~lowbit_core.training.pool_server.RemotePool` on the server's one pool."""

    workers: int

    def submit(self, p: TrainParams, owner: str, label: str = "",
               counted: bool = True) -> str: ...
    def job(self, key: str) -> JobSnapshot | None: ...
    def find(self, p: TrainParams) -> JobSnapshot | None: ...
    def cancel(self, key: str, owner: str) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def warming(self) -> float | None: ...


@dataclass
class _Job:
    key: str
    label: str
    params: TrainParams
    steps: int
    owners: set[str]
    counted: set[str] = field(default_factory=set)  #: owners whose run limit it counts against
    state: JobState = JobState.QUEUED
    step: int = 0
    rows: list[dict[str, object]] = field(default_factory=list)
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    proc: Any = None
    cancelled: bool = False


def _noop() -> None:
    """Warm-up target: forking it makes the forkserver finish its preload."""


def warm_up() -> None:
    """Start the forkserver and wait for its preload (a few seconds, once per server)."""
    proc = _process(_noop, (), "lowbit-train-warm-up")
    proc.start()
    proc.join()


def _worker(p: TrainParams, threads: int, conn: Connection) -> None:
    """Worker process body: train ``p`` and stream progress, rows and the result into ``conn``."""
    import torch

    from .train import run

    torch.set_num_threads(threads)
    last = [0.0]

    def progress(step: int, steps: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 0.1 or step == steps:
            last[0] = now
            conn.send(("progress", step))

    try:
        res = run(p, progress=progress, on_eval=lambda row: conn.send(("row", row)))
        conn.send(("done", {
            "final_val_loss": res.final_val_loss, "final_metric": res.final_metric,
            "wall_s": res.wall_s, "steps_per_s": res.steps_per_s, "diverged": res.diverged,
            "device": res.device,
        }))
    except Exception as exc:  # reported to the page as the run's error
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    finally:
        conn.close()


_CTX_LOCK = threading.Lock()
_CTX: Any = None


class _NoMainPopen(popen_forkserver.Popen):  # type: ignore[misc,name-defined]
    """A forkserver start that does not make the child re-run the parent's ``__main__``.

    multiprocessing asks every child to import the parent's main script (as ``__mp_main__``)
    so that objects defined there unpickle. Inside Streamlit, ``__main__`` is the *app script*
    (the script runner installs it there), so each run would execute ``app.py`` again in bare
    mode: about a second per run, and Streamlit calls in a worker. The workers' targets live in
    importable modules, so the main script is not needed. This is CPython 3.11-3.13's
    ``popen_forkserver.Popen._launch`` with the two main-module keys removed.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(
            self, util.close_fds, (_parent_w, self.sentinel)  # type: ignore[attr-defined]
        )
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


#: the private multiprocessing API _NoMainPopen relies on is the same in these versions
_NO_MAIN_OK = sys.version_info[:2] in ((3, 11), (3, 12), (3, 13))


def _process(target: Any, args: tuple[Any, ...], name: str) -> Any:
    """A daemon worker process from the forkserver (see :class:`_NoMainPopen`)."""
    proc = _context().Process(target=target, args=args, daemon=True, name=name)
    if _NO_MAIN_OK:
        proc._Popen = _NoMainPopen  # instance attribute shadows the class's staticmethod
    return proc


def _context() -> Any:
    """The forkserver context, with the training code preloaded into the server (once)."""
    global _CTX
    with _CTX_LOCK:
        if _CTX is None:
            ctx = mp.get_context("forkserver")
            # torch, the training code and the fused kernels, loaded once (see _preload)
            ctx.set_forkserver_preload(["lowbit_core.training._preload"])
            _CTX = ctx
        return _CTX


class TrainPool:
    """Bounded, shared worker pool for live training runs (thread-safe).

    Args:
        workers: runs at once (default from :func:`default_layout`).
        threads: torch threads per run (default from :func:`default_layout`).
        max_queue: runs waiting at most (beyond, :meth:`submit` raises :class:`PoolBusy`).
        max_per_owner: queued + running runs one owner may have.
        keep: finished runs kept for reuse (least recently used are dropped first).
        runner: the process target (tests may pass another importable function).
        warm: start the forkserver in the background now, so the first run starts at once.
    """

    def __init__(
        self,
        workers: int | None = None,
        threads: int | None = None,
        max_queue: int = 12,
        max_per_owner: int = 3,
        keep: int = 64,
        runner: Callable[[TrainParams, int, Connection], None] = _worker,
        warm: bool = True,
    ) -> None:
        w, t = default_layout()
        self.workers = workers or w
        self.threads = threads or t
        for name in ("workers", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} must be >= 1")
        self.max_queue, self.max_per_owner, self.keep = max_queue, max_per_owner, keep
        self._runner = runner
        self._lock = threading.RLock()
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._queue: list[str] = []
        self._running: set[str] = set()
        self._ready = threading.Event()  #: set once the forkserver has loaded torch
        self._since: float | None = time.monotonic() if warm else None  #: warming since
        if warm:
            threading.Thread(target=self._warm, daemon=True, name="lowbit-train-warm-up").start()

    def _warm(self) -> None:
        try:
            warm_up()
        finally:
            self._ready.set()

    # --- public -------------------------------------------------------------------------------

    def submit(self, p: TrainParams, owner: str, label: str = "", counted: bool = True) -> str:
        """Queue run ``p`` for ``owner`` (or join the identical run); return its key.

        A finished identical run is reused as it is; a failed or cancelled one is queued again.
        ``counted=False`` queues a run that goes with another one (the same-seed baseline a
        live run is compared with): it does not count against the owner's run limit.

        Raises:
            PoolBusy: ``owner`` already has ``max_per_owner`` runs queued or running, or the
                queue is full.
        """
        from .tasks import get_task

        key = run_key(p)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.state.active or job.state is JobState.DONE):
                job.owners.add(owner)
                if counted:
                    job.counted.add(owner)
                self._jobs.move_to_end(key)
                return key
            mine = sum(1 for j in self._jobs.values() if owner in j.counted and j.state.active)
            if counted and mine >= self.max_per_owner:
                raise PoolBusy(
                    f"you already have {mine} runs queued or running (at most "
                    f"{self.max_per_owner}); cancel one or wait for it to finish"
                )
            if len(self._queue) >= self.max_queue:
                raise PoolBusy(
                    f"the shared queue is full ({len(self._queue)} runs waiting); "
                    "try again in a minute"
                )
            steps = p.steps or get_task(p.task).steps
            self._jobs[key] = _Job(key, label or key, p, steps, {owner},
                                   {owner} if counted else set())
            self._jobs.move_to_end(key)
            self._queue.append(key)
            self._dispatch()
            self._trim()
        return key

    def job(self, key: str) -> JobSnapshot | None:
        """A snapshot of run ``key`` (None if unknown or dropped from the cache)."""
        with self._lock:
            j = self._jobs.get(key)
            if j is None:
                return None
            pos = self._queue.index(key) + 1 if key in self._queue else 0
            if j.state is JobState.RUNNING:
                wall = time.perf_counter() - j.started
            elif j.finished:
                wall = j.finished - j.started
            else:
                wall = 0.0
            return JobSnapshot(
                j.key, j.label, j.params, j.state, pos, j.step, j.steps, tuple(j.rows), j.error,
                wall, dict(j.result), j.state is JobState.RUNNING and j.proc is None,
            )

    def find(self, p: TrainParams) -> JobSnapshot | None:
        """The snapshot of the run with configuration ``p``, if the pool has it."""
        return self.job(run_key(p))

    def cancel(self, key: str, owner: str) -> None:
        """Drop ``owner``'s interest in run ``key``; stop it if no one else wants it."""
        with self._lock:
            j = self._jobs.get(key)
            if j is None:
                return
            j.owners.discard(owner)
            j.counted.discard(owner)
            if j.owners or not j.state.active:
                return
            j.cancelled = True
            if j.state is JobState.QUEUED:
                self._queue.remove(key)
                self._finish(j, JobState.CANCELLED)
            elif j.proc is not None:
                j.proc.terminate()  # the monitor thread sees the pipe close and finishes it

    def warming(self) -> float | None:
        """Seconds the workers have been loading torch so far; None once they are ready.

        The pool warms at construction (``warm=True``, the servers do this at start); without
        warming, the first run's start loads torch and counts as warming.
        """
        since = self._since
        return None if self._ready.is_set() or since is None else time.monotonic() - since

    def counts(self) -> dict[str, int]:
        """Runs running and waiting, over every owner."""
        with self._lock:
            return {"running": len(self._running), "queued": len(self._queue)}

    def shutdown(self) -> None:
        """Terminate every running worker and drop the queue (tests, server exit)."""
        with self._lock:
            for key in list(self._queue):
                self._finish(self._jobs[key], JobState.CANCELLED)
            self._queue.clear()
            for key in list(self._running):
                j = self._jobs[key]
                j.cancelled = True
                if j.proc is not None:
                    j.proc.terminate()

    def wait(self, key: str, timeout: float = 60.0) -> JobSnapshot | None:
        """Block until run ``key`` is no longer active (tests and scripts)."""
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            s = self.job(key)
            if s is None or not s.state.active:
                return s
            time.sleep(0.05)
        return self.job(key)

    # --- internals (call with the lock held) --------------------------------------------------

    def _dispatch(self) -> None:
        while self._queue and len(self._running) < self.workers:
            key = self._queue.pop(0)
            j = self._jobs[key]
            j.state, j.started = JobState.RUNNING, time.perf_counter()
            self._running.add(key)
            # the process starts on its own thread: the first start waits for the forkserver,
            # and no other session may wait on the pool's lock meanwhile
            threading.Thread(
                target=self._launch, args=(key, j.params), daemon=True, name=f"run-{key}"
            ).start()

    def _launch(self, key: str, p: TrainParams) -> None:
        if self._since is None:
            self._since = time.monotonic()  # not warmed: this start loads torch
        parent, child = _context().Pipe(duplex=False)
        proc = _process(self._runner, (p, self.threads, child), f"lowbit-train-{key}")
        try:
            proc.start()
        except Exception as exc:  # e.g. out of processes: report, keep the pool usable
            child.close()
            parent.close()
            with self._lock:
                j = self._jobs[key]
                j.error = f"could not start a worker process: {exc}"
                self._running.discard(key)
                self._finish(j, JobState.FAILED)
                self._dispatch()
            return
        child.close()
        self._ready.set()  # the forkserver answered: torch is loaded
        with self._lock:
            j = self._jobs[key]
            j.proc = proc
            if j.cancelled:
                proc.terminate()
        self._monitor(key, parent)

    def _monitor(self, key: str, conn: Connection) -> None:
        done = False
        try:
            while True:
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    break
                with self._lock:
                    j = self._jobs[key]
                    kind = msg[0]
                    if kind == "progress":
                        j.step = int(msg[1])
                    elif kind == "row":
                        j.rows.append(msg[1])
                        j.step = max(j.step, int(msg[1]["step"]))
                    elif kind == "done":
                        j.result, done = dict(msg[1]), True
                    elif kind == "error":
                        j.error = str(msg[1])
        finally:
            conn.close()
            with self._lock:
                j = self._jobs[key]
                proc = j.proc
            if proc is not None:
                proc.join(timeout=5)
            with self._lock:
                self._running.discard(key)
                if done:
                    state = JobState.DONE
                elif j.cancelled:
                    state = JobState.CANCELLED
                else:
                    state = JobState.FAILED
                    if not j.error:
                        code = proc.exitcode if proc is not None else None
                        j.error = f"the worker process stopped (exit code {code})"
                self._finish(j, state)
                self._dispatch()

    def _finish(self, j: _Job, state: JobState) -> None:
        j.state, j.finished, j.proc = state, time.perf_counter(), None
        if not j.started:
            j.started = j.finished
        self._trim()

    def _trim(self) -> None:
        done = [k for k, j in self._jobs.items() if not j.state.active]
        for k in done[: max(0, len(done) - self.keep)]:
            del self._jobs[k]

