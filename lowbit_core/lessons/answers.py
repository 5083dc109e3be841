"""Named answer functions for lessons: every checked answer is computed here, from lowbit_core.

A lesson file never types an answer in; it names one of these functions and its arguments
(literal values or ``"$field"`` references to the step's URL state), so a lesson cannot drift from
the numerics. Each function returns a float, an int or a bool.

    answer("round_value", fmt="float8_e4m3fn", x=4.25, mode="rne")   # 4.0 (ties to even)
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..blocks import PRESETS, quantize_blocks
from ..formats import decode, get_format
from ..rounding import quantize, round_distribution

__all__ = ["ANSWERS", "answer", "answer_names"]

Value = float | int | bool
ANSWERS: dict[str, Callable[..., Value]] = {}


def _register(fn: Callable[..., Value]) -> Callable[..., Value]:
    ANSWERS[fn.__name__] = fn
    return fn


def answer_names() -> list[str]:
    """The registered answer functions, sorted."""
    return sorted(ANSWERS)


def answer(name: str, /, **kwargs: Any) -> Value:
    """Evaluate the answer function ``name`` with ``kwargs``.

    Raises:
        ValueError: unknown name, unknown or missing argument, or a bad value (from the core).
    """
    if name not in ANSWERS:
        raise ValueError(f"unknown answer function {name!r}: use one of {', '.join(ANSWERS)}")
    fn = ANSWERS[name]
    try:
        inspect.signature(fn).bind(**kwargs)
    except TypeError as exc:
        raise ValueError(f"answer {name!r}: {exc}") from None
    return fn(**kwargs)


def _x(x: float) -> np.ndarray:
    return np.array([float(x)], dtype=np.float64)


# --- formats and rounding ---------------------------------------------------------------------


@_register
def round_value(fmt: str, x: float, mode: str = "rne", saturate: bool = True) -> float:
    """The value ``x`` rounds to in ``fmt`` with a deterministic ``mode`` (NaN stays NaN)."""
    return float(quantize(_x(x), fmt, mode, saturate=saturate, backend="numpy")[0])


@_register
def is_nan_after_cast(fmt: str, x: float) -> bool:
    """Whether an ml_dtypes-style cast (no saturation) of ``x`` to ``fmt`` gives NaN."""
    return math.isnan(round_value(fmt, x, "rne", saturate=False))


@_register
def round_up_probability(fmt: str, x: float, mode: str = "sr", rbits: int = 0) -> float:
    """Exact probability that ``x`` rounds to its upper neighbour (rbits 0: exact SR)."""
    d = round_distribution(_x(x), fmt, mode, rbits or None, backend="numpy")
    return float(d.p_hi[0])


@_register
def neighbours_gap(fmt: str, x: float) -> float:
    """hi − lo of the two representable neighbours around ``x`` (0 when x is on the grid)."""
    d = round_distribution(_x(x), fmt, "sr", backend="numpy")
    return float(d.hi[0] - d.lo[0])


@_register
def ulp(fmt: str, x: float) -> float:
    """Spacing of the grid of ``fmt`` just above |x|: next value up minus the value at or below.

    Raises:
        ValueError: a format of more than 16 bits (its grid is not enumerated).
    """
    vals = _finite_sorted(fmt)
    a = abs(float(x))
    i = int(np.searchsorted(vals, a, side="right"))
    if i <= 0 or i >= vals.size:
        raise ValueError(f"x={x!r} is outside the finite range of {fmt!r}")
    return float(vals[i] - vals[i - 1])


@functools.cache
def _codes(fmt: str) -> np.ndarray:
    f = get_format(fmt)
    if f.bits > 16:
        raise ValueError(f"format {fmt!r} has {f.bits} bits: only formats of <= 16 bits here")
    return np.asarray(decode(f, np.arange(f.num_codes)), dtype=np.float64)


def _finite_sorted(fmt: str) -> np.ndarray:
    v = _codes(fmt)
    v = v[np.isfinite(v)]
    return np.unique(np.abs(v))


@_register
def count_codes(fmt: str, kind: str) -> int:
    """How many codes of ``fmt`` are of ``kind``: all, finite, nan, inf, zero, subnormal,
    normal, or distinct (distinct finite values, +0 and −0 counted once)."""
    f = get_format(fmt)
    v = _codes(fmt)
    fin = np.isfinite(v)
    a = np.abs(np.where(fin, v, 0.0))
    min_normal = getattr(f, "min_normal", 0.0)
    kinds = {
        "all": int(v.size),
        "finite": int(fin.sum()),
        "nan": int(np.isnan(v).sum()),
        "inf": int(np.isinf(v).sum()),
        "zero": int((fin & (a == 0)).sum()),
        "subnormal": int((fin & (a > 0) & (a < min_normal)).sum()),
        "normal": int((fin & (a >= min_normal) & (a > 0)).sum()),
        "distinct": int(np.unique(v[fin] + 0.0).size),
    }
    if kind not in kinds:
        raise ValueError(f"kind={kind!r}: use one of {', '.join(kinds)}")
    return kinds[kind]


@_register
def format_property(fmt: str, name: str) -> float:
    """A derived property of the format: max, min_normal, min_subnormal, eps, binades, bits,
    precision."""
    allowed = ("max", "min_normal", "min_subnormal", "eps", "binades", "bits", "precision")
    if name not in allowed:
        raise ValueError(f"name={name!r}: use one of {', '.join(allowed)}")
    return float(getattr(get_format(fmt), name))


@_register
def accumulate_mean(
    fmt: str, start: float, a: float, n: int, mode: str, rbits: int = 0, seeds: int = 16,
    seed: int = 0,
) -> float:
    """Mean over ``seeds`` sample paths of s_n, where s_0 = start and s_i = round(s_{i−1} + a)
    (the sum rounded to ``fmt`` after every addition; rbits 0: exact SR)."""
    if not 1 <= int(n) <= 20_000 or not 1 <= int(seeds) <= 256:
        raise ValueError(f"n={n!r} (1..20000) or seeds={seeds!r} (1..256) out of range")
    s = np.full(int(seeds), float(start))
    stochastic = mode.startswith("sr")
    s = quantize(s, fmt, "rne", backend="numpy")
    for i in range(int(n)):
        kw: dict[str, Any] = {}
        if stochastic:
            kw = {"seed": (int(seed) * 1_000_003 + i) % 2**31, "rbits": rbits or None}
        s = quantize(s + float(a), fmt, mode, **kw)
    return float(np.mean(s))


@_register
def mean_bias_ulp(mode: str, rbits: int = 0, fmt: str = "bfloat16", x: float = 1.0) -> float:
    """Mean bias E[round(y)] − y in ulps, over y uniform in the interval [lo, hi) of ``x``.

    Exact: the distribution of each y is computed (no sampling), at the midpoints of 2^16 equal
    cells; for the few-bit modes (N ≤ 15 random bits) the cell average equals the interval
    average exactly, since the threshold is constant on each cell of width 2^-N.
    """
    lo = float(round_distribution(_x(x), fmt, "sr", backend="numpy").lo[0])
    gap = ulp(fmt, lo) if get_format(fmt).bits <= 16 else math.ulp(lo)
    k = 16
    y = lo + (np.arange(2**k) + 0.5) / 2**k * gap
    d = round_distribution(y, fmt, mode, rbits or None, backend="numpy")
    return float(np.mean(d.mean - y) / gap)


# --- blocks -----------------------------------------------------------------------------------


def _outlier_tensor(groups: int, outlier: float, outlier_at: int, seed: int) -> np.ndarray:
    """The Formats page's block demo tensor: 32·groups N(0, 1) float32 draws, one outlier."""
    x = np.random.default_rng(int(seed)).standard_normal(32 * int(groups)).astype(np.float32)
    if not 0 <= int(outlier_at) < x.size:
        raise ValueError(f"outlier_at={outlier_at!r} outside 0..{x.size - 1}")
    x[int(outlier_at)] = outlier
    return x


