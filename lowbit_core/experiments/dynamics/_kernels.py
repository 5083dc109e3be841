"""Numba kernels of the dynamics experiments: every arithmetic result rounded, one scalar at a time.

The rounding of one result is :func:`rnd` ``(v, c, P)``: ``v`` the float64 result of one binary
operation on already-rounded operands, ``c`` its index in the run's stream of roundings (the
counter of :mod:`lowbit_core.rng`: the i-th rounding of a run with seed s reads word i of stream
s, so results never depend on threads or chunking), ``P`` the precision tuple built by
:func:`cfg` from two rows of config arrays (layout: :data:`CI_FIELDS`, :data:`CF_FIELDS`):

* ``KIND_F64``: no rounding (the float64 reference runs).
* ``KIND_FMT``: a catalogue or eXmY format: the lab's own scalar kernels
  :func:`lowbit_core._numba.round_one` / :func:`~lowbit_core._numba.round_one_sr`, with the
  format's exponent range, subnormals and overflow rule.
* ``KIND_SBITS``: ``p`` stored significand bits and float64's exponent range: the grid of the
  IEEE-like format e11m``p`` (bias 1023) without saturation.

Fast path: where a value and its rounded result lie in ``[lo, hi]`` (the format's normal range;
everything finite for sbits) the grid is "p bits below the leading one", so the rounding is done
on the float64 bit image (a few integer operations instead of frexp/ldexp). Anything else
(subnormals, overflow, zero of a format, NaN, inf) goes to the lab's kernels, and exact SR whose
first random word ties the first 32 bits of the fraction (p = 2^-32) is redone by
``round_one_sr``. Tests hold the fast path equal, mode by mode, to the lab's numpy reference.

Lorenz runs go one step further (:func:`integrate`): a whole step is computed with roundings
that cannot branch (:func:`_r_rne`, :func:`_r_sr`, :func:`_r_few`: the result and a flag "needs
the slow path"), and a flagged step is recomputed from its start state by the per-operation
code :func:`_step`. Each rounding is a pure function of (value, stream index, config), so the
results are the per-operation code's, bit for bit (tests/test_dynamics_bits.py holds them equal
to outputs recorded before this path existed; tests/test_dynamics_fastpath.py checks the flags
value by value). The random words of 32 steps are hashed beforehand in one vectorised loop, and
exact SR becomes add-and-truncate like nearest-even (:func:`_sr_add`).

Each kernel is compiled once per *variant* (:data:`V_F64` ... :data:`V_ANY`), so that the
rounding is inlined into the loops: a run-time branch per operation made even float64 runs 16x
slower (measured). The per-operation code gets its variant as a constant that LLVM propagates
after inlining; the step fast path gets it as the *type* of a marker (:data:`M_RNE` ...), which
does not depend on inlining.

Each operation is computed exactly or correctly rounded in float64 before it is rounded to the
target. For a target of at most 24 significand bits that double rounding is innocuous for
+, -, *, / (53 >= 2p + 2; Figueroa, "When is double rounding innocuous?", SIGNUM 1995), so RNE
runs equal real low-precision hardware arithmetic bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import prange
from numba.extending import overload

from lowbit_core._numba import (
    MODE_RNE,
    MODE_SR,
    MODE_SRC,
    MODE_SRF,
    MODE_SRFF,
    MODE_SRO,
    _mix32,
    rng_word,
    round_one,
    round_one_sr,
)

__all__ = [
    "CF_FIELDS",
    "CI_FIELDS",
    "EULER_OPS",
    "KIND_F64",
    "KIND_FMT",
    "KIND_SBITS",
    "RK4_OPS",
    "V_ANY",
    "V_F64",
    "V_FEW",
    "V_RNE",
    "V_SR",
    "decay_many",
    "harmonic_many",
    "heat_many",
    "round_values",
    "round_values_fast",
    "run_one",
    "runs_many",
    "w1_stats",
]

_Deco = Callable[[Callable[..., Any]], Callable[..., Any]]
_scalar: _Deco = numba.njit(cache=True, nogil=True)
_kernel: _Deco = numba.njit(parallel=True, nogil=True, cache=True)
_U32, _U64 = np.uint32, np.uint64

KIND_F64, KIND_FMT, KIND_SBITS = 0, 1, 2
#: compile-time variants of the rounding: none, fast RNE, fast exact SR, fast N-bit SR, generic
V_F64, V_RNE, V_SR, V_FEW, V_ANY = 0, 1, 2, 3, 4
#: int64 config row: kind, mode code, random bits, shift = 52 - p, the lab grid args of
#: round_one (mbits, emin, bias, flags), saturate, the round keys of word 0, the seed halves and
#: the variant
CI_FIELDS = (
    "kind",
    "mode",
    "nb",
    "shift",
    "mbits",
    "emin",
    "bias",
    "flags",
    "saturate",
    "a0",
    "b0",
    "k0",
    "k1",
    "variant",
)
#: float64 config row: grid args of round_one, then the fast path's range [lo, hi]
CF_FIELDS = ("max_pos", "max_neg", "min_pos", "lo", "hi")
SCHEME_EULER, SCHEME_RK4 = 0, 1
EULER_OPS, RK4_OPS = 14, 68  #: roundings per step (stream indices used by one step)


@_scalar
def cfg(ci: Any, cf: Any) -> Any:
    """The precision tuple P of :func:`rnd` from one config row of each array."""
    return (
        ci[0],
        ci[1],
        ci[2],
        ci[3],
        ci[4],
        ci[5],
        ci[6],
        ci[7],
        ci[8] != 0,
        _U32(ci[9]),
        _U32(ci[10]),
        _U32(ci[11]),
        _U32(ci[12]),
        cf[0],
        cf[1],
        cf[2],
        cf[3],
        cf[4],
    )


@_scalar
def _as_f64(u: Any) -> Any:
    return _U64(u).view(np.float64)


@_scalar
def _bits(v: Any, c: Any, P: Any, V: Any) -> Any:
    """Finite ``v`` rounded to p = 52 - shift bits below its leading one (module docstring);
    ``V`` selects the mode family (RNE, exact SR, N-bit SR with the mode P[1]). NaN means
    "ask the slow path" (an exact-SR tie of the first 32 random bits)."""
    one = _U64(1)
    sh = _U64(P[3])
    u = np.float64(v).view(np.uint64)
    rem = u & ((one << sh) - one)  # the dropped bits: |v| = (n + rem / 2^sh) ulp
    base = u - rem  # the magnitude truncated; + 2^sh is the next value away from zero
    # branch-free where the outcome is a coin flip (a mispredicted branch per operation cost
    # more than the rounding itself, measured)
    if V == V_RNE:  # add half an ulp minus one, plus the kept lsb (ties to even), truncate
        return _as_f64((u + ((one << (sh - one)) - one) + ((u >> sh) & one)) & ~((one << sh) - one))
    w = _U64(rng_word(_U64(c), P[9], P[10]))
    if V == V_SR:  # exact SR: away iff U < d, U = 0.w0 w1 ... (lowbit_core.rng)
        if sh <= _U64(32):
            return _as_f64(base + (_U64(w < (rem << (_U64(32) - sh))) << sh))
        hi = rem >> (sh - _U64(32))
        if w == hi and (rem & ((one << (sh - _U64(32))) - one)) != _U64(0):  # p = 2^-32
            return math.nan  # the caller's slow path (round_one_sr) reads the next words
        return _as_f64(base + (_U64(w < hi) << sh))
    # N-bit modes: away iff T(d) + r >= 2^N, d = rem / 2^sh (lowbit_core.rounding)
    mode, n = P[1], _U64(P[2])
    r = w >> (_U64(32) - n)
    top = one << n
    if n >= sh:  # d has at most N bits: every variant is floor(d 2^N)
        t = rem << (n - sh)
    else:
        k = sh - n
        t = rem >> k
        f = rem & ((one << k) - one)
        half = one << (k - one)
        if mode == MODE_SRF:  # floor(d 2^(N+1)) + 2r + 1 >= 2^(N+1)
            g = rem >> (k - one)
            return _as_f64(base + (_U64(g + _U64(2) * r + one >= top << one) << sh))
        if mode == MODE_SRC:  # d rounded to N bits, ties to even
            t += _U64((f > half) | ((f == half) & ((t & one) == one)))
        elif mode == MODE_SRO:  # ties to odd
            t += _U64((f > half) | ((f == half) & ((t & one) == _U64(0))))
    return _as_f64(base + (_U64(t + r >= top) << sh))


@_scalar
def _slow(v: Any, c: Any, P: Any) -> Any:
    """Everything outside the fast range: the lab's kernels (sbits: inf and NaN stay)."""
    mode = P[1]
    if P[0] == KIND_SBITS:
        if not abs(v) < math.inf:
            return v
        if mode != MODE_SR:
            return _sbits_any(v, c, P)
    if mode == MODE_SR:
        return round_one_sr(
            v, _U64(c), P[11], P[12], P[4], P[5], P[6], P[13], P[14], P[15], P[7], P[8]
        )
    w = _U32(0) if mode == MODE_RNE else rng_word(_U64(c), P[9], P[10])
    return round_one(v, w, P[4], P[5], P[6], P[13], P[14], P[15], P[7], mode, P[2], P[8])


