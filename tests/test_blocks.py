"""Block scaling (lowbit_core.blocks): spec checks 9–11 and 13, independent MX and NVFP4 oracles,
properties, edge cases, errors, and numpy reference == numba kernel bit for bit.

Oracles written here, independent of the code under test:
* OCP MX: microsoft/microxcaling's rule by hand (float64 log2 for the shared exponent, clamp to
  UE8M0's -127..127, clip to the element max, ml_dtypes RNE cast).
* NVFP4: a line-by-line float32 transcription of TransformerEngine's
  ``NVFP4QuantizerRef._quantize_blockwise_reference`` and ``cast_to_fp4x2`` with an ml_dtypes
  E4M3 cast for the block scale; dequantization as ``q * S / s_enc``.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from lowbit_core.blocks import (
    NO_CODE,
    PRESETS,
    BlockSpec,
    ScaleRule,
    quantize_blocks,
    quantize_blocks_reference,
)
from lowbit_core.formats import all_values, decode, grid

F32_MAX = np.float32(np.finfo(np.float32).max)
E2M1_SET = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)
MX_ML = {  # preset -> (ml_dtypes element type, emax_elem, elem_max)
    "mxfp8_e4m3": (ml_dtypes.float8_e4m3fn, 8, 448.0),
    "mxfp8_e5m2": (ml_dtypes.float8_e5m2, 15, 57344.0),
    "mxfp6_e3m2": (ml_dtypes.float6_e3m2fn, 4, 28.0),
    "mxfp6_e2m3": (ml_dtypes.float6_e2m3fn, 2, 7.5),
    "mxfp4": (ml_dtypes.float4_e2m1fn, 2, 6.0),
}


def ref(x, spec="mxfp4", **kw):
    return quantize_blocks(x, spec, backend="numpy", **kw)


def mixed_blocks(rng, rows, cols, block, lo=-30, hi=30):
    """Gaussian blocks with per-block magnitudes 2^U{lo..hi} (float32)."""
    x = rng.standard_normal((rows, cols))
    mag = 2.0 ** rng.integers(lo, hi, size=(rows, cols // block))
    return (x * np.repeat(mag, block, axis=1)).astype(np.float32)


def per_elem(s, block, axis=-1):
    return np.repeat(s, block, axis=axis)


# --- oracles ------------------------------------------------------------------------------------


def ocp_mx_oracle(x, preset):
    """microxcaling rule: e = floor(log2 amax) - emax, clamp -127..127, clip, RNE cast."""
    dt, emax, emaxv = MX_ML[preset]
    m, n = x.shape
    xb = x.reshape(m, n // 32, 32)
    amax = np.abs(xb).max(-1, keepdims=True).astype(np.float64)
    amax = np.where(amax == 0, 2.0**-126, amax)  # microxcaling: FP32_MIN_NORMAL for zero blocks
    e = np.clip(np.floor(np.log2(amax)) - emax, -127, 127)
    s = np.exp2(e).astype(np.float32)
    q = np.clip(xb / s, -emaxv, emaxv).astype(dt).astype(np.float32)
    return (q * s).reshape(m, n), s[..., 0]


def te_cast_to_fp4(x):
    """TE cast_to_fp4x2 (unpacked): the E2M1 code of each clipped float32 value."""
    r = np.zeros(x.shape, dtype=np.int64)
    r[(x >= 0.0) & (x <= 0.25)] = 0
    r[(x > 0.25) & (x < 0.75)] = 1
    r[(x >= 0.75) & (x <= 1.25)] = 2
    r[(x > 1.25) & (x < 1.75)] = 3
    r[(x >= 1.75) & (x <= 2.5)] = 4
    r[(x > 2.5) & (x < 3.5)] = 5
    r[(x >= 3.5) & (x <= 5.0)] = 6
    r[x > 5.0] = 7
    r[(x >= -0.25) & (x < -0.0)] = 8
    r[(x < -0.25) & (x > -0.75)] = 9
    r[(x <= -0.75) & (x >= -1.25)] = 10
    r[(x < -1.25) & (x > -1.75)] = 11
    r[(x <= -1.75) & (x >= -2.5)] = 12
    r[(x < -2.5) & (x > -3.5)] = 13
    r[(x <= -3.5) & (x >= -5.0)] = 14
    r[x < -5.0] = 15
    return r


def te_nvfp4_oracle(x, tile2d=False):
    """TE _quantize_blockwise_reference (NVFP4, not pow2), float32 throughout."""
    f32 = np.float32
    m, n = x.shape
    global_amax = f32(np.abs(x).max())
    with np.errstate(divide="ignore"):
        ges = f32(448.0 * 6.0) / global_amax
    ges = min(ges, F32_MAX)
    if ges == 0:
        ges = f32(1.0)
    gds = f32(1.0) / ges
    if tile2d:
        t = np.abs(x).reshape(m // 16, 16, n // 16, 16).max(axis=(1, 3))
        vec_max = np.repeat(t, 16, axis=0)[..., None]  # (m, n/16, 1)
    else:
        vec_max = np.abs(x.reshape(m, n // 16, 16)).max(-1, keepdims=True)
    mult = ges * np.reciprocal(f32(6.0))
    dsc = np.minimum(vec_max * mult, F32_MAX)
    dsc = np.clip(dsc, -448.0, 448.0).astype(f32).astype(ml_dtypes.float8_e4m3fn)
    dsc = dsc.astype(f32)
    with np.errstate(divide="ignore"):
        enc = np.minimum(f32(1.0) / (dsc * gds), F32_MAX)
    with np.errstate(over="ignore"):
        scaled = x.reshape(m, n // 16, 16) * enc
    clipped = np.clip(scaled, -6.0, 6.0).astype(f32).reshape(m, n)
    codes = te_cast_to_fp4(clipped)
    q = decode("float4_e2m1fn", codes).astype(f32).reshape(m, n // 16, 16)
    deq = (q * dsc) / ges
    scales = dsc[..., 0][::16] if tile2d else dsc[..., 0]
    return deq.reshape(m, n), codes, scales, ges


# --- spec checks --------------------------------------------------------------------------------


def test_check9_e2m1_rne_casts():
    """Check 9: 0.25->0, 0.75->1, 1.25->1, 1.75->2, 2.5->2, 3.5->4, 5->4, 7->6 (scale 1)."""
    src = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0]
    want = [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 6.0]
    x = np.zeros(32, dtype=np.float32)
    x[: len(src)] = src
    x[16 : 16 + len(src)] = -np.array(src)
    r = ref(x, "mxfp4")  # amax 7 -> OCP scale 2^(2-2) = 1
    assert r.scales.tolist() == [1.0]
    assert r.values[:8].tolist() == want
    assert r.values[16:24].tolist() == [-w for w in want]
    # the same ties through the NVFP4 path against TE's cast_to_fp4x2 regions
    assert te_cast_to_fp4(np.array(src, dtype=np.float32)).tolist() == [0, 2, 2, 4, 4, 6, 6, 7]


@pytest.mark.parametrize("shape", [(16, 64), (48, 32), (32, 1024)])
@pytest.mark.parametrize("tile2d", [False, True])
def test_check10_nvfp4_scales(rng, shape, tile2d):
    """Check 10: amax block gets 448 and decodes back (<1e-6 rel); scales E4M3 <= 448; E2M1."""
    x = (rng.standard_normal(shape) * rng.uniform(0.01, 100)).astype(np.float32)
    r = ref(x, "nvfp4", tile2d=tile2d)
    i = np.unravel_index(np.argmax(np.abs(x)), x.shape)
    bi = (i[0] // 16, i[1] // 16) if tile2d else (i[0], i[1] // 16)
    assert r.scales[bi] == 448.0
    assert r.values[i] != 0
    assert abs(float(r.values[i]) - float(x[i])) <= 1e-6 * abs(float(x[i]))
    e4m3 = grid("float8_e4m3fn")
    assert np.isin(r.scales, e4m3).all() and (r.scales <= 448).all() and (r.scales >= 0).all()
    assert ((r.codes >= 0) & (r.codes < 16)).all()
    elems = decode("float4_e2m1fn", r.codes)
    assert np.isin(np.abs(elems), E2M1_SET).all()
    rows = shape[0] // 16 if tile2d else shape[0]
    assert r.scales.shape == (rows, shape[1] // 16)


@pytest.mark.parametrize(
    ("amax", "rule", "scale", "decoded"),
    [
        (3.01, "ceil", 1.0, 3.0),  # NVIDIA round-up: 3.01/1 -> 3
        (3.01, "floor", 0.5, 3.0),  # OCP: 3.01/0.5 = 6.02 saturates to 6 -> 3.0
        (7.5, "floor", 1.0, 6.0),  # OCP: 2^(2-2) = 1, 7.5 saturates to 6 (clip error 1.5)
        (7.5, "ceil", 2.0, 8.0),  # round-up: 7.5/2 = 3.75 -> 4 -> 8 (rounding error 0.5)
    ],
)
def test_check11_mxfp4_rule_contrast(amax, rule, scale, decoded):
    x = np.zeros(32, dtype=np.float32)
    x[5] = amax
    x[9] = -0.1
    r = ref(x, "mxfp4", scale_rule=rule)
    assert r.scales.tolist() == [scale]
    assert r.values[5] == decoded


def test_check13_2d_tiles_transpose(rng):
    """Check 13: 16x16 tiles give dequant(Q(W))^T == dequant(Q(W^T)); 1x16 blocks do not."""
    w = rng.standard_normal((64, 96)).astype(np.float32)
    a = ref(w, "nvfp4", tile2d=True)
    b = ref(np.ascontiguousarray(w.T), "nvfp4", tile2d=True)
    assert np.array_equal(a.values.T, b.values)
    assert np.array_equal(a.scales.T, b.scales)
    a1 = ref(w, "nvfp4")
    b1 = ref(np.ascontiguousarray(w.T), "nvfp4")
    assert int((a1.values.T != b1.values).sum()) > 0


# --- independent oracles ------------------------------------------------------------------------


@pytest.mark.parametrize("preset", list(MX_ML))
def test_mx_matches_ocp_oracle(rng, preset):
    x = mixed_blocks(rng, 64, 256, 32)
    # E2M1 ties at scale 1 and 2^-3 in two rows
    ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0], dtype=np.float32)
    x[0] = np.resize(ties, 256) * rng.choice([-1, 1], 256)
    x[1] = x[0] * np.float32(2.0**-3)
    x[2, :32] = 0  # zero block
    want, s = ocp_mx_oracle(x, preset)
    r = ref(x, preset)
    assert np.array_equal(r.values, want)
    assert np.array_equal(r.scales, s)


@pytest.mark.parametrize("tile2d", [False, True])
def test_nvfp4_matches_te_oracle(rng, tile2d):
    x = mixed_blocks(rng, 64, 128, 16, lo=-12, hi=12)
    x[16:32, :16] *= np.float32(1e-7)  # a tile so small its E4M3 scale is 0 (zero-scale corner)
    x[5] = np.resize(np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6], np.float32), 128)
    want, codes, scales, ges = te_nvfp4_oracle(x, tile2d)
    r = ref(x, "nvfp4", tile2d=tile2d)
    assert np.array_equal(r.values, want)
    assert np.array_equal(r.scales, scales)
    assert r.tensor_scale == float(ges)
    # codes agree wherever the block scale is non-zero (TE writes +-6 codes into zero-scale blocks)
    nz = per_elem(scales, 16, axis=-1) if not tile2d else np.repeat(np.repeat(scales, 16, 0), 16, 1)
    assert (nz == 0).any()
    assert np.array_equal(r.codes[nz > 0], codes[nz > 0])


def test_nvfp4_realistic_gaussian_te(rng):
    x = rng.standard_normal((256, 256)).astype(np.float32)
    want, codes, _, _ = te_nvfp4_oracle(x)
    r = ref(x, "nvfp4")
    assert np.array_equal(r.values, want) and np.array_equal(r.codes, codes)


# --- properties ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [p for p in PRESETS if p.startswith("mx")])
def test_mx_scales_are_powers_of_two(rng, preset):
    x = mixed_blocks(rng, 16, 256, 32, lo=-60, hi=60)
    r = ref(x, preset)
    m, e = np.frexp(r.scales.astype(np.float64))
    assert (m == 0.5).all()
    assert ((e - 1 >= -127) & (e - 1 <= 127)).all()
    assert np.array_equal(r.scale_codes, (e - 1 + 127).astype(np.int16))  # UE8M0: exponent + 127


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_equal_codes_times_scales(rng, preset, dtype):
    x = mixed_blocks(rng, 32, 64, 32, lo=-8, hi=8).astype(dtype)
    r = ref(x, preset)
    spec = PRESETS[preset]
    q = decode(spec.elem, r.codes).astype(dtype)
    v = q * per_elem(r.scales.astype(dtype), spec.block)
    if r.tensor_scale is not None:
        v = v / dtype(r.tensor_scale)
    assert r.values.dtype == dtype and r.values.shape == x.shape
    assert np.array_equal(r.values, v)
    assert np.array_equal(decode(spec.scale_fmt, r.scale_codes).astype(np.float32), r.scales)


@pytest.mark.parametrize(
    "spec",
    [
        *[p for p in PRESETS if p.startswith("mx")],
        BlockSpec(block=16, scale_fmt="e4m3", scale_rule=ScaleRule.AMAX),
        BlockSpec(block=16, scale_fmt="ue5m3", scale_rule=ScaleRule.AMAX),
        BlockSpec(scale_rule=ScaleRule.CEIL),
    ],
)
def test_idempotent(rng, spec):
    """Q(Q(x)) == Q(x). AMAX scales are kept in E4M3's normal range (a subnormal scale is too
    coarse: amax/S can fall below 5). CEIL may halve a scale (amax/S in (3, 3.5) rounds to 3)
    while keeping every value."""
    x = mixed_blocks(rng, 16, 64, 32, lo=-4, hi=7)
    r = ref(x, spec)
    r2 = ref(r.values, spec)
    assert np.array_equal(r2.values, r.values)
    if not (isinstance(spec, BlockSpec) and spec.scale_rule is ScaleRule.CEIL):
        assert np.array_equal(r2.scales, r.scales)


def test_axis_argument(rng):
    x = mixed_blocks(rng, 64, 8, 8).T.copy()  # (8, 64)
    x3 = rng.standard_normal((3, 64, 5)).astype(np.float32)
    r = ref(x3, "nvfp4", axis=1)
    assert r.scales.shape == (3, 4, 5) and r.axis == 1
    moved = ref(np.ascontiguousarray(np.moveaxis(x3, 1, -1)), "nvfp4")
    assert np.array_equal(np.moveaxis(r.values, 1, -1), moved.values)
    r0 = ref(x, "mxfp4", axis=0, block=8)
    r1 = ref(np.ascontiguousarray(x.T), "mxfp4", block=8)
    assert np.array_equal(r0.values, r1.values.T)


def test_sr_unbiased_and_seeded(rng):
    """Exact SR on the scaled elements: mean error -> 0 (5 sigma of ulp^2/4 per draw)."""
    block = rng.uniform(-6, 6, 32).astype(np.float32)
    block[0] = 6.0  # CEIL scale exactly 1: no saturation bias
    x = np.tile(block, (4000, 1))
    r = ref(x, "mxfp4", scale_rule="ceil", mode="sr", seed=7)
    assert (r.scales == 1).all()
    err = (r.values - x).astype(np.float64).mean(axis=0)
    sigma = 2.0 / 2 / math.sqrt(x.shape[0])  # E2M1 ulp <= 2 on [4, 6]
    assert np.all(np.abs(err) < 5 * sigma)
    g = grid("float4_e2m1fn")
    below = g[np.searchsorted(g, block, side="right") - 1]
    above = g[np.searchsorted(g, block, side="left")]
    assert np.all((r.values == below) | (r.values == above))
    again = ref(x, "mxfp4", scale_rule="ceil", mode="sr", seed=7)
    other = ref(x, "mxfp4", scale_rule="ceil", mode="sr", seed=8)
    assert np.array_equal(again.values, r.values)
    assert not np.array_equal(other.values, r.values)


def test_srbits_broadcast_and_flat_index():
    """srbits of 0 never rounds away for SRFF; of 2^N-1 always does (inputs off the grid)."""
    x = np.full((2, 32), 1.2, dtype=np.float32)
    x[:, 0] = 6.0
    lo = ref(x, "mxfp4", scale_rule="ceil", mode="srff", rbits=4, srbits=np.zeros(32, np.uint8))
    hi = ref(x, "mxfp4", scale_rule="ceil", mode="srff", rbits=4, srbits=np.full(32, 15))
    assert (lo.values[:, 1:] == 1.0).all() and (hi.values[:, 1:] == 1.5).all()


# --- edge cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", list(PRESETS))
def test_all_zeros(preset):
    x = np.zeros((2, 64), dtype=np.float32)
    r = ref(x, preset)
    assert (r.values == 0).all() and (r.codes == 0).all()
    if preset == "nvfp4":
        assert r.tensor_scale == 1.0 and (r.scales == 0).all()
    else:
        assert (r.scales == 2.0**-127).all() and (r.scale_codes == 0).all()


@pytest.mark.parametrize("preset", ["mxfp4", "mxfp8_e4m3", "nvfp4"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_in_block(rng, preset, bad):
    """A NaN/inf block gets a NaN scale and NaN values; the other blocks are untouched."""
    x = rng.standard_normal((4, 64)).astype(np.float32)
    x[0, 0] = 10.0  # tensor amax outside the bad block
    clean = ref(x, preset)
    x[2, 3] = bad
    r = ref(x, preset)
    b = PRESETS[preset].block
    bad_blk = np.zeros(r.scales.shape, dtype=bool)
    bad_blk[2, 0] = True
    assert np.isnan(r.scales[bad_blk]).all() and np.isnan(r.values[2, :b]).all()
    assert not np.isnan(r.scales[~bad_blk]).any()
    keep = ~per_elem(bad_blk, b)
    assert np.array_equal(r.values[keep], clean.values[keep])
    nan_code = 255 if preset != "nvfp4" else 127 | 128  # E8M0 0xFF; E4M3FN 0xFF
    assert (r.scale_codes[bad_blk] == nan_code).all()
    elem_nan = NO_CODE if PRESETS[preset].elem == "float4_e2m1fn" else 255
    assert (r.codes[2, :b] == elem_nan).all()


def test_e4m3_zero_scale_corner():
    """AMAX rule, E4M3 scale, no tensor scale: amax < 6*2^-10 gives scale 0 and zero values;
    just above it the scale is the E4M3 minimum 2^-9; a tensor scale avoids the corner."""
    spec = BlockSpec(block=16, scale_fmt="float8_e4m3fn", scale_rule=ScaleRule.AMAX)
    x = np.zeros((2, 16), dtype=np.float32)
    x[0, :3] = [5.0e-3, -2e-3, 1e-3]
    x[1, :3] = [6.0e-3, -2e-3, 1e-3]
    r = ref(x, spec)
    assert r.scales.tolist() == [[0.0], [2.0**-9]]
    assert (r.values[0] == 0).all() and (r.codes[0] == np.where(x[0] < 0, 8, 0)).all()
    assert r.values[1, 0] != 0
    rt = ref(x, spec, tensor_scale=True)
    assert (rt.scales > 0).all() and rt.values[0, 0] != 0


def test_tiny_and_huge_amax_mx():
    x = np.zeros((3, 32), dtype=np.float32)
    x[0, 0] = 1e-40  # float32 subnormal: scale clamps to 2^-127
    x[1, 0] = 3e38
    x[2, 0] = 2.0**-127 * 4
    r = ref(x, "mxfp4")
    assert r.scales[0, 0] == 2.0**-127 and r.scales[1, 0] == 2.0**125
    assert r.values[1, 0] == np.float32(6 * 2.0**125)  # 3e38 / 2^125 = 7.05 saturates to 6
    assert r.values[2, 0] == x[2, 0]


def test_ue5m3_and_other_scale_formats(rng):
    x = mixed_blocks(rng, 8, 64, 16, lo=-20, hi=20)
    for fmt in ["ue5m3", "ue5m3_ieee", "ue4m3", "float8_e4m3fn", "float8_e8m0fnu"]:
        r = ref(x, "nvfp4", scale_fmt=fmt, tensor_scale=False)
        assert np.isin(r.scales, grid(fmt).astype(np.float32)).all()
        assert np.array_equal(
            decode(fmt, r.scale_codes).astype(np.float32), r.scales
        )
        assert r.tensor_scale is None
    big = np.full((1, 16), 1e4, np.float32)
    assert ref(big, "nvfp4", scale_fmt="ue5m3", tensor_scale=False).scales[0, 0] == 1664.0


def test_any_element_format(rng):
    x = mixed_blocks(rng, 4, 64, 16, lo=-5, hi=5)
    for elem in ["e4m3", "int8", "int4_sym", "bfloat16", "float16", "e2m1"]:
        r = ref(x, "mxfp4", elem=elem, block=16)
        vals = all_values(elem)
        assert np.isin(decode(elem, r.codes), vals).all()
        assert np.all(np.abs(r.values - x) <= np.abs(x).max())


def test_empty_input():
    r = ref(np.zeros((0, 32), np.float32), "nvfp4")
    assert r.values.shape == (0, 32) and r.scales.shape == (0, 2)


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "kw", "match"),
    [
        (np.zeros((2, 30), np.float32), {}, "block size 32 does not divide"),
        (np.zeros((2, 32), np.float32), {"spec": "mxfp5"}, "unknown block preset 'mxfp5'"),
        (np.zeros((2, 32), np.float32), {"axis": 2}, "axis=2 out of range"),
        (np.zeros((2, 32), np.int32), {}, "dtype int32"),
        (np.zeros((2, 32), np.float16), {}, "dtype float16"),
        (np.zeros((2, 32), np.float32), {"colour": 3}, "unknown BlockSpec field"),
        (np.zeros((2, 32), np.float32), {"scale_rule": "round"}, "unknown scale rule 'round'"),
        (np.zeros((2, 32), np.float32), {"elem": "e9m9"}, "e9m9"),
        (np.zeros((2, 32), np.float32), {"block": 0}, "block=0"),
        (np.zeros((2, 32), np.float32), {"mode": "sr"}, "needs seed"),
        (np.zeros((2, 32), np.float32), {"mode": "nearest"}, "'nearest'"),
        (np.zeros((16, 32), np.float32), {"spec": "nvfp4", "tile2d": True, "axis": 0, "x3": 1}, ""),
        (np.zeros((20, 32), np.float32), {"spec": "nvfp4", "tile2d": True}, "tile 16x16"),
        (np.zeros((2, 32), np.float32), {"backend": "gpu"}, "backend 'gpu'"),
    ],
)
def test_errors(x, kw, match):
    kw = dict(kw)
    if kw.pop("x3", None):
        x = np.zeros((2, 16, 32), np.float32)
        match = "tile2d tiles the last two axes"
    spec = kw.pop("spec", "mxfp4")
    with pytest.raises(ValueError, match=match):
        quantize_blocks(x, spec, **kw)


def test_reference_function_is_public(rng):
    x = rng.standard_normal((4, 32)).astype(np.float32)
    assert np.array_equal(quantize_blocks_reference(x).values, ref(x).values)


# --- numpy reference == numba kernel, bit for bit -----------------------------------------------


def assert_same(a, b):
    assert a.values.dtype == b.values.dtype and a.codes.dtype == b.codes.dtype
    assert np.array_equal(a.values, b.values, equal_nan=True)
    assert np.array_equal(np.signbit(a.values), np.signbit(b.values))  # -0.0 kept alike
    assert np.array_equal(a.codes, b.codes)
    assert np.array_equal(a.scales, b.scales, equal_nan=True)
    assert np.array_equal(a.scale_codes, b.scale_codes)
    assert a.tensor_scale == b.tensor_scale


def hostile(rng, shape, block, dtype=np.float32):
    """Mixed magnitudes plus a zero block, a NaN block, an inf block, tiny and E2M1-tie blocks."""
    x = rng.standard_normal(shape) * 2.0 ** rng.integers(-40, 40, size=shape)
    flat = x.reshape(-1)
    n = flat.size
    if n >= 6 * block:
        flat[:block] = 0.0
        flat[block + 3] = np.nan
        flat[2 * block + 1] = -np.inf
        flat[3 * block : 4 * block] *= 1e-30
        flat[4 * block : 5 * block] = rng.choice([0.25, 0.75, 1.25, 2.5, 3.5, 5.0, 6.0], block)
        flat[5 * block] = -0.0
    return x.astype(dtype)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_equals_reference_presets(rng, preset, dtype):
    b = PRESETS[preset].block
    for shape in [(4, 8 * b), (3, 2, 6 * b), (6 * b,)]:
        x = hostile(rng, shape, b, dtype)
        assert_same(ref(x, preset), quantize_blocks(x, preset, backend="numba"))


@pytest.mark.parametrize(
    "kw",
    [
        {"axis": 0},
        {"axis": 1, "block": 16},
        {"tile2d": True},
        {"tile2d": True, "axis": -2, "tensor_scale": False},
        {"scale_rule": "ceil"},
        {"scale_rule": "floor", "scale_fmt": "e4m3"},
        {"scale_fmt": "ue5m3"},
        {"scale_fmt": "ue5m3_ieee", "tensor_scale": False},
        {"scale_fmt": "e8m0", "scale_rule": "amax"},
        {"elem": "e4m3fnuz"},
        {"elem": "int8", "scale_rule": "ceil"},
        {"elem": "e2m1", "block": 8, "tensor_scale": False},
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_equals_reference_configs(rng, kw, dtype):
    x = hostile(rng, (96, 64), 16, dtype)
    assert_same(ref(x, "nvfp4", **kw), quantize_blocks(x, "nvfp4", backend="numba", **kw))


@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "sr", "seed": 0},
        {"mode": "sr", "seed": 2**63 - 1},
        {"mode": "srff", "rbits": 3, "seed": 11},
        {"mode": "srf", "rbits": 8, "seed": 12},
        {"mode": "src", "rbits": 5, "srbits": "random"},
        {"mode": "sro", "rbits": 2, "srbits": "random"},
        {"mode": "srff", "rbits": 4, "srbits": "random"},
        {"mode": "rna"},
        {"mode": "rtz"},
        {"mode": "rdn"},
    ],
)
@pytest.mark.parametrize("preset", ["mxfp4", "nvfp4", "mxfp8_e5m2"])
def test_numba_equals_reference_rounding_modes(rng, kw, preset):
    kw = dict(kw)
    x = hostile(rng, (8, 192), 32)
    if kw.get("srbits") == "random":
        kw["srbits"] = rng.integers(0, 2 ** kw["rbits"], size=x.shape[-1])  # broadcast rows
    a = ref(x, preset, **kw)
    b = quantize_blocks(x, preset, backend="numba", **kw)
    assert_same(a, b)
    if kw.get("mode", "").startswith("sr") and "seed" in kw:
        c = quantize_blocks(x, preset, backend="numba", **{**kw, "seed": kw["seed"] ^ 1})
        assert not np.array_equal(c.values, b.values, equal_nan=True)


def test_numba_random_shapes(rng):
    for _ in range(12):
        b = int(rng.choice([2, 4, 8, 16, 32]))
        ndim = int(rng.integers(1, 4))
        shape = [int(rng.integers(1, 4)) for _ in range(ndim)]
        axis = int(rng.integers(-ndim, ndim))
        shape[axis] *= b * int(rng.integers(1, 3))
        x = hostile(rng, tuple(shape), b)
        preset = str(rng.choice(list(PRESETS)))
        assert_same(
            ref(x, preset, axis=axis, block=b),
            quantize_blocks(x, preset, axis=axis, block=b, backend="numba"),
        )


def test_auto_backend_is_numba_for_presets(rng):
    x = rng.standard_normal((4, 64)).astype(np.float32)
    assert_same(quantize_blocks(x, "nvfp4"), quantize_blocks(x, "nvfp4", backend="numba"))
