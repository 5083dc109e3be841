"""Block quantization never returns +-inf for a finite input (blocks.elem_caps, tensor_scale).

For every preset, scale rule, tensor-scale setting and element format, on all three backends
(numpy reference, numba, torch), inputs at and near +-FLT_MAX (and +-DBL_MAX for float64) give
finite values, the backends agree bit for bit, and the saturated values are what the rule says:
the largest-magnitude finite dequantized value of the block, found here by enumerating every
code of the element format (an oracle independent of the cap search in the library).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from lowbit_core import torch as lt
from lowbit_core.blocks import (
    PRESETS,
    BlockSpec,
    ScaleRule,
    quantize_blocks,
    quantize_blocks_reference,
    resolve_spec,
)
from lowbit_core.formats import decode, get_format

F32MAX = float(np.finfo(np.float32).max)
ELEMS = [
    "float4_e2m1fn",
    "float6_e3m2fn",
    "float6_e2m3fn",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "ue4m3",
    "ue5m3",
    "float16",
    "bfloat16",
    "int8",
    "int4",
    "int8_sym",
    "uint4",
]
RULES = [ScaleRule.FLOOR, ScaleRule.CEIL, ScaleRule.AMAX]


def _inputs(dtype: Any, block: int) -> np.ndarray:
    """Four blocks per row, 2 rows: all +max, all -max, a mix near max, random large values."""
    big = float(np.finfo(dtype).max)
    r = np.random.default_rng(5)
    mix = np.resize(np.array([big, -big, 3e38, -2.98e38, 0.999 * big, -0.9 * big, 1.0, 0.0]), block)
    rand = r.uniform(0.5, 1.0, block) * big * r.choice([-1.0, 1.0], block)
    row = np.concatenate([np.full(block, big), np.full(block, -big), mix, rand])
    return np.stack([row, row[::-1]]).astype(dtype)


def _all_backends(x: np.ndarray, spec: BlockSpec, **kw: Any) -> list[Any]:
    ref = quantize_blocks_reference(x, spec, **kw)
    nb = quantize_blocks(x, spec, backend="numba", **kw)
    tr = lt.quantize_blocks(torch.from_numpy(x), spec, **kw)
    return [ref, nb, tr]


def _grid(elem: str) -> np.ndarray:
    f = get_format(elem)
    v = decode(f, np.arange(f.num_codes))
    return np.unique(v[np.isfinite(v)])


def _check(x: np.ndarray, spec: BlockSpec, **kw: Any) -> None:
    ref, nb, tr = _all_backends(x, spec, **kw)
    v = ref.values
    assert np.isfinite(v).all(), f"{spec.describe()} {kw}: {v[~np.isfinite(v)][:4]}"
    for name, other in (("numba", nb), ("torch", tr)):
        ov = np.asarray(other.values)
        assert np.array_equal(v.view(np.uint8), ov.view(np.uint8)), f"{name} {spec.describe()}"
        assert np.array_equal(ref.scales, np.asarray(other.scales)), name
        assert ref.tensor_scale == other.tensor_scale, name
        if kw.get("mode", "rne") == "rne":  # the torch codes come from the same q
            assert np.array_equal(ref.codes, np.asarray(other.codes)), f"{name} codes"
    if kw.get("mode", "rne") != "rne":
        return
    # oracle: per block, the finite dequantized values of every code; saturation at the top
    wd = x.dtype.type
    g = _grid(spec.elem)
    s_enc = wd(ref.tensor_scale if spec.tensor_scale else 1.0)
    b = spec.block
    for r in range(x.shape[0]):
        for k in range(x.shape[1] // b):
            s = wd(ref.scales[r, k])
            with np.errstate(over="ignore"):
                d = (g.astype(wd) * s) / s_enc if spec.tensor_scale else g.astype(wd) * s
            d = d[np.isfinite(d)]
            xs, vs = x[r, k * b : (k + 1) * b], v[r, k * b : (k + 1) * b]
            assert np.isin(vs, np.append(d, 0.0)).all(), "a value off the dequantized grid"
            top, bottom = d.max(), d.min()
            assert np.all(vs[xs >= top] == top), f"{spec.describe()}: + not saturated at {top}"
            if bottom < 0:
                assert np.all(vs[xs <= bottom] == bottom), f"{spec.describe()}: - at {bottom}"


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("ts", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_presets_at_the_dtype_max(preset: str, rule: ScaleRule, ts: bool, dtype: Any) -> None:
    spec = resolve_spec(preset, scale_rule=rule, tensor_scale=ts)
    _check(_inputs(dtype, spec.block), spec)


@pytest.mark.parametrize("elem", ELEMS)
@pytest.mark.parametrize("scale", [("float8_e8m0fnu", 32), ("float8_e4m3fn", 16), ("ue5m3", 16)])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("ts", [False, True])
def test_every_element_format_at_float32_max(
    elem: str, scale: tuple[str, int], rule: ScaleRule, ts: bool
) -> None:
    spec = BlockSpec(
        elem=elem, block=scale[1], scale_fmt=scale[0], scale_rule=rule, tensor_scale=ts
    )
    _check(_inputs(np.float32, spec.block), spec)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize(
    "kw",
    [
        {"mode": "sr", "seed": 3},
        {"mode": "srff", "rbits": 4, "seed": 4},
        {"mode": "src", "rbits": 2, "srbits": "random"},
        {"mode": "rtz"},
        {"mode": "rup"},
    ],
)
@pytest.mark.parametrize("rule", RULES)
def test_stochastic_and_directed_modes_at_float32_max(
    preset: str, kw: dict[str, Any], rule: ScaleRule
) -> None:
    spec = resolve_spec(preset, scale_rule=rule)
    x = _inputs(np.float32, spec.block)
    kw = dict(kw)
    if kw.get("srbits") == "random":
        kw["srbits"] = np.random.default_rng(1).integers(0, 4, x.shape)
    _check(x, spec, **kw)


def test_reported_cases() -> None:
    """The two cases of the report: MXFP4 with the ceil rule at 3e38 (was inf on every backend)
    and INT8 elements under the OCP rule at -FLT_MAX (was -inf)."""
    x = np.full((1, 32), 3e38, np.float32)
    for r in _all_backends(x, resolve_spec("mxfp4", scale_rule="ceil")):
        # S = 2^126; E2M1's 4 * 2^126 = 2^128 overflows, so the cap is 3 * 2^126
        assert float(np.asarray(r.values)[0, 0]) == 3 * 2.0**126
    x = np.full((1, 32), -F32MAX, np.float32)
    for r in _all_backends(x, resolve_spec("mxfp4", elem="int8")):
        # S = 2^127; MX INT8 is k/64 for k in -128..127: -2 * 2^127 overflows, -127/64 does not
        assert float(np.asarray(r.values)[0, 0]) == -127 / 64 * 2.0**127


def test_tensor_scale_with_ue8m0_keeps_ordinary_values() -> None:
    """UE8M0 max (2^127) * elem max overflows float32: the tensor scale used to become FLT_MAX
    and 1.0 came back as 0.875 (reference) or inf (numba). Now amax_t * s_enc <= FLT_MAX / 2
    (headroom for any rule's rounding up) and a small block comes back within the FLOOR rule's
    saturation loss."""
    x = np.resize(np.array([1.0, 2.0, 3.0, 0.5], np.float32), (1, 32))
    for res in _all_backends(x, resolve_spec("mxfp8_e4m3", tensor_scale=True)):
        v = np.asarray(res.values)
        assert np.isfinite(v).all()
        assert res.tensor_scale is not None and np.isfinite(res.tensor_scale)
        assert np.float32(3.0) * np.float32(res.tensor_scale) <= np.float32(F32MAX / 2)
        # OCP FLOOR maps the amax into [2^8, 2^9): above E4M3's 448 it saturates (by <= 512/448)
        assert np.all(np.abs(v - x) <= np.abs(x) * (1 - 448 / 512) + 1e-7)
    # with E4M3 scales (NVFP4) the tensor scale is TE's: scale_max * elem_max / amax
    res = quantize_blocks_reference(x, "nvfp4")
    assert res.tensor_scale == float(np.float32(448 * 6) / np.float32(3.0))
