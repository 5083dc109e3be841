"""AppTest for the Formats page (through app.py): renders, URL -> widgets, widgets -> URL, chart
data equals what lowbit_core computes for the same parameters, hostile links fall back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.blocks import ScaleRule, quantize_blocks
from lowbit_core.formats import FORMATS, decode, grid
from lowbit_core.rounding import quantize
from tests.apptools import chart_specs, open_page, plotly_array, url_values
from ui.params import from_query, to_query
from ui.params_formats import FMT_CHOICES, FormatsParams

pytestmark = pytest.mark.app

PAGE = "app_pages/formats.py"
K = "formats."


def _page(query: dict[str, Any] | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=120)


def _arr(a: Any) -> np.ndarray:
    return plotly_array(a).astype(float)






def _markers(spec: dict[str, Any]) -> np.ndarray:
    """All value markers of the number line (one trace per class), sorted."""
    xs = [_arr(t["x"]) for t in spec["data"] if t.get("mode") == "markers"]
    return np.sort(np.concatenate(xs))


def test_default_page_renders() -> None:
    at = _page()
    assert not at.exception and not at.error and not at.warning
    charts = chart_specs(at)
    assert len(charts) == 2  # number line, block errors
    assert [m.value for m in at.metric][:2] == ["1.0", "normal"]
    assert at.text_input(key="formats._hex").value == "0x38"
    assert url_values(at, "fmt") == ["float8_e4m3fn"] and url_values(at, "v") == ["1"]
    assert len(at.get("html")) == 1  # the 16x16 value table of E4M3
    # the default number line shows every finite E4M3 value
    np.testing.assert_array_equal(_markers(charts[0]), grid("float8_e4m3fn"))


def test_url_sets_widgets_and_number_line_equals_core() -> None:
    p = FormatsParams(fmt="bfloat16", code=0x3F80, x=0.1, mode="rtz", center=3.0, count=64,
                      compare=("float16", "int8"), block_fmt="nvfp4", groups=1, outlier=-9.0,
                      outlier_at=3, seed=11)
    at = _page(to_query(p))
    assert not at.exception and not at.warning
    assert at.selectbox(key=K + "fmt").value == "bfloat16"
    assert at.number_input(key=K + "code").value == 0x3F80
    assert at.number_input(key=K + "x").value == 0.1
    assert at.selectbox(key=K + "mode").value == "rtz"
    assert at.slider(key=K + "count").value == 64
    assert at.multiselect(key=K + "compare").value == ["float16", "int8"]
    assert at.selectbox(key=K + "block_fmt").value == "nvfp4"
    line, blocks = chart_specs(at)
    # 64 consecutive bf16 values around 3.0 (32 below the value <= 3.0), from the code table
    g = grid("bfloat16")
    i = int(np.searchsorted(g, 3.0))
    np.testing.assert_array_equal(_markers(line), g[i - 32:i + 32])
    # rtz bins: [v, next) for positive v
    bins = next(t for t in line["data"] if t.get("name") == "rounding bins")
    xs = _arr(bins["x"]).reshape(-1, 6)  # rectangles lo, lo, hi, hi, lo, gap
    np.testing.assert_array_equal(xs[1:-1, 0], g[i - 32:i + 32:2][1:-1])
    np.testing.assert_array_equal(xs[1:-1, 2], g[i - 31:i + 33:2][1:-1])
    # the typed number's row: stored value is quantize(x, rtz)
    table = at.dataframe[0].value
    stored = table.loc[table["quantity"] == "stored value", "value"].iloc[0]
    assert float(stored) == float(quantize(np.array([0.1]), "bfloat16", "rtz")[0])
    # block chart: error per element for every scale rule equals quantize_blocks
    x = np.random.default_rng(11).standard_normal(32).astype(np.float32)
    x[3] = -9.0
    assert blocks["data"][-1]["name"].startswith("amax")  # NVFP4's own rule, drawn on top
    for trace in blocks["data"]:
        r = quantize_blocks(x, "nvfp4", scale_rule=ScaleRule(trace["name"].split()[0]))
        np.testing.assert_array_equal(_arr(trace["y"]), r.values.astype(np.float64) - x)


def test_widget_changes_write_the_url() -> None:
    at = _page()
    at.slider(key=K + "count").set_value(32).run()
    assert url_values(at, "count") == ["32"]
    at.selectbox(key=K + "mode").set_value("sr").run()
    assert url_values(at, "mode") == ["sr"]
    at.toggle(key=K + "log_view").set_value(True).run()
    assert url_values(at, "log_view") == ["1"]
    assert not at.exception
    spec = chart_specs(at)[0]
    assert spec["layout"]["xaxis"]["type"] == "log"
    pos = grid("float8_e4m3fn")
    i = int(np.searchsorted(pos, 1.0))
    np.testing.assert_array_equal(_markers(spec), pos[i - 16:i + 16][pos[i - 16:i + 16] > 0])


def _bit_event(at: AppTest, seq: int, **kw: Any) -> AppTest:
    """What the bit-view component sends when a bit is set or an arrow key pressed."""
    at.session_state["formats._bits"] = {"seq": seq, "fmt": at.selectbox(key=K + "fmt").value,
                                         **kw}
    return at.run()


def test_bit_cells_set_the_code() -> None:
    at = _page()
    _bit_event(at, 1, code=0x38 | 0x80)  # the sign bit of 1.0
    assert url_values(at, "code") == [str(0x38 | 0x80)]
    assert at.metric[0].value == "-1.0"
    assert at.text_input(key="formats._hex").value == "0xB8"
    at.run()  # an event is applied once: a later rerun does not replay it
    at.number_input(key=K + "code").set_value(0x40).run()
    assert url_values(at, "code") == [str(0x40)]
    _bit_event(at, 2, code=0x41)
    assert float(at.metric[0].value) == float(decode("float8_e4m3fn", 0x41))
    # arrow up / down: the next representable value
    _bit_event(at, 3, step=1)
    assert float(at.metric[0].value) == float(decode("float8_e4m3fn", 0x42))
    # next up / down buttons walk the grid
    at.button[[b.label for b in at.button].index("◀ next down")].click().run()
    assert float(at.metric[0].value) == float(decode("float8_e4m3fn", 0x41))
    # an event made in another format, or a hostile one, changes nothing
    at.session_state["formats._bits"] = {"seq": 4, "fmt": "float32", "code": 0x3F800000}
    at.run()
    assert url_values(at, "code") == [str(0x41)] and not at.exception


@pytest.mark.parametrize(("typed", "code"), [("0x3c", 0x3C), ("0b0100_0000", 0x40), ("7", 7),
                                             ("0X7E", 0x7E)])
def test_hex_and_binary_entry(typed: str, code: int) -> None:
    at = _page()
    at.text_input(key="formats._hex").set_value(typed).run()
    assert url_values(at, "code") == [str(code)] and not at.error
    assert at.text_input(key="formats._hex").value == f"0x{code:02X}"


@pytest.mark.parametrize(("typed", "why"), [("0x1FF", "does not fit the 8-bit format"),
                                            ("0xZZ", "is not hex digits"),
                                            ("0b102", "is not binary digits"),
                                            ("one", "is not a whole number")])
def test_bad_hex_entry_says_why_and_keeps_the_code(typed: str, why: str) -> None:
    at = _page()
    at.text_input(key="formats._hex").set_value(typed).run()
    assert not at.exception
    (err,) = [e.value for e in at.error]
    assert why in err and "Still showing 0x38" in err
    assert at.text_input(key="formats._hex").value == "0x38"  # the box shows the code in use
    assert url_values(at, "code") == [str(0x38)]


@pytest.mark.parametrize("fmt", [f for f in FMT_CHOICES if f != "custom"])
def test_a_link_without_a_code_opens_the_bit_view_at_one(fmt: str) -> None:
    """?fmt=float32 once opened at code 56 (7.847e-44, E4M3's 1.0 code carried over)."""
    p, notes = from_query(FormatsParams, {"fmt": fmt})
    assert not notes and p.fmt == fmt
    assert decode(p.format(), p.code)[()] == 1.0
    # an explicit code is kept as given
    assert from_query(FormatsParams, {"fmt": fmt, "code": "0"})[0].code == 0


def test_float32_link_shows_one_in_the_bit_view() -> None:
    at = _page({"fmt": "float32"})
    assert not at.warning and float(at.metric[0].value) == 1.0
    assert url_values(at, "code") == [str(0x3F800000)]


def test_format_change_keeps_the_number() -> None:
    at = _page({"code": "56"})  # 1.0 in E4M3: float32 then opens at 1.0, not at code 56
    at.selectbox(key=K + "fmt").set_value("float32").run()
    assert url_values(at, "code") == [str(0x3F800000)] and float(at.metric[0].value) == 1.0
    at = _page({"code": str(0x7E)})  # 448 in E4M3
    at.selectbox(key=K + "fmt").set_value("bfloat16").run()
    assert float(at.metric[0].value) == 448.0
    at.selectbox(key=K + "fmt").set_value("float4_e2m1fn").run()
    assert float(at.metric[0].value) == 6.0  # saturated to the FP4 max
    at.selectbox(key=K + "fmt").set_value("float32").run()
    assert url_values(at, "code") == [str(0x40C00000)] and not at.exception
    _bit_event(at, 1, code=0x40C00001)  # float32: lowest mantissa bit
    assert float(at.metric[0].value) == float(np.array([0x40C00001], np.uint32).view(np.float32)[0])


def test_custom_format() -> None:
    at = _page({"fmt": "custom", "ebits": "3", "mbits": "2", "bias": "1", "code": "4"})
    assert not at.exception and not at.warning
    assert at.slider(key=K + "bias").value == 1
    # E3M2 with bias 1: code 4 = exponent field 1, mantissa 0 -> 2^(1-1) = 1.0
    assert at.metric[0].value == "1.0"
    at.slider(key=K + "ebits").set_value(5).run()  # resets the bias to the IEEE 15, keeps 1.0
    assert at.slider(key=K + "bias").value == 15 and at.metric[0].value == "1.0"
    assert url_values(at, "bias") == ["15"]


@pytest.mark.parametrize(
    "query",
    [
        {"fmt": "float4_e2m1fn", "code": "99999"},
        {"fmt": "custom", "ebits": "2", "bias": "300"},
        {"fmt": "nonsense", "count": "-7", "x": "inf", "mode": "??", "compare": ["a", "b"]},
        {"groups": "1", "outlier_at": "250", "seed": "1e40", "outlier": "1e308"},
    ],
)
def test_hostile_links_fall_back_with_one_warning(query: dict[str, Any]) -> None:
    at = _page(query)
    assert not at.exception
    assert len(at.warning) == 1
    assert len(chart_specs(at)) == 2


def test_properties_table_matches_the_catalogue() -> None:
    at = _page({"compare": ["float8_e4m3fn", "float8_e5m2"]})
    props = at.table[0].value
    assert list(props.columns) == [FORMATS[n].describe() for n in ("float8_e4m3fn", "float8_e5m2")]
    assert list(props.loc["max"]) == ["448", "57344"]
    assert list(props.loc["overflow (cast)"]) == ["NaN", "inf"]


def test_a_typed_representable_value_is_said_to_be_exact() -> None:
    at = _page({"fmt": "float8_e4m3fn", "x": "448"})
    text = " ".join(m.value for m in at.markdown)
    assert "**exactly representable** in" in text and "next value down is 416" in text
    at = _page({"fmt": "float8_e4m3fn", "x": "0.3"})
    assert any("**not representable**" in m.value for m in at.markdown)