@_scalar
def _sbits_any(v: Any, c: Any, P: Any) -> Any:
    """Finite ``v`` on the sbits grid, the mode read at run time."""
    if P[1] == MODE_RNE:
        return _bits(v, c, P, V_RNE)
    if P[1] == MODE_SR:
        return _bits(v, c, P, V_SR)
    return _bits(v, c, P, V_FEW)


@_scalar
def R(v: Any, c: Any, P: Any, V: Any) -> Any:
    """Round the float64 result ``v`` of the ``c``-th operation of a run to precision ``P``,
    compiled for variant ``V`` (a literal). One call site of the slow path only: with two, LLVM
    stopped inlining this function into the loops (4x slower, measured)."""
    if V == V_F64:
        return v
    if V == V_ANY:
        return rnd(v, c, P)
    a = abs(v)
    ok = (P[16] <= a) & (a <= P[17])  # (NaN fails)
    out = _bits(v if ok else 1.0, c, P, V)
    if ok & (abs(out) <= P[17]):
        return out
    return _slow(v, c, P)


@_scalar
def rnd(v: Any, c: Any, P: Any) -> Any:
    """:func:`R` with the variant decided at run time (any config; slower in loops)."""
    if P[0] == KIND_F64:
        return v
    a = abs(v)
    ok = (P[16] <= a) & (a <= P[17])
    out = _sbits_any(v if ok else 1.0, c, P)
    if ok & (abs(out) <= P[17]):
        return out
    return _slow(v, c, P)