def _outlier_block(
    block_fmt: str, groups: int, outlier: float, outlier_at: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(x, stored) over the other elements of the outlier's block (the Formats page's demo)."""
    if block_fmt not in PRESETS:
        raise ValueError(f"block_fmt={block_fmt!r}: use one of {', '.join(PRESETS)}")
    x = _outlier_tensor(groups, outlier, outlier_at, seed)
    b = PRESETS[block_fmt].block
    res = quantize_blocks(x, block_fmt, backend="numpy")
    i0 = int(outlier_at) // b * b
    idx = [i for i in range(i0, i0 + b) if i != int(outlier_at)]
    return x[idx], np.asarray(res.values[idx])


@_register
def outlier_block_rmse(
    block_fmt: str, groups: int, outlier: float, outlier_at: int, seed: int
) -> float:
    """RMS error of the other elements of the outlier's block (the Formats page's demo)."""
    x, q = _outlier_block(block_fmt, groups, outlier, outlier_at, seed)
    return float(np.sqrt(np.mean((q.astype(np.float64) - x) ** 2)))


@_register
def outlier_block_zeros(
    block_fmt: str, groups: int, outlier: float, outlier_at: int, seed: int
) -> int:
    """How many other elements of the outlier's block are stored as 0."""
    _, q = _outlier_block(block_fmt, groups, outlier, outlier_at, seed)
    return int(np.count_nonzero(q == 0))


