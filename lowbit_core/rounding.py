"""Rounding to a format's grid: nearest-even, directed, exact stochastic and few-bit stochastic.

Every mode works on magnitudes (sign-magnitude), as hardware and gfloat do. Write the magnitude as
``|x| = (n + d) * ulp`` with ``n`` an integer and the fraction ``d`` in [0, 1), where
``ulp = 2^(max(e, emin) - mbits)`` and ``e = floor(log2 |x|)``. The result is ``n * ulp`` or
``(n + 1) * ulp`` ("away"); :class:`RoundMode` documents when each mode goes away. Rounding is done
on the grid extended without bound; a result beyond the largest finite value then overflows
according to ``saturate`` and the format's convention (see :func:`quantize`).

Spec: papers_spec.md section 0.1 (SR) and section (b) (few-bit SR, gfloat ``round_float``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import numpy as np

from .formats import FloatFormat, Format, get_format
from .rng import check_seed, words

__all__ = [
    "STOCHASTIC_MODES",
    "RoundDistribution",
    "RoundMode",
    "check_mode",
    "quantize",
    "quantize_reference",
    "round_distribution",
]


class RoundMode(StrEnum):
    """Rounding modes. ``d`` is the fraction of ``|x|`` between its two neighbours (in ulps),
    ``N = rbits`` and ``r`` is uniform on ``0 .. 2^N - 1``. The magnitude goes *away* from zero
    iff:"""

    RNE = "rne"
    """``d > 1/2``, or ``d == 1/2`` and the lower neighbour's code is odd (ties to even)."""
    RNA = "rna"
    """``d >= 1/2`` (ties away from zero)."""
    RTZ = "rtz"
    """never (truncation toward zero)."""
    RUP = "rup"
    """``d > 0`` and ``x > 0`` (toward +infinity)."""
    RDN = "rdn"
    """``d > 0`` and ``x < 0`` (toward -infinity)."""
    SR = "sr"
    """``U < d`` for a uniform real ``U`` (exact: P = d), ``U`` read from the seed's stream as far
    as needed. Takes no ``rbits``/``srbits`` (a ValueError names the few-bit modes: ``U = r / 2^N``
    is ``srff``)."""
    SRFF = "srff"
    """``floor(d 2^N) + r >= 2^N`` (d truncated to N bits; biased toward zero by 2^-(N+1) ulp)."""
    SRF = "srf"
    """``floor(d 2^(N+1)) + 2r + 1 >= 2^(N+1)`` (half an LSB added; biased away for finite
    inputs)."""
    SRC = "src"
    """``RNE(d 2^N) + r >= 2^N`` (d rounded to N bits, ties to even; unbiased on average)."""
    SRO = "sro"
    """``RNO(d 2^N) + r >= 2^N`` (d rounded to N bits, nearest with ties to odd)."""


STOCHASTIC_MODES = frozenset(
    {RoundMode.SR, RoundMode.SRFF, RoundMode.SRF, RoundMode.SRC, RoundMode.SRO}
)
FEW_BIT_MODES = frozenset({RoundMode.SRFF, RoundMode.SRF, RoundMode.SRC, RoundMode.SRO})


def check_mode(mode: RoundMode | str) -> RoundMode:
    """Parse a rounding mode name. Raises ValueError naming the bad value."""
    try:
        return RoundMode(str(mode).strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown rounding mode {mode!r}: use one of {', '.join(m.value for m in RoundMode)}"
        ) from None


def _check_rbits(rbits: object, mode: RoundMode) -> int | None:
    if mode is RoundMode.SR and rbits is not None:
        raise ValueError(
            f"mode 'sr' is exact stochastic rounding and takes no rbits (got rbits={rbits!r}); "
            "for stochastic rounding with N random bits use mode 'srff' (U = r / 2^N, "
            "truncating), 'src', 'srf' or 'sro' with rbits=N"
        )
    if rbits is None:
        if mode in FEW_BIT_MODES:
            raise ValueError(f"mode {mode.value!r} needs rbits (number of random bits, 1..32)")
        return None
    if (
        isinstance(rbits, bool)
        or not isinstance(rbits, int | np.integer)
        or not 1 <= int(rbits) <= 32
    ):
        raise ValueError(f"rbits={rbits!r} out of range: use an integer 1..32")
    return int(rbits)


def _check_srbits_mode(mode: RoundMode) -> None:
    """Explicit random bits belong to the few-bit modes; exact ``sr`` refuses them."""
    if mode is RoundMode.SR:
        raise ValueError(
            "mode 'sr' draws its own random bits (seed=); explicit srbits of N bits are "
            "mode 'srff' (or 'src', 'srf', 'sro') with rbits=N"
        )