@_kernel
def round_values(x: Any, out: Any, ci: Any, cf: Any) -> None:
    """``out[i] = rnd(x[i], i, P)``: the rounding of the kernels, on an array (tests, constants)."""
    P = cfg(ci, cf)
    for i in prange(x.size):
        out[i] = rnd(x[i], i, P)


# --- Lorenz-63 ------------------------------------------------------------------------------


@_scalar
def _rhs(x: Any, y: Any, z: Any, sig: Any, rho: Any, beta: Any, c: Any, P: Any, V: Any) -> Any:
    """dx = σ(y - x), dy = x(ρ - z) - y, dz = xy - βz: 8 roundings, stream indices c .. c+7."""
    dx = R(sig * R(y - x, c, P, V), c + 1, P, V)
    dy = R(R(x * R(rho - z, c + 2, P, V), c + 3, P, V) - y, c + 4, P, V)
    dz = R(R(x * y, c + 5, P, V) - R(beta * z, c + 6, P, V), c + 7, P, V)
    return dx, dy, dz


@_scalar
def _axpy(x: Any, h: Any, k: Any, c: Any, P: Any, V: Any) -> Any:
    """x + h*k, both results rounded (stream indices c, c+1)."""
    return R(x + R(h * k, c, P, V), c + 1, P, V)


@_scalar
def _rk4_sum(x: Any, h6: Any, k1: Any, k2: Any, k3: Any, k4: Any, c: Any, P: Any, V: Any) -> Any:
    """x + (dt/6) ((k1 + k4) + 2 (k2 + k3)): 6 roundings, stream indices c .. c+5."""
    s = R(R(k1 + k4, c, P, V) + R(2.0 * R(k2 + k3, c + 1, P, V), c + 2, P, V), c + 3, P, V)
    return R(x + R(h6 * s, c + 4, P, V), c + 5, P, V)


@_scalar
def _step(x: Any, y: Any, z: Any, k: Any, scheme: Any, c: Any, P: Any, V: Any) -> Any:
    """One step from (x, y, z); ``k`` = (σ, ρ, β, Δt, Δt/2, Δt/6). Uses stream indices
    c .. c + ops - 1 (ops = 14 Euler, 68 RK4)."""
    sig, rho, beta, dt, h2, h6 = k[0], k[1], k[2], k[3], k[4], k[5]
    if scheme == SCHEME_EULER:
        dx, dy, dz = _rhs(x, y, z, sig, rho, beta, c, P, V)
        return (
            _axpy(x, dt, dx, c + 8, P, V),
            _axpy(y, dt, dy, c + 10, P, V),
            _axpy(z, dt, dz, c + 12, P, V),
        )
    ax, ay, az = _rhs(x, y, z, sig, rho, beta, c, P, V)
    xb, yb, zb = (
        _axpy(x, h2, ax, c + 8, P, V),
        _axpy(y, h2, ay, c + 10, P, V),
        _axpy(z, h2, az, c + 12, P, V),
    )
    bx, by, bz = _rhs(xb, yb, zb, sig, rho, beta, c + 14, P, V)
    xc, yc, zc = (
        _axpy(x, h2, bx, c + 22, P, V),
        _axpy(y, h2, by, c + 24, P, V),
        _axpy(z, h2, bz, c + 26, P, V),
    )
    cx, cy, cz = _rhs(xc, yc, zc, sig, rho, beta, c + 28, P, V)
    xd, yd, zd = (
        _axpy(x, dt, cx, c + 36, P, V),
        _axpy(y, dt, cy, c + 38, P, V),
        _axpy(z, dt, cz, c + 40, P, V),
    )
    ex, ey, ez = _rhs(xd, yd, zd, sig, rho, beta, c + 42, P, V)
    return (
        _rk4_sum(x, h6, ax, bx, cx, ex, c + 50, P, V),
        _rk4_sum(y, h6, ay, by, cy, ey, c + 56, P, V),
        _rk4_sum(z, h6, az, bz, cz, ez, c + 62, P, V),
    )


