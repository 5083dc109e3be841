"""Stagnation cards: three slow processes where round-to-nearest stops moving and SR does not.

* The harmonic sum Σ 1/i (each term rounded to nearest first, then each addition rounded), as in
  test_sum.m of north-numerical-computing/stochastic-rounding-survey-experiments (Croci, Fasi,
  Higham, Mary, Mikaitis, "Stochastic rounding: implementation, error analysis and
  applications", R. Soc. Open Sci. 9:211631, 2022, Sec. 8). In float16 RN the sum stops growing
  at n = 513 with 7.0859375, in bfloat16 at n = 65 with 5.0625 (wave2_spec.md E).
* The decay ODE y' = -y/20 on [0, 2^-6], y(0) = 1, forward Euler with n = 10 ... 1e6 steps,
  y <- y + (-(h (y/20))), every operation rounded (ODE_tests.m, test case 1, of the same code).
* The soil heat column of the paper's interlude (the authors' HeatSolver.jl; settings in
  wave2_spec.md E): D = 7e-7 m²/s, Δz = 1 m, Δt = 1800 s, 61 nodes over H = 60 m, T(0) = 280 K,
  initially 273.15 K, insulated bottom, 60 years of forward Euler. ξ = DΔt/Δz² is formed in
  float64 and rounded once (HeatSolver.jl forms it in the low-precision type, where D = 7e-7 is
  a float16 subnormal, 7.15e-7: ξ would be 2% larger).

Each function takes a precision (a format name, or an int = stored significand bits with
float64's exponent range), a rounding mode and its random bits, and seeds; SR runs are
reproducible from their seed and independent of the thread count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import _kernels as K
from .precision import FLOAT64, Precision, rows_of

__all__ = [
    "HEAT",
    "decay_ode",
    "harmonic_bounds",
    "harmonic_sum",
    "heat_column",
    "unit_roundoff",
]

#: the soil column (HeatSolver.jl defaults, wave2_spec.md E)
HEAT = {"D": 7e-7, "dz": 1.0, "dt": 1800.0, "H": 60.0, "top": 280.0, "start": 273.15}
DECAY_T, DECAY_NS = 0.015625, tuple(round(v) for v in 10 ** np.linspace(1, 6, 16))
MAX_HARMONIC = 2_000_000
Prec = str | int


def _precision(fmt: Prec, mode: str, rbits: int | None, seed: int) -> Precision:
    if isinstance(fmt, bool):
        raise ValueError(f"fmt={fmt!r}: use a format name or an int number of stored bits")
    if isinstance(fmt, int | np.integer):
        return Precision(sbits=int(fmt), mode=mode, rbits=rbits, seed=seed)
    if not isinstance(fmt, str) or fmt == "":
        raise ValueError(f"fmt={fmt!r}: use a format name or an int number of stored bits")
    return Precision(fmt=fmt, mode=mode, rbits=rbits, seed=seed)


def _runs(fmt: Prec, mode: str, rbits: int | None, seeds: Sequence[int]) -> list[Precision]:
    if mode == "rne":
        return [_precision(fmt, "rne", None, 0)]
    if not seeds:
        raise ValueError("seeds is empty: a stochastic mode needs at least one seed")
    return [_precision(fmt, mode, rbits, int(s)) for s in seeds]


def unit_roundoff(fmt: Prec) -> float:
    """u = 2^-p for p significand bits (stored + 1) of the precision."""
    return 2.0 ** -(_precision(fmt, "rne", None, 0).stored_bits + 1)


def harmonic_sum(
    n: int, fmt: Prec, mode: str = "rne", rbits: int | None = None, seed: int = 0
) -> np.ndarray:
    """The running sums s_1 .. s_n of Σ 1/i in emulated precision (float64 array of length n).

    Each term 1/i is rounded to nearest first; then s_i = round(s_{i-1} + term_i) in ``mode``
    (the i-th rounding of the stream is the i-th addition).

    Raises:
        ValueError: n outside 1..2e6, or a bad precision / mode / rbits / seed.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= MAX_HARMONIC:
        raise ValueError(f"n={n!r} out of range 1..{MAX_HARMONIC}")
    p = _precision(fmt, mode, rbits, seed)
    terms = np.ascontiguousarray(p.nearest(1.0 / np.arange(1, int(n) + 1)))
    out = np.empty((1, int(n)))
    ci, cf = rows_of([p])
    K.harmonic_many(terms, ci, cf, out)
    return np.asarray(out[0])


