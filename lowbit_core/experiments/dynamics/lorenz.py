"""The Lorenz-63 system in emulated low precision, its periodic orbits and its climate (W1).

    dx/dt = σ (y - x),   dy/dt = x (ρ - z) - y,   dz/dt = x y - β z

integrated with RK4 (68 rounded operations a step) or forward Euler (14), every +, -, ×
rounded (:mod:`._kernels` gives the exact order). Lab settings, not the paper's (its Lorenz
settings were not available): σ, ρ, β = 10, 28, 8/3, Δt = 0.008, start (7.88, 5.39, 20.67) from
Klöwer's ClimateModels16bit figure, a 1000-step spin-up that is discarded (wave2_spec.md E).

The model constants (σ, ρ, β, Δt, Δt/2, Δt/6, each formed in float64) and the start are rounded
to the grid first, by nearest-even whatever the run's mode; the spin-up then runs in the
emulated arithmetic (stream indices included), as a low-precision model would run. A run can
therefore fall onto a fixed point or a periodic orbit before its first kept state.

Climate statistic: W1, the 1-D Wasserstein distance between the marginal of one variable over
the run and the same marginal of the float64 run. Its floor is W1 between float64 runs whose
start was moved by k·1e-6 (k = 1, 2, ...) in every coordinate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numba
import numpy as np
import pandas as pd

from . import _kernels as K
from .precision import FLOAT64, Precision, rows_of

__all__ = ["LorenzParams", "LorenzResult", "climate_sweep", "lorenz", "periodicity", "w1"]

START = (7.88, 5.39, 20.67)
FLOOR_STEP = 1e-6  #: the k-th floor run starts at START + k * FLOOR_STEP (every coordinate)
MAX_STEPS = 2_000_000


@dataclass(frozen=True)
class LorenzParams:
    """One Lorenz run (the lab settings of wave2_spec.md E are the defaults).

    Raises:
        ValueError: from :class:`Precision`, or a non-positive / non-finite constant, steps
            outside 1..2e6, a negative spin-up, an unknown scheme, a non-finite start.
    """

    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0
    dt: float = 0.008
    steps: int = 100_000
    spinup: int = 1000  #: steps run in the emulated arithmetic and discarded
    start: tuple[float, float, float] = START
    scheme: str = "rk4"  #: "rk4" or "euler"
    fmt: str = ""  #: "" = ``sbits`` stored bits, "float64", or a format name (see Precision)
    sbits: int = 7
    mode: str = "rne"
    rbits: int | None = None
    seed: int = 0
    saturate: bool = True  #: overflow rule of a format (the sbits grid overflows to inf)
    precision: Precision = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("sigma", "rho", "beta", "dt"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and np.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r} must be a positive finite number")
        if (
            isinstance(self.steps, bool)
            or not isinstance(self.steps, int)
            or not (1 <= self.steps <= MAX_STEPS)
        ):
            raise ValueError(f"steps={self.steps!r} out of range 1..{MAX_STEPS}")
        if (
            isinstance(self.spinup, bool)
            or not isinstance(self.spinup, int)
            or not (0 <= self.spinup <= MAX_STEPS)
        ):
            raise ValueError(f"spinup={self.spinup!r} out of range 0..{MAX_STEPS}")
        if self.scheme not in ("rk4", "euler"):
            raise ValueError(f"scheme={self.scheme!r}: use 'rk4' or 'euler'")
        s = tuple(float(v) for v in self.start)
        if len(s) != 3 or not all(np.isfinite(s)):
            raise ValueError(f"start={self.start!r} must be three finite numbers")
        object.__setattr__(self, "start", s)
        object.__setattr__(
            self,
            "precision",
            Precision(
                fmt=self.fmt,
                sbits=self.sbits,
                mode=self.mode,
                rbits=self.rbits,
                seed=self.seed,
                saturate=self.saturate,
            ),
        )

    @property
    def scheme_code(self) -> int:
        return K.SCHEME_RK4 if self.scheme == "rk4" else K.SCHEME_EULER


@dataclass(frozen=True)
class LorenzResult:
    """What :func:`lorenz` returns."""

    states: np.ndarray  #: float64 (steps + 1, 3): the rounded start, then each step's state
    #: period length when a deterministic run repeats a state exactly (then it is periodic from
    #: ``first_repeat - period`` on); None for stochastic runs and runs that never repeat
    period: int | None
    first_repeat: int | None  #: step of the first state equal to an earlier one (any mode)
    distinct: int  #: distinct states visited
    constants: tuple[float, ...]  #: σ, ρ, β, Δt, Δt/2, Δt/6 as rounded to the grid
    stored_bits: int = 52  #: stored significand bits of the grid (52 = float64)


def _constants(p: LorenzParams) -> np.ndarray:
    k = np.array([p.sigma, p.rho, p.beta, p.dt, p.dt / 2, p.dt / 6])
    return np.asarray(p.precision.nearest(k), dtype=np.float64)


def periodicity(states: np.ndarray) -> tuple[int | None, int | None, int]:
    """``(period, first_repeat, distinct)`` of a sequence of states (rows compared bit for bit).

    ``first_repeat`` is the smallest i with states[i] equal to some states[j], j < i, and
    ``period`` = i - j; both None when no state repeats. Rows are matched by a 64-bit hash of
    their bits, and every match is then checked exactly (a hash collision falls back to exact
    row keys).
    """
    a = np.ascontiguousarray(states, dtype=np.float64) + 0.0  # -0.0 and 0.0: the same state
    u = a.view(np.uint64)
    h = u[:, 0].copy()
    for j in range(1, u.shape[1]):  # a hash of the row: multiply-xor with odd constants
        h = (h * np.uint64(0x9E3779B97F4A7C15)) ^ u[:, j]
    h ^= h >> np.uint64(29)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    earlier = first[inverse.ravel()]
    if not np.array_equal(u, u[earlier]):  # a collision: exact keys (slower, never seen)
        keys = a.view(np.dtype((np.void, 8 * a.shape[1]))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        earlier = first[inverse.ravel()]
    rep = np.flatnonzero(earlier < np.arange(a.shape[0]))
    if rep.size == 0:
        return None, None, int(first.size)
    i = int(rep[0])
    return i - int(earlier[i]), i, int(first.size)


def lorenz(p: LorenzParams) -> LorenzResult:
    """Integrate Lorenz-63 with every arithmetic result rounded to ``p``'s precision.

    Returns:
        :class:`LorenzResult`; ``states[0]`` is the state after the spin-up.

    Raises:
        ValueError: as :class:`LorenzParams` (validated on construction).
    """
    k = _constants(p)
    s0 = np.asarray(p.precision.nearest(np.array(p.start)), dtype=np.float64)
    out = np.empty((p.steps + 1, 3))
    ci, cf = p.precision.rows()
    K.run_one(out, s0, k, p.scheme_code, p.spinup, ci, cf)
    period, first, distinct = periodicity(out)
    if p.precision.stochastic:
        period = None  # a repeated state of an SR run proves nothing: the next bits differ
    return LorenzResult(
        out, period, first, distinct, tuple(float(v) for v in k), p.precision.stored_bits
    )


def w1(a: np.ndarray, b: np.ndarray) -> float:
    """1-D Wasserstein distance W1 = ∫ |F_a - F_b| between two empirical distributions.

    Raises:
        ValueError: an empty or non-finite sample.
    """
    a, b = (
        np.sort(np.asarray(a, dtype=np.float64).ravel()),
        np.sort(np.asarray(b, dtype=np.float64).ravel()),
    )
    if a.size == 0 or b.size == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("w1 needs two non-empty finite samples")
    allv = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, allv[:-1], side="right") / a.size
    fb = np.searchsorted(b, allv[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * np.diff(allv)))


def climate_sweep(
    base: LorenzParams = LorenzParams(),
    *,
    sbits: Sequence[int] = (4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 23),
    fmts: Sequence[str] = (),
    modes: Sequence[str] = ("rne", "sr"),
    seeds: Sequence[int] = (0, 1, 2),
    floor: int = 3,
) -> pd.DataFrame:
    """W1 of the x, y and z marginals against the float64 run, for every precision × mode ×
    seed (deterministic modes run once, seed 0), plus ``floor`` float64 runs from perturbed
    starts (``mode = "float64"``). All runs go in parallel (numba ``prange``; thread count does
    not change any number).

    Returns:
        One row per run: ``precision`` (label), ``fmt`` ("" for sbits), ``sbits`` (stored bits
        of the grid), ``mode``, ``seed``, ``w1_x``, ``w1_y``, ``w1_z``, ``z_std_tail`` (std of z
        over the last half: 0 means collapsed onto a fixed point) and ``steps``.

    Raises:
        ValueError: a bad precision, mode or seed (named), or ``floor`` outside 0..16.
    """
    if isinstance(floor, bool) or not isinstance(floor, int) or not 0 <= floor <= 16:
        raise ValueError(f"floor={floor!r} out of range 0..16")
    ref_p = replace(base, fmt=FLOAT64, mode="rne", rbits=None)
    ref = np.empty((base.steps + 1, 3))  # the float64 run (no periodicity check needed here)
    K.run_one(
        ref,
        np.asarray(ref_p.precision.nearest(np.array(ref_p.start)), dtype=np.float64),
        _constants(ref_p),
        ref_p.scheme_code,
        ref_p.spinup,
        *ref_p.precision.rows(),
    )
    ref_sorted = np.ascontiguousarray(np.sort(ref, axis=0))
    runs: list[tuple[LorenzParams, tuple[float, float, float]]] = []
    grids: list[tuple[str, int]] = [("", int(b)) for b in sbits] + [(str(f), 7) for f in fmts]
    for fmt, sb in grids:
        for m in modes:
            stochastic = str(m).lower() != "rne"
            for s in seeds if stochastic else (0,):
                q = replace(
                    base,
                    fmt=fmt,
                    sbits=sb,
                    mode=m,
                    seed=int(s),
                    rbits=base.rbits if stochastic else None,
                )
                runs.append((q, base.start))
    for kk in range(1, floor + 1):
        start = tuple(v + kk * FLOOR_STEP for v in base.start)
        runs.append((replace(ref_p, seed=kk), start))  # type: ignore[arg-type]
    precs = [q.precision for q, _ in runs]
    ci, cf = rows_of(precs)
    s0 = np.stack([q.precision.nearest(np.array(st)) for q, st in runs])
    kk_arr = np.stack([_constants(q) for q, _ in runs])
    out = np.empty((len(runs), 4))
    nt = numba.get_num_threads()  # runs held at once, in parallel: 2 a thread, within 256 MiB
    batch = max(nt, min(2 * nt, (1 << 28) // (24 * (base.steps + 1))))
    for b in range(0, len(runs), batch):
        sl = slice(b, min(b + batch, len(runs)))
        states = np.empty((sl.stop - b, base.steps + 1, 3))
        K.runs_many(ci[sl], cf[sl], s0[sl], kk_arr[sl], base.scheme_code, base.spinup, states)
        for i in range(states.shape[0]):
            K.w1_stats(np.sort(states[i], axis=0), states[i], ref_sorted, out[b + i])
    rows = []
    for (q, _), pr, o in zip(runs, precs, out, strict=True):
        is_floor = pr.kind == K.KIND_F64
        rows.append(
            {
                "precision": "float64 (perturbed start)" if is_floor else pr.label,
                "fmt": pr.fmt,
                "sbits": pr.stored_bits,
                "mode": "float64" if is_floor else pr.mode,
                "seed": q.seed,
                "w1_x": o[0],
                "w1_y": o[1],
                "w1_z": o[2],
                "z_std_tail": o[3],
                "steps": base.steps,
            }
        )
    return pd.DataFrame(rows)