@_register
def small_block_max(block_fmt: str, small: float, big: float) -> float:
    """Largest stored magnitude of a block whose every element is ``small``, in a tensor whose
    other block holds ``big`` (the E4M3 zero-scale corner of NVFP4 when it is 0)."""
    if block_fmt not in PRESETS:
        raise ValueError(f"block_fmt={block_fmt!r}: use one of {', '.join(PRESETS)}")
    b = PRESETS[block_fmt].block
    x = np.full(2 * b, float(small), dtype=np.float32)
    x[b:] = float(big)
    res = quantize_blocks(x, block_fmt, backend="numpy")
    return float(np.abs(res.values[:b]).max())


# --- accumulation, dynamics, batch, training, scaling laws ------------------------------------


@_register
def harmonic_stop(fmt: str) -> int:
    """First n at which the round-to-nearest harmonic sum s_n = s_{n−1} + 1/n stops changing."""
    from ..experiments.dynamics.cards import harmonic_sum

    s = harmonic_sum(100_000, fmt, "rne")
    same = np.flatnonzero(np.diff(s) == 0)
    if same.size == 0:
        raise ValueError(f"the sum in {fmt!r} does not stop within 100000 terms")
    return int(same[0]) + 2  # diff index j compares s_(j+2) with s_(j+1)


@_register
def harmonic_value(fmt: str, n: int, mode: str = "rne", seed: int = 0) -> float:
    """s_n of the harmonic sum in ``fmt`` (each term rounded to nearest, each sum in ``mode``)."""
    from ..experiments.dynamics.cards import harmonic_sum

    return float(harmonic_sum(int(n), fmt, mode, None, int(seed))[-1])


@_register
def lorenz_period(sbits: int, steps: int = 100_000, dt: float = 0.008, scheme: str = "rk4") -> int:
    """Period (steps) of the round-to-nearest Lorenz run at ``sbits`` stored bits; 0 if none."""
    from ..experiments.dynamics.lorenz import LorenzParams, lorenz

    r = lorenz(LorenzParams(sbits=int(sbits), mode="rne", steps=int(steps), dt=dt, scheme=scheme))
    return int(r.period or 0)


@_register
def lorenz_distinct(
    sbits: int, mode: str = "rne", steps: int = 100_000, dt: float = 0.008, seed: int = 0
) -> int:
    """Distinct states visited by the Lorenz run at ``sbits`` stored bits in ``mode``."""
    from ..experiments.dynamics.lorenz import LorenzParams, lorenz

    r = lorenz(LorenzParams(sbits=int(sbits), mode=mode, steps=int(steps), dt=dt, seed=int(seed)))
    return int(r.distinct)


@_register
def sr_noise_ratio(
    delta_a: float, batch_a: int, delta_b: float, batch_b: int, n_batches: int = 4000,
    seed: int = 0,
) -> float:
    """Measured variance of the SR noise in a batch mean at (Δa, Ba) over that at (Δb, Bb):
    N(0,1) data rounded with exact SR onto the grid ΔZ (the lab's model Δ²/(6B) predicts
    (Δa²/Ba) / (Δb²/Bb)); independent seeds for the two measurements."""
    from ..experiments.grad_variance import sr_noise_variance

    va = sr_noise_variance(float(delta_a), int(batch_a), int(n_batches), int(seed))
    vb = sr_noise_variance(float(delta_b), int(batch_b), int(n_batches), int(seed) + 1)
    return va / vb


@_register
def sr_noise_over_model(delta: float, batch: int, n_batches: int = 4000, seed: int = 0) -> float:
    """Measured SR-noise variance of a batch mean divided by the model Δ²/(6B)."""
    from ..experiments.grad_variance import sr_noise_variance

    v = sr_noise_variance(float(delta), int(batch), int(n_batches), int(seed))
    return v / (float(delta) ** 2 / (6 * int(batch)))


@functools.lru_cache(maxsize=32)
def _mse_fall(grid: str, mbits: int, targets: tuple[str, ...], mode: str, batch_a: int,
              batch_b: int, repeats: int, seed: int) -> float:
    from ..experiments.grad_variance import GradVarianceParams, bits_format, gradient_variance

    p = GradVarianceParams(model="linear", fmt=bits_format(int(mbits), 5, grid),
                           modes=(mode,), targets=targets, batch_sizes=(batch_a, batch_b),
                           repeats=int(repeats), seed=int(seed))
    df = gradient_variance(p)
    mse = df[df["mode"] == mode].set_index("batch")["mse"]
    return float(mse[batch_a] / mse[batch_b])