@_scalar
def _integrate(out: Any, s0: Any, k: Any, scheme: Any, skip: Any, P: Any, V: Any) -> None:
    ops = EULER_OPS if scheme == SCHEME_EULER else RK4_OPS
    x, y, z = s0[0], s0[1], s0[2]
    c = np.int64(0)
    for _ in range(skip):
        x, y, z = _step(x, y, z, k, scheme, c, P, V)
        c += ops
    out[0, 0], out[0, 1], out[0, 2] = x, y, z
    for n in range(1, out.shape[0]):
        x, y, z = _step(x, y, z, k, scheme, c, P, V)
        c += ops
        out[n, 0], out[n, 1], out[n, 2] = x, y, z


# --- the fast path of a whole step -----------------------------------------------------------
#
# The rounding of :func:`R` per operation, minus its slow path: each rounding returns its result
# and a flag "this one needs the slow path" (outside [lo, hi], or an exact-SR tie of the first
# 32 random bits), the flags of a step are OR-ed, and a flagged step is recomputed from its start
# state by :func:`_step` (the per-operation code above, which is the reference). Every rounding
# is a pure function of (value, stream index, config), so the recomputed step equals what the
# per-operation code gives, bit for bit. The step itself is then straight-line integer and float
# code with no call and no branch (measured: the slow-path call sites, one per operation, made
# the loop 2-3x slower), and the random words of a block of steps are hashed beforehand in one
# loop that LLVM vectorises, off the step's dependency chain.

_BLOCK = 32  #: steps whose random words are hashed at once (32 x 68 words = 17 KiB)
_ABS = _U64(0x7FFFFFFFFFFFFFFF)


@_scalar
def fast_cfg(ci: Any, cf: Any) -> Any:
    """The fast path's loop constants (uint64) from one config row: see :func:`_r_rne` ..."""
    sh, nb, mode = ci[3], ci[2], ci[1]
    s1, s2 = max(sh - 32, 0), max(32 - sh, 0)
    k, kl = max(sh - nb, 0), max(nb - sh, 0)
    lo = np.float64(cf[3]).view(np.uint64)
    hi = np.float64(cf[4]).view(np.uint64)
    one = _U64(1)
    return (
        _U64(sh),  # 0: dropped bits
        (one << _U64(sh)) - one,  # 1: their mask
        _U64(s1),  # 2, 3: first random word against the dropped bits: (rem >> s1) << s2
        _U64(s2),
        _U64((one << _U64(sh)) - (one << _U64(s1)) if sh > 32 else one << _U64(sh)),  # 4: tie
        lo,  # 5, 6, 7: the fast range [lo, hi] as bit images (lo, hi - lo, hi)
        hi - lo,
        hi,
        _U64(nb),  # 8: random bits N of the N-bit modes
        _U64(k),  # 9, 10: floor(d 2^N) = (rem >> k) << kl
        _U64(kl),
        (one << _U64(k)) - one,  # 11: the bits below the N-th, f
        (one << _U64(k)) >> one,  # 12: half of their weight
        _U64((k > 0) & (mode != MODE_SRFF)),  # 13: the N-bit threshold can round up
        _U64(mode == MODE_SRF),  # 14: ... on f >= half (SRF)
        _U64(mode == MODE_SRO),  # 15: ... ties to odd (SRO), else to even (SRC)
        _U64(32 - nb),  # 16: r = w >> (32 - N)
    )


@_scalar
def _flag(u: Any, r: Any, q: Any) -> Any:
    """The input bit image u or the result r lies outside the fast range [lo, hi]."""
    return ((u & _ABS) - q[5] > q[6]) | ((r & _ABS) > q[7])


@_scalar
def _r_rne(v: Any, w: Any, q: Any) -> Any:
    """(``v`` rounded to nearest-even on the fast grid, needs-the-slow-path); ``w`` unused."""
    u = np.float64(v).view(np.uint64)
    one, mask = _U64(1), q[1]
    r = (u + (mask >> one) + ((u >> q[0]) & one)) & ~mask
    return _U64(r).view(np.float64), _flag(u, r, q)


