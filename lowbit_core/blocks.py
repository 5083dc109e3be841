"""Block scaling: OCP MX (MXFP8/6/4), NVFP4 and any other (element, block, scale) combination.

A block of ``B`` consecutive elements along ``axis`` (or a ``B x B`` tile of the last two axes)
shares one scale ``S``. Quantize-dequantize is

    q_i = Q_elem(x_i * enc)            elements rounded (RNE or any SR mode), saturating
    v_i = q_i * S / s_enc              S = the stored (decoded) block scale

where ``enc = 1 / (S * s_dec)`` and ``s_enc = 1 / s_dec`` is the optional FP32 per-tensor
scale (1 without tensor scaling). :class:`ScaleRule` says how ``S`` comes from the block amax.

Sources: OCP MX v1.0 §6.3 and microsoft/microxcaling ``mx/mx_ops.py`` (FLOOR rule, element
saturation); NVFP4 paper (arXiv 2509.25149) Eq. 1–4 and App. B.4 and TransformerEngine
``quantization_ref_nvfp4.py`` (AMAX rule with tensor scale, CEIL rule, 16x16 tiles);
papers_spec.md (c), (d), Addendum. ``_reference`` below is the readable definition; the numba
kernel in ``_numba_blocks.py`` computes the same bits, faster.

Conventions fixed here (every backend follows them):

* Arithmetic runs in the input's dtype (float32 for float32 input, as TE does; float64 for
  float64); rule exponents are computed exactly from the bits, not with a libm ``log2``.
* A block holding NaN or +-inf gets a NaN scale and all-NaN values (OCP MX §6.3); the tensor
  amax ignores non-finite elements, so the other blocks are unaffected. (TE instead lets one
  NaN poison the whole tensor and saturates +-inf.)
* A block whose stored scale is 0 (E4M3 zero-scale corner: amax below 6*2^-10 without tensor
  scale) quantizes to +-0 (TE gives the same values, but codes +-6).
* Stochastic modes draw the random bits of element ``i`` from its flat C-order index in ``x``
  (seed semantics of :func:`lowbit_core.rounding.quantize`); ``srbits`` broadcasts to ``x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

import numpy as np

from .formats import FloatFormat, Format, encode, get_format
from .rounding import (
    RoundMode,
    check_mode,
    check_random,
    quantize_reference,
)

__all__ = [
    "NO_CODE",
    "PRESETS",
    "BlockResult",
    "BlockSpec",
    "ScaleRule",
    "code_dtype",
    "elem_caps",
    "elem_emax",
    "quantize_blocks",
    "quantize_blocks_reference",
    "resolve_spec",
    "tensor_scale",
]

NO_CODE = -1  #: code reported for NaN in a format without a NaN code (E2M1, FP6)


class ScaleRule(StrEnum):
    """How the block scale ``S`` comes from ``y = amax_b * s_enc`` (``s_enc = 1`` without tensor
    scaling). ``emax_elem = floor(log2(elem_max))`` (2 for E2M1, 8 for E4M3); every raw scale is
    then rounded to nearest-even into the scale format, saturating (UE8M0: 2^-127 .. 2^127)."""

    FLOOR = "floor"
    """OCP MX: ``S = 2^(floor(log2 y) - emax_elem)``; maps amax into ``[2^emax, 2^(emax+1))``, so
    elements above ``elem_max`` saturate (OCP MX v1.0 §6.3, microxcaling ``_shared_exponents``)."""
    CEIL = "ceil"
    """Round-up power of two: ``S = 2^ceil(log2(y / elem_max))``, the smallest power of two with
    ``y / S <= elem_max`` (NVFP4 paper App. B.4; TE ``pow_2_scales``). Never saturates."""
    AMAX = "amax"
    """``S = RNE_scale(y * (1/elem_max))`` with ``1/elem_max`` rounded to the working dtype first
    (TE kernel order): NVFP4's amax/6 rule with E4M3, also used with UE5M3."""


