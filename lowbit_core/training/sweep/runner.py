"""Run a sweep: every run of a grid not yet in the store, on local worker processes or Dask.

The task function :func:`run_config` is the same for both executors and runs on one torch
thread, so a run's numbers do not depend on where it ran (tested bit for bit). The driver stores
each run as it finishes (:mod:`.store`), so an interrupted sweep loses only the runs in flight.

* **local** (default): ``workers`` processes (``concurrent.futures`` over a ``forkserver`` that
  preloads torch and the training code). A run that raises is retried once, then recorded as a
  failure; a worker that dies (killed, out of memory) breaks the pool: a new pool is started and
  the runs that were in flight are submitted again (each death counts as an attempt, so a run
  that kills its worker twice is recorded as failed instead of looping).
* **Dask distributed** (``scheduler="tcp://HOST:PORT"`` or a ``distributed.Client``): one task per
  run, keyed by its run id, with ``retries=1``; Dask itself resubmits the tasks of a worker that
  is lost. Workers are started elsewhere with ``dask worker tcp://HOST:PORT`` after installing
  the project (they import :mod:`lowbit_core`).
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..progress import Progress
from . import store
from .grid import AXES, Grid, RunConfig

__all__ = ["Progress", "SweepReport", "run_config", "run_sweep"]


def run_config(cfg: RunConfig) -> pd.DataFrame:
    """Train one configuration on one CPU thread; its curve with the store's columns."""
    import torch

    from ..train import run

    torch.set_num_threads(1)
    res = run(cfg.params())
    c = res.curve
    sw = cfg.switches()
    df = pd.DataFrame({
        "run_id": cfg.run_id, "task": cfg.task, "seed": cfg.seed,
        "steps": int(c["step"].max()), "recipe": cfg.recipe or "custom", "label": cfg.label(),
        "step": c["step"].astype("int64"), "train_loss": c["train_loss"].astype(float),
        "val_loss": c["val_loss"].astype(float), "val_metric": c["val_metric"].astype(float),
        "diverged": res.diverged, "run_wall_s": res.wall_s,
    })
    for k in AXES:  # every switch (None in a preset run)
        df[k] = sw.get(k)
    out: pd.DataFrame = df[store.COLUMNS]
    return out


@dataclass
class SweepReport:
    """What a sweep did."""

    total: int  #: runs in the grid
    skipped: int  #: already in the store
    finished: int = 0  #: stored by this sweep
    failed: list[str] = field(default_factory=list)  #: run ids recorded as failures
    resubmitted: int = 0  #: runs submitted again after their worker was lost
    wall_s: float = 0.0


def _local_pool(workers: int) -> ProcessPoolExecutor:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "lowbit_core.training.train"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _run_local(todo: list[RunConfig], workers: int, on_done: Callable[[RunConfig, Any], None],
               on_fail: Callable[[RunConfig, str, int], None], rep: SweepReport) -> None:
    attempts = {c.run_id: 0 for c in todo}
    queue = list(reversed(todo))  # pop() from the end: grid order
    pool = _local_pool(workers)
    running: dict[Future[pd.DataFrame], RunConfig] = {}
    try:
        while queue or running:
            while queue and len(running) < 2 * workers:  # a few queued per worker, not all
                c = queue.pop()
                running[pool.submit(run_config, c)] = c
            fin, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for f in fin:
                c = running.pop(f)
                exc = f.exception()
                if exc is None:
                    on_done(c, f.result())
                    continue
                attempts[c.run_id] += 1
                broken |= isinstance(exc, BrokenProcessPool)
                err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                if attempts[c.run_id] < 2:
                    queue.append(c)
                    rep.resubmitted += isinstance(exc, BrokenProcessPool)
                else:
                    on_fail(c, err, attempts[c.run_id])
            if broken:  # the pool is dead: every run in flight goes back into the queue
                for f, c in running.items():
                    f.cancel()
                    queue.append(c)
                    rep.resubmitted += 1
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _local_pool(workers)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_dask(todo: list[RunConfig], client: Any, on_done: Callable[[RunConfig, Any], None],
              on_fail: Callable[[RunConfig, str, int], None]) -> None:
    from distributed import as_completed

    futs = {client.submit(run_config, c, key=f"lowbit-run-{c.run_id}", retries=1, pure=False): c
            for c in todo}
    try:
        for f in as_completed(futs):  # type: ignore[no-untyped-call]
            c = futs[f]
            if f.status == "finished":
                on_done(c, f.result())
            else:
                exc = f.exception()
                on_fail(c, "".join(traceback.format_exception_only(type(exc), exc)).strip(), 2)
            f.release()
    finally:
        client.cancel(list(futs))


def run_sweep(
    grid: Grid, out: Path | str, workers: int = 2, scheduler: str | Any | None = None,
    progress: bool = True, only: Iterable[str] | None = None,
) -> SweepReport:
    """Run every run of ``grid`` that ``out`` does not hold yet; store each as it finishes.

    Args:
        grid: the runs (:func:`~lowbit_core.training.sweep.grid.load_grid`).
        out: the store folder (created if missing).
        workers: local worker processes (ignored with a scheduler).
        scheduler: a Dask scheduler address (``tcp://HOST:PORT``) or a ``distributed.Client``.
        progress: draw the progress bar on stderr.
        only: restrict to these run ids (tests).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ValueError(f"workers={workers!r}: need an integer 1..256")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    have = store.done(out)
    keep = set(only) if only is not None else None
    todo = [c for c in grid.runs if c.run_id not in have and (keep is None or c.run_id in keep)]
    rep = SweepReport(total=len(grid.runs), skipped=len(grid.runs) - len(todo))
    bar = Progress(len(todo)) if progress else None
    t0 = time.monotonic()

    def on_done(c: RunConfig, df: pd.DataFrame) -> None:
        store.write_run(out, c, df)
        rep.finished += 1
        if bar:
            bar.update(rep.finished, len(rep.failed))

    def on_fail(c: RunConfig, err: str, n: int) -> None:
        store.record_failure(out, c, err, n)
        rep.failed.append(c.run_id)
        if bar:
            bar.update(rep.finished, len(rep.failed))

    try:
        if not todo:
            pass
        elif scheduler is None:
            _run_local(todo, workers, on_done, on_fail, rep)
        else:
            from distributed import Client

            client = (scheduler if isinstance(scheduler, Client)
                      else Client(scheduler))  # type: ignore[no-untyped-call]
            try:
                _run_dask(todo, client, on_done, on_fail)
            finally:
                if client is not scheduler:
                    client.close()  # type: ignore[no-untyped-call]
    finally:
        if bar:
            bar.close()
        rep.wall_s = time.monotonic() - t0
    return rep
