"""Cached boundary of the Gradient variance page: one ``st.cache_data`` wrapper per experiment.

Each wrapper takes the core params dataclass (hashed by its ``repr``, which lists every field)
and an unhashed ``_show`` flag: when true, a progress bar is drawn *inside* the cached function
and emptied at the end, so a later cache hit replays nothing visible (a bar created outside a
cached function cannot be updated from inside it). Heavy runs take a slot of the process-wide
semaphore (:func:`ui.cached.heavy_slot`), so at most two sessions compute at once; the numba
kernels release the GIL, so other sessions stay responsive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.experiments import grad_variance as gv
from ui.cached import heavy_slot
from ui.params_grad_variance import GradVarianceParams

__all__ = [
    "GATE_S", "bits", "bits_args", "cost", "exchange", "is_heavy", "seconds", "training",
    "variance",
]

_HASH: dict[str | type[Any], Callable[[Any], Any]] = {
    gv.GradVarianceParams: repr, gv.SGDParams: repr,
}


def _run(show: bool, text: str, fn: Callable[[gv.Progress | None], pd.DataFrame]) -> pd.DataFrame:
    bar = st.progress(0.0, text=text) if show else None

    def update(f: float) -> None:
        if bar is not None:
            bar.progress(min(f, 1.0), text=text)

    try:
        with heavy_slot():
            return fn(update if show else None)
    finally:
        if bar is not None:
            bar.empty()


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def variance(p: gv.GradVarianceParams, _show: bool = False) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.gradient_variance`, cached."""
    return _run(_show, "Measuring gradient variance…", lambda cb: gv.gradient_variance(p, cb))


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def bits(
    p: gv.GradVarianceParams, mbits: tuple[int, ...], ebits: int, family: str,
    _show: bool = False,
) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.bits_sweep`, cached."""
    return _run(_show, "Sweeping every bit count…",
                lambda cb: gv.bits_sweep(p, mbits, ebits, cb, family))


def exchange(sweep: pd.DataFrame, ref: int) -> pd.DataFrame:
    """The exchange rate from a :func:`bits` table (a few small fits: not worth caching)."""
    return gv.exchange_from_sweep(sweep, ref)


@st.cache_data(max_entries=24, show_spinner=False, hash_funcs=_HASH)
def training(p: gv.SGDParams, _show: bool = False) -> pd.DataFrame:
    """:func:`lowbit_core.experiments.grad_variance.sgd_curves`, cached."""
    return _run(_show, "Training…", lambda cb: gv.sgd_curves(p, cb))


def cost(p: GradVarianceParams) -> dict[str, float]:
    """Rough work of each part (arbitrary units; :func:`seconds` turns them into time)."""
    v = gv.sweep_cost(p.variance())
    x = gv.sweep_cost(p.exchange()) * (p.xr_bits + 1)
    s = p.sgd()
    width = sum(w.shape[0] + w.shape[1] for w in gv.problem(p.model).ws)
    t = s.steps * (len(s.modes) + 1) * (2000.0 + s.seeds * s.batch * width)
    return {"variance": v, "exchange": x, "training": t}


#: Nanoseconds per unit of :func:`cost`, per model and part, and a fixed start-up time per
#: part: fitted to timings on the 2-core development machine while other work ran, plus a
#: third (the per-element work grows with the layer sizes, which width-based units undercount).
_NS_PER_UNIT: dict[str, dict[str, float]] = {
    "linear": {"variance": 30.0, "exchange": 20.0, "training": 100.0},
    "logistic": {"variance": 45.0, "exchange": 80.0, "training": 230.0},
    "mlp": {"variance": 85.0, "exchange": 75.0, "training": 400.0},
}
_START_S = 0.05
GATE_S = 2.0  #: settings estimated to take longer than this wait for the Run button
_PART_S = 0.3  #: ... and among them, the parts estimated above this


def seconds(p: GradVarianceParams) -> dict[str, float]:
    """Estimated seconds of each part on a 2-core server (see :data:`_NS_PER_UNIT`)."""
    rate = _NS_PER_UNIT[p.model]
    return {k: _START_S + v * rate[k] * 1e-9 for k, v in cost(p).items()}


def is_heavy(p: GradVarianceParams) -> dict[str, bool]:
    """Which parts wait for the Run button: none when the whole page is estimated under
    :data:`GATE_S` seconds, else the parts over :data:`_PART_S`."""
    est = seconds(p)
    slow = sum(est.values()) > GATE_S
    return {k: slow and v > _PART_S for k, v in est.items()}


def bits_args(p: GradVarianceParams) -> tuple[gv.GradVarianceParams, tuple[int, ...], int, str]:
    """Arguments of :func:`bits` for the page's settings."""
    return p.exchange(), tuple(range(p.xr_bits + 1)), p.ebits, p.grid