@dataclass(frozen=True)
class BlockSpec:
    """A block-scaled format. Field values are format names (see :func:`get_format`)."""

    elem: str = "float4_e2m1fn"  #: element format (<= 16 bits)
    block: int = 32  #: elements per block (tile side for ``tile2d``)
    scale_fmt: str = "float8_e8m0fnu"  #: format the block scale is stored in
    scale_rule: ScaleRule = ScaleRule.FLOOR  #: amax -> scale rule
    tensor_scale: bool = False  #: FP32 per-tensor scale s_enc = scale_max * elem_max / amax
    tile2d: bool = False  #: block x block tiles over the last two axes (NVFP4 weights)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale_rule", _check_rule(self.scale_rule))
        ef = get_format(self.elem)
        if ef.bits > 16:
            raise ValueError(f"element format {self.elem!r} has {ef.bits} bits; use <= 16")
        sf = get_format(self.scale_fmt)
        if not isinstance(sf, FloatFormat) or sf.bits > 16:
            raise ValueError(
                f"scale format {self.scale_fmt!r} must be a float format of <= 16 bits"
            )
        if sf.max > float(np.finfo(np.float32).max) or sf.min_subnormal < 2.0**-149:
            raise ValueError(f"scale format {self.scale_fmt!r} does not fit in float32")
        if isinstance(self.block, bool) or not isinstance(self.block, int | np.integer):
            raise ValueError(f"block={self.block!r} must be an integer")
        if not 1 <= int(self.block) <= 4096:
            raise ValueError(f"block={self.block!r} out of range 1..4096")
        object.__setattr__(self, "block", int(self.block))
        object.__setattr__(self, "tensor_scale", bool(self.tensor_scale))
        object.__setattr__(self, "tile2d", bool(self.tile2d))

    @property
    def elem_format(self) -> Format:
        return get_format(self.elem)

    @property
    def scale_format(self) -> FloatFormat:
        f = get_format(self.scale_fmt)
        assert isinstance(f, FloatFormat)
        return f

    def describe(self) -> str:
        tile = f"{self.block}x{self.block}" if self.tile2d else f"1x{self.block}"
        ts = " + FP32 tensor scale" if self.tensor_scale else ""
        return (
            f"{self.elem_format.describe()}, {tile} blocks, {self.scale_format.describe()} "
            f"scale ({self.scale_rule.value}){ts}"
        )


def _check_rule(rule: object) -> ScaleRule:
    try:
        return ScaleRule(str(rule).strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown scale rule {rule!r}: use one of {', '.join(r.value for r in ScaleRule)}"
        ) from None


def _mx(elem: str) -> BlockSpec:
    return BlockSpec(elem=elem, block=32, scale_fmt="float8_e8m0fnu", scale_rule=ScaleRule.FLOOR)


#: Named configurations (OCP MX v1.0 Table 1; NVFP4 paper §2).
PRESETS: dict[str, BlockSpec] = {
    "mxfp8_e4m3": _mx("float8_e4m3fn"),
    "mxfp8_e5m2": _mx("float8_e5m2"),
    "mxfp6_e3m2": _mx("float6_e3m2fn"),
    "mxfp6_e2m3": _mx("float6_e2m3fn"),
    "mxfp4": _mx("float4_e2m1fn"),
    "nvfp4": BlockSpec(
        elem="float4_e2m1fn", block=16, scale_fmt="float8_e4m3fn",
        scale_rule=ScaleRule.AMAX, tensor_scale=True,
    ),
}

_FIELDS = frozenset(f.name for f in fields(BlockSpec))


def resolve_spec(spec: BlockSpec | str, **overrides: Any) -> BlockSpec:
    """A preset name or a :class:`BlockSpec`, with keyword overrides of its fields.

    Raises:
        ValueError: unknown preset or field, or an invalid field value.
    """
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key not in PRESETS:
            raise ValueError(f"unknown block preset {spec!r}: use one of {', '.join(PRESETS)}")
        base = PRESETS[key]
    elif isinstance(spec, BlockSpec):
        base = spec
    else:
        raise ValueError(f"spec must be a preset name or a BlockSpec, got {spec!r}")
    bad = sorted(set(overrides) - _FIELDS)
    if bad:
        raise ValueError(f"unknown BlockSpec field(s) {bad}: use {', '.join(sorted(_FIELDS))}")
    return replace(base, **overrides) if overrides else base


def elem_emax(f: Format) -> int:
    """``floor(log2(max))`` of an element format: the exponent the FLOOR rule aligns amax to."""
    return f.emax if isinstance(f, FloatFormat) else math.floor(math.log2(f.max))