@_scalar
def _sr_add(w: Any, q: Any) -> Any:
    """The addend A of exact SR for first random word ``w``: rem + A >= 2^sh iff w < h, h the
    first 32 dropped bits (rem >> (sh - 32) for sh > 32, else rem << (32 - sh)). With
    T = ceil((w + 1) 2^s1 / 2^s2) that is rem >= T, and A = 2^sh - T."""
    one = _U64(1)
    t = (((_U64(w) + one) << q[2]) + ((one << q[3]) - one)) >> q[3]
    return (one << q[0]) - t


@_scalar
def _r_sr(v: Any, A: Any, q: Any) -> Any:
    """Exact SR with the addend ``A`` = :func:`_sr_add` of the first random word: add and
    truncate, as nearest-even does. Away iff w < h, which decides U < d whatever the later
    words, except for w == h (rem + A in the top 2^(sh-32) below the carry), which is flagged:
    the slow path reads the next words (p = 2^-32)."""
    u = np.float64(v).view(np.uint64)
    t = u + A
    r = t & ~q[1]
    return _U64(r).view(np.float64), _flag(u, r, q) | ((t & q[1]) >= q[4])


@_scalar
def _sr_adds(W: Any, n: Any, q: Any) -> None:
    """W[i] (random words) <- their SR addends, i < n (vectorised)."""
    for i in range(n):
        W[i] = _sr_add(W[i], q)


@_scalar
def _r_few(v: Any, w: Any, q: Any) -> Any:
    """N-bit SR (SRFF, SRF, SRC, SRO): away iff T(d) + r >= 2^N, T = floor(d 2^N) plus the
    mode's rounding-up of the bits below (see :func:`_bits`), r the top N bits of ``w``."""
    u = np.float64(v).view(np.uint64)
    one = _U64(1)
    rem = u & q[1]
    t = (rem >> q[9]) << q[10]
    f = rem & q[11]
    half = q[12]
    odd_ok = (q[14] | ((t & one) ^ q[15])) != _U64(0)
    inc = q[13] & _U64((f > half) | ((f == half) & odd_ok))
    r = (u - rem) + (_U64(t + inc + (_U64(w) >> q[16]) >= (one << q[8])) << q[0])
    return _U64(r).view(np.float64), _flag(u, r, q)


#: variant markers of the fast path: the marker's *type* selects the rounding at compile time
#: (a jitted function passed as a value would be a "dynamic global" and stop numba's disk cache)
M_RNE, M_SR, M_FEW = np.uint8(V_RNE), np.uint16(V_SR), np.uint32(V_FEW)


def _fround(v: Any, w: Any, q: Any, m: Any) -> Any:
    """Fast rounding ``(result, flag)`` of the variant marked by ``m``'s type (M_RNE ...)."""
    raise NotImplementedError("jit only")  # pragma: no cover


@overload(_fround, jit_options={"nogil": True})
def _fround_impl(v: Any, w: Any, q: Any, m: Any) -> Any:
    fn = {numba.types.uint8: _r_rne, numba.types.uint16: _r_sr, numba.types.uint32: _r_few}[m]

    def impl(v: Any, w: Any, q: Any, m: Any) -> Any:
        return fn(v, w, q)

    return impl


@_scalar
def _frhs(
    x: Any, y: Any, z: Any, sig: Any, rho: Any, beta: Any, W: Any, j: Any, q: Any, F: Any
) -> Any:
    """:func:`_rhs` on the fast path (words W[j .. j+7]); returns dx, dy, dz, flag."""
    t0, b0 = _fround(y - x, W[j], q, F)
    dx, b1 = _fround(sig * t0, W[j + 1], q, F)
    t2, b2 = _fround(rho - z, W[j + 2], q, F)
    t3, b3 = _fround(x * t2, W[j + 3], q, F)
    dy, b4 = _fround(t3 - y, W[j + 4], q, F)
    t5, b5 = _fround(x * y, W[j + 5], q, F)
    t6, b6 = _fround(beta * z, W[j + 6], q, F)
    dz, b7 = _fround(t5 - t6, W[j + 7], q, F)
    return dx, dy, dz, b0 | b1 | b2 | b3 | b4 | b5 | b6 | b7


@_scalar
def _faxpy(x: Any, h: Any, k: Any, W: Any, j: Any, q: Any, F: Any) -> Any:
    t, b0 = _fround(h * k, W[j], q, F)
    r, b1 = _fround(x + t, W[j + 1], q, F)
    return r, b0 | b1