def harmonic_bounds(n: np.ndarray, fmt: Prec, lam: float = 1.0) -> pd.DataFrame:
    """Relative error bounds of recursive summation at n terms (Croci et al. 2022, Sec. 8):
    deterministic n·u/(1 - n·u) (RN), probabilistic exp(λ√n·2u + n(2u)²/(1 - 2u)) - 1 (SR,
    holding with probability ≥ 1 - 2exp(-λ²/2)); both capped at 1 as in test_sum.m."""
    u = unit_roundoff(fmt)
    nn = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore"):  # n·u = 1 exactly: the bound is infinite (capped at 1)
        det = nn * u / (1 - nn * u)
    prob = np.exp(lam * np.sqrt(nn) * 2 * u + nn * (2 * u) ** 2 / (1 - 2 * u)) - 1
    det = np.where((det < 0) | (det > 1), 1.0, det)
    prob = np.where((prob < 0) | (prob > 1), 1.0, prob)
    return pd.DataFrame({"n": nn.astype(np.int64), "deterministic": det, "probabilistic": prob})


def decay_ode(
    fmt: Prec,
    mode: str = "rne",
    rbits: int | None = None,
    seeds: Sequence[int] = (0,),
    ns: Sequence[int] = DECAY_NS,
) -> pd.DataFrame:
    """Forward Euler for y' = -y/20 on [0, 2^-6], y(0) = 1, with n steps of h = round(2^-6/n).

    Returns:
        One row per (n, run): ``n``, ``run`` ("float64", "RN" or "SR seed k"), ``seed``, ``y``
        (the final value) and ``error`` = |y - exp(-2^-6/20)|.

    Raises:
        ValueError: an n outside 1..1e7, or a bad precision / mode / rbits / seed.
    """
    nsa = np.array([int(v) for v in ns], dtype=np.int64)
    if nsa.size == 0 or nsa.min() < 1 or nsa.max() > 10**7:
        raise ValueError(f"ns={tuple(ns)!r}: step counts must lie in 1..1e7")
    precs = [Precision(fmt=FLOAT64), *_runs(fmt, mode, rbits, seeds)]
    h = np.stack([p.nearest(DECAY_T / nsa) for p in precs])
    y0 = np.array([float(p.nearest(1.0)) for p in precs])
    out = np.empty((len(precs), nsa.size))
    ci, cf = rows_of(precs)
    K.decay_many(nsa, np.ascontiguousarray(h), y0, ci, cf, out)
    exact = float(np.exp(-DECAY_T / 20))
    rows = []
    for r, p in enumerate(precs):
        run = "float64" if r == 0 else ("RN" if p.mode == "rne" else f"SR seed {p.seed}")
        for j, n in enumerate(nsa):
            rows.append(
                {
                    "n": int(n),
                    "run": run,
                    "seed": p.seed if p.stochastic else -1,
                    "y": out[r, j],
                    "error": abs(out[r, j] - exact),
                }
            )
    return pd.DataFrame(rows)


def heat_column(
    fmt: Prec,
    mode: str = "rne",
    rbits: int | None = None,
    seeds: Sequence[int] = (0,),
    years: float = 60.0,
    every_days: float = 30.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The soil column in float64 and in ``fmt`` (RN, or ``mode`` with each seed).

    Returns:
        ``(profile, mean)``: the final temperature per depth (``depth_m``, ``run``, ``T``) and
        the depth-mean temperature over time (``years``, ``run``, ``T_mean``).

    Raises:
        ValueError: years outside (0, 200], every_days not positive, or a bad precision.
    """
    if not 0 < years <= 200 or not every_days > 0:
        raise ValueError(f"years={years!r} must lie in (0, 200] and every_days={every_days!r} > 0")
    c = HEAT
    steps = round(years * 365 * 86400 / c["dt"])
    every = max(1, round(every_days * 86400 / c["dt"]))
    m = round(c["H"] / c["dz"]) + 1
    precs = [Precision(fmt=FLOAT64), *_runs(fmt, mode, rbits, seeds)]
    xi = np.array([float(p.nearest(c["D"] * c["dt"] / c["dz"] ** 2)) for p in precs])
    t0 = np.stack([p.nearest(np.full(m, c["start"])) for p in precs])
    top = np.array([float(p.nearest(c["top"])) for p in precs])
    prof = np.empty((len(precs), m))
    mean = np.empty((len(precs), steps // every))
    ci, cf = rows_of(precs)
    K.heat_many(np.ascontiguousarray(t0), top, xi, steps, every, ci, cf, prof, mean)
    names = ["float64"] + [("RN" if p.mode == "rne" else f"SR seed {p.seed}") for p in precs[1:]]
    depth = np.arange(m) * c["dz"]
    profile = pd.DataFrame(
        [
            {"depth_m": d, "run": nm, "T": prof[r, i]}
            for r, nm in enumerate(names)
            for i, d in enumerate(depth)
        ]
    )
    t_years = (np.arange(1, mean.shape[1] + 1) * every * c["dt"]) / (365 * 86400)
    start = pd.DataFrame({"years": 0.0, "run": names, "T_mean": t0.mean(axis=1)})
    means = pd.concat(
        [start]
        + [
            pd.DataFrame({"years": t_years, "run": nm, "T_mean": mean[r]})
            for r, nm in enumerate(names)
        ],
        ignore_index=True,
    )
    return profile, means