@dataclass(frozen=True)
class BlockResult:
    """Result of :func:`quantize_blocks`.

    ``values == decode(elem, codes) * scales / tensor_scale`` (broadcast per block), computed in
    the input dtype.
    """

    values: np.ndarray  #: dequantized, same shape and dtype as x
    codes: np.ndarray  #: element codes (dtype: code_dtype(elem)), shape of x; NO_CODE = NaN
    scales: np.ndarray  #: decoded stored scales, float32; block axis // block (tile2d: R/B, C/B)
    scale_codes: np.ndarray  #: codes of the scales in spec.scale_fmt (int16), shape of scales
    tensor_scale: float | None  #: s_enc (multiply x by it), None without tensor scaling
    spec: BlockSpec  #: the resolved configuration
    axis: int  #: the (non-negative) block axis; for tile2d the last axis

    @property
    def effective_scales(self) -> np.ndarray:
        """Per-block dequantization factor ``scales / tensor_scale`` (float32)."""
        if self.tensor_scale is None:
            return self.scales
        return (self.scales / np.float32(self.tensor_scale)).astype(np.float32)


# --- validation shared by every backend ---------------------------------------------------------


@dataclass(frozen=True)
class _Args:
    x: np.ndarray
    spec: BlockSpec
    axis: int  # normalized block axis (tile2d: ndim - 1)
    mode: RoundMode
    rbits: int | None
    seed: int | None
    srbits: np.ndarray | None  # flat uint64, already broadcast to x (few-bit modes with srbits)


def _check_args(
    x: object, spec: BlockSpec, axis: object, mode: RoundMode | str, rbits: object, seed: object,
    srbits: object,
) -> _Args:
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.float64):
        raise ValueError(f"x must be a float32 or float64 array, got dtype {arr.dtype}")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"axis={axis!r} must be an integer")
    ax = int(axis)
    if not -arr.ndim <= ax < arr.ndim:
        raise ValueError(f"axis={ax} out of range for x with {arr.ndim} dimension(s)")
    ax %= arr.ndim
    b = spec.block
    if spec.tile2d:
        if arr.ndim < 2 or ax < arr.ndim - 2:
            raise ValueError(
                f"tile2d tiles the last two axes: axis={axis} is not one of them "
                f"(x.ndim={arr.ndim})"
            )
        ax = arr.ndim - 1
        for n in arr.shape[-2:]:
            if n % b:
                raise ValueError(f"tile {b}x{b} does not divide the last two axes {arr.shape[-2:]}")
    elif arr.shape[ax] % b:
        raise ValueError(f"block size {b} does not divide axis {ax} of length {arr.shape[ax]}")
    m = check_mode(mode)
    nb, s, r_flat = check_random(m, rbits, seed, srbits, arr.shape)
    return _Args(arr, spec, ax, m, nb, s, r_flat)


# --- numpy reference ----------------------------------------------------------------------------


def code_dtype(f: Format) -> type[np.integer]:  # type: ignore[type-arg]
    """Smallest integer dtype holding every code of ``f`` and NO_CODE when ``f`` needs it:
    int8 up to 7 bits, uint8 for 8-bit formats with a NaN code, else int16 / int32."""
    if f.bits <= 7:
        return np.int8
    if f.bits == 8 and f.has_nan:
        return np.uint8
    return np.int16 if f.bits <= 15 else np.int32


def _codes(f: Format, v: np.ndarray) -> np.ndarray:
    """Codes of on-grid values; NaN -> the NaN code, or NO_CODE where the format has none."""
    dt = code_dtype(f)
    nan = np.isnan(v)
    if nan.any() and not f.has_nan:
        out = np.full(v.shape, NO_CODE, dtype=dt)
        out[~nan] = encode(f, v[~nan])
        return out
    return encode(f, v).astype(dt)


