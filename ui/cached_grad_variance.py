"""Cached boundary of the Gradient variance page: one ``st.cache_data`` wrapper per experiment.

Each wrapper takes the core params dataclass (hashed by its ``repr``, which lists every field)
and an unhashed ``_show`` flag: when true, a progress bar is drawn *inside* the cached function
and emptied at the end, so a later cache hit replays nothing visible (a bar created outside a
cached function cannot be updated from inside it). Heavy runs take a slot of the process-wide
semaphore (:func:`ui.cached.heavy_slot`), so at most two sessions compute at once; the numba
kernels release the GIL, so other sessions stay responsive. Every run has a deadline
(:data:`lowbit_core.experiments.grad_variance_budget.TIME_LIMIT_S` after it gets its slot) and
stops with a message past it; the page lowers settings over the CPU budget before it gets here
(:func:`ui.params_grad_variance.within_budget`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.experiments import grad_variance as gv
from lowbit_core.experiments import grad_variance_budget as gvb
from ui import params_grad_variance as pgv
from ui.cached import heavy_slot
from ui.params_grad_variance import GradVarianceParams

__all__ = [
    "GATE_S", "bits", "bits_args", "exchange", "is_heavy", "seconds", "training", "variance",
]

_HASH: dict[str | type[Any], Callable[[Any], Any]] = {
    gv.GradVarianceParams: repr, gv.SGDParams: repr,
}


def _run(show: bool, text: str, fn: Callable[[gv.Progress, gv.Deadline], pd.DataFrame]
         ) -> pd.DataFrame:
    """Run ``fn`` in a heavy slot, with a deadline of :data:`TIME_LIMIT_S` from the moment the
    slot is taken, and (when ``show``) a progress bar updated at most every :data:`_TICK_S`."""
    bar = st.progress(0.0, text=text) if show else None
    last = [0.0]

    def update(f: float) -> None:
        now = time.monotonic()
        if bar is not None and now - last[0] >= _TICK_S:
            last[0] = now
            bar.progress(min(f, 1.0), text=text)

    try:
        with heavy_slot():
            return fn(update, gv.Deadline.after(gvb.TIME_LIMIT_S))
    finally:
        if bar is not None:
            bar.empty()


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def variance(p: gv.GradVarianceParams, _show: bool = False) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.gradient_variance`, cached."""
    return _run(_show, "Measuring gradient variance…",
                lambda cb, d: gv.gradient_variance(p, cb, deadline=d))


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def bits(
    p: gv.GradVarianceParams, mbits: tuple[int, ...], ebits: int, family: str,
    _show: bool = False,
) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.bits_sweep`, cached."""
    return _run(_show, "Sweeping every bit count…",
                lambda cb, d: gv.bits_sweep(p, mbits, ebits, cb, family, deadline=d))


def exchange(sweep: pd.DataFrame, ref: int) -> pd.DataFrame:
    """The exchange rate from a :func:`bits` table (a few small fits: not worth caching)."""
    return gv.exchange_from_sweep(sweep, ref)


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def training(p: gv.SGDParams, _show: bool = False) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.sgd_curves`, cached."""
    return _run(_show, "Training…", lambda cb, d: gv.sgd_curves(p, cb, deadline=d))


GATE_S = 2.0  #: settings estimated to take longer than this wait for the Run button
_PART_S = 0.3  #: ... and among them, the parts estimated above this
#: seconds between progress-bar updates: each update is also where a rerun or a closed tab
#: stops the computation (Streamlit interrupts a script when it sends something)
_TICK_S = 0.25


def seconds(p: GradVarianceParams) -> dict[str, float]:
    """Estimated CPU seconds of each part (:func:`ui.params_grad_variance.seconds`)."""
    return pgv.seconds(p)


def is_heavy(p: GradVarianceParams) -> dict[str, bool]:
    """Which parts wait for the Run button: none when the whole page is estimated under
    :data:`GATE_S` seconds, else the parts over :data:`_PART_S`."""
    est = seconds(p)
    slow = sum(est.values()) > GATE_S
    return {k: slow and v > _PART_S for k, v in est.items()}


def bits_args(p: GradVarianceParams) -> tuple[gv.GradVarianceParams, tuple[int, ...], int, str]:
    """Arguments of :func:`bits` for the page's settings."""
    return p.exchange(), tuple(range(p.xr_bits + 1)), p.ebits, p.grid
