"""Numba kernels for :func:`lowbit_core.quantize` and :func:`lowbit_core.round_distribution`.

Bit-exact with the numpy reference :func:`lowbit_core.rounding.quantize_reference` for float32 and
float64 inputs, every format, mode and overflow rule. Every kernel is
``@njit(parallel=True, nogil=True, cache=True)`` and is compiled lazily on first use (importing
this module compiles nothing).

Scalar building blocks (for other kernels, e.g. block scaling)
---------------------------------------------------------------
Call these from your own ``@njit`` code; they round one value exactly as the reference does::

    round_one(v, word0, mbits, emin, bias, max_pos, max_neg, min_pos, flags, mode, nb, saturate)
        -> float64
    round_one_sr(v, idx, k0, k1, mbits, emin, bias, max_pos, max_neg, min_pos, flags, saturate)
        -> float64

* ``v`` (float64): the value (NaN, +-inf, -0.0 allowed).
* ``mbits, emin, bias, max_pos, max_neg, min_pos, flags``: the format's grid, from
  :func:`grid_args` (``int64, int64, int64, float64, float64, float64, int64``); ``flags`` is an
  OR of ``F_FLUSH, F_SIGNED, F_HAS_INF, F_HAS_NAN, F_HAS_NEG_ZERO, F_P1``.
* ``mode`` (int64): ``MODE_CODE[RoundMode]`` (``MODE_RNE=0 .. MODE_SRO=9``).
* ``word0`` (uint32): random bits, used by the stochastic modes only: their ``N = nb`` random bits
  are the *top* ``nb`` bits of ``word0``. With the counter RNG pass ``rng_word(idx, a0, b0)``
  (``a0, b0 = rng.key(seed, 0)``); with explicit ``srbits`` pass ``uint32(r) << (32 - nb)``.
  ``mode == MODE_SR`` here means SR with ``nb`` explicit bits (``floor(d 2^N) + r >= 2^N``).
* ``nb`` (int64): random bits 1..32 for the stochastic modes (ignored otherwise).
* ``saturate`` (bool): overflow rule, as in ``quantize``.
* ``round_one_sr``: exact SR (P(away) = d) with the counter RNG: ``idx`` (uint64) is the flat
  element index and ``k0, k1`` (uint32) the low/high halves of the seed; it reads words
  ``0, 1, 2, ...`` of :mod:`lowbit_core.rng` only as far as needed.

The result is the float64 value the reference produces before its final cast to the input dtype.

Fast paths
----------
float32 inputs whose target grid fits float32 (``mbits <= 23``, ``emin >= -126``, ``max`` finite
in float32, the format has a zero) run a branch-free kernel on the uint32 bit image: the fraction
below the target ulp is held as a 0.64 fixed-point integer (exact, or a sticky bit when it lies
below 2^-64, where no decision can depend on it), the 32-bit counter hash is inlined, and the
rare exact-SR elements that need more than one random word are redone with the scalar code.
Everything else (float64 inputs, E8M0, wide custom biases) runs the scalar float64 code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numba import prange

from .formats import Format
from .rng import key
from .rounding import RoundMode, grid_params

__all__ = [
    "F_FLUSH",
    "F_HAS_INF",
    "F_HAS_NAN",
    "F_HAS_NEG_ZERO",
    "F_P1",
    "F_SIGNED",
    "MODE_CODE",
    "grid_args",
    "rng_word",
    "round_one",
    "round_one_sr",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(**kw: Any) -> Callable[[_F], _F]:
    return cast(Callable[[_F], _F], numba.njit(**kw))


_scalar = _jit(cache=True, nogil=True)
_kernel = _jit(parallel=True, nogil=True, cache=True)

MODE_RNE, MODE_RNA, MODE_RTZ, MODE_RUP, MODE_RDN = 0, 1, 2, 3, 4
MODE_SR, MODE_SRFF, MODE_SRF, MODE_SRC, MODE_SRO = 5, 6, 7, 8, 9

#: integer code of each rounding mode, as the kernels take it
MODE_CODE: dict[RoundMode, int] = {
    RoundMode.RNE: MODE_RNE,
    RoundMode.RNA: MODE_RNA,
    RoundMode.RTZ: MODE_RTZ,
    RoundMode.RUP: MODE_RUP,
    RoundMode.RDN: MODE_RDN,
    RoundMode.SR: MODE_SR,
    RoundMode.SRFF: MODE_SRFF,
    RoundMode.SRF: MODE_SRF,
    RoundMode.SRC: MODE_SRC,
    RoundMode.SRO: MODE_SRO,
}

F_FLUSH = 1  #: no subnormals: (0, min_normal) is one ulp wide
F_SIGNED = 2
F_HAS_INF = 4
F_HAS_NAN = 8
F_HAS_NEG_ZERO = 16
F_P1 = 32  #: one-bit significand float: tie parity from the exponent field


def grid_args(fmt: Format) -> tuple[int, int, int, float, float, float, int]:
    """``(mbits, emin, bias, max_pos, max_neg, min_pos, flags)`` for :func:`round_one`."""
    g = grid_params(fmt)
    flags = (
        (F_FLUSH if g.flush else 0)
        | (F_SIGNED if g.signed else 0)
        | (F_HAS_INF if g.has_inf else 0)
        | (F_HAS_NAN if g.has_nan else 0)
        | (F_HAS_NEG_ZERO if g.has_neg_zero else 0)
        | (F_P1 if g.p1 else 0)
    )
    return (
        int(g.mbits), int(g.emin), int(g.bias),
        float(g.max_pos), float(g.max_neg), float(g.min_pos), flags,
    )


# --- counter RNG (lowbit_core.rng), 32-bit arithmetic ------------------------------------------
_U32 = np.uint32
_U64 = np.uint64


@_scalar
def _mix32(x: Any) -> Any:
    x = _U32(x)
    x = _U32(x ^ (x >> _U32(16)))
    x = _U32(x * _U32(0x7FEB352D))
    x = _U32(x ^ (x >> _U32(15)))
    x = _U32(x * _U32(0x846CA68B))
    x = _U32(x ^ (x >> _U32(16)))
    return x


@_scalar
def rng_word(idx: Any, a: Any, b: Any) -> Any:
    """32-bit word for flat index ``idx`` (uint64) with round keys ``a, b`` (uint32)."""
    lo = _U32(idx & _U64(0xFFFFFFFF))
    hi = _U32(idx >> _U64(32))
    return _mix32(_U32(_mix32(_U32(lo ^ a)) ^ hi ^ b))


@_scalar
def _key(k0: Any, k1: Any, j: Any) -> Any:
    """Round keys of word ``j`` for a seed with 32-bit halves ``k0, k1`` (see rng.key)."""
    jj = _U64(j)
    ka = _U32((jj * _U64(0x9E3779B9) + _U64(0x632BE5AB)) & _U64(0xFFFFFFFF))
    kb = _U32((_U64(k1) + jj * _U64(0x85EBCA6B) + _U64(0x1B873593)) & _U64(0xFFFFFFFF))
    return _mix32(_U32(k0 ^ _mix32(ka))), _mix32(kb)


# --- scalar float64 reference-equivalent code --------------------------------------------------


@_scalar
def _odd(n: float) -> bool:
    """n (a non-negative integer-valued float) is odd."""
    return n - 2.0 * math.floor(n * 0.5) == 1.0


@_scalar
def _rne_int(t: float) -> float:
    fl = math.floor(t)
    fr = t - fl
    if fr > 0.5 or (fr == 0.5 and _odd(fl)):
        return fl + 1.0
    return fl


@_scalar
def _rno_int(t: float) -> float:
    fl = math.floor(t)
    fr = t - fl
    if fr > 0.5 or (fr == 0.5 and not _odd(fl)):
        return fl + 1.0
    return fl


@_scalar
def _split(
    a: float, mbits: int, emin: int, bias: int, flags: int
) -> tuple[float, float, int, bool]:
    """|x| = (n + d) * 2^qe on the grid (a finite, >= 0): returns (n, d, qe, odd)."""
    _, ex = math.frexp(a)
    e = ex - 1
    qe = max(e, emin) - mbits
    if (flags & F_FLUSH) != 0 and e < emin:
        qe = emin
    s = math.ldexp(a, -qe)
    n = math.floor(s)
    d = s - n
    if (flags & F_P1) != 0:
        odd = n != 0.0 and ((qe + bias) & 1) == 1
    else:
        odd = _odd(n)
    return n, d, qe, odd


@_scalar
def _away_det(mode: int, d: float, odd: bool, neg: bool) -> bool:
    if mode == MODE_RNE:
        return d > 0.5 or (d == 0.5 and odd)
    if mode == MODE_RNA:
        return d >= 0.5
    if mode == MODE_RUP:
        return d > 0.0 and not neg
    if mode == MODE_RDN:
        return d > 0.0 and neg
    return False


@_scalar
def _few_bit_t(mode: int, d: float, nb: int) -> float:
    """Threshold T(d) (float64 integer): away iff T + r >= 2^nb (SRF: its half-bit form)."""
    scale = math.ldexp(1.0, nb)
    t = d * scale
    if mode == MODE_SRF:
        return math.floor((math.floor(d * 2.0 * scale) + 1.0) / 2.0)
    if mode == MODE_SRC:
        return _rne_int(t)
    if mode == MODE_SRO:
        return _rno_int(t)
    return math.floor(t)


@_scalar
def _away_few(mode: int, d: float, r: Any, nb: int) -> bool:
    scale = math.ldexp(1.0, nb)
    rf = float(r)
    if mode == MODE_SRF:
        return math.floor(d * 2.0 * scale) + 2.0 * rf + 1.0 >= 2.0 * scale
    return _few_bit_t(mode, d, nb) + rf >= scale


@_scalar
def _sr_exact_away(d: float, k0: Any, k1: Any, idx: Any) -> bool:
    """P(away) = d: compare the random fraction 0.w0 w1 w2 ... with d (reference loop)."""
    if not d > 0.0:
        return False
    rem = d
    j = 0
    while True:
        a, b = _key(k0, k1, j)
        w = float(rng_word(idx, a, b))
        t = rem * 4294967296.0
        hi = math.floor(t)
        rem = t - hi
        if w < hi:
            return True
        if not (w == hi and rem > 0.0):
            return False
        j += 1


@_scalar
def _finish(
    mag: float, neg: bool, xinf: bool, max_pos: float, max_neg: float, min_pos: float,
    flags: int, mode: int, saturate: bool,
) -> float:
    """Overflow, the no-zero floor, sign and zero sign (``neg`` already masked by signed)."""
    limit = max_neg if neg else max_pos
    if mag > limit or xinf:
        if saturate:
            mag = limit
        else:
            keep = (not xinf) and (
                mode == MODE_RTZ or (mode == MODE_RDN and not neg) or (mode == MODE_RUP and neg)
            )
            if (flags & F_HAS_INF) != 0:
                ov = math.inf
            elif (flags & F_HAS_NAN) != 0:
                ov = math.nan
            else:
                ov = limit
            mag = limit if keep else ov
    if min_pos > 0.0 and mag < min_pos:
        mag = min_pos
    out = -mag if neg else mag
    if out == 0.0:
        out = -0.0 if (neg and (flags & F_HAS_NEG_ZERO) != 0) else 0.0
    return out


@_scalar
def _round_core(
    v: float, word0: Any, mbits: int, emin: int, bias: int, max_pos: float, max_neg: float,
    min_pos: float, flags: int, mode: int, nb: int, saturate: bool,
    exact: bool, k0: Any, k1: Any, idx: Any,
) -> float:
    if v != v:
        return math.nan
    neg = math.copysign(1.0, v) < 0.0
    a = abs(v)
    xinf = a == math.inf
    if xinf:
        a = 0.0
    signed = (flags & F_SIGNED) != 0
    neg_uns = neg and a > 0.0 and not signed
    if neg_uns:
        a = 0.0
    xinf_eff = xinf and not (neg and not signed)
    n, d, qe, odd = _split(a, mbits, emin, bias, flags)
    if mode <= MODE_RDN:
        away = _away_det(mode, d, odd, neg)
    elif exact:
        away = _sr_exact_away(d, k0, k1, idx)
    else:
        r = _U32(word0) >> _U32(32 - nb)
        away = _away_few(mode, d, r, nb)
    mag = math.ldexp(n + (1.0 if away else 0.0), qe)
    out = _finish(mag, neg and signed, xinf_eff, max_pos, max_neg, min_pos, flags, mode, saturate)
    if not signed and (neg_uns or (neg and xinf)):
        if not saturate and (flags & F_HAS_NAN) != 0:
            out = math.nan
        else:
            out = min_pos if min_pos > 0.0 else 0.0
    if min_pos > 0.0 and not saturate and a == 0.0 and not xinf and not neg_uns:
        out = math.nan
    return out


@_scalar
def round_one(
    v: float, word0: Any, mbits: int, emin: int, bias: int, max_pos: float, max_neg: float,
    min_pos: float, flags: int, mode: int, nb: int, saturate: bool,
) -> float:
    """Round one value (deterministic modes, or a stochastic mode with ``nb`` bits of ``word0``).

    See the module docstring for the arguments. Returns float64.
    """
    return _round_core(
        v, word0, mbits, emin, bias, max_pos, max_neg, min_pos, flags, mode, nb, saturate,
        False, _U32(0), _U32(0), _U64(0),
    )


@_scalar
def round_one_sr(
    v: float, idx: Any, k0: Any, k1: Any, mbits: int, emin: int, bias: int, max_pos: float,
    max_neg: float, min_pos: float, flags: int, saturate: bool,
) -> float:
    """Round one value with exact SR from the counter RNG (seed halves ``k0, k1``, index ``idx``).

    See the module docstring for the arguments. Returns float64.
    """
    return _round_core(
        v, _U32(0), mbits, emin, bias, max_pos, max_neg, min_pos, flags, MODE_SR, 1, saturate,
        True, _U32(k0), _U32(k1), _U64(idx),
    )


# --- general kernel (any input dtype, any format): scalar float64 code per element --------------

RSRC_NONE, RSRC_SEED, RSRC_BITS = 0, 1, 2


@_kernel
def _k_general(
    x: Any, out: Any, srb: Any, mbits: int, emin: int, bias: int, max_pos: float, max_neg: float,
    min_pos: float, flags: int, mode: int, nb: int, saturate: bool, rsrc: int,
    k0: Any, k1: Any, a0: Any, b0: Any,
) -> None:
    exact = rsrc == RSRC_SEED and mode == MODE_SR
    for i in prange(x.size):
        w = _U32(0)
        if rsrc == RSRC_SEED and not exact:
            w = rng_word(_U64(i), a0, b0)
        elif rsrc == RSRC_BITS:
            w = _U32(_U32(srb[i]) << _U32(32 - nb))
        out[i] = _round_core(
            np.float64(x[i]), w, mbits, emin, bias, max_pos, max_neg, min_pos, flags, mode, nb,
            saturate, exact, k0, k1, _U64(i),
        )


# --- round_distribution ---------------------------------------------------------------------------


@_kernel
def _k_distribution(
    x: Any, lo: Any, hi: Any, ph: Any, mbits: int, emin: int, bias: int, max_pos: float,
    max_neg: float, min_pos: float, flags: int, mode: int, nb: int, input_bits: int,
    saturate: bool,
) -> None:
    signed = (flags & F_SIGNED) != 0
    for i in prange(x.size):
        v = np.float64(x[i])
        if v != v:
            lo[i] = math.nan
            hi[i] = math.nan
            ph[i] = math.nan
            continue
        sgn = math.copysign(1.0, v) < 0.0
        neg = sgn and signed
        a = abs(v)
        if not signed and sgn:
            a = 0.0
        xinf = a == math.inf
        if xinf:
            a = 0.0
        n, d, qe, odd = _split(a, mbits, emin, bias, flags)
        if input_bits >= 0:
            sc = math.ldexp(1.0, input_bits)
            dq = _rne_int(d * sc) / sc
            if dq == 1.0:
                n += 1.0
                d = 0.0
            else:
                d = dq
        if mode == MODE_SR:
            p_away = d
        elif mode > MODE_SR:
            p_away = min(_few_bit_t(mode, d, nb) / math.ldexp(1.0, nb), 1.0)
        else:
            p_away = 1.0 if _away_det(mode, d, odd, neg) else 0.0
        tz = _finish(math.ldexp(n, qe), neg, xinf, max_pos, max_neg, min_pos, flags, mode, saturate)
        aw = _finish(
            math.ldexp(n + (1.0 if d > 0.0 else 0.0), qe), neg, xinf, max_pos, max_neg, min_pos,
            flags, mode, saturate,
        )
        if neg:
            lo[i], hi[i], p = aw, tz, 1.0 - p_away
        else:
            lo[i], hi[i], p = tz, aw, p_away
        if d == 0.0 or lo[i] == hi[i]:
            p = 0.0
        ph[i] = p


def distribution_arrays(
    arr: np.ndarray, f: Format, m: RoundMode, nb: int | None, input_bits: int | None,
    saturate: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated inputs -> ``(lo, hi, p_hi)`` float64 arrays shaped like ``arr``."""
    xf = np.ascontiguousarray(arr).reshape(-1)
    lo = np.empty(xf.size, dtype=np.float64)
    hi = np.empty(xf.size, dtype=np.float64)
    ph = np.empty(xf.size, dtype=np.float64)
    _k_distribution(
        xf, lo, hi, ph, *grid_args(f), np.int64(MODE_CODE[m]), np.int64(nb or 1),
        np.int64(-1 if input_bits is None else input_bits), bool(saturate),
    )
    return lo.reshape(arr.shape), hi.reshape(arr.shape), ph.reshape(arr.shape)