def _check_x(x: object) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"x must be a float32 or float64 array, got dtype {arr.dtype} (cast it first)"
        )
    return arr


def _check_srbits(srbits: object, shape: tuple[int, ...], n: int) -> np.ndarray:
    r = np.asarray(srbits)
    if r.dtype.kind not in "iu":
        raise ValueError(f"srbits must be an integer array, got dtype {r.dtype}")
    try:
        b = np.broadcast_to(r, shape)
    except ValueError:
        raise ValueError(f"srbits shape {r.shape} does not broadcast to x shape {shape}") from None
    if r.size and (int(r.min()) < 0 or int(r.max()) >= (1 << n)):
        raise ValueError(
            f"srbits values must lie in [0, 2**{n}) for rbits={n}; got range "
            f"[{int(r.min())}, {int(r.max())}]"
        )
    return b.astype(np.uint64).reshape(-1)


def _check_input_bits(input_bits: object) -> None:
    if input_bits is not None and (
        isinstance(input_bits, bool) or not isinstance(input_bits, int) or not 0 <= input_bits <= 60
    ):
        raise ValueError(f"input_bits={input_bits!r} out of range 0..60")


def check_random(
    mode: RoundMode, rbits: object, seed: object, srbits: object, shape: tuple[int, ...]
) -> tuple[int | None, int | None, np.ndarray | None]:
    """Validate the random-bit arguments of a rounding call.

    Returns ``(rbits, seed, flat srbits)``; all None for deterministic modes.

    Raises:
        ValueError: rbits out of range, srbits without rbits, out of range or of the wrong
            shape, or a stochastic mode with neither seed nor srbits.
    """
    if mode not in STOCHASTIC_MODES:
        return None, None, None
    nb = _check_rbits(rbits, mode)
    if srbits is not None:
        _check_srbits_mode(mode)
        if nb is None:
            raise ValueError("srbits needs rbits (how many bits each srbits value holds)")
        return nb, None, _check_srbits(srbits, shape, nb)
    if seed is None:
        raise ValueError(f"stochastic mode {mode.value!r} needs seed= or srbits=")
    return nb, check_seed(seed), None


class _Grid(NamedTuple):
    """Grid parameters shared by every backend."""

    mbits: int
    emin: int
    bias: int
    max_pos: float
    max_neg: float
    min_pos: float  # smallest magnitude when the format has no zero, else 0
    flush: bool  # no subnormals: (0, min_normal) is one ulp wide
    signed: bool
    has_inf: bool
    has_nan: bool
    has_neg_zero: bool
    p1: bool  # one-bit significand: tie parity comes from the exponent field


def grid_params(fmt: Format) -> _Grid:
    is_float = isinstance(fmt, FloatFormat)
    return _Grid(
        mbits=fmt.grid_mbits,
        emin=fmt.grid_emin,
        bias=fmt.bias if isinstance(fmt, FloatFormat) else 0,
        max_pos=fmt.max,
        max_neg=fmt.max_neg,
        min_pos=fmt.min_pos,
        flush=fmt.flush,
        signed=fmt.signed,
        has_inf=fmt.has_inf,
        has_nan=fmt.has_nan,
        has_neg_zero=fmt.has_neg_zero,
        p1=is_float and fmt.grid_mbits == 0,
    )


class _Split(NamedTuple):
    n: np.ndarray  # float64 integer part, in ulps
    d: np.ndarray  # float64 fraction in [0, 1)
    qe: np.ndarray  # int64 ulp exponent
    odd: np.ndarray  # bool: code of n*ulp is odd


def _split(a: np.ndarray, g: _Grid) -> _Split:
    """|x| = (n + d) * 2^qe on the format's grid (a finite, >= 0)."""
    _, ex = np.frexp(a)
    e = ex.astype(np.int64) - 1
    qe = np.maximum(e, g.emin) - g.mbits
    if g.flush:
        qe = np.where(e < g.emin, g.emin, qe)
    s = np.ldexp(a, (-qe).astype(np.int32))
    n = np.floor(s)
    d = s - n
    if g.p1:
        odd = (n != 0) & (((qe + g.bias) & 1) == 1)
    else:
        odd = np.fmod(n, 2.0) == 1.0
    return _Split(n, d, qe, odd)


