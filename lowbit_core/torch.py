"""Torch backend: rounding, random Hadamard transforms and block scaling on CPU or CUDA tensors.

Given the same random bits every function here returns, bit for bit, what the numpy reference
returns (:func:`lowbit_core.rounding.quantize_reference`, :mod:`lowbit_core.hadamard`,
:mod:`lowbit_core.blocks`): the counter-based generator of :mod:`lowbit_core.rng` is evaluated in
int64 arithmetic on the tensor's device, and the rounding works on float64 intermediates (exact
for float32 and float64 inputs), so results depend neither on the device nor on chunking.

Import this module only where torch is wanted (training code): ``import lowbit_core.torch as lt``.
``lowbit_core`` itself never imports torch.

Dtypes: float32 and float64 tensors keep their dtype. bfloat16 and float16 tensors are accepted
as a convenience: they are widened to float32 (exactly), rounded, and the result is cast back to
the input dtype with torch's round-to-nearest-even cast. That final cast is the identity whenever
the target format's values fit the input dtype (every format narrower than it); otherwise it
rounds a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from . import rng
from .blocks import BlockSpec, ScaleRule, elem_caps, tensor_scale
from .formats import Format, get_format
from .rounding import (
    STOCHASTIC_MODES,
    RoundMode,
    _check_rbits,
    _check_srbits_mode,
    _Grid,
    check_mode,
    grid_params,
)

__all__ = [
    "BlockResult",
    "hadamard_matrix",
    "mix32",
    "quantize",
    "quantize_blocks",
    "rht",
    "round_ste",
    "words",
]

_M32 = 0xFFFFFFFF
_FLOAT_DTYPES = (torch.float32, torch.float64)
_HALF_DTYPES = (torch.bfloat16, torch.float16)


# --- counter-based random bits (lowbit_core.rng in int64 arithmetic) -----------------------------


def _mulmod32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2^32`` for int64 ``x`` in [0, 2^32) without int64 overflow.

    With ``c = c_hi 2^16 + c_lo``: ``x c = x c_lo + (x c_hi) 2^16`` and, modulo 2^32, the second
    term only needs ``x c_hi`` modulo 2^16. Both products stay below 2^48.
    """
    c_lo, c_hi = c & 0xFFFF, c >> 16
    t = x * c_hi
    t.bitwise_and_(0xFFFF).bitwise_left_shift_(16)
    r = x * c_lo
    return r.add_(t).bitwise_and_(_M32)


