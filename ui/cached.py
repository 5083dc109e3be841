"""Cached compute for the pages: pure functions over lowbit_core, and their cached wrappers.

Each pure function takes plain values (so the cache key is exactly what the result depends on)
and returns a tidy ``DataFrame``; the wrapper of the same name with a ``cached_`` prefix caches
it with its figure (see the note above the wrappers). Tests recompute from lowbit_core.
Other pages keep their wrappers in ``ui/cached_<page>.py``; the shared helpers live here.
"""

from __future__ import annotations

import os
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lowbit_core.experiments.rounding_accumulation import accumulation, step_seed
from lowbit_core.formats import get_format
from lowbit_core.procsync import FileSemaphore
from lowbit_core.rounding import FEW_BIT_MODES, STOCHASTIC_MODES, quantize, round_distribution
from ui import figures_rounding as figs

__all__ = [
    "FEW_BIT",
    "HEAVY_SLOTS",
    "RUN_DIR_ENV",
    "accumulation",
    "cached_accumulation",
    "cached_outcomes",
    "cached_profile",
    "heavy_slot",
    "interval",
    "mean_points",
    "outcomes",
    "profile",
    "profile_positions",
    "step_seed",
]

FEW_BIT = frozenset(m.value for m in FEW_BIT_MODES)  # the core's rule, as plain strings
STOCHASTIC = frozenset(m.value for m in STOCHASTIC_MODES)
PROFILE_POINTS = 512
#: Offset of the plotting grid inside each cell: an irrational-looking fraction, so that for
#: N > 9 random bits the samples do not all land on the teeth of the bias sawtooth (aliasing).
PROFILE_PHASE = 0.3819660112501051  # 2 - golden ratio


#: Heavy computations at once, over the whole server (every process of ``make serve``).
HEAVY_SLOTS = 2
#: Set by ``make serve`` (:mod:`ui.serve`): the run directory its processes share.
RUN_DIR_ENV = "LOWBIT_RUN_DIR"


@st.cache_resource
def heavy_slot() -> threading.Semaphore | FileSemaphore:
    """The server-wide limit on long CPU work: wrap it in ``with heavy_slot():`` (2 at a time).

    Under ``make serve`` the slots are lock files in the shared run directory, so the limit
    holds across all its Streamlit processes (:class:`lowbit_core.procsync.FileSemaphore`);
    a single ``streamlit run`` process uses a plain semaphore. Both have
    ``acquire(blocking, timeout)`` and ``release()``.
    """
    run_dir = os.environ.get(RUN_DIR_ENV)
    if run_dir:
        return FileSemaphore(Path(run_dir) / "locks", "heavy", HEAVY_SLOTS)
    return threading.Semaphore(HEAVY_SLOTS)


def _nb(mode: str, rbits: int) -> int | None:
    """The rbits argument for ``mode``: only the few-bit modes take one."""
    return rbits if mode in FEW_BIT else None


def interval(fmt: str, x: float) -> tuple[float, float, float]:
    """``(x_used, lo, hi)``: x clamped into the format's positive range and its two neighbours.

    ``lo <= x_used <= hi`` are adjacent values of the format; a value on the grid gets itself as
    ``lo``; the largest value gets the interval just below it.
    """
    f = get_format(fmt)
    xc = float(min(max(x, f.min_pos), f.max))
    a = np.array([xc])
    lo = float(quantize(a, f, "rtz")[0])
    up = np.nextafter(a, np.inf) if lo == xc else a
    hi = float(quantize(up, f, "rup")[0])
    if hi == lo:  # x is the format's max
        lo = float(quantize(np.nextafter(a, -np.inf), f, "rtz")[0])
    return xc, lo, hi


def outcomes(
    fmt: str, x: float, modes: tuple[str, ...], rbits: int, n_draws: int, seed: int
) -> pd.DataFrame:
    """Exact outcome probabilities of rounding ``x`` and a Monte-Carlo count of ``n_draws``.

    Returns one row per (mode, outcome) with columns ``mode, outcome, value, p_exact, count,
    freq``; ``outcome`` is ``"lo"`` or ``"hi"`` (the neighbours of :func:`interval`).
    """
    f = get_format(fmt)
    _, lo, hi = interval(fmt, x)
    xs = np.array([x])
    rows: list[dict[str, object]] = []
    for m in modes:
        nb = _nb(m, rbits)
        dist = round_distribution(xs, f, m, nb)
        p_up = float(dist.p_hi[0])  # P(result == hi) whichever neighbours the core reports
        p_hi = p_up * (float(dist.hi[0]) == hi) + (1.0 - p_up) * (float(dist.lo[0]) == hi)
        draws = quantize(
            np.full(n_draws, x), f, m, rbits=nb, seed=seed if m in STOCHASTIC else None
        )
        n_hi = int(np.count_nonzero(draws == hi))
        assert n_hi + int(np.count_nonzero(draws == lo)) == n_draws
        for name, value, p, c in (("lo", lo, 1.0 - p_hi, n_draws - n_hi), ("hi", hi, p_hi, n_hi)):
            rows.append(
                {"mode": m, "outcome": name, "value": value, "p_exact": p, "count": c,
                 "freq": c / n_draws}
            )
    return pd.DataFrame(rows)