@_scalar
def _frk4_sum(
    x: Any, h6: Any, k1: Any, k2: Any, k3: Any, k4: Any, W: Any, j: Any, q: Any, F: Any
) -> Any:
    a, b0 = _fround(k1 + k4, W[j], q, F)
    b, b1 = _fround(k2 + k3, W[j + 1], q, F)
    d, b2 = _fround(2.0 * b, W[j + 2], q, F)
    s, b3 = _fround(a + d, W[j + 3], q, F)
    t, b4 = _fround(h6 * s, W[j + 4], q, F)
    r, b5 = _fround(x + t, W[j + 5], q, F)
    return r, b0 | b1 | b2 | b3 | b4 | b5


@_scalar
def _fstep(x: Any, y: Any, z: Any, k: Any, scheme: Any, W: Any, j: Any, q: Any, F: Any) -> Any:
    """:func:`_step` on the fast path (same operations, same stream indices: words
    W[j + i] = word of stream index c + i); returns x, y, z, flag."""
    sig, rho, beta, dt, h2, h6 = k[0], k[1], k[2], k[3], k[4], k[5]
    if scheme == SCHEME_EULER:
        dx, dy, dz, f0 = _frhs(x, y, z, sig, rho, beta, W, j, q, F)
        nx, f1 = _faxpy(x, dt, dx, W, j + 8, q, F)
        ny, f2 = _faxpy(y, dt, dy, W, j + 10, q, F)
        nz, f3 = _faxpy(z, dt, dz, W, j + 12, q, F)
        return nx, ny, nz, f0 | f1 | f2 | f3
    ax, ay, az, f0 = _frhs(x, y, z, sig, rho, beta, W, j, q, F)
    xb, f1 = _faxpy(x, h2, ax, W, j + 8, q, F)
    yb, f2 = _faxpy(y, h2, ay, W, j + 10, q, F)
    zb, f3 = _faxpy(z, h2, az, W, j + 12, q, F)
    bx, by, bz, f4 = _frhs(xb, yb, zb, sig, rho, beta, W, j + 14, q, F)
    xc, f5 = _faxpy(x, h2, bx, W, j + 22, q, F)
    yc, f6 = _faxpy(y, h2, by, W, j + 24, q, F)
    zc, f7 = _faxpy(z, h2, bz, W, j + 26, q, F)
    cx, cy, cz, f8 = _frhs(xc, yc, zc, sig, rho, beta, W, j + 28, q, F)
    xd, f9 = _faxpy(x, dt, cx, W, j + 36, q, F)
    yd, f10 = _faxpy(y, dt, cy, W, j + 38, q, F)
    zd, f11 = _faxpy(z, dt, cz, W, j + 40, q, F)
    ex, ey, ez, f12 = _frhs(xd, yd, zd, sig, rho, beta, W, j + 42, q, F)
    nx, f13 = _frk4_sum(x, h6, ax, bx, cx, ex, W, j + 50, q, F)
    ny, f14 = _frk4_sum(y, h6, ay, by, cy, ey, W, j + 56, q, F)
    nz, f15 = _frk4_sum(z, h6, az, bz, cz, ez, W, j + 62, q, F)
    flag = f0 | f1 | f2 | f3 | f4 | f5 | f6 | f7 | f8 | f9 | f10 | f11 | f12 | f13 | f14 | f15
    return nx, ny, nz, flag


@_scalar
def _words(W: Any, c0: Any, n: Any, a: Any, b: Any) -> None:
    """W[i] = :func:`~lowbit_core._numba.rng_word` of stream index c0 + i, i < n. Where the
    block has one high half of the index, a 32-bit loop of the same hash (LLVM vectorises it)."""
    c0 = _U64(c0)
    last = c0 + _U64(n - 1)
    if (c0 >> _U64(32)) == (last >> _U64(32)):
        lo0 = _U32(c0 & _U64(0xFFFFFFFF))
        bh = _U32(_U32(c0 >> _U64(32)) ^ b)
        for i in range(n):
            W[i] = _mix32(_U32(_mix32(_U32(_U32(lo0 + _U32(i)) ^ a)) ^ bh))
    else:
        for i in range(n):
            W[i] = rng_word(c0 + _U64(i), a, b)


@_scalar
def _fast_values(x: Any, out: Any, flag: Any, q: Any, a: Any, b: Any, m: Any) -> None:
    for i in range(x.size):
        w = _U64(rng_word(_U64(i), a, b))
        out[i], flag[i] = _fround(x[i], _sr_add(w, q) if m == M_SR else w, q, m)