def _away_deterministic(mode: RoundMode, sp: _Split, neg: np.ndarray) -> np.ndarray:
    d = sp.d
    if mode is RoundMode.RNE:
        return np.asarray((d > 0.5) | ((d == 0.5) & sp.odd))
    if mode is RoundMode.RNA:
        return np.asarray(d >= 0.5)
    if mode is RoundMode.RTZ:
        return np.zeros(d.shape, dtype=bool)
    if mode is RoundMode.RUP:
        return np.asarray((d > 0) & ~neg)
    if mode is RoundMode.RDN:
        return np.asarray((d > 0) & neg)
    raise AssertionError(mode)


def _rn_odd(t: np.ndarray) -> np.ndarray:
    """Round to nearest integer, ties to odd."""
    fl = np.floor(t)
    fr = t - fl
    return np.asarray(fl + ((fr > 0.5) | ((fr == 0.5) & (np.fmod(fl, 2.0) == 0.0))))


def few_bit_threshold(mode: RoundMode, d: np.ndarray, n_bits: int) -> np.ndarray:
    """The integer ``T(d)`` with "away iff T(d) + r >= 2^N" (SRF uses its own half-bit form).

    Returned as float64 holding integers; P(away) = T(d) / 2^N for every mode.
    """
    scale = float(1 << n_bits)
    t = d * scale
    if mode in (RoundMode.SRFF, RoundMode.SR):
        return np.floor(t)
    if mode is RoundMode.SRF:
        return np.floor((np.floor(d * 2 * scale) + 1) / 2)
    if mode is RoundMode.SRC:
        return np.rint(t)
    if mode is RoundMode.SRO:
        return _rn_odd(t)
    raise AssertionError(mode)


def _away_few_bits(mode: RoundMode, d: np.ndarray, r: np.ndarray, n_bits: int) -> np.ndarray:
    scale = float(1 << n_bits)
    rf = r.astype(np.float64)
    if mode is RoundMode.SRF:
        return np.floor(d * 2 * scale) + 2 * rf + 1 >= 2 * scale
    return few_bit_threshold(mode, d, n_bits) + rf >= scale


def _away_exact(d: np.ndarray, idx: np.ndarray, seed: int) -> np.ndarray:
    """P(away) = d exactly: compare the random fraction 0.w0 w1 w2 ... (32-bit words) with d."""
    up = np.zeros(d.shape, dtype=bool)
    live = np.flatnonzero(d > 0)
    rem = d[live]
    j = 0
    while live.size:
        w = words(seed, idx[live], j).astype(np.float64)
        t = rem * 4294967296.0
        hi = np.floor(t)
        rem = t - hi
        up[live[w < hi]] = True
        cont = (w == hi) & (rem > 0)
        live, rem = live[cont], rem[cont]
        j += 1
    return up


def _finish(
    mag: np.ndarray, neg: np.ndarray, xinf: np.ndarray, g: _Grid, mode: RoundMode, saturate: bool
) -> np.ndarray:
    """Apply overflow, the no-zero floor, signs and zero signs to rounded magnitudes."""
    limit = np.where(neg, g.max_neg, g.max_pos)
    over = (mag > limit) | xinf
    if saturate:
        mag = np.where(over, limit, mag)
    else:
        finite = ~xinf
        keep_max = (
            (mode is RoundMode.RTZ) & finite
            | ((mode is RoundMode.RDN) & ~neg & finite)
            | ((mode is RoundMode.RUP) & neg & finite)
        )
        ovf_val = np.inf if g.has_inf else (np.nan if g.has_nan else -1.0)
        ovf = np.where(keep_max, limit, ovf_val)
        if ovf_val == -1.0:  # no inf, no NaN: clamp
            ovf = limit
        mag = np.where(over, ovf, mag)
    if g.min_pos > 0:
        mag = np.where(mag < g.min_pos, g.min_pos, mag)
    out = np.where(neg & g.signed, -mag, mag)
    return np.where(out == 0, np.where(neg & g.has_neg_zero, -0.0, 0.0), out)