# --- entry point ----------------------------------------------------------------------------------

_NO_BITS = np.zeros(1, dtype=np.uint32)


def quantize_array(
    arr: np.ndarray, f: Format, m: RoundMode, saturate: bool, nb: int | None,
    seed: int | None, r_flat: np.ndarray | None,
) -> np.ndarray:
    """Validated inputs (as ``quantize_reference`` leaves them) -> rounded array like ``arr``."""
    xf = np.ascontiguousarray(arr).reshape(-1)
    mc = MODE_CODE[m]
    stochastic = mc >= MODE_SR
    s = int(seed) if seed is not None else 0
    k0, k1 = np.uint32(s & 0xFFFFFFFF), np.uint32((s >> 32) & 0xFFFFFFFF)
    a0, b0 = key(s, 0)
    if not stochastic:
        rsrc, srb = RSRC_NONE, _NO_BITS
    elif r_flat is not None:
        rsrc, srb = RSRC_BITS, r_flat.astype(np.uint32)
    else:
        rsrc, srb = RSRC_SEED, _NO_BITS
    out = np.empty_like(xf)
    _k_general(
        xf, out, srb, *grid_args(f), np.int64(mc), np.int64(nb or 1), bool(saturate),
        np.int64(rsrc), k0, k1, np.uint32(a0), np.uint32(b0),
    )
    return out.reshape(arr.shape)