@_kernel
def round_values_fast(x: Any, out: Any, flag: Any, ci: Any, cf: Any) -> None:
    """``out[i], flag[i]``: the fast path's rounding of ``x[i]`` as the ``i``-th operation and
    its "needs the slow path" flag (tests: unflagged results equal :func:`round_values`)."""
    q = fast_cfg(ci, cf)
    a, b = _U32(ci[9]), _U32(ci[10])
    v = ci[13]
    if v == V_RNE:
        _fast_values(x, out, flag, q, a, b, M_RNE)
    elif v == V_SR:
        _fast_values(x, out, flag, q, a, b, M_SR)
    elif v == V_FEW:
        _fast_values(x, out, flag, q, a, b, M_FEW)
    else:
        flag[:] = True


@_scalar
def _integrate_fast(
    out: Any, s0: Any, k: Any, scheme: Any, skip: Any, P: Any, q: Any, V: Any, F: Any
) -> None:
    """:func:`_integrate` through the fast path: each step by :func:`_fstep`, a flagged one
    again by :func:`_step`. Where flagged steps are common (a narrow format: its zeros and
    subnormals are all slow-path values) the run goes on with :func:`_step` alone, which gives
    the same bits (only the speed differs)."""
    ops = EULER_OPS if scheme == SCHEME_EULER else RK4_OPS
    total = skip + out.shape[0] - 1
    W = np.empty(_BLOCK * ops, dtype=np.uint64)
    x, y, z = s0[0], s0[1], s0[2]
    if skip == 0:
        out[0, 0], out[0, 1], out[0, 2] = x, y, z
    c = np.int64(0)
    fast = True
    flagged = 0
    done = 0
    while done < total:
        m = min(_BLOCK, total - done)
        if fast and V != V_RNE:
            _words(W, c, m * ops, P[9], P[10])
            if V == V_SR:
                _sr_adds(W, m * ops, q)
        for i in range(m):
            if fast:
                nx, ny, nz, flag = _fstep(x, y, z, k, scheme, W, i * ops, q, F)
                if flag:
                    nx, ny, nz = _step(x, y, z, k, scheme, c, P, V)
                    flagged += 1
                    fast = not (flagged > 64 and 8 * flagged > done + i)
            else:
                nx, ny, nz = _step(x, y, z, k, scheme, c, P, V)
            x, y, z = nx, ny, nz
            c += ops
            s = done + i + 1 - skip
            if s >= 0:
                out[s, 0], out[s, 1], out[s, 2] = x, y, z
        done += m


@_scalar
def integrate(out: Any, s0: Any, k: Any, scheme: Any, skip: Any, ci: Any, cf: Any) -> None:
    """Run ``skip`` steps from ``s0`` (the spin-up, discarded), then fill ``out`` (steps + 1, 3)
    with the state reached and the state after each further step. The i-th step uses stream
    indices ops·i .. ops·(i + 1) - 1, spin-up included. ``ci, cf``: one config row each."""
    P = cfg(ci, cf)
    q = fast_cfg(ci, cf)
    v = ci[13]
    if v == V_RNE:
        _integrate_fast(out, s0, k, scheme, skip, P, q, V_RNE, M_RNE)
    elif v == V_SR:
        _integrate_fast(out, s0, k, scheme, skip, P, q, V_SR, M_SR)
    elif v == V_FEW:
        _integrate_fast(out, s0, k, scheme, skip, P, q, V_FEW, M_FEW)
    elif v == V_F64:
        _integrate(out, s0, k, scheme, skip, P, V_F64)
    else:
        _integrate(out, s0, k, scheme, skip, P, V_ANY)


@_scalar
def run_one(out: Any, s0: Any, k: Any, scheme: Any, skip: Any, ci: Any, cf: Any) -> None:
    """:func:`integrate` for one config row."""
    integrate(out, s0, k, scheme, skip, ci, cf)


@_kernel
def runs_many(ci: Any, cf: Any, s0: Any, k: Any, scheme: Any, skip: Any, out: Any) -> None:
    """Runs ``i`` = 0 .. n-1 in parallel: ``out[i]`` (steps + 1, 3) as :func:`integrate` fills
    it for config row i, start ``s0[i]`` and constants ``k[i]``."""
    for i in prange(ci.shape[0]):
        integrate(out[i], s0[i], k[i], scheme, skip, ci[i], cf[i])