def _blocks_view(x: np.ndarray, spec: BlockSpec, axis: int) -> np.ndarray:
    """x as (..., nblocks, B) [1D: block axis moved last] or (..., R/B, C/B, B*B) [tile2d]."""
    b = spec.block
    if spec.tile2d:
        *lead, r, c = x.shape
        t = x.reshape(*lead, r // b, b, c // b, b)
        return np.swapaxes(t, -3, -2).reshape(*lead, r // b, c // b, b * b)
    xm = np.moveaxis(x, axis, -1)
    return xm.reshape(*xm.shape[:-1], xm.shape[-1] // b, b)


def _per_element(s: np.ndarray, shape: tuple[int, ...], spec: BlockSpec, axis: int) -> np.ndarray:
    """Broadcast a per-block array (scales layout) back to x's shape and layout."""
    b = spec.block
    if spec.tile2d:
        return np.repeat(np.repeat(s, b, axis=-1), b, axis=-2)
    return np.moveaxis(np.repeat(np.moveaxis(s, axis, -1), b, axis=-1), -1, axis)


def _raw_scale(y: np.ndarray, spec: BlockSpec, mult: float) -> np.ndarray:
    """Unrounded block scale (float64) from y = amax_b * s_enc (working dtype) per ScaleRule."""
    ef = spec.elem_format
    y64 = y.astype(np.float64)
    if spec.scale_rule is ScaleRule.AMAX:
        return np.asarray(y * y.dtype.type(mult), dtype=np.float64)  # rounded in working dtype
    # exact exponents: y = m 2^ex with m in [0.5, 1), so floor(log2 y) = ex - 1
    with np.errstate(invalid="ignore"):
        _, ex = np.frexp(y64)
    k = ex.astype(np.int64) - 1 - elem_emax(ef)  # FLOOR exponent
    if spec.scale_rule is ScaleRule.CEIL:
        k = k + (np.ldexp(y64, (-k).astype(np.int32)) > ef.max)
    raw = np.ldexp(1.0, k.astype(np.int32))
    return np.asarray(np.where(y64 == 0, 0.0, raw))


def tensor_scale(amax_t: Any, spec: BlockSpec) -> tuple[Any, Any]:
    """``(s_enc, s_dec)`` for the finite tensor amax ``amax_t`` (a working-dtype scalar).

    ``s_enc = min(f(scale_max * elem_max) / amax_t, big, lim)`` in the working dtype ``f``
    (TE's rule, NVFP4 paper Eq. 1, plus ``lim``), ``s_dec = 1 / s_enc``; ``(1, 1)`` for
    ``amax_t = 0``. ``lim = f(big / 2) / amax_t`` (one ulp lower if ``amax_t * lim`` rounds
    above ``big / 2``) keeps the scaled tensor amax at most ``big / 2``: every rule's scale then
    gives ``q * S <= 2 y <= big``, so ordinary inputs never reach the element caps. Without it a
    scale format whose max times the element max overflows the dtype (UE8M0: 2^127 * 6) gave
    ``s_enc = big`` and scaled amaxes of inf. With E4M3 or UE5M3 scales ``lim`` never binds
    (``amax_t * s_enc`` is ``scale_max * elem_max``, e.g. 2688), so TE's values are unchanged.
    """
    wd = type(amax_t)
    if not amax_t > 0:
        return wd(1), wd(1)
    big = wd(np.finfo(wd).max)
    half = wd(big / 2)
    with np.errstate(over="ignore"):
        s_enc = min(wd(spec.scale_format.max * spec.elem_format.max) / amax_t, big)
        lim = half / amax_t
        if amax_t * lim > half:
            lim = np.nextafter(lim, wd(0))
    s_enc = min(s_enc, lim)
    return s_enc, wd(1) / s_enc


_STEP = 2.0**-30  # relative nudge to the next grid value (grids here have <= 15 fraction bits)


def _dq_finite(g: np.ndarray, s_w: np.ndarray, s_enc: Any, ts: bool) -> np.ndarray:
    """Whether the dequantized value ``g * S (/ s_enc)`` is finite, computed as step 6 does."""
    with np.errstate(over="ignore", invalid="ignore"):
        v = g.astype(s_w.dtype) * s_w
        if ts:
            v = v / s_enc
    return np.asarray(np.isfinite(v))


def elem_caps(
    s_w: np.ndarray, s_enc: Any, ts: bool, ef: Format
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-block element caps that keep dequantized values finite (the no-inf rule).

    ``s_w`` are the stored block scales in the working dtype and ``s_enc`` the tensor scale (1
    without tensor scaling). For each sign, the cap of a block is the largest grid magnitude
    ``g <= max`` (``max_neg`` for negative values) whose dequantized value ``g * S`` (then
    ``/ s_enc``), computed in the working dtype as the quantizer does, is finite. Only blocks
    whose scale times the format's max overflows get a cap below the max: a finite input there
    saturates to the largest finite dequantized value instead of becoming +-inf. Returns
    ``(cap_pos, cap_neg)`` as float64 arrays of ``s_w``'s shape, ``None`` for a side that needs
    no clamp (no block overflows, or the format has no values of that sign).
    """
    wd = s_w.dtype.type
    big = float(np.finfo(s_w.dtype).max)
    # a quotient rounds to inf (RNE) from big + ulp(big)/2 on; float64 is bounded by big itself
    limit = big + math.ldexp(1.0, 103) if wd is np.float32 else big
    out: list[np.ndarray | None] = []
    for gmax, up, down in ((ef.max, "rup", "rdn"), (ef.max_neg, "rdn", "rup")):
        sgn = 1.0 if up == "rup" else -1.0
        if gmax <= 0:
            out.append(None)
            continue
        ok = np.isfinite(s_w) & (s_w > 0)
        over = ok & ~_dq_finite(np.full(s_w.shape, gmax), s_w, s_enc, ts)
        if not over.any():
            out.append(None)
            continue
        sw = s_w[over]
        # start at or just above the threshold min(big, s_enc limit) / S, then step down the
        # grid until the dequantized value is finite (monotone in g: exact largest such g)
        with np.errstate(over="ignore"):
            t = np.minimum(big, float(s_enc) * limit) / sw.astype(np.float64) * (1 + _STEP)
        t = np.minimum(t, gmax)
        g = np.abs(quantize_reference(sgn * t, ef, up, saturate=True))
        for _ in range(1 << 12):
            bad = ~_dq_finite(g, sw, s_enc, ts) & (g > 0)
            if not bad.any():
                break
            g[bad] = np.abs(quantize_reference(sgn * g[bad] * (1 - _STEP), ef, down))
        cap = np.full(s_w.shape, gmax)
        cap[over] = g
        out.append(cap)
    return out[0], out[1]


def quantize_blocks_reference(
    x: np.ndarray,
    spec: BlockSpec | str = "mxfp4",
    *,
    axis: int = -1,
    mode: RoundMode | str = "rne",
    rbits: int | None = None,
    seed: int | None = None,
    srbits: np.ndarray | None = None,
    **overrides: Any,
) -> BlockResult:
    """Readable numpy definition of :func:`quantize_blocks` (same arguments and result)."""
    a = _check_args(x, resolve_spec(spec, **overrides), axis, mode, rbits, seed, srbits)
    return _reference(a)


def _reference(a: _Args) -> BlockResult:
    spec, x = a.spec, a.x
    ef, sf = spec.elem_format, spec.scale_format
    wd = x.dtype.type  # working dtype: float32 or float64
    big = wd(np.finfo(x.dtype).max)

    # 1. per-tensor scale (paper Eq. 1, TE): s_enc = scale_max * elem_max / amax over the finite
    #    elements; amax 0 -> 1. s_dec = 1 / s_enc. mult = s_enc * (1 / elem_max), TE kernel order.
    s_enc, s_dec = wd(1), wd(1)
    if spec.tensor_scale:
        fin = np.abs(x[np.isfinite(x)])
        s_enc, s_dec = tensor_scale(wd(fin.max()) if fin.size else wd(0), spec)
    mult = s_enc * (wd(1) / wd(ef.max))

    # 2. block amax (NaN if the block holds NaN, inf if it holds inf)
    xb = _blocks_view(x, spec, a.axis)  # (..., nblocks, B) or (..., R/B, C/B, B*B)
    amax = np.abs(xb).max(axis=-1, initial=wd(0))
    if not spec.tile2d:
        amax = np.moveaxis(amax, -1, a.axis)  # scales layout: x's shape, block axis / B
    bad = ~np.isfinite(amax)

    # 3. raw scale per rule, then RNE into the scale format with saturation (clamps UE8M0 to
    #    2^-127..2^127 like microxcaling/TE; E4M3 to 448 like TE's clamp before the cast)
    if spec.scale_rule is ScaleRule.AMAX:
        y, m_ = amax, float(mult)  # S = RNE(amax * mult), TE: vec_max * (s_enc * fp32(1/6))
    else:
        y, m_ = amax * s_enc, 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        raw = _raw_scale(np.where(bad, wd(0), np.minimum(y, big)), spec, m_)
    scale64 = quantize_reference(raw, sf, "rne", saturate=True)
    scale64 = np.where(bad, np.nan, scale64)
    scales = scale64.astype(np.float32)  # exact: the scale formats fit in float32
    scale_codes = _codes(sf, scale64).astype(np.int16)

    # 4. per-block encode factor enc = 1 / (S * s_dec) (TE), capped at the dtype max; 0 for S = 0
    s_w = scale64.astype(x.dtype)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        enc = np.minimum(wd(1) / (s_w * s_dec), big)
    enc = np.where(s_w == 0, wd(0), enc)

    # 5. scale the elements in x's own layout (flat index = SR counter), round, saturate
    enc_e = _per_element(enc, x.shape, spec, a.axis)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = x * enc_e
    srb = None if a.srbits is None else a.srbits.reshape(x.shape)
    q = quantize_reference(
        scaled, ef, a.mode, saturate=True, rbits=a.rbits, seed=a.seed, srbits=srb
    )
    # 5b. never inf from finite input: clamp q to the largest grid magnitude (per sign) whose
    #     dequantized value stays finite (only blocks near the dtype max are affected)
    capp, capn = elem_caps(s_w, s_enc, spec.tensor_scale, ef)
    if capp is not None:
        q = np.minimum(q, _per_element(capp.astype(q.dtype), x.shape, spec, a.axis))
    if capn is not None:
        q = np.maximum(q, -_per_element(capn.astype(q.dtype), x.shape, spec, a.axis))

    # 6. dequantize: v = q * S / s_enc (q * S is exact for FP4/FP6/FP8 elements)
    s_e = _per_element(s_w, x.shape, spec, a.axis)
    with np.errstate(over="ignore", invalid="ignore"):
        values = q * s_e
        if spec.tensor_scale:
            values = values / s_enc
    codes = _codes(ef, q.astype(np.float64))
    return BlockResult(
        values=values.astype(x.dtype, copy=False),
        codes=codes,
        scales=scales,
        scale_codes=scale_codes,
        tensor_scale=float(s_enc) if spec.tensor_scale else None,
        spec=spec,
        axis=a.axis,
    )


# --- public API ---------------------------------------------------------------------------------


def quantize_blocks(
    x: np.ndarray,
    spec: BlockSpec | str = "mxfp4",
    *,
    axis: int = -1,
    mode: RoundMode | str = "rne",
    rbits: int | None = None,
    seed: int | None = None,
    srbits: np.ndarray | None = None,
    backend: str = "auto",
    **overrides: Any,
) -> BlockResult:
    """Block-scaled quantize-dequantize of ``x`` (MX, NVFP4 or any other configuration).

    Args:
        x: float32 or float64 array.
        spec: a preset name (``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e3m2``, ``mxfp6_e2m3``,
            ``mxfp4``, ``nvfp4``) or a :class:`BlockSpec`.
        axis: the axis the blocks run along (default last). With ``tile2d`` it must be one of
            the last two axes (the tiles are the same either way).
        mode, rbits, seed, srbits: element rounding, as in :func:`lowbit_core.quantize`; the
            random bits of an element come from its flat index in ``x``.
        backend: ``"auto"`` (numba kernel when available), ``"numba"`` or ``"numpy"``.
        **overrides: :class:`BlockSpec` fields replacing those of ``spec``, e.g.
            ``quantize_blocks(w, "nvfp4", tile2d=True)`` or ``scale_fmt="ue5m3"``.

    Returns:
        :class:`BlockResult` with ``values`` (same shape and dtype as x), ``codes``, ``scales``,
        ``scale_codes`` and ``tensor_scale``.

    Raises:
        ValueError: non-float ``x``; unknown preset, field, format, scale rule or rounding mode;
            block size not dividing the axis; axis out of range; bad rbits / seed / srbits.
    """
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"unknown backend {backend!r}: use 'auto', 'numba' or 'numpy'")
    a = _check_args(x, resolve_spec(spec, **overrides), axis, mode, rbits, seed, srbits)
    if backend != "numpy":
        try:
            from . import _numba_blocks  # type: ignore[attr-defined,unused-ignore]
        except ImportError:
            if backend == "numba":
                raise ValueError("the numba block kernel is not available") from None
        else:
            res: BlockResult | None = _numba_blocks.quantize_blocks(a, backend == "numba")
            if res is not None:
                return res
    return _reference(a)

