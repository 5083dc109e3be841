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
from typing import Any

import numpy as np
import torch

from . import rng
from .formats import Format, get_format
from .rounding import (
    STOCHASTIC_MODES,
    RoundMode,
    _check_rbits,
    _Grid,
    check_mode,
    grid_params,
)

__all__ = [
    "mix32",
    "quantize",
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


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The lowbias32 hash of :func:`lowbit_core.rng.mix32` on int64 tensors (low 32 bits used).

    Returns a new int64 tensor with values in [0, 2^32).
    """
    x = x.to(torch.int64).bitwise_and(_M32)
    x.bitwise_xor_(x >> 16)
    x = _mulmod32(x, 0x7FEB352D)
    x.bitwise_xor_(x >> 15)
    x = _mulmod32(x, 0x846CA68B)
    x.bitwise_xor_(x >> 16)
    return x


def words(seed: int, index: torch.Tensor, j: int = 0) -> torch.Tensor:
    """32-bit random words (int64 in [0, 2^32)) for flat element indices, word ``j``.

    Equals :func:`lowbit_core.rng.words` for the same seed, indices and ``j``; indices are int64
    (negative ones are read as their uint64 two's complement, as numpy's cast does).

    Raises:
        ValueError: the seed is not an integer in 0..2^63-1.
    """
    a, b = rng.key(rng.check_seed(seed), j)
    i = index.to(torch.int64)
    lo = i.bitwise_and(_M32)
    hi = (i >> 32).bitwise_and_(_M32)
    lo.bitwise_xor_(a)
    h = mix32(lo)
    h.bitwise_xor_(hi).bitwise_xor_(b)
    return mix32(h)


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


def _split(
    a: torch.Tensor, g: _Grid, has_subnormal_inputs: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``|x| = (n + d) 2^qe`` on the format's grid for finite float64 ``a >= 0`` (as the reference).

    The exponent is read from the bit pattern; float64 subnormals (possible only for float64
    inputs) are rescaled by 2^64 first. For ``a == 0`` the exponent is arbitrary (the reference
    takes -1): ``n = d = 0`` whatever ``qe`` is.
    """
    e = (a.view(torch.int64) >> 52).sub_(1023)
    if has_subnormal_inputs:
        sub = e == -1023
        e_sub = ((a * 18446744073709551616.0).view(torch.int64) >> 52).sub_(1023 + 64)
        e = torch.where(sub, e_sub, e)
    qe = e.clamp(min=g.emin).sub_(g.mbits)
    if g.flush:
        qe.masked_fill_(e < g.emin, g.emin)
    neg_qe = -qe
    if g.mbits - min(g.emin, 0) > 1023:  # 2^-qe may exceed the float64 range: two exact steps
        hi_part = neg_qe.clamp(max=1023)
        s = a * _pow2(neg_qe.sub_(hi_part))
        s.mul_(_pow2(hi_part))
    else:
        s = a * _pow2(neg_qe)
    n = torch.floor(s)
    d = s.sub_(n)
    return n, d, qe


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
    idx = torch.arange(d.numel(), device=d.device, dtype=torch.int64)
    w = words(seed, idx, 0).to(torch.float64)
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
        rbits: random bits N for the few-bit modes (1..32); for ``sr`` only with ``srbits``.
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

    n, d, qe = _split(a, g, xflat.dtype == torch.float64)
    if m in STOCHASTIC_MODES:
        if r_flat is not None:
            assert nb is not None
            away = _away_few_bits(m, d, r_flat, nb)
        elif m is RoundMode.SR:
            assert seed is not None
            away = _away_exact(d, seed)
        else:
            assert nb is not None and seed is not None
            idx = torch.arange(xf.numel(), device=xf.device, dtype=torch.int64)
            w = words(seed, idx, 0) >> (32 - nb)
            away = _away_few_bits(m, d, w, nb)
    else:
        away = _away_deterministic(m, n, d, qe, neg, g)
    qmag = n.add_(away.to(torch.float64))
    if g.emin - g.mbits < -1022:  # 2^qe may be subnormal or beyond: small factor first
        lo_part = qe.clamp(min=-1022)
        mag = qmag.mul_(_pow2(qe.sub_(lo_part))).mul_(_pow2(lo_part))
    else:
        mag = qmag.mul_(_pow2(qe))
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