@_scalar
def w1_stats(srt: Any, states: Any, ref: Any, out: Any) -> None:
    """``out = (W1_x, W1_y, W1_z, std of z over the last half)`` of one run: ``states``
    (steps + 1, 3), ``srt`` its columns each sorted, ``ref`` the reference's columns sorted.

    W1 of two equal-size samples is the mean absolute difference of their order statistics.
    (numpy sorts: its SIMD sort is several times faster than numba's, and a sort's output
    does not depend on the algorithm.)"""
    for j in range(3):
        out[j] = np.mean(np.abs(srt[:, j] - ref[:, j]))
    out[3] = np.std(states[states.shape[0] // 2 :, 2])


# --- stagnation cards -----------------------------------------------------------------------


@_kernel
def harmonic_many(terms: Any, ci: Any, cf: Any, out: Any) -> None:
    """``out[r, i]`` = running sum s_i = rnd(s_{i-1} + terms[i]) for config row r (stream i)."""
    for r in prange(ci.shape[0]):
        P = cfg(ci[r], cf[r])
        s = 0.0
        for i in range(terms.size):
            s = rnd(s + terms[i], i, P)
            out[r, i] = s


@_scalar
def _decay(y: Any, h: Any, n: Any, P: Any, V: Any) -> Any:
    c = np.int64(0)
    for _ in range(n):
        q = R(h * R(y / 20.0, c, P, V), c + 1, P, V)
        y = R(y - q, c + 2, P, V)
        c += 3
    return y


@_kernel
def decay_many(ns: Any, h: Any, y0: Any, ci: Any, cf: Any, out: Any) -> None:
    """Forward Euler for y' = -y/20: y <- R(y + (-R(h * R(y / 20)))), ``ns[j]`` steps of
    ``h[r, j]`` (already rounded); ``out[r, j]`` the final y of config row r (the experiment of
    Croci, Fasi, Higham, Mary, Mikaitis, R. Soc. Open Sci. 2022, Sec. 8)."""
    nr, nj = ci.shape[0], ns.size
    for t in prange(nr * nj):
        r, j = t // nj, nj - 1 - t % nj  # longest runs first (better balance over threads)
        P = cfg(ci[r], cf[r])
        v = ci[r, 13]
        if v == V_F64:
            out[r, j] = _decay(y0[r], h[r, j], ns[j], P, V_F64)
        elif v == V_RNE:
            out[r, j] = _decay(y0[r], h[r, j], ns[j], P, V_RNE)
        elif v == V_SR:
            out[r, j] = _decay(y0[r], h[r, j], ns[j], P, V_SR)
        elif v == V_FEW:
            out[r, j] = _decay(y0[r], h[r, j], ns[j], P, V_FEW)
        else:
            out[r, j] = _decay(y0[r], h[r, j], ns[j], P, V_ANY)


@_scalar
def _heat(a: Any, b: Any, x: Any, steps: Any, every: Any, P: Any, V: Any, mean: Any) -> Any:
    m = a.size
    c = np.int64(0)
    for n in range(1, steps + 1):
        for i in range(1, m - 1):
            lap = R(R(a[i + 1] - R(2.0 * a[i], c, P, V), c + 1, P, V) + a[i - 1], c + 2, P, V)
            b[i] = R(a[i] + R(x * lap, c + 3, P, V), c + 4, P, V)
            c += 5
        lap = R(-a[m - 1] + a[m - 2], c, P, V)
        b[m - 1] = R(a[m - 1] + R(x * lap, c + 1, P, V), c + 2, P, V)
        c += 3
        a, b = b, a
        if n % every == 0:
            mean[n // every - 1] = np.mean(a)
    return a


@_kernel
def heat_many(
    t0: Any, top: Any, xi: Any, steps: Any, every: Any, ci: Any, cf: Any, prof: Any, mean: Any
) -> None:
    """Soil column, forward Euler in time, centred differences (the authors' HeatSolver.jl):

        T_m <- T_m + ξ ((T_{m+1} - 2 T_m) + T_{m-1})     interior cells, 5 roundings
        T_M <- T_M + ξ (-T_M + T_{M-1})                  insulated bottom, 3 roundings

    with T_0 = ``top[r]`` fixed. Per config row r: ``prof[r]`` the final profile and
    ``mean[r, i]`` the depth mean (float64 mean of the cells) after every ``every`` steps.
    """
    for r in prange(ci.shape[0]):
        P = cfg(ci[r], cf[r])
        a = t0[r].copy()
        a[0] = top[r]
        b = a.copy()
        v = ci[r, 13]
        if v == V_F64:
            res = _heat(a, b, xi[r], steps, every, P, V_F64, mean[r])
        elif v == V_RNE:
            res = _heat(a, b, xi[r], steps, every, P, V_RNE, mean[r])
        elif v == V_SR:
            res = _heat(a, b, xi[r], steps, every, P, V_SR, mean[r])
        elif v == V_FEW:
            res = _heat(a, b, xi[r], steps, every, P, V_FEW, mean[r])
        else:
            res = _heat(a, b, xi[r], steps, every, P, V_ANY, mean[r])
        prof[r, :] = res
