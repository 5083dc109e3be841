"""A quantized linear layer that simulates low-precision GEMMs (an autograd Function).

A linear layer ``y = x W^T + b`` runs three GEMMs per step, each ``A @ B^T`` with both operands
quantized along the dot-product (``K``) dimension:

    Fprop  y  = Q_x(x)          @ Q_w(W)^T              K = in   (x: (N, in), W: (out, in))
    Dgrad  dx = Q_dy(dy)        @ Q_w(W^T)^T            K = out
    Wgrad  dW = Q_dyw(dy^T H)   @ Q_xw(x^T H)^T         K = N    (H: optional RHT along N)

Each ``Q`` is simulated: quantize-dequantize in float32 (FP4/FP8 products are exact in FP32 and
the GEMM accumulates in FP32, as tensor cores do). Every quantized copy is taken from the
high-precision tensor (no double quantization, as TransformerEngine does). The backward pass is
the straight-through estimator: the gradient of each quantizer is taken as 1 (papers_spec (c),
Prop. 1 with Q' = 1 and the scale's derivative ignored). Master weights, the bias, its gradient
and the optimizer state stay FP32.

Block scaling follows :mod:`lowbit_core.blocks` bit for bit (``quantize_blocks_reference``, same
step order and float32 arithmetic) for finite inputs whose dequantized values stay finite (the
block quantizer's element caps near the float32 max, :func:`lowbit_core.blocks.elem_caps`, are
not applied here: training tensors never come near 3e38); only the random bits differ in indexing:
they come from the lab's counter-based generator (:mod:`lowbit_core.rng`) with the context's
seed, element ``k`` of a call (flat index in the padded block layout) taking word 0 of counter
``ctx.offset + k``, and each call advancing ``ctx.offset`` by its padded element count. SR
("sr" here) uses the whole 32-bit word, i.e. ``srff`` with N = 32 (bias below 2^-33 ulp, not
exact SR); the few-bit modes use its top ``rbits``.

Backends: on CPU float32 tensors :func:`fake_quant` runs a fused numba kernel
(``_fused.py``, bit-identical to the torch ops and with the same result strides, tested) when
numba is installed and the kernel covers the role (FP4/FP6/FP8 elements with RNE, SR, SRFF or
SRC, any float scale format; the BF16 cast); everything else (CUDA, other formats or modes,
non-finite inputs) takes the torch path. :func:`set_backend` forces either one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import hadamard as _had
from ..blocks import ScaleRule, elem_emax
from ..formats import FloatFormat, get_format
from ..rounding import FEW_BIT_MODES, RoundMode, check_mode

__all__ = [
    "HIGH_PRECISION",
    "LayerQuant",
    "QLinear",
    "QuantContext",
    "TensorQuant",
    "fake_quant",
    "gemm_operands",
    "get_backend",
    "hadamard_matrix",
    "quantize_elements",
    "set_backend",
]

#: Element "formats" that are not block scaled: FP32 passes through, BF16/FP16 are a cast (RNE).
HIGH_PRECISION = ("float32", "bfloat16", "float16")
_TORCH_DT = {"bfloat16": torch.bfloat16, "float16": torch.float16}
_F32_MAX = float(torch.finfo(torch.float32).max)
#: TransformerEngine's 16-entry RHT sign vector (``get_wgrad_sign_vector``; papers_spec (d) 2).
TE_SIGNS_16 = (1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1)


@dataclass(frozen=True)
class TensorQuant:
    """How one GEMM operand (a tensor role) is quantized."""

    elem: str = "float32"  #: element format; float32 = unquantized, bfloat16/float16 = plain cast
    block: int = 16  #: elements per scale along K (tile side if tile2d); 0 = one scale per tensor
    scale_fmt: str = "float8_e4m3fn"  #: stored scale: float8_e8m0fnu, float8_e4m3fn, ue5m3, float32
    scale_rule: ScaleRule = ScaleRule.AMAX  #: amax -> scale (blocks.ScaleRule)
    tile2d: bool = False  #: block x block tiles (weights: one quantized W for Fprop and Dgrad)
    tensor_scale: bool = False  #: FP32 per-tensor scale so block scales use the scale's full range
    mode: RoundMode = RoundMode.RNE  #: rne, sr (32 random bits), few-bit srff/src/...
    rbits: int | None = None  #: random bits for the few-bit SR modes (1..32)

    def __post_init__(self) -> None:
        get_format(self.elem)
        if self.elem not in HIGH_PRECISION:
            sf = get_format(self.scale_fmt)
            if not isinstance(sf, FloatFormat):
                raise ValueError(f"scale format {self.scale_fmt!r} must be a float format")
        if isinstance(self.block, bool) or not isinstance(self.block, int) or not (
            0 <= self.block <= 4096
        ):
            raise ValueError(f"block={self.block!r} must be an integer 0..4096")
        if self.tile2d and self.block == 0:
            raise ValueError("tile2d needs a block size (block=0 is one scale per tensor)")
        object.__setattr__(self, "scale_rule", ScaleRule(str(self.scale_rule).lower()))
        mode = check_mode(self.mode)
        object.__setattr__(self, "mode", mode)
        if mode in FEW_BIT_MODES and self.rbits is None:
            raise ValueError(f"mode {mode.value!r} needs rbits (1..32)")
        if self.rbits is not None and not 1 <= self.rbits <= 32:
            raise ValueError(f"rbits={self.rbits!r} out of range 1..32")
        if self.elem in HIGH_PRECISION and mode is not RoundMode.RNE:
            raise ValueError(f"mode {mode.value!r} is only simulated for block-scaled formats")

    @property
    def passthrough(self) -> bool:
        return self.elem == "float32"

    @property
    def stochastic(self) -> bool:
        return self.mode is not RoundMode.RNE and self.elem not in HIGH_PRECISION

    def describe(self) -> str:
        if self.elem in HIGH_PRECISION:
            return get_format(self.elem).describe()
        blk = "tensor" if self.block == 0 else (
            f"{self.block}x{self.block}" if self.tile2d else f"1x{self.block}"
        )
        ts = "+FP32 tensor" if self.tensor_scale else ""
        r = self.mode.value + (f"{self.rbits}" if self.rbits else "")
        return f"{self.elem} {blk} {self.scale_fmt}{ts} {r}"


_FP32 = TensorQuant()


@dataclass(frozen=True)
class LayerQuant:
    """Quantization of the three GEMMs of one linear layer (five operand roles)."""

    x: TensorQuant = _FP32  #: Fprop input (activation), blocks along in
    w: TensorQuant = _FP32  #: weight, Fprop (blocks along in) and Dgrad (along out, or 2D tiles)
    dy: TensorQuant = _FP32  #: output gradient into Dgrad, blocks along out
    dy_wgrad: TensorQuant = _FP32  #: output gradient into Wgrad, blocks along the batch N
    x_wgrad: TensorQuant = _FP32  #: input into Wgrad, blocks along the batch N
    #: Hadamard size per GEMM (0 = off): an orthogonal transform must hit both operands of a GEMM
    #: along its K dimension to cancel, so it is a property of the GEMM rather than of one tensor.
    rht_fprop: int = 0
    rht_dgrad: int = 0
    rht_wgrad: int = 0  #: the NVFP4 recipe: 16 on Wgrad only (papers_spec (d) 2)

    def __post_init__(self) -> None:
        for name in ("rht_fprop", "rht_dgrad", "rht_wgrad"):
            d = getattr(self, name)
            if isinstance(d, bool) or not isinstance(d, int) or (d and (d < 2 or d & (d - 1))):
                raise ValueError(f"{name}={d!r}: use 0 (off) or a power of two >= 2")

    @property
    def passthrough(self) -> bool:
        """True when every role is FP32 and no RHT runs: a plain F.linear."""
        roles = (self.x, self.w, self.dy, self.dy_wgrad, self.x_wgrad)
        return all(r.passthrough for r in roles) and not (
            self.rht_fprop or self.rht_dgrad or self.rht_wgrad
        )


@dataclass
class QuantContext:
    """Run-time state shared by the layers of one model: the random stream and the RHT signs.

    One counter stream per run makes every stochastic rounding reproducible (the layers draw
    in a fixed order): a stochastic call takes the words ``rng.words(seed, offset + k)`` and
    advances ``offset``. A single sign vector is shared by all layers for the whole run, as in
    the NVFP4 recipe.
    """

    seed: int = 0  #: seed of the SR random bits (0 .. 2^63-1)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rht_seed: int = 0  #: signs for sizes other than 16 (16 uses TransformerEngine's vector)
    offset: int = 0  #: counter of the next random word (advanced by every stochastic call)
    _h: dict[int, torch.Tensor] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        from ..rng import check_seed

        self.seed = check_seed(self.seed)

    def rht(self, d: int) -> torch.Tensor:
        """The d x d orthogonal matrix ``diag(s) H_d / sqrt(d)`` (float32, on the device)."""
        if d not in self._h:
            self._h[d] = hadamard_matrix(d, self.rht_seed).to(self.device)
        return self._h[d]


def hadamard_matrix(d: int, sign_seed: int = 0) -> torch.Tensor:
    """Random Hadamard transform ``diag(s) H_d / sqrt(d)`` (Sylvester H_d), float32, CPU.

    Built by :func:`lowbit_core.hadamard.hadamard_matrix`: d = 16 uses TransformerEngine's sign
    vector, other sizes the signs :func:`lowbit_core.hadamard.random_signs` draws from
    ``sign_seed``.

    Raises:
        ValueError: d is not a power of two >= 2 (or above the module's largest size).
    """
    if isinstance(d, bool) or not isinstance(d, int) or d < 2 or d & (d - 1):
        raise ValueError(f"Hadamard size {d!r} must be a power of two >= 2")
    if d == 16:
        h = _had.hadamard_matrix(16, signs=_had.TE_SIGN_VECTOR)
    else:
        h = _had.hadamard_matrix(d, seed=sign_seed)
    return torch.from_numpy(np.ascontiguousarray(h, dtype=np.float32))


# --- element rounding (float32, fast path for FP4/FP6/FP8 and the small scale formats) ----------


@dataclass(frozen=True)
class _Grid:
    mbits: int
    emin: int  # unbiased exponent of the smallest normal
    emax: int
    max: float
    fast: bool  # representable by the bit-trick path below


@cache
def _grid(name: str) -> _Grid:
    f = get_format(name)
    if not isinstance(f, FloatFormat):
        return _Grid(0, 0, 0, f.max, False)
    fast = (
        f.mbits >= 1 and f.has_zero and f.subnormals and f.emin - f.mbits >= -126
        and f.emax + 1 <= 127 and f.max < 2.0**127
    )
    return _Grid(f.mbits, f.emin, f.emax, f.max, fast)


def _random_bits(shape: torch.Size, nbits: int, ctx: QuantContext, device: torch.device) -> Any:
    """``nbits`` random bits per element (int64): the top bits of the counter words
    ``words(ctx.seed, ctx.offset + k)``, k the flat index in ``shape``; advances the offset."""
    from .. import torch as lt

    n = math.prod(shape)
    idx = torch.arange(ctx.offset, ctx.offset + n, dtype=torch.int64, device=device)
    ctx.offset += n
    w = lt.words(ctx.seed, idx, 0)
    return (w >> (32 - nbits) if nbits < 32 else w).reshape(shape)


def quantize_elements(
    x: torch.Tensor,
    fmt: str,
    mode: RoundMode = RoundMode.RNE,
    srbits: torch.Tensor | None = None,
    rbits: int | None = None,
) -> torch.Tensor:
    """Round float32 ``x`` onto ``fmt`` with saturation; RNE or SR with explicit random bits.

    Equals ``lowbit_core.torch.quantize(x, fmt, mode, saturate=True, rbits=rbits,
    srbits=srbits)`` bit for bit (tested); training's ``sr`` is ``srff`` with 32 random bits
    (bias at most 2^-33 ulp toward zero), so it equals that mode with ``rbits=32``. Formats
    with ``mbits >= 1``, zero and subnormals take a float32 bit-trick path: with
    ``e = clamp(floor(log2|x|), emin, emax + 1)`` and ``s = |x| 2^(mbits - e)`` (exact), RNE is
    ``round(s)``; SR is ``floor(s) + [T(d) + r >= 2^N]`` (``d = s - floor(s)``, ``T`` the
    mode's threshold, ``r`` the N random bits). Other formats
    and modes fall back to :func:`lowbit_core.torch.quantize`.
    """
    g = _grid(fmt)
    fast_mode = mode in (RoundMode.RNE, RoundMode.SR, RoundMode.SRFF, RoundMode.SRC)
    if not (g.fast and fast_mode and x.dtype == torch.float32):
        from .. import torch as lt

        if mode is RoundMode.SR:  # training's "sr": one 32-bit word each, U = r / 2^32
            return lt.quantize(x, fmt, RoundMode.SRFF, saturate=True, rbits=32, srbits=srbits)
        nb = rbits if mode in FEW_BIT_MODES else None
        return lt.quantize(x, fmt, mode, saturate=True, rbits=nb, srbits=srbits)
    a = x.abs()
    # biased exponent field, clamped; subnormal/zero inputs read 0 and are lifted to emin
    ebits = (a.view(torch.int32) >> 23).clamp_(g.emin + 127, g.emax + 128)
    inv_ulp = (254 + g.mbits - ebits).bitwise_left_shift_(23).view(torch.float32)  # 2^(m - e)
    s = a * inv_ulp
    if mode is RoundMode.RNE:
        n = torch.round(s)  # half to even
    else:
        assert srbits is not None
        nb = 32 if mode is RoundMode.SR else rbits
        assert nb is not None
        n = torch.floor(s)
        t = (s - n).mul_(float(1 << nb))
        thr = torch.round(t) if mode is RoundMode.SRC else torch.floor(t)
        n = n + ((thr.to(torch.int64) + srbits) >= (1 << nb)).to(torch.float32)
    return torch.copysign(n.div_(inv_ulp).clamp_(max=g.max), x)


def _pow2(k: torch.Tensor) -> torch.Tensor:
    """``2^k`` as float32 for integer k in [-149, 127] (exact; built from float64 bits)."""
    kk = k.to(torch.int64).clamp(-149, 127)
    return (kk + 1023).bitwise_left_shift_(52).view(torch.float64).to(torch.float32)


def _round_scale(raw: torch.Tensor, scale_fmt: str, pow2: bool) -> torch.Tensor:
    """RNE of a non-negative float32 scale into ``scale_fmt``, saturating (FP32: unchanged).

    ``pow2``: ``raw`` is 0 or a power of two (FLOOR/CEIL rules); into UE8M0 that is a clamp to
    [2^-127, 2^127] (0 goes to the smallest code, as the reference's rounding does).
    """
    if scale_fmt == "float32":
        return raw
    f = get_format(scale_fmt)
    if pow2 and isinstance(f, FloatFormat) and f.mbits == 0 and not f.has_zero:
        return raw.clamp(f.min_normal, f.max)
    return quantize_elements(raw, scale_fmt)


# --- block-scaled fake quantization -------------------------------------------------------------


def _pad_to(t: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    r, c = t.shape
    if r == rows and c == cols:
        return t
    return F.pad(t, (0, cols - c, 0, rows - r))


_BACKENDS = ("auto", "torch", "numba")
_backend = "auto"


@cache
def _fused_module() -> ModuleType | None:
    """The fused numba kernel module, or None when numba is not installed (imported lazily)."""
    try:
        from . import _fused
    except ImportError:
        return None
    return _fused


def set_backend(name: str) -> str:
    """Choose how :func:`fake_quant` runs; returns the previous choice.

    ``"auto"`` (default): the fused numba kernel for CPU float32 tensors it covers, else torch;
    ``"numba"``: the same, but numba must be installed; ``"torch"``: always the torch ops.

    Raises:
        ValueError: unknown name, or ``"numba"`` without numba.
    """
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}: use 'auto', 'torch' or 'numba'")
    if name == "numba" and _fused_module() is None:
        raise ValueError("backend 'numba' needs numba, which is not installed")
    prev, _backend = _backend, name
    return prev


def get_backend() -> str:
    """The current :func:`fake_quant` backend (``"auto"``, ``"torch"`` or ``"numba"``)."""
    return _backend


def fake_quant(t: torch.Tensor, q: TensorQuant, ctx: QuantContext | None = None) -> torch.Tensor:
    """Quantize-dequantize a 2-D float32 tensor with blocks along its last dimension.

    Steps (``lowbit_core.blocks`` reference, float32): 1. tensor scale ``s_enc = scale_max *
    elem_max / amax`` (1 without); 2. block amax; 3. raw scale by rule (AMAX: ``amax * (s_enc *
    (1/elem_max))``; FLOOR/CEIL: powers of two from ``amax * s_enc``), RNE into the scale
    format; 4. ``enc = 1 / (S * s_dec)`` (0 where ``S = 0``); 5. round ``x * enc``; 6. ``q * S /
    s_enc``. The last dimension (and the rows, for 2-D tiles) is zero-padded to whole blocks.

    Args:
        t: (R, K) float32 tensor.
        q: the role's quantization.
        ctx: random stream for stochastic modes (required when ``q`` is stochastic).

    Returns:
        (R, K) float32 tensor on the grid ``q`` describes (a new tensor without autograd
        history on the fused path: the layer's backward is the straight-through estimator).

    Raises:
        ValueError: a stochastic mode without ``ctx``, or ``t`` not 2-D.
    """
    if q.elem == "float32":
        return t
    fused = _backend != "torch" and t.dtype == torch.float32 and t.device.type == "cpu"
    if q.elem in _TORCH_DT:
        if fused and q.elem == "bfloat16" and t.numel():
            fm = _fused_module()
            out: torch.Tensor | None = None if fm is None else fm.cast_bf16(t)
            if out is not None:
                return out
        return t.to(_TORCH_DT[q.elem]).to(t.dtype)
    if t.ndim != 2:
        raise ValueError(f"fake_quant takes a 2-D tensor, got shape {tuple(t.shape)}")
    if q.stochastic and ctx is None:
        raise ValueError(f"mode {q.mode.value!r} needs a QuantContext for its random bits")
    if fused:
        fm = _fused_module()
        res: torch.Tensor | None = None if fm is None else fm.fake_quant(t, q, ctx)
        if res is not None:
            return res
    return _fake_quant_torch(t, q, ctx)


def _fake_quant_torch(t: torch.Tensor, q: TensorQuant, ctx: QuantContext | None) -> torch.Tensor:
    """The torch-ops path of :func:`fake_quant` (any device; arguments already checked)."""
    ef = get_format(q.elem)
    sf = get_format(q.scale_fmt)
    r0, k0 = t.shape
    b = q.block
    # 1-2. blocks view and amax
    if b == 0:
        xp = t
        xb = t.reshape(1, 1, -1)
    elif q.tile2d:
        xp = _pad_to(t, -(-r0 // b) * b, -(-k0 // b) * b)
        rp, kp = xp.shape
        xb = xp.reshape(rp // b, b, kp // b, b).transpose(1, 2).reshape(rp // b, kp // b, b * b)
    else:
        xp = _pad_to(t, r0, -(-k0 // b) * b)
        xb = xp.reshape(r0, -1, b)  # (rows, blocks, b)
    amax = xb.abs().amax(dim=-1, keepdim=True)
    s_enc = torch.ones((), dtype=torch.float32, device=t.device)
    if q.tensor_scale and q.scale_fmt != "float32":  # an FP32 scale needs no tensor scale
        amax_t = amax.max()
        s_enc = torch.where(
            amax_t > 0, (torch.tensor(sf.max * ef.max, device=t.device) / amax_t), s_enc
        ).clamp_(max=_F32_MAX)
        # and amax_t * s_enc <= big / 2 (blocks.tensor_scale: binds only when scale max * elem
        # max overflows float32, as with UE8M0 scales)
        half = torch.tensor(_F32_MAX / 2, dtype=torch.float32, device=t.device)
        lim = half / amax_t
        lim = torch.where(amax_t * lim > half, torch.nextafter(lim, torch.zeros_like(lim)), lim)
        s_enc = torch.where(amax_t > 0, torch.minimum(s_enc, lim), s_enc)
    s_dec = 1.0 / s_enc
    # 3. raw scale, rounded into the scale format
    if q.scale_rule is ScaleRule.AMAX:
        mult = s_enc * torch.tensor(1.0 / ef.max, dtype=torch.float32)
        raw = amax * mult
    else:
        y = amax * s_enc
        _, ex = torch.frexp(y)
        k = ex - 1 - elem_emax(ef)
        if q.scale_rule is ScaleRule.CEIL:
            k = k + (y * _pow2(-k) > ef.max).to(k.dtype)
        raw = torch.where(y == 0, 0.0, _pow2(k))
    scale = _round_scale(raw, q.scale_fmt, pow2=q.scale_rule is not ScaleRule.AMAX)
    # 4. encode factor
    enc = torch.where(scale == 0, 0.0, (1.0 / (scale * s_dec)).clamp_(max=_F32_MAX))
    # 5. round the scaled elements (random bits in the padded block layout's order)
    scaled = xb * enc
    r = None
    if q.stochastic:
        assert ctx is not None
        nb = 32 if q.mode is RoundMode.SR else q.rbits
        assert nb is not None
        r = _random_bits(scaled.shape, nb, ctx, t.device)
    qv = quantize_elements(scaled, q.elem, q.mode, r, q.rbits)
    # 6. dequantize
    vals = qv * scale
    if q.tensor_scale and q.scale_fmt != "float32":
        vals = vals / s_enc
    if b == 0:
        return vals.reshape(r0, k0)
    if q.tile2d:
        rp, kp = xp.shape
        vals = vals.reshape(rp // b, kp // b, b, b).transpose(1, 2).reshape(rp, kp)
    else:
        vals = vals.reshape(r0, -1)
    return vals[:r0, :k0]


def _rotate(t: torch.Tensor, d: int, ctx: QuantContext) -> torch.Tensor:
    """``t`` (R, K) with each chunk of d along K multiplied by the RHT matrix (K zero-padded)."""
    r, k = t.shape
    tp = _pad_to(t, r, -(-k // d) * d)
    # one (R K / d, d) @ (d, d) GEMM: a batched (R, K/d, d) @ H runs R tiny GEMMs on CPU
    return (tp.reshape(-1, d) @ ctx.rht(d)).reshape(r, -1)


def gemm_operands(
    a: torch.Tensor,
    b: torch.Tensor,
    qa: TensorQuant,
    qb: TensorQuant,
    rht: int,
    ctx: QuantContext,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantized operands of ``a @ b^T`` (both (*, K)), optionally after a shared RHT along K."""
    if rht:
        a, b = _rotate(a, rht, ctx), _rotate(b, rht, ctx)
    return fake_quant(a, qa, ctx), fake_quant(b, qb, ctx)


class _QLinearFn(torch.autograd.Function):
    """Fprop, Dgrad and Wgrad with quantized operands; straight-through for the quantizers."""

    @staticmethod
    def forward(  # type: ignore[override]
        fctx: Any,
        x: torch.Tensor,
        w: torch.Tensor,
        bias: torch.Tensor | None,
        lq: LayerQuant,
        qc: QuantContext,
    ) -> torch.Tensor:
        x2 = x.reshape(-1, x.shape[-1])  # (N, in)
        xq, wq = gemm_operands(x2, w, lq.x, lq.w, lq.rht_fprop, qc)
        y = xq @ wq.T  # (N, out)
        if bias is not None:
            y = y + bias
        fctx.save_for_backward(x2, w, wq)
        fctx.lq, fctx.qc, fctx.has_bias, fctx.xshape = lq, qc, bias is not None, x.shape
        return y.reshape(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(fctx: Any, gy: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        x2, w, wq = fctx.saved_tensors
        lq: LayerQuant = fctx.lq
        qc: QuantContext = fctx.qc
        g2 = gy.reshape(-1, w.shape[0])  # (N, out)
        gx = gw = gb = None
        if fctx.needs_input_grad[0]:
            if lq.w.tile2d and not lq.rht_fprop and not lq.rht_dgrad:
                # 2-D tiles: the Fprop copy transposed is exactly Q(W^T), the chain rule holds
                gq = fake_quant(g2, lq.dy, qc)
                wdq = wq.T
            else:
                gq, wdq = gemm_operands(g2, w.T, lq.dy, lq.w, lq.rht_dgrad, qc)
            gx = (gq @ wdq.T).reshape(fctx.xshape)  # (N, in)
        if fctx.needs_input_grad[1]:
            gq_t, xq_t = gemm_operands(g2.T, x2.T, lq.dy_wgrad, lq.x_wgrad, lq.rht_wgrad, qc)
            gw = gq_t @ xq_t.T  # (out, in)
        if fctx.has_bias and fctx.needs_input_grad[2]:
            gb = g2.sum(0)
        return gx, gw, gb, None, None


class QLinear(nn.Module):
    """``nn.Linear`` whose GEMMs are simulated in the formats of a :class:`LayerQuant`.

    ``quant`` and ``ctx`` are plain attributes, set by the recipe (see
    :func:`lowbit_core.training.recipes.apply_recipe`); FP32 everywhere is a plain ``F.linear``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.quant = LayerQuant()
        self.ctx: QuantContext | None = None
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default U(-1/sqrt(in), 1/sqrt(in))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quant.passthrough:
            return F.linear(x, self.weight, self.bias)
        qc = self.ctx if self.ctx is not None else QuantContext(device=x.device)
        self.ctx = qc
        out = _QLinearFn.apply(x, self.weight, self.bias, self.quant, qc)  # type: ignore[no-untyped-call]
        assert isinstance(out, torch.Tensor)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, fprop={self.quant.x.describe()}"