def quantize_reference(
    x: np.ndarray,
    fmt: Format | str,
    mode: RoundMode | str = "rne",
    *,
    saturate: bool = True,
    rbits: int | None = None,
    seed: int | None = None,
    srbits: np.ndarray | None = None,
) -> np.ndarray:
    """Readable numpy implementation of :func:`quantize` (float64 arithmetic, same semantics)."""
    f = get_format(fmt)
    m = check_mode(mode)
    arr = _check_x(x)
    nb, seed, r_flat = check_random(m, rbits, seed, srbits, arr.shape)
    g = grid_params(f)

    with np.errstate(invalid="ignore"):  # float32 signalling NaNs warn when widened
        xf = arr.astype(np.float64).reshape(-1)
    nan = np.isnan(xf)
    neg = np.signbit(xf) & ~nan
    a = np.where(nan, 0.0, np.abs(xf))
    xinf = np.isinf(a)
    a = np.where(xinf, 0.0, a)
    # negative values into unsigned formats: the grid's bottom (or NaN when not saturating)
    neg_unsigned = neg & (a > 0) & (not g.signed)
    a = np.where(neg_unsigned, 0.0, a)
    xinf_eff = xinf & ~(neg & (not g.signed))

    sp = _split(a, g)
    if m in STOCHASTIC_MODES:
        if r_flat is not None:
            assert nb is not None
            away = _away_few_bits(m, sp.d, r_flat, nb)
        elif m is RoundMode.SR:
            away = _away_exact(sp.d, np.arange(xf.size, dtype=np.int64), int(seed))  # type: ignore[arg-type]
        else:
            assert nb is not None
            w = words(int(seed), np.arange(xf.size, dtype=np.int64), 0)  # type: ignore[arg-type]
            away = _away_few_bits(m, sp.d, w >> np.uint64(32 - nb), nb)
    else:
        away = _away_deterministic(m, sp, neg)
    with np.errstate(over="ignore"):  # grids past float64 (huge custom bias) overflow to inf
        mag = np.ldexp(sp.n + away, sp.qe.astype(np.int32))
    out = _finish(mag, neg & g.signed, xinf_eff, g, m, saturate)
    if not g.signed:
        bottom = np.nan if (not saturate and g.has_nan) else (g.min_pos if g.min_pos > 0 else 0.0)
        out = np.where(neg_unsigned | (neg & xinf), bottom, out)
    if g.min_pos > 0 and not saturate:  # no zero code: exact zero is not representable
        out = np.where((a == 0) & ~xinf & ~neg_unsigned, np.nan, out)
    out = np.where(nan, np.nan, out)
    return out.reshape(arr.shape).astype(arr.dtype)