@_register
def mse_fall(grid: str, mbits: int, targets: str, mode: str, batch_a: int, batch_b: int,
             repeats: int = 128, seed: int = 0) -> float:
    """Measured MSE of the linear model's mini-batch gradient at ``batch_a`` over that at
    ``batch_b`` (the Gradient-variance page's sweep: grid int(k+2) or eXmk with k = ``mbits``,
    ``targets`` a string of w/a/g, ``mode`` for them). Sampling noise alone falls as 1/B (ratio
    batch_b / batch_a); quantized weights leave a floor that no batch removes."""
    return _mse_fall(str(grid), int(mbits), tuple(str(targets)), str(mode), int(batch_a),
                     int(batch_b), int(repeats), int(seed))


@_register
def mse_fall_distance(claim: float, grid: str, mbits: int, targets: str, mode: str,
                      batch_a: int, batch_b: int, repeats: int = 128, seed: int = 0) -> float:
    """|ln(measured fall / claim)|: how far the claimed factor is from :func:`mse_fall`."""
    r = mse_fall(grid, mbits, targets, mode, batch_a, batch_b, repeats, seed)
    return abs(math.log(r / float(claim)))


@_register
def fp4_gap_pct(task: str, recipe: str, reference: str = "fp32") -> float:
    """Final validation-loss gap of ``recipe`` to ``reference`` in percent, from the shipped
    curve library (data/fp4_curves.parquet; no training is run)."""
    s = _library_summary(reference)
    row = s[(s["task"] == task) & (s["recipe"] == recipe)]
    if row.empty:
        raise ValueError(f"no library runs for task={task!r}, recipe={recipe!r}")
    return float(row["gap"].iloc[0]) * 100.0


@functools.cache
def _library_summary(reference: str) -> Any:
    from ..training.library import load_curves, summary

    return summary(load_curves(), reference)


@_register
def critical_tokens(n_params: float, ebits: int, mbits: int, block: str = "128") -> float:
    """D_crit (tokens) of the FP scaling law (Sun et al. Eq. 21)."""
    from ..experiments.scaling_law import critical_data

    b: Any = block if block == "channel" else float(block)
    return float(critical_data(float(n_params), ebits, mbits, b))


@_register
def optimal_split(bits: int, part: str) -> int:
    """Exponent (part "e") or mantissa (part "m") bits of the best integer split of ``bits``."""
    from ..experiments.scaling_law import optimal_layout

    lay = optimal_layout(float(bits))
    if part not in ("e", "m"):
        raise ValueError(f"part={part!r}: use 'e' or 'm'")
    return int(lay.e_int if part == "e" else lay.m_int)


@_register
def scaling_loss(n_params: float, tokens: float, ebits: int, mbits: int, block: str = "128"
                 ) -> float:
    """The fitted loss L(N, D, E, M, B) of the FP scaling law."""
    from ..experiments.scaling_law import capybara_loss

    b: Any = block if block == "channel" else float(block)
    return float(capybara_loss(float(n_params), float(tokens), ebits, mbits, b))


@_register
def is_optimal_split(bits: int, ebits: int, mbits: int) -> bool:
    """Whether 1 + ebits + mbits = bits and (ebits, mbits) is the law's best split of ``bits``."""
    b = int(bits)
    return (1 + int(ebits) + int(mbits) == b
            and (optimal_split(b, "e"), optimal_split(b, "m")) == (int(ebits), int(mbits)))


# --- predicates and small derived answers ------------------------------------------------------


@_register
def rounds_differ(fmt: str, x: float, mode_a: str, mode_b: str) -> bool:
    """Whether two deterministic modes round ``x`` to different values of ``fmt``."""
    return round_value(fmt, x, mode_a) != round_value(fmt, x, mode_b)


@_register
def saturates_to_max(fmt: str, x: float) -> bool:
    """Whether a cast without saturation of ``x`` gives the format's largest finite value."""
    return round_value(fmt, x, "rne", saturate=False) == float(get_format(fmt).max)


@_register
def is_biased(mode: str, rbits: int = 0, fmt: str = "bfloat16") -> bool:
    """Whether ``mode``'s mean bias over an interval is non-zero (exact, :func:`mean_bias_ulp`;
    the threshold 2^-40 ulp is far above float64 rounding of the mean and far below any bias
    of N <= 24 random bits)."""
    return abs(mean_bias_ulp(mode, rbits, fmt)) > 2.0**-40


@_register
def bias_below(mode: str, rbits: int, limit: float) -> bool:
    """Whether |mean bias| of ``mode`` with ``rbits`` random bits is below ``limit`` ulp."""
    return abs(mean_bias_ulp(mode, rbits)) < float(limit)


@_register
def sr_noise_var(delta: float, batch: int, n_batches: int = 4000, seed: int = 0) -> float:
    """Measured variance of the SR noise in a batch mean (spacing Δ, batch B, N(0,1) data)."""
    from ..experiments.grad_variance import sr_noise_variance

    return sr_noise_variance(float(delta), int(batch), int(n_batches), int(seed))
