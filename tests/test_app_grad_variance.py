"""AppTest for the Gradient variance page: renders, URL → widgets, widgets → URL, chart data
equals lowbit_core's numbers, hostile links fall back, heavy settings wait for Run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.experiments import grad_variance as gv
from tests.apptools import chart_specs, open_page, plotly_array, trace, url_values
from ui import cached_grad_variance as cgv
from ui.params import to_query
from ui.params_grad_variance import MODE_LABELS, GradVarianceParams

pytestmark = pytest.mark.app

PAGE = "app_pages/grad_variance.py"
K = "grad_variance."
# small, quick settings for most tests (the defaults are exercised by test_default_page_renders)
QUICK = GradVarianceParams(b_max=5, repeats=8, xr_bits=2, steps=20, train_seeds=2)


def _page(query: dict[str, Any] | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=300)


def _arr(a: Any) -> np.ndarray:
    return plotly_array(a).astype(float)








def test_default_page_renders() -> None:
    at = _page()
    assert not at.exception
    assert not at.error
    charts = chart_specs(at)
    assert len(charts) == 6
    assert charts[0]["layout"]["xaxis"]["type"] == "log"
    assert charts[0]["layout"]["yaxis"]["type"] == "log"
    names = [t["name"] for t in charts[0]["data"]]
    assert "model Δ²/(6B), SR" in names
    assert url_values(at, "mbits") == ["1"] and url_values(at, "v") == ["1"]
    assert url_values(at, "run") == ["0"]  # nothing needed the Run button
    assert not any("Press Run" in i.value for i in at.info)


def test_defaults_show_the_exchange_in_one_sentence() -> None:
    at = _page()
    xr = chart_specs(at)[3]
    sr = next(t for t in xr["data"] if t.get("name") == MODE_LABELS["sr"])
    need = _arr(sr["y"])
    assert need[0] > 4 * need[-1]  # 0 bits need far more batch than 4 bits: plainly visible
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Fewer bits")]
    assert f"k = 0: B ≈ {need[0]:.0f}" in line and "×** the batch" in line


def test_url_sets_widgets_and_chart_equals_core() -> None:
    p = GradVarianceParams(model="linear", mbits=1, modes=("sr", "rne"), targets=("a", "g"),
                           b_max=5, repeats=8, seed=7, xr_bits=2, steps=20, train_seeds=2)
    at = _page(to_query(p))
    assert not at.exception
    assert at.slider(key=K + "mbits").value == 1
    assert at.multiselect(key=K + "modes").value == ["sr", "rne"]
    assert at.multiselect(key=K + "targets").value == ["a", "g"]
    assert at.number_input(key=K + "seed").value == 7
    df = gv.gradient_variance(p.variance())
    spec = chart_specs(at)[0]
    for mode in ("sr", "rne", "fp32"):
        label = MODE_LABELS[mode]
        d = df[df["mode"] == mode]
        t = trace(spec, label)
        np.testing.assert_array_equal(_arr(t["x"]), d["batch"].to_numpy(float))
        np.testing.assert_allclose(_arr(t["y"]), d["total_var"].to_numpy(), rtol=1e-12)
    model = trace(spec, "model Δ²/(6B), SR")
    np.testing.assert_allclose(_arr(model["y"]), df[df["mode"] == "sr"]["model_var"], rtol=1e-12)
    tr = gv.sgd_curves(p.sgd())
    mean = tr[tr["mode"] == "sr"].groupby("step")["loss"].mean().to_numpy()
    np.testing.assert_allclose(_arr(trace(chart_specs(at)[5], MODE_LABELS["sr"])["y"]), mean,
                               rtol=1e-12)
    # the per-bit chart and the exchange rate come from one bits_sweep
    sweep = gv.bits_sweep(p.exchange(), range(p.xr_bits + 1), p.ebits, family=p.grid)
    one = sweep[(sweep["mode"] == "sr") & (sweep["mbits"] == 1)]
    np.testing.assert_allclose(_arr(trace(chart_specs(at)[2], "k = 1")["y"]),
                               one["total_var"], rtol=1e-12)
    xr = gv.exchange_from_sweep(sweep, p.ref)
    np.testing.assert_allclose(_arr(trace(chart_specs(at)[3], MODE_LABELS["sr"])["y"]),
                               xr[xr["mode"] == "sr"]["batch_needed"], rtol=1e-12)


def test_widget_change_writes_url() -> None:
    at = _page(to_query(QUICK))
    at.slider(key=K + "mbits").set_value(4).run()
    assert not at.exception
    assert url_values(at, "mbits") == ["4"]
    at.multiselect(key=K + "modes").set_value(["sr"]).run()
    assert url_values(at, "modes") == ["sr"]
    assert chart_specs(at)[0]["layout"]["title"]["text"].startswith("Gradient variance")


def test_hostile_link_falls_back_with_a_warning() -> None:
    q = to_query(QUICK)
    q.update({"b_min": "9", "b_max": "2", "mbits": "nan", "modes": ["zzz"], "repeats": "1e9"})
    at = _page(q)
    assert not at.exception
    assert at.warning  # the codec says what it changed
    # b_min > b_max is a cross-field error: the whole link falls back to the defaults
    assert at.select_slider(key=K + "b_min").value == 0
    assert at.select_slider(key=K + "b_max").value == GradVarianceParams().b_max


HEAVY = GradVarianceParams(model="logistic")  # about 2-4 s on two cores


def test_heavy_settings_wait_for_run_and_the_box_goes() -> None:
    assert any(cgv.is_heavy(HEAVY).values()) and not any(cgv.is_heavy(QUICK).values())
    at = _page(to_query(HEAVY))
    assert not at.exception
    assert len(chart_specs(at)) == 0  # every part of this setting is slow
    assert any("Press Run" in i.value for i in at.info)
    at.button(key=K + "_run").click().run()
    assert not at.exception
    assert len(chart_specs(at)) == 6
    assert not any("Press Run" in i.value for i in at.info)  # gone once the results show
    assert url_values(at, "run") == ["1"]  # the link says the sender ran it
    at.slider(key=K + "mbits").set_value(3).run()  # new settings: not run yet
    assert url_values(at, "run") == ["0"] and any("Press Run" in i.value for i in at.info)


def test_a_link_to_a_run_view_computes_it_for_the_recipient() -> None:
    from dataclasses import replace

    at = _page(to_query(replace(HEAVY, run=True)))
    assert not at.exception and not at.warning
    assert len(chart_specs(at)) == 6  # the same six charts the sender saw, no Run box
    assert not any("Press Run" in i.value for i in at.info)
    assert url_values(at, "run") == ["1"]


def test_fast_settings_never_wait() -> None:
    at = _page(to_query(replace_batch := GradVarianceParams(b_min=2, b_max=9)))
    assert not any(cgv.is_heavy(replace_batch).values())
    assert len(chart_specs(at)) == 6 and not at.info
