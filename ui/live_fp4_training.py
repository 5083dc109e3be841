"""Live runs of the FP4 training page: this session's runs, the same-seed baseline each one is
compared with, and the links that carry them (Streamlit glue; the numbers of the comparison come
from :mod:`lowbit_core.training.findings`).

A live run is one seed. Compared with the library's three-seed mean of *other* seeds its gap
is mostly seed noise (a seed moves the loss by far more than most recipes do), so every live
run is compared with the baseline recipe trained with the **same seed, steps and batch**: the
library's run when it holds exactly that run (:func:`lowbit_core.training.library.library_run`),
else a companion run in the shared pool, queued with it and not counted against the visitor's
run limit. Its gap carries ± twice the library's spread of one paired gap.

The page's URL lists its runs as tokens (:func:`ui.params_fp4_training.run_token`); a recipient
sees each run from the shared pool when the pool still holds it, else the page offers one Run
button for the runs it is missing (:func:`adopt`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from lowbit_core.training.findings import (
    final_by_seed,
    gap_uncertainty,
    paired_curve_gap,
    paired_gaps,
    typical_spread,
)
from lowbit_core.training.library import library_run
from lowbit_core.training.pool import JobSnapshot, JobState, Pool, run_key
from lowbit_core.training.recipes import RECIPES, get_recipe
from lowbit_core.training.train import CURVE_COLUMNS, TrainParams
from ui.figures_fp4_training import LIVE_COLUMNS
from ui.params_fp4_training import MAX_LIVE, baseline_of, from_token, run_token

__all__ = [
    "PENDING", "RUNS", "Paired", "adopt", "base_label", "forget", "frames", "pairs",
    "run_label", "session_runs", "submit", "tokens", "warming_note",
]

RUNS = "fp4_training._runs"  #: keys of this session's live runs, oldest first
PENDING = "fp4_training._pending"  #: tokens of a link's runs the pool no longer holds


def session_runs() -> list[str]:
    """This session's live-run keys (a list kept in session state, oldest first)."""
    runs: list[str] = st.session_state.setdefault(RUNS, [])
    return runs


def warming_note(pool: Pool) -> str:
    """What a waiting run waits on while the pool's workers load torch ("" once ready)."""
    w = pool.warming()
    if w is None:
        return ""
    return (f" · the training workers are still loading torch ({w:.0f} s so far, once after a "
            "server start); the run starts as soon as they are ready")


def run_label(p: TrainParams) -> str:
    """``"custom FP4 E2M1 1x16 … · seed 7 · 400 steps"``, or the preset's label."""
    r = get_recipe(p.recipe)
    name = r.label if r.name in RECIPES else "custom " + r.label.removeprefix("Custom: ")
    batch = f" · batch {p.batch_size}" if p.batch_size else ""
    return f"{name} · seed {p.seed} · {p.steps} steps{batch}"


def base_label(p: TrainParams, baseline: str, library: bool) -> str:
    """The legend name of a live run's same-seed baseline."""
    where = "library run" if library else "trained with it"
    return (f"{RECIPES[baseline].label} · seed {p.seed} · {p.steps} steps "
            f"(same-seed baseline, {where})")


def _base(pool: Pool, lib: pd.DataFrame, p: TrainParams, baseline: str
          ) -> tuple[pd.DataFrame | None, JobSnapshot | None, bool]:
    """``(rows, pool snapshot, from the library)`` of run ``p``'s same-seed baseline."""
    bp = baseline_of(p, baseline)
    rows = library_run(lib, bp)
    if rows is not None:
        return rows, None, True
    snap = pool.find(bp)
    if snap is None or snap.state in (JobState.FAILED, JobState.CANCELLED):
        return None, snap, False
    return (snap.curve() if snap.rows else None), snap, False


def _is_baseline(p: TrainParams, baseline: str) -> bool:
    return isinstance(p.recipe, str) and p.recipe == baseline


def submit(pool: Pool, owner: str, p: TrainParams, baseline: str, lib: pd.DataFrame) -> str:
    """Queue run ``p`` and, unless the library holds it, its same-seed baseline (uncounted).

    Raises:
        PoolBusy: the pool refused ``p`` (the baseline is then not queued either).
    """
    key = pool.submit(p, owner)
    ensure_baseline(pool, owner, p, baseline, lib)
    return key


def ensure_baseline(pool: Pool, owner: str, p: TrainParams, baseline: str,
                    lib: pd.DataFrame) -> None:
    """Queue run ``p``'s same-seed baseline when neither the library nor the pool has it
    (the visitor switched the baseline, or the pool dropped it); it is part of the run."""
    from lowbit_core.training.pool import PoolBusy

    if _is_baseline(p, baseline):
        return
    _, snap, from_lib = _base(pool, lib, p, baseline)
    if from_lib or (snap is not None and snap.state not in (JobState.FAILED,
                                                           JobState.CANCELLED)):
        return
    try:
        pool.submit(baseline_of(p, baseline), owner, counted=False)
    except PoolBusy:  # the queue is full: the table says the baseline is missing
        pass


def forget(pool: Pool, owner: str, key: str, baseline: str) -> None:
    """Drop run ``key`` from this session (cancelling it and its baseline if still running)."""
    runs = session_runs()
    snap = pool.job(key)
    if key in runs:
        runs.remove(key)
    if snap is not None:
        pool.cancel(key, owner)
        pool.cancel(run_key(baseline_of(snap.params, baseline)), owner)