def profile_positions(dbits: int) -> np.ndarray:
    """Positions t in [0, 1) (in ulps above ``lo``) where the bias curves are drawn.

    ``dbits == 0`` (exact real input): 512 evenly spaced, offset cells; otherwise the multiples of
    2^-D among them (all 2^D of them for D <= 9), since the input carries only D extra bits.
    """
    t = (np.arange(PROFILE_POINTS) + PROFILE_PHASE) / PROFILE_POINTS
    if dbits:
        t = np.unique(np.floor(t * 2.0**dbits)) / 2.0**dbits
    return t


def mean_points(mode: str, rbits: int, dbits: int) -> np.ndarray:
    """Positions whose plain average of the bias is the exact mean bias over the interval.

    * D extra input bits: the 2^D inputs ``k / 2^D`` themselves (spec (b) averages over them).
    * Exact real input, few-bit modes: P(away) is constant on cells of width ``h = 2^-(N+1)``
      and the bias is periodic with period ``4h``, so the 4 cell midpoints of one period give the
      exact average of a piecewise-linear function.
    * Exact real input, RNE/RTZ/SR: breakpoints only at 1/2, so quarter midpoints are exact.
    """
    if dbits:
        return np.arange(2**dbits) / 2.0**dbits
    h = 2.0 ** -(rbits + 1) if mode in FEW_BIT else 0.25
    return (np.arange(4) + 0.5) * h


def _bias_std(
    fmt: str, lo: float, hi: float, t: np.ndarray, mode: str, rbits: int, dbits: int
) -> tuple[np.ndarray, np.ndarray]:
    ulp = hi - lo
    x = lo + t * ulp
    d = round_distribution(x, fmt, mode, _nb(mode, rbits), input_bits=dbits or None)
    return (d.mean - x) / ulp, np.sqrt(d.var) / ulp


def profile(
    fmt: str, lo: float, hi: float, modes: tuple[str, ...], rbits: int, dbits: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exact bias and standard deviation (ulps) of each mode across ``[lo, hi)``.

    Returns ``(curves, means)``: curves has columns ``mode, position, bias, std``; means has
    ``mode, mean_bias, fraction`` (the exact dyadic mean as a fraction string, e.g. ``-1/16``).
    """
    t = profile_positions(dbits)
    curves, means = [], []
    for m in modes:
        bias, std = _bias_std(fmt, lo, hi, t, m, rbits, dbits)
        curves.append(pd.DataFrame({"mode": m, "position": t, "bias": bias, "std": std}))
        mb, _ = _bias_std(fmt, lo, hi, mean_points(m, rbits, dbits), m, rbits, dbits)
        mean = float(np.mean(mb))
        means.append({"mode": m, "mean_bias": mean, "fraction": str(Fraction(mean))})
    return pd.concat(curves, ignore_index=True), pd.DataFrame(means)


# --- Streamlit caches ----------------------------------------------------------------------------
# The pages need a figure and the frame behind it (for the CSV button). Both are cached together
# with ``st.cache_resource``: shared, never copied, so a warm rerun skips the pickle round trip and
# plotly's figure validation (about half of a warm rerun otherwise). Callers must not mutate them;
# ``st.plotly_chart`` and ``DataFrame.to_csv`` do not.


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_outcomes(
    fmt: str, x: float, modes: tuple[str, ...], rbits: int, n_draws: int, seed: int
) -> tuple[go.Figure, pd.DataFrame]:
    df = outcomes(fmt, x, modes, rbits, n_draws, seed)
    return figs.outcome_figure(df, x, n_draws, get_format(fmt).describe()), df


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_profile(
    fmt: str, lo: float, hi: float, modes: tuple[str, ...], rbits: int, dbits: int
) -> tuple[go.Figure, pd.DataFrame, pd.DataFrame]:
    curves, means = profile(fmt, lo, hi, modes, rbits, dbits)
    resolution = 64 * 2.0**-52 * hi / (hi - lo)  # float64's rounding of (E - x) / ulp
    fig = figs.profile_figure(curves, get_format(fmt).describe(), rbits, dbits, resolution)
    return fig, curves, means


@st.cache_resource(max_entries=32, show_spinner=False)
def cached_accumulation(
    fmt: str, start: float, a: float, n: int, mode: str, rbits: int, seeds: int, seed: int
) -> tuple[go.Figure, pd.DataFrame]:
    # one GIL-free numba call per mode (worst case 5000 terms x 64 lanes: ~0.2 s CPU), so no
    # heavy slot: it would queue a light view behind the server's heavy runs
    df = accumulation(fmt, start, a, n, mode, rbits, seeds, seed)
    return figs.accumulation_figure(df, start, a, get_format(fmt).describe()), df
