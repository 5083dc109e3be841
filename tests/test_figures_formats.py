"""Pure helpers and plotly builders of the Formats page, against independent oracles.

Oracles: ``lowbit_core.grid`` / ``all_values`` (exhaustive code tables), ``quantize`` and
``round_distribution`` (the rounding the bins describe), numpy's float32 bit view and
``np.nextafter`` (float32 is too wide for a table), ``fractions.Fraction`` (exact decimals) and
``quantize_blocks`` (block demo).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from lowbit_core.blocks import ScaleRule, quantize_blocks
from lowbit_core.formats import FORMATS, FloatFormat, all_values, decode, grid
from lowbit_core.rounding import quantize, round_distribution
from tests.conftest import HALF_FLOATS, SMALL_FLOATS
from ui import figures_formats as ff
from ui import params
from ui.params_formats import FormatsParams, bias_range, build_format

TABLE_FORMATS = SMALL_FLOATS + HALF_FLOATS
F32 = FORMATS["float32"]
#: Custom formats the page can build: odd biases, no-inf specials, unsigned, one exponent bit.
CUSTOMS = [
    build_format("custom", 3, 2, 5, "ieee", True),
    build_format("custom", 2, 0, -2, "none", True),
    build_format("custom", 1, 3, 0, "none", False),
    build_format("custom", 4, 1, 12, "fnuz", True),
    build_format("custom", 5, 2, -8, "fn", False),
]


def fmt(name: str) -> FloatFormat:
    f = FORMATS[name]
    assert isinstance(f, FloatFormat)
    return f


def _all(f: FloatFormat) -> np.ndarray:
    return decode(f, np.arange(f.num_codes))


def _grid(f: FloatFormat) -> np.ndarray:
    v = _all(f)
    return np.unique(v[np.isfinite(v)])


# --- codes and ordinals ------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_ordinals_enumerate_the_grid(name: str) -> None:
    """value_at over the whole ordinal range is exactly grid(): sorted, complete, no repeats."""
    f = fmt(name)
    lo, hi = ff.ordinal_range(f)
    np.testing.assert_array_equal(ff.value_at(f, np.arange(lo, hi + 1)), grid(f))


@pytest.mark.parametrize("f", CUSTOMS, ids=lambda f: f.name)
def test_ordinals_enumerate_custom_grids(f: FloatFormat) -> None:
    lo, hi = ff.ordinal_range(f)
    np.testing.assert_array_equal(ff.value_at(f, np.arange(lo, hi + 1)), _grid(f))


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_mag_code_inverts_decode(name: str) -> None:
    f = fmt(name)
    vals = all_values(f)
    half = f.num_codes // 2 if f.signed else f.num_codes
    codes = np.arange(half)
    keep = np.isfinite(vals[:half]) & ~((vals[:half] == 0) & (codes != 0))
    np.testing.assert_array_equal(ff.mag_code(f, vals[:half][keep]), codes[keep])


def test_float32_ordinals_match_the_bit_view() -> None:
    """float32 (no table): ordinals are the IEEE bit patterns, neighbours are np.nextafter."""
    ks = np.array([0, 1, 2, 0x007FFFFF, 0x00800000, 0x3F800000, 0x3F800001, 0x7F7FFFFF])
    want = ks.astype(np.uint32).view(np.float32).astype(np.float64)
    np.testing.assert_array_equal(ff.value_at(F32, ks), want)
    np.testing.assert_array_equal(ff.value_at(F32, -ks), -want)
    assert ff.ordinal_range(F32) == (-0x7F7FFFFF, 0x7F7FFFFF)
    for v in [1.0, 0.1, -3.5, 1e-40, 65504.0]:
        c = ff.code_of(F32, float(np.float32(v)))
        assert c == int(np.array([v], np.float32).view(np.uint32)[0])
        up = float(decode(F32, ff.step_code(F32, c, +1)))
        down = float(decode(F32, ff.step_code(F32, c, -1)))
        assert up == float(np.nextafter(np.float32(v), np.float32(np.inf)))
        assert down == float(np.nextafter(np.float32(v), np.float32(-np.inf)))


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_step_code_walks_to_grid_neighbours(name: str) -> None:
    f = fmt(name)
    g = grid(f)
    vals = all_values(f)
    for code in range(0, f.num_codes, max(1, f.num_codes // 512)):
        v = vals[code]
        if not np.isfinite(v):
            assert ff.step_code(f, code, 1) == code  # NaN / inf stay put
            continue
        i = int(np.searchsorted(g, v))
        up = vals[ff.step_code(f, code, 1)]
        down = vals[ff.step_code(f, code, -1)]
        assert up == (g[i + 1] if i + 1 < g.size else v)
        assert down == (g[i - 1] if i > 0 else v)


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_window_is_a_slice_of_the_grid(name: str) -> None:
    f = fmt(name)
    g = grid(f)
    for center, count in [(1.0, 16), (0.0, 7), (-1e30, 5), (1e30, 9), (0.3, 4096)]:
        vals, complete = ff.window(f, center, count)
        n = min(count, g.size)
        assert vals.size == n
        i = int(np.searchsorted(g, vals[0]))
        np.testing.assert_array_equal(vals, g[i:i + n])
        assert complete == (n == g.size)
        if n < g.size and g[0] < center < g[-1]:
            assert vals[0] <= center <= vals[-1]


# --- the bit view --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_code_info_classes_and_exact_values(name: str) -> None:
    f = fmt(name)
    vals = all_values(f)
    for code in range(0, f.num_codes, max(1, f.num_codes // 256)):
        info = ff.code_info(f, code)
        v = vals[code]
        assert info.bits == format(code, f"0{f.bits}b")
        if np.isnan(v):
            assert info.kind == "NaN"
            continue
        assert info.value == v
        if np.isinf(v):
            assert info.kind == "inf"
            continue
        assert Fraction(Decimal(info.exact)) == Fraction(float(v))
        expected = ("zero" if v == 0 else "subnormal" if abs(v) < f.min_normal else "normal")
        assert info.kind == expected
        assert info.formula.endswith(ff.short(float(v)))


def test_code_info_formula_by_hand() -> None:
    info = ff.code_info(fmt("float8_e4m3fn"), 0b1_1001_011)
    assert info.value == -5.5 and info.sign == 1 and info.efield == 9 and info.mfield == 3
    assert "2^{9-7}" in info.formula and "1.011_2" in info.formula and "1.375" in info.formula
    sub = ff.code_info(fmt("float8_e4m3fn"), 0b0_0000_001)
    assert sub.kind == "subnormal" and "2^{1-7}" in sub.formula and "0.001_2" in sub.formula
    assert sub.exact == "0.001953125"
    assert ff.code_info(F32, 0x00000001).exact == format(Decimal(2.0**-149), "f")


def test_bit_fields_layout() -> None:
    assert [c for _, c in ff.bit_fields(fmt("float8_e5m2"))] == [
        "s", "e4", "e3", "e2", "e1", "e0", "m1", "m0"]
    assert [k for k, _ in ff.bit_fields(fmt("float8_e8m0fnu"))] == ["exponent"] * 8


@pytest.mark.parametrize(
    ("old", "new", "code", "want"),
    [
        ("float8_e4m3fn", "bfloat16", 0x38, 0x3F80),  # 1.0 stays 1.0
        ("bfloat16", "float8_e4m3fn", 0x7F80, 0x7E),  # +inf -> max (E4M3FN has no inf)
        ("bfloat16", "float8_e5m2", 0x7F80, 0x7C),  # +inf -> +inf
        ("float8_e5m2", "float8_e4m3fn", 0x7F, 0x7F),  # NaN -> NaN
        ("float8_e4m3fn", "float4_e2m1fn", 0xFF, 0x0),  # NaN -> 0 (E2M1 has no NaN)
        ("float8_e4m3fn", "float8_e5m2", 0x7E, 0x5F),  # 448 -> 448
        ("float16", "float8_e4m3fn", 0x7BFF, 0x7E),  # 65504 -> saturates to 448
    ],
)
def test_carry_code(old: str, new: str, code: int, want: int) -> None:
    assert ff.carry_code(fmt(old), fmt(new), code) == want


# --- a typed real number -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "bfloat16",
                                  "float8_e8m0fnu", "ue4m3"])
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "rup", "rdn"])
def test_stored_matches_quantize_and_grid(name: str, mode: str) -> None:
    f = fmt(name)
    g = grid(f)
    for x in [0.3, -0.3, 1.0, 1.7, 1e-3, -250.0, 1e6, 0.0]:
        s = ff.stored(f, x, mode)
        q = float(quantize(np.array([x]), f, mode)[0])
        assert s.value == q and s.lo == s.hi == q
        assert s.abs_err == abs(q - x)
        i = int(np.searchsorted(g, q))
        assert (math.isnan(s.next_up) and i == g.size - 1) or s.next_up == g[i + 1]
        assert (math.isnan(s.next_down) and i == 0) or s.next_down == g[i - 1]
        a = float(quantize(np.array([abs(x)]), f, "rdn")[0])  # ulp: gap around |x|
        j = min(int(np.searchsorted(g, a)), g.size - 2)
        assert s.ulp == g[j + 1] - g[j]
        assert bool(s.overflow) == (abs(x) > f.max and (x > 0 or f.signed))


def test_stored_ulp_is_eps_in_the_unit_binade() -> None:
    for name in ["float8_e4m3fn", "float8_e5m2", "bfloat16", "float16", "float32"]:
        assert ff.stored(fmt(name), 1.3, "rne").ulp == fmt(name).eps


def test_stored_sr_is_the_exact_distribution() -> None:
    f = fmt("float8_e4m3fn")
    s = ff.stored(f, 0.3, "sr")
    d = round_distribution(np.array([0.3]), f, "sr")
    assert (s.lo, s.hi, s.p_hi) == (d.lo[0], d.hi[0], d.p_hi[0])
    assert s.lo < 0.3 < s.hi and s.lo + s.p_hi * (s.hi - s.lo) == pytest.approx(0.3, rel=1e-12)


# --- rounding bins --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn",
                                  "float6_e3m2fn", "float8_e8m0fnu", "ue4m3", "float8_e4m3fnuz"])
@pytest.mark.parametrize("mode", ["rne", "rna", "rtz", "rup", "rdn"])
def test_rounding_bins_agree_with_quantize(name: str, mode: str) -> None:
    """At each finite edge: the edge itself rounds to the value iff the edge is closed; the
    nearest float64 inside rounds to it, the nearest outside does not."""
    f = fmt(name)
    vals, _ = ff.window(f, 0.0, 4096)
    bins = ff.rounding_bins(f, vals, mode)
    assert bins["lo"].iloc[0] == -np.inf and bins["hi"].iloc[-1] == np.inf  # saturating
    np.testing.assert_array_equal(bins["hi"].to_numpy()[:-1], bins["lo"].to_numpy()[1:])
    v = bins["value"].to_numpy()
    for edge_col, closed_col, inward in (("lo", "lo_closed", np.inf), ("hi", "hi_closed", -np.inf)):
        edge = bins[edge_col].to_numpy()
        fin = np.isfinite(edge)
        e, want, closed = edge[fin], v[fin], bins[closed_col].to_numpy()[fin]
        inside, outside = np.nextafter(e, inward), np.nextafter(e, -inward)
        np.testing.assert_array_equal(quantize(e, f, mode) == want, closed)
        off = e != want  # rup/rdn/rtz: the value is its own (closed) edge
        np.testing.assert_array_equal(quantize(inside[off], f, mode), want[off])
        assert not np.any(quantize(outside, f, mode) == want)


def test_sr_bins_are_the_neighbours() -> None:
    f = fmt("float4_e2m1fn")
    vals, _ = ff.window(f, 0.0, 64)
    bins = ff.rounding_bins(f, vals, "sr")
    np.testing.assert_array_equal(bins["lo"].to_numpy()[1:], vals[:-1])
    np.testing.assert_array_equal(bins["hi"].to_numpy()[:-1], vals[1:])
    # a real strictly inside (lo, hi) rounds to the value with probability 1 - |x - v| / gap
    lo_a, v_a, hi_a = (bins[c].to_numpy()[1:-1] for c in ("lo", "value", "hi"))
    for lo, v, hi in zip(lo_a, v_a, hi_a, strict=True):
        for x in (lo + 0.25 * (v - lo), v + 0.5 * (hi - v)):
            d = round_distribution(np.array([x]), f, "sr")
            p_v = float(d.p_hi[0]) if d.hi[0] == v else 1 - float(d.p_hi[0])
            gap = (v - lo) if x < v else (hi - v)
            assert p_v == pytest.approx(1 - abs(x - v) / gap, abs=1e-12)


def test_number_line_log_view_keeps_positive_values() -> None:
    f = fmt("float8_e4m3fn")
    bins, complete = ff.number_line(f, 1.0, 4096, "rne", log_view=True)
    assert complete
    np.testing.assert_array_equal(bins["value"].to_numpy(), grid(f)[grid(f) > 0])


# --- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL_FLOATS)
def test_value_table_is_every_code(name: str) -> None:
    f = fmt(name)
    text, kinds = ff.value_table(f)
    assert text.shape == (max(1, f.num_codes // 16), min(16, f.num_codes))
    flat = text.to_numpy().ravel()
    vals = all_values(f)
    for c in range(f.num_codes):
        if np.isnan(vals[c]):
            assert flat[c] == "NaN" and kinds.to_numpy().ravel()[c] == "NaN"
        else:
            assert float(flat[c]) == vals[c]
    html = ff.value_table_html(text, kinds)
    assert html.count("<td") == f.num_codes
    assert all(f"= {t}'>" in html for t in flat)  # every exact value is in a tooltip


def test_value_table_rejects_wide_formats() -> None:
    with pytest.raises(ValueError, match="8 bits"):
        ff.value_table(fmt("bfloat16"))


@pytest.mark.parametrize("name", TABLE_FORMATS)
def test_properties_code_counts(name: str) -> None:
    f = fmt(name)
    vals = all_values(f)
    col = ff.properties([name]).iloc[:, 0]
    assert int(col["finite codes"]) == int(np.isfinite(vals).sum())
    assert int(col["NaN codes"]) == int(np.isnan(vals).sum())
    assert (col["inf"] == "±inf") == bool(np.isinf(vals).any())


def test_properties_overflow_and_ranges() -> None:
    df = ff.properties(["float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "int8"])
    row = list(df.loc["overflow (cast)"])
    assert row[0] == "NaN" and row[1] == "inf" and row[2].startswith("max")
    assert list(df.loc["max"])[:3] == ["448", "57344", "6"]
    assert df.shape == (15, 4)


# --- block formats --------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["mxfp4", "nvfp4", "mxfp8_e4m3"])
def test_block_demo_is_quantize_blocks(preset: str) -> None:
    elements, blocks, errors, ts = ff.block_demo(preset, 2, 20.0, 5, 7)
    x = np.random.default_rng(7).standard_normal(64).astype(np.float32)
    x[5] = 20.0
    np.testing.assert_array_equal(elements["x"].to_numpy(), x)
    res = quantize_blocks(x, preset)
    np.testing.assert_array_equal(elements["value"].to_numpy(), res.values)
    np.testing.assert_array_equal(elements["code"].to_numpy(), res.codes)
    np.testing.assert_array_equal(blocks["scale"].to_numpy(), res.scales)
    assert ts == res.tensor_scale
    for rule in ScaleRule:
        e = errors[errors["rule"] == rule.value]["error"].to_numpy()
        r = quantize_blocks(x, preset, scale_rule=rule)
        np.testing.assert_array_equal(e, r.values.astype(np.float64) - x)
    if preset != "mxfp8_e4m3":  # FP4: the outlier's block has the largest rms error
        assert int(blocks["rmse"].to_numpy().argmax()) == int(elements["block"].iloc[5])


# --- figures --------------------------------------------------------------------------------------


def test_number_line_figure_traces() -> None:
    f = fmt("float8_e5m2")
    bins, _ = ff.number_line(f, 1.0, 64, "rne", False)
    fig = ff.number_line_figure(bins, "rne", False, x=0.3)
    names = [t.name for t in fig.data]
    assert names[:2] == ["rounding bins", "(next bin)"] and names[-1] == "x"
    xs = np.concatenate([np.asarray(t.x) for t in fig.data if t.mode == "markers"])
    np.testing.assert_array_equal(np.sort(xs), bins["value"].to_numpy())
    tri = ff.number_line_figure(bins, "sr", True)
    assert tri.layout.xaxis.type == "log" and len(np.asarray(tri.data[0].x)) % 4 == 0


def test_block_error_figure_traces() -> None:
    _, _, errors, _ = ff.block_demo("nvfp4", 1, -9.0, 0, 0)
    fig = ff.block_error_figure(errors, 16, "amax", "t")
    assert [t.name.split()[0] for t in fig.data] == ["floor", "ceil", "amax"]  # own rule last
    assert len(fig.layout.shapes) == 1  # one boundary between the two 16-element blocks
    np.testing.assert_array_equal(
        np.asarray(fig.data[2].y), errors[errors["rule"] == "amax"]["error"].to_numpy())


# --- params ---------------------------------------------------------------------------------------


def test_params_defaults_and_round_trip() -> None:
    p = FormatsParams()
    assert p.format().name == "float8_e4m3fn" and float(decode(p.format(), p.code)) == 1.0
    q, msgs = params.from_query(FormatsParams, params.to_query(p))
    assert q == p and msgs == []


@pytest.mark.parametrize(
    "query",
    [
        {"fmt": "float4_e2m1fn", "code": "300"},  # code wider than the format
        {"fmt": "custom", "ebits": "2", "bias": "99"},  # bias outside bias_range(2)
        {"fmt": "custom", "signed": "0", "specials": "fnuz"},  # fnuz needs a sign bit
        {"groups": "1", "outlier_at": "200"},
    ],
)
def test_params_cross_field_fallback(query: dict[str, str]) -> None:
    p, msgs = params.from_query(FormatsParams, query)
    assert p == FormatsParams() and len(msgs) == 1 and "invalid" in msgs[0]


def test_params_hostile_values_clamp() -> None:
    p, msgs = params.from_query(FormatsParams, {
        "fmt": "float99", "count": "1e9", "x": "nan", "compare": ["bfloat16", "x", "int8"] * 3,
        "code": "-5", "mode": "RTZ"})
    assert p.fmt == "float8_e4m3fn" and p.count == 2048 and p.x == 0.3 and p.code == 0
    assert p.compare == ("bfloat16", "int8") and p.mode == "rtz" and len(msgs) >= 4


def test_bias_range_holds_the_ieee_bias() -> None:
    for e in range(1, 9):
        lo, hi = bias_range(e)
        assert lo <= (1 << (e - 1)) - 1 <= hi
        for b in (lo, hi):  # every corner of the custom space builds a usable format
            f = build_format("custom", e, 10, b, "ieee" if e > 1 else "none", True)
            assert math.isfinite(f.max) and f.min_subnormal > 0