def adopt(pool: Pool, owner: str, link: tuple[str, ...], baseline: str,
          lib: pd.DataFrame) -> list[str]:
    """A link's live runs: each one the pool holds joins this session's runs; the tokens of
    the others are returned (the page offers to run them). Called once per session."""
    runs = session_runs()
    missing = []
    for tok in link[:MAX_LIVE]:
        p = from_token(tok)  # the codec already checked the token
        snap = pool.find(p)
        if snap is None or snap.state in (JobState.FAILED, JobState.CANCELLED):
            missing.append(tok)
            continue
        pool.submit(p, owner, counted=False)  # joins the run: a cache hit, nothing trains
        ensure_baseline(pool, owner, p, baseline, lib)
        if snap.key not in runs:
            runs.append(snap.key)
    return missing


def tokens(pool: Pool, keys: list[str]) -> list[str]:
    """URL tokens of the runs ``keys`` (those the pool still holds)."""
    out = []
    for k in keys:
        s = pool.job(k)
        if s is not None:
            out.append(run_token(s.params))
    return out


@dataclass(frozen=True)
class Paired:
    """One live run and the same-seed baseline it is compared with."""

    run: JobSnapshot
    base: pd.DataFrame | None  #: the baseline's rows so far (None: not started or missing)
    base_snap: JobSnapshot | None  #: the baseline's pool run (None: library, or the run itself)
    from_library: bool
    is_baseline: bool  #: the run *is* the baseline recipe

    @property
    def label(self) -> str:
        return run_label(self.run.params)


def pairs(pool: Pool, keys: list[str], baseline: str, lib: pd.DataFrame) -> list[Paired]:
    """Each run of ``keys`` the pool holds, with its same-seed baseline."""
    out = []
    for k in keys:
        s = pool.job(k)
        if s is None:
            continue
        if _is_baseline(s.params, baseline):
            out.append(Paired(s, s.curve(), None, False, True))
            continue
        rows, snap, from_lib = _base(pool, lib, s.params, baseline)
        out.append(Paired(s, rows, snap, from_lib, False))
    return out


@dataclass(frozen=True)
class LiveFrames:
    """What the charts and the table draw of the live runs of one task."""

    curves: pd.DataFrame | None  #: run and baseline curves (``run``, ``recipe``, ``kind``)
    gaps: pd.DataFrame | None  #: paired gap per step (``run``, ``recipe``, ``step``, ``gap_pct``)
    final: pd.DataFrame | None  #: one row per finished run (:data:`LIVE_COLUMNS`)


def _spread(lib_task: pd.DataFrame, baseline: str) -> tuple[dict[str, float], float]:
    """Per library recipe the spread of one paired gap to ``baseline``, and the pooled one."""
    g = paired_gaps(final_by_seed(lib_task), baseline)
    own = {str(r): float(sd) for r, sd, n in zip(g["recipe"], g["gap_sd"], g["n"], strict=True)
           if n >= 2 and math.isfinite(sd)}
    return own, typical_spread(g)


def frames(ps: list[Paired], task: str, baseline: str, lib_task: pd.DataFrame) -> LiveFrames:
    """Tidy frames of the live runs of ``task`` in ``ps`` for the charts and the final table."""
    ps = [q for q in ps if q.run.params.task == task and q.run.rows]
    if not ps:
        return LiveFrames(None, None, None)
    own, typical = _spread(lib_task, baseline)
    curves, gaps, final = [], [], []
    seen_base: set[str] = set()
    for q in ps:
        p, rec = q.run.params, get_recipe(q.run.params.recipe).name
        label = q.label
        run = q.run.curve().assign(run=label, recipe=rec, kind="run")
        curves.append(run)
        if q.is_baseline:
            base = run
        elif q.base is not None and len(q.base):
            blabel = base_label(p, baseline, q.from_library)
            if blabel not in seen_base:
                seen_base.add(blabel)
                curves.append(q.base[CURVE_COLUMNS].assign(run=blabel, recipe=baseline,
                                                          kind="baseline"))
            base = q.base
        else:
            base = None
        if base is not None and not q.is_baseline:
            gaps.append(paired_curve_gap(run, base).assign(run=label, recipe=rec))
        if q.run.state is not JobState.DONE:
            continue
        last = q.run.curve().iloc[-1]
        row = {"recipe": f"live:{q.run.key[:6]}", "label": f"live: {label}",
               "val_loss": float(last["val_loss"]), "metric": float(last["val_metric"]),
               "wall_time_s": float(q.run.result.get("wall_s", math.nan)),
               "diverged": int(bool(q.run.result.get("diverged"))),
               "gap_pct": math.nan, "gap_unc_pct": math.nan}
        base_done = q.from_library or (q.base_snap is not None
                                       and q.base_snap.state is JobState.DONE)
        bname = RECIPES[baseline].label
        if q.is_baseline:
            row.update(gap_pct=0.0, gap_unc_pct=0.0, compared="the baseline itself")
        elif base is not None and base_done:
            g = paired_curve_gap(run, base)
            sd = own.get(rec, typical)
            row.update(gap_pct=float(g["gap_pct"].iloc[-1]) if len(g) else math.nan,
                       gap_unc_pct=gap_uncertainty(sd, 1, sd),
                       compared=f"1 seed, with {bname} trained with the same seed, steps and "
                                "batch" + (" (library run)" if q.from_library else ""))
        else:
            row.update(compared=f"waiting for {bname} with the same seed, steps and batch")
        final.append(row)
    return LiveFrames(
        pd.concat(curves, ignore_index=True),
        pd.concat(gaps, ignore_index=True) if gaps else None,
        pd.DataFrame(final, columns=LIVE_COLUMNS) if final else None,
    )