def quantize(
    x: np.ndarray,
    fmt: Format | str,
    mode: RoundMode | str = "rne",
    *,
    saturate: bool = True,
    rbits: int | None = None,
    seed: int | None = None,
    srbits: np.ndarray | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Round ``x`` onto the grid of ``fmt``; returns an array of the same shape and dtype.

    Args:
        x: float32 or float64 array (or scalar).
        fmt: a format object or any name :func:`get_format` accepts.
        mode: a :class:`RoundMode` or its name.
        saturate: True clamps every overflow (and +-inf) to the largest finite value. False
            follows the format's own convention, as an ml_dtypes cast does: overflow gives inf
            where the format has inf, NaN where it has only NaN, the largest value where it has
            neither; directed modes keep IEEE 754's finite results (RTZ never overflows).
        rbits: random bits N for the few-bit modes (1..32); ``sr`` (exact) refuses it.
        seed: stream of the counter-based generator (:mod:`lowbit_core.rng`).
        srbits: explicit random integers in [0, 2^rbits), broadcastable to ``x``.
        backend: ``"auto"`` (numba when available), ``"numba"`` or ``"numpy"`` (the reference).

    NaN in gives NaN out for every format, also those without a NaN code (ml_dtypes returns 0
    there). -0.0 is kept where the format has a negative zero. Negative values into unsigned
    formats go to the smallest value (NaN if not saturating and the format has NaN). Zero into
    a format without zero (E8M0) gives its smallest value (NaN if not saturating).

    Raises:
        ValueError: unknown format or mode, rbits out of 1..32, srbits out of range or of the
            wrong shape, missing seed for a stochastic mode, non-float input.
    """
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'numba' or 'numpy'")
    if backend != "numpy":
        from . import _fast

        out = _fast.quantize(
            x, fmt, mode, saturate=saturate, rbits=rbits, seed=seed, srbits=srbits,
            required=backend == "numba",
        )
        if out is not None:
            return out
    return quantize_reference(
        x, fmt, mode, saturate=saturate, rbits=rbits, seed=seed, srbits=srbits
    )


class RoundDistribution(NamedTuple):
    """Exact two-point distribution of a rounding: ``hi`` with probability ``p_hi``, else ``lo``."""

    lo: np.ndarray  #: lower candidate (value order), float64
    hi: np.ndarray  #: upper candidate, float64
    p_hi: np.ndarray  #: probability of ``hi`` (0 where the input is on the grid)

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.lo + self.p_hi * (self.hi - self.lo))

    @property
    def var(self) -> np.ndarray:
        return np.asarray(self.p_hi * (1 - self.p_hi) * (self.hi - self.lo) ** 2)


def round_distribution(
    x: np.ndarray,
    fmt: Format | str,
    mode: RoundMode | str = "sr",
    rbits: int | None = None,
    *,
    input_bits: int | None = None,
    saturate: bool = True,
    backend: str = "auto",
) -> RoundDistribution:
    """Exact outcome distribution of rounding each element of ``x`` (arithmetic, no sampling).

    Args:
        x: float32/float64 values.
        fmt, mode, rbits, saturate, backend: as in :func:`quantize`.
        input_bits: treat inputs as having only ``D`` fractional bits below the target LSB: the
            fraction ``d`` is first rounded to a multiple of 2^-D (nearest, ties to even), as when
            the input comes from a format D bits more precise (spec (b), finite-precision inputs).

    Returns:
        :class:`RoundDistribution` of float64 arrays shaped like ``x``. NaN inputs give NaN.

    Raises:
        ValueError: as :func:`quantize`; input_bits outside 0..60.
    """
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'numba' or 'numpy'")
    if backend != "numpy":
        from . import _fast

        fast = _fast.round_distribution(
            x, fmt, mode, rbits, input_bits=input_bits, saturate=saturate,
            required=backend == "numba",
        )
        if fast is not None:
            return fast
    f = get_format(fmt)
    m = check_mode(mode)
    arr = _check_x(x)
    nb = _check_rbits(rbits, m) if m in STOCHASTIC_MODES else None
    _check_input_bits(input_bits)
    g = grid_params(f)
    with np.errstate(invalid="ignore"):  # float32 signalling NaNs warn when widened
        xf = arr.astype(np.float64).reshape(-1)
    nan = np.isnan(xf)
    neg = np.signbit(xf) & ~nan & g.signed
    a = np.abs(np.where(nan, 0.0, xf))
    if not g.signed:
        a = np.where(np.signbit(xf), 0.0, a)
    xinf = np.isinf(a)
    a = np.where(xinf, 0.0, a)
    sp = _split(a, g)
    n, d = sp.n, sp.d
    if input_bits is not None:
        dq = np.rint(d * 2.0**input_bits) / 2.0**input_bits
        n, d = n + (dq == 1.0), np.where(dq == 1.0, 0.0, dq)
    if m in (RoundMode.SR,):
        p_away = d
    elif m in FEW_BIT_MODES:
        assert nb is not None
        p_away = few_bit_threshold(m, d, nb) / float(1 << nb)
        p_away = np.minimum(p_away, 1.0)
    else:
        p_away = _away_deterministic(m, _Split(n, d, sp.qe, sp.odd), neg).astype(np.float64)
    qe = sp.qe.astype(np.int32)
    tz = _finish(np.ldexp(n, qe), neg, xinf, g, m, saturate)
    aw = _finish(np.ldexp(n + (d > 0), qe), neg, xinf, g, m, saturate)
    lo = np.where(neg, aw, tz)
    hi = np.where(neg, tz, aw)
    # Semantic fix (matches quantize_reference): negative values into an unsigned format go to
    # the grid's bottom, or NaN when not saturating and the format has a NaN; exact zero into a
    # format without zero (E8M0) is NaN when not saturating. This used to give the bottom value.
    if not g.signed:
        negu = np.signbit(xf) & ~nan & (np.abs(xf) > 0)
        bottom = np.nan if (not saturate and g.has_nan) else g.min_pos
        lo, hi = np.where(negu, bottom, lo), np.where(negu, bottom, hi)
        if g.min_pos > 0 and not saturate:
            zero = (xf == 0) & ~negu
            lo, hi = np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)
    p_hi = np.where(neg, 1.0 - p_away, p_away)
    # Semantic fix: a degenerate pair (lo == hi, both NaN included: e.g. E4M3 overflow without
    # saturation) has p_hi = 0; NaN == NaN is False, so p_hi used to keep p_away there.
    degenerate = (lo == hi) | (np.isnan(lo) & np.isnan(hi))
    p_hi = np.where((d == 0) | degenerate, 0.0, p_hi)
    lo, hi, p_hi = (np.where(nan, np.nan, v).reshape(arr.shape) for v in (lo, hi, p_hi))
    return RoundDistribution(lo, hi, p_hi)
