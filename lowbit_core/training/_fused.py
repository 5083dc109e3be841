"""Fused numba kernel for :func:`lowbit_core.training.qlinear.fake_quant` on CPU float32 tensors.

One call does the whole block-scaled quantize-dequantize of a 2-D float32 array (tensor amax,
block amax, scale rounding, element rounding with the counter-based random bits, dequantization),
instead of the ~40 small torch ops of the torch path, whose per-op dispatch dominates on the
training page's tiny tensors. The kernel repeats the torch path's float32 operations in the same
order, so the two agree bit for bit (tested in ``tests/test_training_fused.py``):

1. ``s_enc = min(f32(scale_max * elem_max) / amax_t, f32max, lim)`` (1 when ``amax_t = 0`` or
   without a tensor scale; ``lim`` keeps ``amax_t * s_enc <= f32max / 2``, see
   :func:`lowbit_core.blocks.tensor_scale`), ``s_dec = 1 / s_enc``;
2. block amax over blocks of ``bh x bw`` (1 x B blocks, B x B tiles, or the whole tensor),
   the padding being zeros;
3. raw scale: AMAX ``amax * (s_enc * f32(1 / elem_max))``; FLOOR/CEIL ``2^k`` from
   ``frexp(amax * s_enc)``; rounded RNE into the scale format (float32: unchanged; UE8M0 with a
   power of two: clamped; fast grids: the float32 bit trick of ``quantize_elements``; other float
   formats: :func:`lowbit_core._numba.round_one`, the reference-exact scalar rounding);
4. ``enc = min(1 / (S * s_dec), f32max)`` (0 where ``S = 0``);
5. ``x * enc`` rounded by the bit trick of ``quantize_elements`` (RNE, SR with 32 bits, SRFF,
   SRC), the random word of element ``k`` of the padded block layout being
   ``rng.words(seed, offset + k)``;
6. ``q * S`` (``/ s_enc`` with a tensor scale).

Only finite inputs are handled: the kernel returns False on a NaN or infinity and the caller
falls back to the torch path, which defines those cases. (A finite input whose scaled value
overflows to infinity rounds to the element format's max in both paths: ``floor``/``round`` of
infinity is infinity, whatever the random bits, and the clamp takes it to max.)

Importing this module imports numba (compiling nothing; kernels compile lazily and are cached
on disk): :mod:`lowbit_core.training.qlinear` imports it lazily, with a fallback when numba is
missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numba
import numpy as np
import torch
from numba import carray as _carray  # type: ignore[attr-defined]
from numba import types
from numba.extending import intrinsic

from .. import _numba as nbk
from ..blocks import ScaleRule, elem_emax
from ..formats import FloatFormat, get_format
from ..rng import key
from ..rounding import RoundMode

__all__ = ["cast_bf16", "covers", "fake_quant"]

_kernel = numba.njit(nogil=True, cache=True, error_model="numpy")
_scalar = numba.njit(nogil=True, cache=True, error_model="numpy")

_U32 = np.uint32
_U64 = np.uint64
_F32 = np.float32

RULE_AMAX, RULE_FLOOR, RULE_CEIL = 0, 1, 2
SK_FP32, SK_CLAMP, SK_FAST, SK_GENERAL = 0, 1, 2, 3
M_RNE, M_SR, M_SRFF, M_SRC = 0, 1, 2, 3
_MODE = {RoundMode.RNE: M_RNE, RoundMode.SR: M_SR, RoundMode.SRFF: M_SRFF, RoundMode.SRC: M_SRC}
_RULE = {ScaleRule.AMAX: RULE_AMAX, ScaleRule.FLOOR: RULE_FLOOR, ScaleRule.CEIL: RULE_CEIL}

# ip (int64) slots
_I_RULE, _I_EMAXE, _I_SKIND, _I_SMB, _I_SEMIN, _I_SEMAX = 0, 1, 2, 3, 4, 5
_I_GMB, _I_GEMIN, _I_GBIAS, _I_GFLAGS = 6, 7, 8, 9
_I_EMB, _I_EEMIN, _I_EEMAX, _I_MODE, _I_NBITS, _I_TS = 10, 11, 12, 13, 14, 15
# fp (float64) slots: float32 constants are stored exactly
_F_TSC, _F_INVE, _F_EMAX, _F_SMAX, _F_SMIN, _F_GMAXP, _F_GMAXN, _F_GMINP = 0, 1, 2, 3, 4, 5, 6, 7


# --- raw data pointers (torch's data_ptr(): no numpy views to build per call) -------------------


def _u32_ptr_typing(typingctx: Any, addr: Any) -> Any:
    """An integer address as a ``uint32*`` (for ``numba.carray``)."""
    sig = types.CPointer(types.uint32)(addr)  # type: ignore[no-untyped-call]

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(signature.return_type))

    return sig, codegen


_u32_ptr: Any = intrinsic(_u32_ptr_typing)


# --- scalar pieces -------------------------------------------------------------------------------


@_scalar
def _pow2f(k: Any) -> Any:
    """``2^k`` as float32 for integer k clamped to [-149, 127] (exact), as qlinear._pow2."""
    kk: Any = min(max(np.int64(k), -149), 127)
    return _F32(_U64(np.int64(kk + 1023) << 52).view(np.float64))


@_scalar
def _mix32(x: Any) -> Any:
    """lowbias32 (as :func:`lowbit_core._numba._mix32`; repeated so LLVM inlines it: calling
    ``_numba.rng_word`` instead made an SR call on 256x1024 ~30% slower, measured)."""
    x = _U32(x ^ (x >> _U32(16)))
    x = _U32(x * _U32(0x7FEB352D))
    x = _U32(x ^ (x >> _U32(15)))
    x = _U32(x * _U32(0x846CA68B))
    return _U32(x ^ (x >> _U32(16)))


@_scalar
def _word(idx: Any, a: Any, b: Any) -> Any:
    """:func:`lowbit_core._numba.rng_word`: word 0 of counter ``idx`` (uint64), keys ``a, b``."""
    lo = _U32(idx & _U64(0xFFFFFFFF))
    hi = _U32(idx >> _U64(32))
    return _mix32(_U32(_mix32(_U32(lo ^ a)) ^ hi ^ b))


@_scalar
def _split(s: Any, mbits: Any, e_lo: Any, e_hi: Any) -> Any:
    """``quantize_elements``' first steps for float32 ``s``: (sign bit, ``v``, ulp) with
    ``e = clamp(floor(log2|s|), emin, emax + 1)``, ``v = |s| 2^(mbits - e)`` (exact) and
    ``ulp = 2^(e - mbits)`` (``n / 2^(mbits - e) == n * ulp``, both exact). ``e_lo, e_hi``
    are the biased bounds ``emin + 127``, ``emax + 128`` (uint32)."""
    bits = _F32(s).view(np.uint32)
    abits = _U32(bits & _U32(0x7FFFFFFF))
    eb = min(max(_U32(abits >> _U32(23)), e_lo), e_hi)
    inv = _U32(_U32(_U32(254) + mbits - eb) << _U32(23)).view(np.float32)
    ulp = _U32(_U32(eb - mbits) << _U32(23)).view(np.float32)
    return _U32(bits & _U32(0x80000000)), _F32(abits.view(np.float32) * inv), ulp


@_scalar
def _join(sign: Any, n: Any, ulp: Any, gmax: Any) -> Any:
    """``copysign(min(n * ulp, max), s)`` from the sign bit of ``s``."""
    return _U32(_F32(min(_F32(n * ulp), gmax)).view(np.uint32) | sign).view(np.float32)


@_scalar
def _q_rne(s: Any, mbits: Any, e_lo: Any, e_hi: Any, gmax: Any) -> Any:
    """RNE onto a fast grid (``quantize_elements`` bit for bit): ``v`` rounded half to even
    by the 2^23 trick (values from 2^23 on are integers already)."""
    sign, v, ulp = _split(s, mbits, e_lo, e_hi)
    m = _F32(8388608.0)
    n = v if v >= m else _F32(_F32(v + m) - m)
    return _join(sign, n, ulp, gmax)


@_scalar
def _q_sr(s: Any, mbits: Any, e_lo: Any, e_hi: Any, gmax: Any, src: Any, scale: Any,
          r: Any) -> Any:
    """Stochastic rounding with ``N`` random bits ``r`` (``scale = 2^N``, float64): away iff
    ``T(d 2^N) + r >= 2^N``, T = floor (SR, SRFF) or round half to even (SRC)."""
    sign, v, ulp = _split(s, mbits, e_lo, e_hi)
    n = v if v >= _F32(8388608.0) else _F32(np.int32(v))  # floor: v >= 0
    t = np.float64(_F32(v - n)) * scale  # exact
    thr = np.rint(t) if src else np.floor(t)
    n2 = _F32(n + _F32(1.0)) if thr + np.float64(r) >= scale else n
    return _join(sign, n2, ulp, gmax)


@_scalar
def _rne_scalar(s: Any, mbits: Any, emin: Any, emax: Any, gmax: Any) -> Any:
    return _q_rne(s, _U32(mbits), _U32(emin + 127), _U32(emax + 128), gmax)


# --- the kernel ----------------------------------------------------------------------------------


@_kernel
def _k_fake_quant(
    xaddr: Any, oaddr: Any, nr: Any, nk: Any, ostride: Any, bh: Any, bw: Any, ip: Any, fp: Any,
    a0: Any, b0: Any, off: Any,
) -> Any:
    """Quantize-dequantize ``x`` (C-contiguous (R, K) float32 at address ``xaddr``) into the
    float32 buffer at ``oaddr`` (rows ``ostride >= K`` apart, at least R of them); False on a
    non-finite input (nothing else is checked).

    Blocks are ``bh x bw`` tiles of the zero-padded matrix; element ``(u, v)`` of tile ``(i, j)``
    draws the random word of counter ``off + ((i * nbc + j) * bh + u) * bw + v``.
    """
    xu = _carray(_u32_ptr(xaddr), nr * nk)
    out = _carray(_u32_ptr(oaddr), nr * ostride).view(np.float32)
    osu = _U64(ostride)
    nbr = (nr + bh - 1) // bh
    nbc = (nk + bw - 1) // bw
    rule, emax_e, skind = ip[_I_RULE], ip[_I_EMAXE], ip[_I_SKIND]
    smb, semin, semax = ip[_I_SMB], ip[_I_SEMIN], ip[_I_SEMAX]
    gmb, gemin, gbias, gflags = ip[_I_GMB], ip[_I_GEMIN], ip[_I_GBIAS], ip[_I_GFLAGS]
    emb = _U32(ip[_I_EMB])
    e_lo, e_hi = _U32(ip[_I_EEMIN] + 127), _U32(ip[_I_EEMAX] + 128)
    mode, nbits, use_ts = ip[_I_MODE], ip[_I_NBITS], ip[_I_TS] != 0
    ts_c, inv_emax, elem_max = _F32(fp[_F_TSC]), _F32(fp[_F_INVE]), _F32(fp[_F_EMAX])
    smax, smin = _F32(fp[_F_SMAX]), _F32(fp[_F_SMIN])
    gmaxp, gmaxn, gminp = fp[_F_GMAXP], fp[_F_GMAXN], fp[_F_GMINP]
    big = _F32(3.4028234663852886e38)
    one, zero = _F32(1.0), _F32(0.0)
    rshift = _U32(32 - nbits)
    two_nb = np.float64(np.int64(1) << nbits)
    src = mode == M_SRC
    nku = _U64(nk)

    # 1. tensor scale (integer max of the magnitude bits: NaN and inf read >= 0x7F800000)
    s_enc = one
    if use_ts:
        mb = _U32(0)
        for i in range(_U64(xu.size)):
            mb = max(mb, _U32(xu[i] & _U32(0x7FFFFFFF)))
        if mb >= _U32(0x7F800000):
            return False
        m = _U32(mb).view(np.float32)
        if m > zero:
            s_enc = min(_F32(ts_c / m), big)
            half = _F32(big * _F32(0.5))  # amax_t * s_enc <= big / 2 (blocks.tensor_scale)
            lim = _F32(half / m)
            if _F32(m * lim) > half:
                lim = _U32(_U32(lim.view(np.uint32)) - _U32(1)).view(np.float32)
            s_enc = min(s_enc, lim)
    s_dec = _F32(one / s_enc)
    mult = _F32(s_enc * inv_emax)

    for i in range(nbr):
        r0 = i * bh
        r1 = min(nr, r0 + bh)
        for j in range(nbc):
            c0 = _U64(j * bw)
            c1 = _U64(min(nk, j * bw + bw))
            # 2. block amax
            mb = _U32(0)
            for r in range(r0, r1):
                row = _U64(r) * nku
                for c in range(c0, c1):
                    mb = max(mb, _U32(xu[row + c] & _U32(0x7FFFFFFF)))
            if mb >= _U32(0x7F800000):
                return False
            amax = _U32(mb).view(np.float32)
            # 3. raw scale by rule, rounded into the scale format
            if rule == RULE_AMAX:
                raw = _F32(amax * mult)
            else:
                y = _F32(amax * s_enc)
                if y == zero:
                    raw = zero
                else:
                    _, ex = math.frexp(np.float64(y))
                    k = np.int64(ex) - 1 - emax_e
                    if rule == RULE_CEIL and _F32(y * _pow2f(-k)) > elem_max:
                        k += 1
                    raw = _pow2f(k)
            if skind == SK_FP32:
                sc = raw
            elif skind == SK_CLAMP:
                sc = min(max(raw, smin), smax)
            elif skind == SK_FAST:
                sc = _rne_scalar(raw, smb, semin, semax, smax)
            else:
                sc = _F32(nbk.round_one(
                    np.float64(raw), _U32(0), gmb, gemin, gbias, gmaxp, gmaxn, gminp, gflags,
                    nbk.MODE_RNE, 1, True,
                ))
            # 4. encode factor (x enc may overflow to inf: it then rounds to +-max, as in torch)
            if sc == zero:
                enc = zero
            else:
                enc = min(_F32(one / _F32(sc * s_dec)), big)
            # 5-6. elements: round x enc, dequantize q S (/ s_enc)
            base = (i * nbc + j) * bh
            for r in range(r0, r1):
                row = _U64(r) * nku
                orow = _U64(r) * osu
                if mode == M_RNE:
                    for c in range(c0, c1):
                        s = _F32(_U32(xu[row + c]).view(np.float32) * enc)
                        v = _F32(_q_rne(s, emb, e_lo, e_hi, elem_max) * sc)
                        out[orow + c] = _F32(v / s_enc) if use_ts else v
                else:
                    kr = off + _U64((base + r - r0) * bw) - c0
                    for c in range(c0, c1):
                        s = _F32(_U32(xu[row + c]).view(np.float32) * enc)
                        w = _U32(_word(kr + c, a0, b0) >> rshift)
                        q = _q_sr(s, emb, e_lo, e_hi, elem_max, src, two_nb, w)
                        v = _F32(q * sc)
                        out[orow + c] = _F32(v / s_enc) if use_ts else v
    return True


@_kernel
def _k_bf16(xaddr: Any, oaddr: Any, n: Any) -> Any:
    """float32 -> bfloat16 -> float32 on the bit images of ``n`` values at ``xaddr`` into
    ``oaddr`` (RNE as torch's cast: add ``0x7FFF + lsb`` and truncate); False if the input
    holds a NaN (nothing written then matters: the caller uses the torch cast)."""
    xu = _carray(_u32_ptr(xaddr), n)
    ou = _carray(_u32_ptr(oaddr), n)
    nan = _U32(0)
    for i in range(_U64(xu.size)):
        b = _U32(xu[i])
        nan |= _U32(1) if _U32(b & _U32(0x7FFFFFFF)) > _U32(0x7F800000) else _U32(0)
        ou[i] = _U32(_U32(b + _U32(0x7FFF) + _U32(_U32(b >> _U32(16)) & _U32(1)))
                     & _U32(0xFFFF0000))
    return nan == _U32(0)


# --- Python side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Per-TensorQuant constants of the kernel."""

    ip: np.ndarray
    fp: np.ndarray
    block: int
    tile2d: bool
    stochastic: bool


def _fast_grid(name: str) -> bool:
    from .qlinear import _grid

    return _grid(name).fast


def _f32(v: float) -> float:
    """``v`` rounded to float32 as ``torch.tensor(v)`` does (overflow -> inf)."""
    return float(torch.tensor(v, dtype=torch.float32))


@cache
def _plan(q: Any) -> _Plan | None:
    """Kernel constants for TensorQuant ``q``, or None when the kernel does not cover it."""
    from .qlinear import HIGH_PRECISION

    if q.elem in HIGH_PRECISION or q.mode not in _MODE or not _fast_grid(q.elem):
        return None
    ef, sf = get_format(q.elem), get_format(q.scale_fmt)
    if not isinstance(ef, FloatFormat) or not isinstance(sf, FloatFormat):
        return None
    pow2 = q.scale_rule is not ScaleRule.AMAX
    ip = np.zeros(16, dtype=np.int64)
    fp = np.zeros(8, dtype=np.float64)
    if q.scale_fmt == "float32":
        skind = SK_FP32
    elif pow2 and sf.mbits == 0 and not sf.has_zero:
        skind = SK_CLAMP
        fp[_F_SMIN], fp[_F_SMAX] = _f32(sf.min_normal), _f32(sf.max)
    elif _fast_grid(q.scale_fmt):
        skind = SK_FAST
        ip[_I_SMB], ip[_I_SEMIN], ip[_I_SEMAX] = sf.mbits, sf.emin, sf.emax
        fp[_F_SMAX] = _f32(sf.max)
    else:
        skind = SK_GENERAL
        g = nbk.grid_args(sf)
        ip[_I_GMB], ip[_I_GEMIN], ip[_I_GBIAS], ip[_I_GFLAGS] = g[0], g[1], g[2], g[6]
        fp[_F_GMAXP], fp[_F_GMAXN], fp[_F_GMINP] = g[3], g[4], g[5]
    ip[_I_RULE], ip[_I_EMAXE], ip[_I_SKIND] = _RULE[q.scale_rule], elem_emax(ef), skind
    ip[_I_EMB], ip[_I_EEMIN], ip[_I_EEMAX] = ef.mbits, ef.emin, ef.emax
    ip[_I_MODE] = _MODE[q.mode]
    ip[_I_NBITS] = 32 if q.mode is RoundMode.SR else (q.rbits or 1)
    ip[_I_TS] = int(q.tensor_scale and q.scale_fmt != "float32")
    fp[_F_TSC] = _f32(sf.max * ef.max)
    fp[_F_INVE] = _f32(1.0 / ef.max)
    fp[_F_EMAX] = _f32(ef.max)
    return _Plan(ip, fp, q.block, q.tile2d, q.mode is not RoundMode.RNE)


@cache
def _keys(seed: int) -> tuple[np.uint32, np.uint32]:
    a, b = key(seed, 0)
    return _U32(a), _U32(b)


def cast_bf16(t: torch.Tensor) -> torch.Tensor | None:
    """``t.to(bfloat16).to(float32)`` for a CPU float32 tensor, or None (NaN present).

    The result has the strides torch's cast gives (a transposed input stays transposed), so
    GEMMs downstream see the same layout (BLAS summation order can depend on it)."""
    if t.requires_grad:
        t = t.detach()
    if not (t.is_contiguous() or (t.ndim == 2 and t.T.is_contiguous())):
        return None  # other layouts: torch's cast
    out = torch.empty_like(t)  # same strides: the map runs over memory order
    if not _k_bf16(t.data_ptr(), out.data_ptr(), t.numel()):
        return None
    return out


def covers(q: Any) -> bool:
    """Whether the kernel handles TensorQuant ``q`` (for finite CPU float32 2-D inputs)."""
    return _plan(q) is not None


def fake_quant(t: torch.Tensor, q: Any, ctx: Any) -> torch.Tensor | None:
    """The fused quantize-dequantize of a CPU float32 2-D tensor, or None (use the torch path).

    None when the kernel does not cover ``q`` or the input holds a NaN or infinity. For
    stochastic ``q`` the random words start at ``ctx.offset``, which advances by the padded
    element count on success (as in the torch path).
    """
    p = _plan(q)
    if p is None:
        return None
    nr, nk = t.shape
    if nr == 0 or nk == 0:
        return None
    b = p.block
    if b == 0:
        bh, bw = nr, nk
    elif p.tile2d:
        bh = bw = b
    else:
        bh, bw = 1, b
    if t.requires_grad:
        t = t.detach()
    if not t.is_contiguous():
        t = t.contiguous()
    # the torch path's result is a view of the padded (rows, cols) buffer: same strides here
    if b == 0:
        full = torch.empty((nr, nk), dtype=torch.float32)
    elif p.tile2d:
        full = torch.empty((-(-nr // b) * b, -(-nk // b) * b), dtype=torch.float32)
    else:
        full = torch.empty((nr, -(-nk // b) * b), dtype=torch.float32)
    if p.stochastic:
        a0, b0 = _keys(ctx.seed)
        off = ctx.offset
    else:
        a0 = b0 = _U32(0)
        off = 0
    if not _k_fake_quant(t.data_ptr(), full.data_ptr(), nr, nk, full.shape[1], bh, bw, p.ip, p.fp,
                         a0, b0, _U64(off)):
        return None
    if p.stochastic:
        ctx.offset = off + (-(-nr // bh) * bh) * (-(-nk // bw) * bw)
    return full if full.shape[0] == nr and full.shape[1] == nk else full[:nr, :nk]
