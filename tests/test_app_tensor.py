"""The Your-tensor page through AppTest: defaults, a deep link that sets every widget, the
metrics table recomputed from lowbit_core, display changes that leave the analysis alone, an
axis the tensor lacks, and the Run button for heavy settings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.experiments.tensor_io import view2d
from lowbit_core.experiments.tensor_page import load_shipped
from lowbit_core.experiments.tensor_report import custom_recipe, tensor_report
from tests import apptools
from ui.params import from_query

pytestmark = pytest.mark.app

SCRIPT = "app_pages/tensor.py"
K = "tensor."


def open_page(query: dict[str, Any] | None = None) -> AppTest:
    return apptools.open_ok(SCRIPT, query, timeout=300)


url = apptools.url_dict


def test_defaults_render_every_section_and_write_the_url() -> None:
    at = open_page()
    assert not at.warning and not at.error
    specs = apptools.chart_specs(at)
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles == [
        "log2|x| and each recipe's zones",
        "SQNR against bits per element",
        "Block size 8…256: float4_e2m1fn elements",
        "Random Hadamard transform: SQNR off and on",
        "RNE vs SR: bias (NVFP4)",
    ]
    assert len(at.get("download_button")) == 6  # one per chart + the metrics table
    q = url(at)
    assert q["v"] == ["1"] and q["tensor"] == ["charlm.blocks.0.fc.weight"]
    assert len(q["recipes"]) == 12 and q["modes"] == ["rne"]
    assert at.success[0].value.startswith("Best SQNR at ≤ 4.5 bits per element")
    assert any("an uploaded one is not" in c.value for c in at.caption)
    # the zone strips: one bar per recipe in each zone trace, and the block-ceiling boxes
    zones = specs[0]["data"]
    assert [t["name"] for t in zones[1:5]] == ["flushed", "subnormal", "normal", "saturated"]
    assert len(zones[1]["y"]) == 12 and zones[-1]["name"] == "block ceilings"


def test_deep_link_sets_every_widget_and_the_table_matches_the_core() -> None:
    query = {
        "tensor": "digits.layers.1.act", "axis": "0",
        "recipes": ["mxfp4", "nvfp4", "int4_channel", "custom"], "modes": ["rne", "src"],
        "rbits": "5", "seed": "11", "max_bits": "6.0", "custom_elem": "float6_e2m3fn",
        "custom_block": "24", "custom_scale": "float8_e4m3fn", "custom_rule": "amax",
        "custom_ts": "1", "sweep_elem": "int4_sym", "rht_log2": "3", "bias_recipe": "custom",
        "bias_draws": "4",
    }
    at = open_page(query)
    assert not at.warning and not at.error
    assert at.selectbox(key=K + "tensor").value == "digits.layers.1.act"
    assert at.selectbox(key=K + "axis").value == 0
    assert at.multiselect(key=K + "modes").value == ["rne", "src"]
    assert at.slider(key=K + "custom_block").value == 24
    assert at.checkbox(key=K + "custom_ts").value is True
    assert at.slider(key=K + "max_bits").value == 6.0
    assert at.selectbox(key=K + "sweep_elem").value == "int4_sym"
    q = url(at)
    assert {k: q[k] for k in query} == {
        k: v if isinstance(v, list) else [v] for k, v in query.items()
    }
    x = load_shipped()["digits.layers.1.act"]  # (64, 128), blocks along axis 0
    custom = custom_recipe("float6_e2m3fn", 24, "float8_e4m3fn", "amax", True)
    ref = tensor_report(view2d(x, 0), ["mxfp4", "nvfp4", "int4_channel", custom],
                        ("rne", "src"), rbits=5, seed=11)
    df = at.dataframe[0].value
    assert list(df["recipe"]) == list(ref["recipe"]) and list(df["mode"]) == list(ref["mode"])
    for col in ("sqnr_db", "mse", "flushed_pct", "saturated_pct", "bits_per_element"):
        assert np.allclose(df[col].to_numpy(float), ref[col].to_numpy(float), equal_nan=True)
    # 64 rows -> a block of 24 pads to 72: three scales per column of the view
    assert df[df["recipe"] == "custom"]["bits_per_element"].iloc[0] == pytest.approx(
        6 + 3 * 8 / 64 + 32 / x.size)
    assert "RNE vs SR: bias (FP6 E2M3, 1×24, FP8 E4M3 (amax) + FP32 tensor scale)" in [
        s["layout"]["title"]["text"] for s in apptools.chart_specs(at)]


def test_budget_change_reranks_without_touching_the_table() -> None:
    at = open_page()
    table = at.dataframe[0].value
    at.slider(key=K + "max_bits").set_value(9.0).run()
    assert not at.exception
    assert at.dataframe[0].value.equals(table)
    ranked = at.dataframe[1].value
    assert (ranked["bits_per_element"] <= 9.0).all() and "INT8" in ranked["label"].iloc[0]
    assert url(at)["max_bits"] == ["9.0"]


def test_an_axis_the_tensor_lacks_falls_back_with_a_note() -> None:
    at = open_page({"axis": "5"})
    assert not at.warning  # a valid link value, only not for this tensor: a note, no warning
    assert any("Axis 5 does not exist" in i.value for i in at.info)
    assert at.selectbox(key=K + "axis").value == -1
    _p, msgs = from_query(type(_params()), url(at))
    assert msgs == [] and url(at)["axis"] == ["-1"]


def _params() -> Any:
    from ui.nav import by_key

    return by_key("tensor").params_class()()


def test_heavy_settings_wait_for_the_run_button() -> None:
    # 65,536 elements x (12 recipes x 4 modes, SR counted 10x, sweep, RHT, bias) > 4e7
    q = {"tensor": "charlm.blocks.0.fc2.act", "modes": ["rne", "sr", "srff", "src"],
         "rbits": "4", "bias_draws": "8"}
    at = open_page(q)
    assert not apptools.chart_specs(at)
    assert any("start them with the button" in i.value for i in at.info)
    at.button(key=K + "_run_btn").click().run()
    assert not at.exception
    assert len(apptools.chart_specs(at)) == 5
    assert set(at.dataframe[0].value["mode"]) == {"rne", "sr", "srff", "src"}
