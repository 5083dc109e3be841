"""The Scaling laws page through AppTest: defaults, a deep link that sets every widget, the
log sliders and the layout sliders kept in step with their fields, clamped hostile values, and
chart data recomputed from lowbit_core directly."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.experiments import scaling_law as law
from lowbit_core.experiments.scaling_law_page import ScalingLawParams
from tests import apptools
from ui.params import from_query

pytestmark = pytest.mark.app

SCRIPT = "app_pages/scaling_laws.py"
K = "scaling_laws."


def open_page(query: dict[str, Any] | None = None) -> AppTest:
    return apptools.open_ok(SCRIPT, query, timeout=120)


url = apptools.url_dict


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label.startswith(label):
            return str(m.value)
    raise KeyError(label)


def spec_by_title(at: AppTest, start: str) -> dict[str, Any]:
    for s in apptools.chart_specs(at):
        if s["layout"]["title"]["text"].startswith(start):
            return s
    raise KeyError(start)


def test_defaults_render_every_view_and_write_the_url() -> None:
    at = open_page()
    assert not at.warning and not at.error
    specs = apptools.chart_specs(at)
    assert len(specs) == 5
    for s in specs:  # every chart says what it is
        assert "fitted law, not a lab measurement" in s["layout"]["title"]["text"]
    assert len(at.get("download_button")) == 7  # five charts, the published and FP4 tables
    q = url(at)
    assert q["v"] == ["1"] and q["fmt"] == ["float8_e4m3fn"] and q["block"] == ["128"]
    assert q["n_params"] == ["1000000000.0"] and q["ebits"] == ["4"] and q["mbits"] == ["3"]
    assert metric(at, "Predicted loss") == "2.5631"  # wave2_spec §F: E4M3, 1e9, 1e11, B = 128
    assert metric(at, "Critical data") == "2.73e13"
    assert metric(at, "Best layout for 8 bits") == "E4M3"
    assert at.checkbox(key=K + "_tensor").disabled  # tensor-wise: shown, not available
    text = " ".join(m.value for m in at.markdown)
    assert ":orange[outside:]" in text and "41M–679M" in text  # N = 1e9 leaves the fitted range
    assert "What the law does not cover" in text and "Not published" in text


def test_deep_link_sets_every_widget_and_the_data() -> None:
    query = {
        "n_params": "85000000.0",
        "tokens": "20000000000.0",
        "fmt": "custom",
        "ebits": "3",
        "mbits": "4",
        "block": "channel",
        "compare": ["float16", "float4_e2m1fn"],
    }
    at = open_page(query)
    assert not at.warning and not at.error
    assert at.number_input(key=K + "n_params").value == 85e6
    assert at.number_input(key=K + "tokens").value == 2e10
    assert at.slider(key=K + "_log_n_params").value == pytest.approx(7.93)
    assert at.slider(key=K + "_log_tokens").value == pytest.approx(10.3)
    assert at.selectbox(key=K + "fmt").value == "custom"
    assert at.slider(key=K + "ebits").value == 3 and at.slider(key=K + "mbits").value == 4
    assert at.select_slider(key=K + "block").value == "channel"
    assert at.multiselect(key=K + "compare").value == ["float16", "float4_e2m1fn"]
    q = url(at)
    assert {k: q[k] for k in query} == {
        k: v if isinstance(v, list) else [v] for k, v in query.items()
    }
    assert not any(":orange[outside:]" in m.value for m in at.markdown)  # inside the envelope
    assert any("Every input is inside" in m.value for m in at.markdown)
    # the page's loss curve equals the law evaluated here; E3M4 first, then the two compared
    s = spec_by_title(at, "Loss against data")
    names = [t["name"] for t in s["data"]]
    assert names == ["E3M4 (custom)", "E5M10 (float16)", "E2M1 (float4_e2m1fn)", "D_crit"]
    t = apptools.trace(s, "E3M4 (custom)")
    d = apptools.plotly_array(t["x"])
    np.testing.assert_array_equal(
        apptools.plotly_array(t["y"]), law.capybara_loss(85e6, d, 3, 4, "channel")
    )
    crit = apptools.plotly_array(apptools.trace(s, "D_crit")["x"])
    np.testing.assert_array_equal(
        crit, law.critical_data(85e6, np.array([3, 5, 2]), np.array([4, 10, 1]), "channel")
    )
    assert metric(at, "Predicted loss") == f"{law.capybara_loss(85e6, 2e10, 3, 4, 'channel'):.4f}"
    # the heat map holds the loss above the penalty-free part, log10, cell by cell
    h = spec_by_title(at, "Loss over the layout")["data"][0]
    z = np.asarray(h["z"], dtype=float) if not isinstance(h["z"], dict) else None
    pen = law.loss_terms(85e6, 2e10, np.arange(9)[:, None], np.arange(16), "channel").precision
    if z is None:  # plotly 6+ writes 2-D arrays as typed arrays
        z = apptools.plotly_array(h["z"]).reshape(pen.shape)
    np.testing.assert_allclose(z, np.log10(pen), rtol=1e-15)


def test_catalogue_format_sets_the_layout_sliders() -> None:
    at = open_page({"fmt": "float4_e2m1fn", "ebits": "7"})  # the format wins over ebits
    assert at.slider(key=K + "ebits").value == 2 and at.slider(key=K + "mbits").value == 1
    assert url(at)["ebits"] == ["2"]
    assert metric(at, "Best layout for 4 bits") == "E2M1"
    at.slider(key=K + "mbits").set_value(2).run()  # a slider move makes the layout custom
    assert at.selectbox(key=K + "fmt").value == "custom"
    assert url(at)["fmt"] == ["custom"] and url(at)["mbits"] == ["2"]


def test_log_slider_moves_the_exact_value_and_the_fig6_button() -> None:
    at = open_page()
    at.slider(key=K + "_log_tokens").set_value(12.5).run()
    assert not at.exception
    assert at.number_input(key=K + "tokens").value == 3.16e12  # three digits
    assert url(at)["tokens"] == ["3160000000000.0"]
    at.number_input(key=K + "n_params").set_value(123456789.0).run()
    assert at.slider(key=K + "_log_n_params").value == pytest.approx(8.09)
    assert url(at)["n_params"] == ["123456789.0"]
    at.button(key=K + "_fig6").click().run()
    assert at.number_input(key=K + "n_params").value == 1e8
    assert "N = 1e8" in spec_by_title(at, "Loss against data")["layout"]["title"]["text"]


def test_hostile_values_clamp_with_one_warning_and_a_clean_url() -> None:
    at = open_page({"n_params": "1e999", "tokens": "-5", "block": "tensor", "ebits": "99",
                    "fmt": "custom", "compare": ["nope"]})
    assert len(at.warning) == 1 and at.warning[0].value.startswith("This link had values")
    assert at.number_input(key=K + "tokens").value == 1e3  # clamped to the minimum
    assert at.number_input(key=K + "n_params").value == 1e9  # not finite: the default
    assert at.slider(key=K + "ebits").value == 8
    assert at.select_slider(key=K + "block").value == "128"
    q = url(at)
    _p, msgs = from_query(ScalingLawParams, q)
    assert msgs == [] and q["block"] == ["128"]


def test_rerun_is_fast() -> None:
    """Issue 11: every view reruns in <= 100 ms (bench/scaling_laws.py measures it properly;
    this only guards against a regression by a wide margin on a shared machine)."""
    at = open_page()
    times = []
    for i in range(6):
        t0 = time.perf_counter()
        at.slider(key=K + "_log_n_params").set_value(8.0 + 0.1 * i).run()
        times.append(time.perf_counter() - t0)
    assert not at.exception
    assert sorted(times)[len(times) // 2] < 0.5