def _mix32_(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 of int64 values already in [0, 2^32); may reuse ``x``'s storage."""
    x.bitwise_xor_(x >> 16)
    x = _mulmod32(x, 0x7FEB352D)
    x.bitwise_xor_(x >> 15)
    x = _mulmod32(x, 0x846CA68B)
    return x.bitwise_xor_(x >> 16)


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The lowbias32 hash of :func:`lowbit_core.rng.mix32` on int64 tensors (low 32 bits used).

    Returns a new int64 tensor with values in [0, 2^32).
    """
    return _mix32_(x.to(torch.int64).bitwise_and(_M32))


def words(seed: int, index: torch.Tensor, j: int = 0) -> torch.Tensor:
    """32-bit random words (int64 in [0, 2^32)) for flat element indices, word ``j``.

    Equals :func:`lowbit_core.rng.words` for the same seed, indices and ``j``; indices are int64
    (negative ones are read as their uint64 two's complement, as numpy's cast does).

    Raises:
        ValueError: the seed is not an integer in 0..2^63-1.
    """
    a, b = rng.key(rng.check_seed(seed), j)
    i = index.to(torch.int64)
    hi = (i >> 32).bitwise_and_(_M32)
    h = _mix32_(i.bitwise_and(_M32).bitwise_xor_(a))
    return _mix32_(h.bitwise_xor_(hi).bitwise_xor_(b))


def _words_range(seed: int, n: int, j: int, device: torch.device) -> torch.Tensor:
    """``words(seed, arange(n), j)`` with fewer passes (the high index word is 0 below 2^32)."""
    if n > 1 << 32:
        return words(seed, torch.arange(n, device=device, dtype=torch.int64), j)
    a, b = rng.key(seed, j)
    h = _mix32_(torch.arange(n, device=device, dtype=torch.int64).bitwise_xor_(a))
    return _mix32_(h.bitwise_xor_(b))


# --- exact powers of two -------------------------------------------------------------------------


def _pow2(k: torch.Tensor) -> torch.Tensor:
    """``2.0 ** k`` as float64, exact for integer ``k`` in [-1074, 1023] (clamped outside)."""
    k = k.to(torch.int64).clamp(-1074, 1023)
    normal = (k + 1023).bitwise_left_shift_(52)
    sub = torch.ones_like(k).bitwise_left_shift_((k + 1074).clamp_(0, 51))
    return torch.where(k >= -1022, normal, sub).view(torch.float64)


# --- validation ----------------------------------------------------------------------------------


def _check_x(x: object) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype not in _FLOAT_DTYPES + _HALF_DTYPES:
        raise ValueError(
            f"x must be a float32 or float64 array, got dtype {_np_dtype_name(t.dtype)} "
            "(cast it first)"
        )
    return t


def _is_int_dtype(dt: torch.dtype) -> bool:
    return not (dt.is_floating_point or dt.is_complex or dt == torch.bool)


def _check_srbits(
    srbits: object, shape: Sequence[int], n: int, device: torch.device
) -> torch.Tensor:
    r = srbits if isinstance(srbits, torch.Tensor) else torch.as_tensor(np.asarray(srbits))
    if not _is_int_dtype(r.dtype):
        raise ValueError(f"srbits must be an integer array, got dtype {_np_dtype_name(r.dtype)}")
    try:
        b = torch.broadcast_to(r, tuple(shape))
    except RuntimeError:
        raise ValueError(
            f"srbits shape {tuple(r.shape)} does not broadcast to x shape {tuple(shape)}"
        ) from None
    if r.numel():
        lo, hi = int(r.min()), int(r.max())
        if lo < 0 or hi >= (1 << n):
            raise ValueError(
                f"srbits values must lie in [0, 2**{n}) for rbits={n}; got range [{lo}, {hi}]"
            )
    return b.to(device=device, dtype=torch.int64).reshape(-1)


def _np_dtype_name(dt: torch.dtype) -> str:
    """numpy's spelling of a torch dtype where one exists (for messages equal to the reference)."""
    return str(dt).removeprefix("torch.")


# --- rounding ------------------------------------------------------------------------------------


def _qe_range(g: _Grid, emax_in: int) -> tuple[int, int]:
    """Bounds of the ulp exponent ``qe`` over all finite inputs with exponent <= ``emax_in``."""
    lo, hi = g.emin - g.mbits, max(emax_in, g.emin) - g.mbits
    return (lo, max(hi, g.emin)) if g.flush else (lo, hi)


def _split(
    a: torch.Tensor, g: _Grid, emax_in: int, has_subnormal_inputs: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """``|x| = s 2^qe`` with ``s = n + d`` on the format's grid, for finite float64 ``a >= 0``.

    Returns ``(s, qe)`` as the reference's ``_split`` defines them (``n = floor(s)``). The
    exponent is read from the bit pattern; float64 subnormals (possible only for float64 inputs)
    are rescaled by 2^64 first. For ``a == 0`` the exponent is arbitrary (the reference takes
    -1): ``s = 0`` whatever ``qe`` is. ``emax_in`` bounds the input exponent (127 or 1023).
    """
    bexp = a.view(torch.int64) >> 52  # biased exponent field (a >= 0: no sign bit)
    if has_subnormal_inputs:
        e_sub = ((a * 18446744073709551616.0).view(torch.int64) >> 52).sub_(64)
        bexp = torch.where(bexp == 0, e_sub, bexp)
    if g.flush:
        low = bexp < g.emin + 1023  # below min_normal: one ulp of 2^emin
        qe = bexp.clamp_(min=g.emin + 1023).sub_(1023 + g.mbits).masked_fill_(low, g.emin)
    else:
        qe = bexp.clamp_(min=g.emin + 1023).sub_(1023 + g.mbits)
    qe_lo, qe_hi = _qe_range(g, emax_in)
    if -1022 <= -qe_hi and -qe_lo <= 1023:  # 2^-qe is a normal float64: build it from its bits
        s = a * (1023 - qe).bitwise_left_shift_(52).view(torch.float64)
    elif g.mbits - g.emin > 1023:  # 2^-qe may exceed the float64 range: two exact steps
        neg_qe = -qe
        hi_part = neg_qe.clamp(max=1023)
        s = a * _pow2(neg_qe.sub_(hi_part))
        s.mul_(_pow2(hi_part))
    else:
        s = a * _pow2(-qe)
    return s, qe


def _scale_back(q: torch.Tensor, qe: torch.Tensor, g: _Grid, emax_in: int) -> torch.Tensor:
    """``q 2^qe`` (in place on ``q``), as ``np.ldexp`` computes it."""
    qe_lo, qe_hi = _qe_range(g, emax_in)
    if -1022 <= qe_lo and qe_hi <= 1023:
        return q.mul_((qe + 1023).bitwise_left_shift_(52).view(torch.float64))
    if qe_lo < -1022:  # 2^qe may be subnormal or beyond: small factor first
        lo_part = qe.clamp(min=-1022)
        return q.mul_(_pow2(qe - lo_part)).mul_(_pow2(lo_part))
    return q.mul_(_pow2(qe))


def _odd(n: torch.Tensor, qe: torch.Tensor, g: _Grid) -> torch.Tensor:
    """Whether the code of ``n * 2^qe`` is odd (p = 1 formats: the exponent field's parity)."""
    if g.p1:
        return (n != 0) & (((qe + g.bias) & 1) == 1)
    return (n.to(torch.int64) & 1) == 1


def _away_deterministic(
    mode: RoundMode, n: torch.Tensor, d: torch.Tensor, qe: torch.Tensor, neg: torch.Tensor, g: _Grid
) -> torch.Tensor:
    if mode is RoundMode.RNE:
        return (d > 0.5) | ((d == 0.5) & _odd(n, qe, g))
    if mode is RoundMode.RNA:
        return d >= 0.5
    if mode is RoundMode.RTZ:
        return torch.zeros_like(d, dtype=torch.bool)
    if mode is RoundMode.RUP:
        return (d > 0) & ~neg
    if mode is RoundMode.RDN:
        return (d > 0) & neg
    raise AssertionError(mode)


def _rn_odd(t: torch.Tensor) -> torch.Tensor:
    fl = torch.floor(t)
    fr = t - fl
    return fl + ((fr > 0.5) | ((fr == 0.5) & (torch.fmod(fl, 2.0) == 0.0))).to(t.dtype)


def _away_few_bits(mode: RoundMode, d: torch.Tensor, r: torch.Tensor, n_bits: int) -> torch.Tensor:
    scale = float(1 << n_bits)
    rf = r.to(torch.float64)
    if mode is RoundMode.SRF:
        return torch.floor(d * (2 * scale)) + 2 * rf + 1 >= 2 * scale
    t = d * scale
    if mode in (RoundMode.SRFF, RoundMode.SR):
        thr = torch.floor(t)
    elif mode is RoundMode.SRC:
        thr = torch.round(t)  # half to even, as np.rint
    elif mode is RoundMode.SRO:
        thr = _rn_odd(t)
    else:
        raise AssertionError(mode)
    return thr + rf >= scale


def _away_exact(d: torch.Tensor, seed: int) -> torch.Tensor:
    """P(away) = d exactly: compare 0.w0 w1 w2 ... (32-bit words) with d, reading words lazily."""
    w = _words_range(seed, d.numel(), 0, d.device).to(torch.float64)
    t = d * 4294967296.0
    hi = torch.floor(t)
    rem = t - hi
    up = w < hi
    live = torch.nonzero((w == hi) & (rem > 0)).reshape(-1)  # probability 2^-32 per element
    rem = rem[live]
    j = 1
    while live.numel():
        w = words(seed, live, j).to(torch.float64)
        t = rem * 4294967296.0
        hi = torch.floor(t)
        rem = t - hi
        up[live[w < hi]] = True
        cont = (w == hi) & (rem > 0)
        live, rem = live[cont], rem[cont]
        j += 1
    return up


def _finish(
    mag: torch.Tensor,
    neg: torch.Tensor,
    xinf: torch.Tensor,
    g: _Grid,
    mode: RoundMode,
    saturate: bool,
) -> torch.Tensor:
    """Overflow, the no-zero floor, signs and zero signs (as the reference's ``_finish``).

    ``mag`` is finite or +inf, never NaN or -0; ``neg`` is all false for unsigned formats.
    """
    limit: torch.Tensor | float
    if g.max_neg == g.max_pos or not g.signed:
        limit = g.max_pos
    else:
        limit = torch.where(
            neg, torch.tensor(g.max_neg, dtype=mag.dtype, device=mag.device), g.max_pos
        )
    over = (mag > limit).logical_or_(xinf)
    mag = torch.where(over, limit, mag)
    if not saturate and (g.has_inf or g.has_nan):
        # overflow to inf / NaN, unless a directed mode keeps IEEE 754's finite result
        finite = ~xinf
        if mode is RoundMode.RTZ:
            over &= ~finite
        elif mode is RoundMode.RDN:
            over &= ~(finite & ~neg)
        elif mode is RoundMode.RUP:
            over &= ~(finite & neg)
        mag.masked_fill_(over, float("inf") if g.has_inf else float("nan"))
    if g.min_pos > 0:
        mag.clamp_(min=g.min_pos)
    if g.signed:
        # +0 magnitudes of negative inputs become -0: kept where the format has a negative zero
        out = torch.where(neg, -mag, mag)
        if not g.has_neg_zero:
            out.masked_fill_(out == 0, 0.0)
        return out
    return mag


def quantize(
    x: torch.Tensor,
    fmt: Format | str,
    mode: RoundMode | str = "rne",
    *,
    saturate: bool = True,
    rbits: int | None = None,
    seed: int | None = None,
    srbits: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """Round ``x`` onto the grid of ``fmt``: torch twin of :func:`lowbit_core.rounding.quantize`.

    Same arguments and semantics as the numpy reference, bit for bit (see its docstring for the
    overflow, NaN, -0, unsigned and no-zero rules); exact ``sr`` with a seed and the few-bit modes
    draw their random bits from :func:`words` on ``x``'s device, indexed by the flat C-order
    element index, so CPU, CUDA and numpy agree.

    Args:
        x: float32 or float64 tensor (bfloat16/float16 are computed in float32 and cast back, see
            the module docstring); array-likes are converted as ``np.asarray`` would.
        fmt: a format object or any name :func:`lowbit_core.formats.get_format` accepts.
        mode: a :class:`RoundMode` or its name.
        saturate: clamp overflow to the largest finite value (True) or follow the format's own
            overflow convention (False).
        rbits: random bits N for the few-bit modes (1..32); ``sr`` (exact) refuses it.
        seed: stream of the counter-based generator.
        srbits: explicit random integers in [0, 2^rbits), broadcastable to ``x`` (any integer
            tensor or array; moved to ``x``'s device).

    Returns:
        A new tensor with the shape, dtype and device of ``x`` (no autograd history; see
        :func:`round_ste`).

    Raises:
        ValueError: unknown format or mode, rbits out of 1..32, srbits out of range or of the
            wrong shape, missing seed for a stochastic mode, non-float input.
    """
    f = get_format(fmt)
    m = check_mode(mode)
    t = _check_x(x)
    nb = _check_rbits(rbits, m) if m in STOCHASTIC_MODES else None
    r_flat: torch.Tensor | None = None
    seed_i: int | None = None
    if m in STOCHASTIC_MODES:
        if srbits is not None:
            _check_srbits_mode(m)
            if nb is None:
                raise ValueError("srbits needs rbits (how many bits each srbits value holds)")
            r_flat = _check_srbits(srbits, t.shape, nb, t.device)
        elif seed is None:
            raise ValueError(f"stochastic mode {m.value!r} needs seed= or srbits=")
        else:
            seed_i = rng.check_seed(seed)
    with torch.no_grad():
        out = _quantize_flat(t.detach().reshape(-1), f, m, saturate, nb, seed_i, r_flat)
    if t.dtype in _HALF_DTYPES:
        out = out.to(torch.float32)
    return out.to(t.dtype).reshape(t.shape)


def _quantize_flat(
    xflat: torch.Tensor,
    f: Format,
    m: RoundMode,
    saturate: bool,
    nb: int | None,
    seed: int | None,
    r_flat: torch.Tensor | None,
) -> torch.Tensor:
    """Float64 result for a flat tensor; the body of :func:`quantize` after validation."""
    g = grid_params(f)
    xf = xflat.to(torch.float64)
    nan = torch.isnan(xf)
    neg = torch.signbit(xf).logical_and_(~nan)
    a = xf.abs()
    xinf = torch.isinf(a)
    a.masked_fill_(nan | xinf, 0.0)
    neg_unsigned: torch.Tensor | None = None
    if g.signed:
        xinf_eff = xinf
    else:  # negative values into unsigned formats: the grid's bottom (or NaN)
        neg_unsigned = neg & (a > 0)
        a.masked_fill_(neg_unsigned, 0.0)
        xinf_eff = xinf & ~neg

    emax_in = 1023 if xflat.dtype == torch.float64 else 127
    s, qe = _split(a, g, emax_in, xflat.dtype == torch.float64)
    if m is RoundMode.RNE and not g.p1:
        q = torch.round(s)  # half to even: the code parity is the parity of n (not for p = 1)
    else:
        n = torch.floor(s)
        d = s.sub_(n)
        if m in STOCHASTIC_MODES:
            if r_flat is not None:
                assert nb is not None
                away = _away_few_bits(m, d, r_flat, nb)
            elif m is RoundMode.SR:
                assert seed is not None
                away = _away_exact(d, seed)
            else:
                assert nb is not None and seed is not None
                w = _words_range(seed, xf.numel(), 0, xf.device) >> (32 - nb)
                away = _away_few_bits(m, d, w, nb)
        else:
            away = _away_deterministic(m, n, d, qe, neg, g)
        q = n.add_(away)
    mag = _scale_back(q, qe, g, emax_in)
    out = _finish(mag, neg if g.signed else torch.zeros_like(neg), xinf_eff, g, m, saturate)
    if neg_unsigned is not None:
        bottom = (
            float("nan") if (not saturate and g.has_nan) else (g.min_pos if g.min_pos > 0 else 0.0)
        )
        out.masked_fill_(neg_unsigned | (neg & xinf), bottom)
    if g.min_pos > 0 and not saturate:  # no zero code: exact zero is not representable
        zero_in = (a == 0) & ~xinf
        if neg_unsigned is not None:
            zero_in &= ~neg_unsigned
        out.masked_fill_(zero_in, float("nan"))
    return out.masked_fill_(nan, float("nan"))


class _RoundSTE(torch.autograd.Function):
    """Quantize in the forward pass; pass the gradient through unchanged (straight-through)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kwargs: dict[str, Any]) -> torch.Tensor:
        return quantize(x, **kwargs)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def round_ste(
    x: torch.Tensor,
    fmt: Format | str,
    mode: RoundMode | str = "rne",
    *,
    saturate: bool = True,
    rbits: int | None = None,
    seed: int | None = None,
    srbits: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    """:func:`quantize` with a straight-through gradient: ``d round_ste(x) / dx = 1``.

    The forward value equals ``quantize(x, ...)`` bit for bit; the backward pass returns the
    incoming gradient unchanged (also where the forward value saturated or is NaN).
    """
    kwargs: dict[str, Any] = {
        "fmt": fmt, "mode": mode, "saturate": saturate, "rbits": rbits, "seed": seed,
        "srbits": srbits,
    }
    out = _RoundSTE.apply(x, kwargs)  # type: ignore[no-untyped-call]
    assert isinstance(out, torch.Tensor)
    return out


# --- random Hadamard transform (lowbit_core.hadamard on tensors) ---------------------------------


def _check_float_tensor(x: object, what: str = "x") -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype not in _FLOAT_DTYPES + _HALF_DTYPES:
        raise ValueError(
            f"{what} must be a float32 or float64 array, got dtype {_np_dtype_name(t.dtype)}"
        )
    return t


def _signs_np(signs: object) -> np.ndarray | None:
    if signs is None:
        return None
    if isinstance(signs, torch.Tensor):
        return np.asarray(signs.detach().cpu().numpy())
    return np.asarray(signs)


def hadamard_matrix(
    size: int = 16,
    *,
    seed: int | None = None,
    signs: torch.Tensor | np.ndarray | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """:func:`lowbit_core.hadamard.hadamard_matrix` as a tensor: the same bits, on ``device``.

    Args:
        size: power of two in 2..256.
        seed: random signs from :func:`lowbit_core.hadamard.random_signs` (the counter RNG).
        signs: explicit ±1 vector (tensor or array), e.g. ``hadamard.TE_SIGN_VECTOR``.
        dtype: torch.float32 (default) or torch.float64; built in float64 and rounded once.
        device: where the matrix lives (default CPU).

    Raises:
        ValueError: bad size, seed, sign vector or dtype.
    """
    from . import hadamard as nh

    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    np_dt = np.float32 if dtype == torch.float32 else np.float64
    h = nh.hadamard_matrix(size, seed=seed, signs=_signs_np(signs), dtype=np_dt)
    return torch.from_numpy(np.ascontiguousarray(h)).to(device=device)


def rht(
    x: torch.Tensor,
    size: int = 16,
    *,
    axis: int = -1,
    seed: int | None = None,
    signs: torch.Tensor | np.ndarray | None = None,
    inverse: bool = False,
) -> torch.Tensor:
    """Torch twin of :func:`lowbit_core.hadamard.rht`: blocks ``v`` of ``size`` along ``axis``
    become ``v @ H`` (``v @ Hᵀ`` when ``inverse``), with the same ``H`` bit for bit.

    Computed in x's dtype (bfloat16/float16 in float32, cast back). The products are a matmul,
    so the summation order is the BLAS library's: results agree with numpy to a few ulps, and
    bit for bit where the sums are exact (e.g. integer inputs and ``size`` a power of 4).

    Raises:
        ValueError: x not floating point, bad axis, size not a power of two in 2..256 or not
            dividing the axis length, bad seed or signs.
    """
    from . import hadamard as nh

    t = _check_float_tensor(x)
    n = nh.check_size(size)
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"axis={axis!r} must be an integer")
    if not -t.ndim <= int(axis) < t.ndim:
        raise ValueError(f"axis={axis} out of range for x with {t.ndim} dimension(s)")
    ax = int(axis) % t.ndim
    if t.shape[ax] % n:
        raise ValueError(f"Hadamard size {n} does not divide axis {ax} of length {t.shape[ax]}")
    wdt = torch.float32 if t.dtype in _HALF_DTYPES else t.dtype
    h = hadamard_matrix(n, seed=seed, signs=signs, dtype=wdt, device=t.device)
    if inverse:
        h = h.t().contiguous()
    xm = t.to(wdt).movedim(ax, -1)
    blocks = xm.reshape(*xm.shape[:-1], xm.shape[-1] // n, n)  # (..., nblocks, size)
    out = (blocks @ h).reshape(xm.shape)
    return out.movedim(-1, ax).contiguous().to(t.dtype)


# --- block scaling (lowbit_core.blocks on tensors) -----------------------------------------------


@dataclass(frozen=True)
class BlockResult:
    """Result of :func:`quantize_blocks`: :class:`lowbit_core.blocks.BlockResult` with tensors.

    ``values == decode(elem, codes) * scales / tensor_scale`` (broadcast per block), computed in
    the input dtype. ``codes`` and ``scale_codes`` are None when ``codes=False`` was passed.
    """

    values: torch.Tensor  #: dequantized, same shape, dtype and device as x
    codes: torch.Tensor | None  #: element codes (dtype as the reference's); NO_CODE for NaN
    scales: torch.Tensor  #: decoded stored scales, float32; block axis // block (tile2d: R/B, C/B)
    scale_codes: torch.Tensor | None  #: codes of the scales in spec.scale_fmt (int16)
    tensor_scale: float | None  #: s_enc (multiply x by it), None without tensor scaling
    spec: BlockSpec  #: the resolved configuration
    axis: int  #: the (non-negative) block axis; for tile2d the last axis

    @property
    def effective_scales(self) -> torch.Tensor:
        """Per-block dequantization factor ``scales / tensor_scale`` (float32)."""
        if self.tensor_scale is None:
            return self.scales
        return self.scales / torch.tensor(self.tensor_scale, dtype=torch.float32)


def _encode(f: Format, v: torch.Tensor) -> torch.Tensor:
    """Codes of on-grid float64 values as :func:`lowbit_core.blocks._codes` gives them."""
    from .blocks import NO_CODE
    from .formats import _nan_code, _value_index

    table_np, codes_np = _value_index(f)
    table = torch.from_numpy(np.ascontiguousarray(table_np)).to(v.device)
    codes_sorted = torch.from_numpy(np.ascontiguousarray(codes_np)).to(v.device)
    nan = torch.isnan(v)
    vv = v.masked_fill(nan, 0.0)
    pos = torch.searchsorted(table, vv).clamp_(max=table.numel() - 1)
    out = codes_sorted[pos]
    if f.has_neg_zero:
        out.masked_fill_((vv == 0) & torch.signbit(vv), 1 << (f.bits - 1))
    out.masked_fill_(nan, _nan_code(f) if f.has_nan else NO_CODE)
    return out.to(_code_dtype(f))


def _code_dtype(f: Format) -> torch.dtype:
    """The torch twin of the numpy reference's code dtype (``blocks.code_dtype``)."""
    from . import blocks

    fn = getattr(blocks, "code_dtype", None)
    if fn is None:  # older blocks module: int16, int32 over 15 bits
        return torch.int16 if f.bits <= 15 else torch.int32
    return torch.from_numpy(np.zeros(0, dtype=fn(f))).dtype


def _check_block_args(
    x: object, spec: BlockSpec, axis: object, mode: RoundMode | str, rbits: object, seed: object,
    srbits: object,
) -> tuple[torch.Tensor, int, RoundMode, int | None, int | None, torch.Tensor | None]:
    """The checks of :func:`lowbit_core.blocks._check_args`, in its order, with its messages."""
    t = _check_float_tensor(x)
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"axis={axis!r} must be an integer")
    ax = int(axis)
    if not -t.ndim <= ax < t.ndim:
        raise ValueError(f"axis={ax} out of range for x with {t.ndim} dimension(s)")
    ax %= t.ndim
    b = spec.block
    shape = tuple(t.shape)
    if spec.tile2d:
        if t.ndim < 2 or ax < t.ndim - 2:
            raise ValueError(
                f"tile2d tiles the last two axes: axis={axis} is not one of them "
                f"(x.ndim={t.ndim})"
            )
        ax = t.ndim - 1
        for n in shape[-2:]:
            if n % b:
                raise ValueError(f"tile {b}x{b} does not divide the last two axes {shape[-2:]}")
    elif shape[ax] % b:
        raise ValueError(f"block size {b} does not divide axis {ax} of length {shape[ax]}")
    m = check_mode(mode)
    nb = _check_rbits(rbits, m) if m in STOCHASTIC_MODES else None
    r: torch.Tensor | None = None
    s: int | None = None
    if m in STOCHASTIC_MODES:
        if srbits is not None:
            _check_srbits_mode(m)
            if nb is None:
                raise ValueError("srbits needs rbits (how many bits each srbits value holds)")
            r = _check_srbits(srbits, shape, nb, t.device).reshape(shape)
        elif seed is None:
            raise ValueError(f"stochastic mode {m.value!r} needs seed= or srbits=")
        else:
            s = rng.check_seed(seed)
    return t, ax, m, nb, s, r


def _blocks_view(x: torch.Tensor, spec: BlockSpec, axis: int) -> torch.Tensor:
    """x as (..., nblocks, B) [block axis moved last] or (..., R/B, C/B, B*B) [tile2d]."""
    b = spec.block
    if spec.tile2d:
        *lead, r, c = x.shape
        t = x.reshape(*lead, r // b, b, c // b, b)
        return t.transpose(-3, -2).reshape(*lead, r // b, c // b, b * b)
    xm = x.movedim(axis, -1)
    return xm.reshape(*xm.shape[:-1], xm.shape[-1] // b, b)


def _per_element(s: torch.Tensor, spec: BlockSpec, axis: int) -> torch.Tensor:
    """Broadcast a per-block tensor (scales layout) back to x's shape and layout."""
    b = spec.block
    if spec.tile2d:
        return s.repeat_interleave(b, dim=-1).repeat_interleave(b, dim=-2)
    return s.repeat_interleave(b, dim=axis)


def _ldexp1(k: torch.Tensor) -> torch.Tensor:
    """``np.ldexp(1.0, k)`` for int64 ``k`` of any size (0 below 2^-1074, inf above 2^1023)."""
    p = _pow2(k)
    p = p.masked_fill(k < -1074, 0.0)
    return p.masked_fill_(k > 1023, float("inf"))


def _raw_scale(y: torch.Tensor, spec: BlockSpec, mult: float) -> torch.Tensor:
    """Unrounded block scale (float64) from y = amax_b * s_enc (working dtype) per ScaleRule."""
    from .blocks import elem_emax

    ef = spec.elem_format
    if spec.scale_rule is ScaleRule.AMAX:
        return (y * torch.tensor(mult, dtype=y.dtype, device=y.device)).to(torch.float64)
    y64 = y.to(torch.float64)
    _, ex = torch.frexp(y64)
    k = ex.to(torch.int64) - 1 - elem_emax(ef)  # FLOOR exponent: floor(log2 y) - emax_elem
    if spec.scale_rule is ScaleRule.CEIL:
        # y 2^-k (exact: two power-of-two steps, each within float64's normal range)
        k1 = (-k).clamp(-1022, 1023)
        z = y64 * _pow2(-k - k1) * _pow2(k1)
        k = k + (z > ef.max).to(torch.int64)
    return _ldexp1(k).masked_fill_(y64 == 0, 0.0)


def quantize_blocks(
    x: torch.Tensor,
    spec: BlockSpec | str = "mxfp4",
    *,
    axis: int = -1,
    mode: RoundMode | str = "rne",
    rbits: int | None = None,
    seed: int | None = None,
    srbits: torch.Tensor | np.ndarray | None = None,
    codes: bool = True,
    **overrides: Any,
) -> BlockResult:
    """Torch twin of :func:`lowbit_core.blocks.quantize_blocks` (same bits as its reference).

    Args:
        x: float32 or float64 tensor; the arithmetic runs in its dtype as in the reference
            (bfloat16/float16 are computed as float32 and the values cast back).
        spec: a preset name (``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e3m2``, ``mxfp6_e2m3``,
            ``mxfp4``, ``nvfp4``) or a :class:`lowbit_core.blocks.BlockSpec`.
        axis: the axis the blocks run along; with ``tile2d`` one of the last two.
        mode, rbits, seed, srbits: element rounding as in :func:`quantize`; the random bits of
            an element come from its flat C-order index in ``x``.
        codes: also return element and scale codes (a table lookup; False skips it).
        **overrides: :class:`BlockSpec` fields replacing those of ``spec``.

    Returns:
        :class:`BlockResult` of tensors on x's device.

    Raises:
        ValueError: as :func:`lowbit_core.blocks.quantize_blocks`.
    """
    from .blocks import resolve_spec

    sp = resolve_spec(spec, **overrides)
    t, ax, m, nb, sd, r = _check_block_args(x, sp, axis, mode, rbits, seed, srbits)
    with torch.no_grad():
        x_w = t.detach().to(torch.float32) if t.dtype in _HALF_DTYPES else t.detach()
        res = _blocks_torch(x_w, sp, ax, m, nb, sd, r, codes)
    if t.dtype in _HALF_DTYPES:
        res = replace(res, values=res.values.to(t.dtype))
    return res


def _clamp_caps(
    q: torch.Tensor, s_w: torch.Tensor, s_enc: Any, spec: BlockSpec, axis: int
) -> torch.Tensor:
    """Clamp rounded elements to :func:`lowbit_core.blocks.elem_caps` (one rule, computed on the
    host for the rare blocks that need it; a device-side check decides)."""
    ef = spec.elem_format
    top = torch.tensor(max(ef.max, ef.max_neg), dtype=s_w.dtype, device=s_w.device)
    with torch.no_grad():
        v = top * s_w
        if spec.tensor_scale:
            v = v / torch.tensor(s_enc, dtype=s_w.dtype, device=s_w.device)
        if not bool((torch.isinf(v) & torch.isfinite(s_w)).any()):
            return q
    capp, capn = elem_caps(s_w.cpu().numpy(), s_enc, spec.tensor_scale, ef)
    if capp is not None:
        cp = torch.from_numpy(capp).to(device=q.device, dtype=q.dtype)
        q = torch.minimum(q, _per_element(cp, spec, axis))
    if capn is not None:
        cn = torch.from_numpy(capn).to(device=q.device, dtype=q.dtype)
        q = torch.maximum(q, -_per_element(cn, spec, axis))
    return q


def _blocks_torch(
    x: torch.Tensor,
    spec: BlockSpec,
    axis: int,
    mode: RoundMode,
    rbits: int | None,
    seed: int | None,
    srbits: torch.Tensor | None,
    with_codes: bool,
) -> BlockResult:
    """Step by step as :func:`lowbit_core.blocks._reference` (same order of float operations)."""
    ef, sf = spec.elem_format, spec.scale_format
    wd = np.float32 if x.dtype == torch.float32 else np.float64  # working dtype
    big = wd(np.finfo(wd).max)
    dev = x.device

    # 1. per-tensor scale: scalar arithmetic in the working dtype, exactly as the reference
    s_enc, s_dec = wd(1), wd(1)
    if spec.tensor_scale:
        xa = x.abs()
        amax_t = wd(torch.where(torch.isfinite(x), xa, 0.0).max().item()) if x.numel() else wd(0)
        s_enc, s_dec = tensor_scale(amax_t, spec)
    mult = s_enc * (wd(1) / wd(ef.max))

    # 2. block amax (NaN if the block holds NaN, inf if it holds inf)
    xb = _blocks_view(x, spec, axis)
    if xb.shape[-1] and xb.numel():
        amax = xb.abs().amax(dim=-1)
    else:
        amax = torch.zeros(xb.shape[:-1], dtype=x.dtype, device=dev)
    if not spec.tile2d:
        amax = amax.movedim(-1, axis)  # scales layout: x's shape, block axis / B
    bad = ~torch.isfinite(amax)

    # 3. raw scale per rule, then RNE into the scale format, saturating
    big_t = torch.tensor(big, dtype=x.dtype, device=dev)
    if spec.scale_rule is ScaleRule.AMAX:
        y, m_ = amax, float(mult)
    else:
        y, m_ = amax * torch.tensor(s_enc, dtype=x.dtype, device=dev), 1.0
    y = torch.minimum(y, big_t).masked_fill_(bad, 0.0)
    raw = _raw_scale(y, spec, m_)
    scale64 = quantize(raw, sf, "rne", saturate=True).masked_fill_(bad, float("nan"))
    scales = scale64.to(torch.float32)

    # 4. per-block encode factor enc = 1 / (S * s_dec), capped at the dtype max; 0 for S = 0
    s_w = scale64.to(x.dtype)
    one = torch.tensor(1, dtype=x.dtype, device=dev)
    enc = torch.minimum(one / (s_w * torch.tensor(s_dec, dtype=x.dtype, device=dev)), big_t)
    enc = enc.masked_fill_(s_w == 0, 0.0)

    # 5. scale the elements in x's own layout (flat index = SR counter), round, saturate
    scaled = (x * _per_element(enc, spec, axis)).contiguous()
    q = quantize(scaled, ef, mode, saturate=True, rbits=rbits, seed=seed, srbits=srbits)

    # 5b. never inf from finite input: the caps of blocks.elem_caps where max * S overflows
    q = _clamp_caps(q, s_w, s_enc, spec, axis)

    # 6. dequantize: v = q * S / s_enc
    values = q * _per_element(s_w, spec, axis)
    if spec.tensor_scale:
        values = values / torch.tensor(s_enc, dtype=x.dtype, device=dev)
    codes_t = scale_codes = None
    if with_codes:
        codes_t = _encode(ef, q.to(torch.float64))
        scale_codes = _encode(sf, scale64).to(torch.int16)
    return BlockResult(
        values=values,
        codes=codes_t,
        scales=scales,
        scale_codes=scale_codes,
        tensor_scale=float(s_enc) if spec.tensor_scale else None,
        spec=spec,
        axis=axis,
    )
