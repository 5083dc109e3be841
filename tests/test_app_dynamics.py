"""The Low-precision dynamics page through AppTest: defaults, deep links, URL write-back,
clamped hostile values, and chart data recomputed from lowbit_core directly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.experiments.dynamics import LorenzParams, harmonic_sum, lorenz, w1
from tests import apptools
from ui.params import from_query

pytestmark = pytest.mark.app

SCRIPT = "app_pages/dynamics.py"
SMALL = {"steps": "2000", "harmonic_n": "2000", "card_seeds": "1"}


def open_page(query: dict[str, Any] | None = None) -> AppTest:
    return apptools.open_ok(SCRIPT, query, timeout=300)


url = apptools.url_dict


def test_defaults_render_every_view_and_write_the_url() -> None:
    at = open_page()
    assert not at.warning and not at.error
    specs = apptools.chart_specs(at)
    # attractor, z histogram, W1 vs sbits, harmonic, decay, heat (shipped library)
    assert len(specs) == 6
    q = url(at)
    assert q["v"] == ["1"] and q["fmt"] == ["sbits"] and q["sbits"] == ["7"]
    assert q["compare"] == ["float64", "rn", "sr"]
    assert len(at.get("download_button")) == 7  # one per chart + the runs table
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles[0].startswith("Lorenz attractor") and "Soil heat" in titles[-1]
    # every attractor panel holds at most 20,000 points
    for t in specs[0]["data"]:
        assert len(apptools.plotly_array(t["x"])) <= 20_000


def test_deep_link_sets_every_widget_and_the_data() -> None:
    query = {
        "fmt": "bfloat16",
        "sr_mode": "src",
        "rbits": "4",
        "steps": "3000",
        "dt": "0.01",
        "scheme": "euler",
        "seed": "9",
        "compare": ["rn", "sr"],
        "card_fmt": "bfloat16",
        "harmonic_n": "3000",
        "card_seeds": "2",
    }
    at = open_page(query)
    assert not at.warning
    assert at.selectbox(key="dynamics.fmt").value == "bfloat16"
    assert at.selectbox(key="dynamics.sr_mode").value == "src"
    assert at.slider(key="dynamics.rbits").value == 4
    assert at.radio(key="dynamics.scheme").value == "euler"
    assert at.multiselect(key="dynamics.compare").value == ["rn", "sr"]
    q = url(at)
    assert {k: q[k] for k in query} == {
        k: v if isinstance(v, list) else [v] for k, v in query.items()
    }
    # the attractor's SR panel equals a run made here from lowbit_core, decimated by the page
    spec = apptools.chart_specs(at)[0]
    assert [t["name"] for t in spec["data"]] == ["bfloat16, RN", "bfloat16, SRC N=4 seed 9"]
    sr = lorenz(
        LorenzParams(
            fmt="bfloat16", mode="src", rbits=4, seed=9, steps=3000, dt=0.01, scheme="euler"
        )
    ).states
    assert np.array_equal(apptools.plotly_array(spec["data"][1]["y"]), sr[:, 2])
    # the library is exact SR whatever the page's mode: its traces say so
    w1_names = [t["name"] for t in apptools.chart_specs(at)[2]["data"]]
    assert "SR seeds (library)" in w1_names and not any("SRC" in n for n in w1_names[:5])
    # the table's W1 equals w1 of independent runs
    ref = lorenz(LorenzParams(fmt="float64", steps=3000, dt=0.01, scheme="euler")).states
    df = at.dataframe[0].value
    row = df[df["run"].str.contains("SRC")].iloc[0]
    assert row["w1_z"] == pytest.approx(w1(sr[:, 2], ref[:, 2]), rel=1e-12)


def test_harmonic_card_matches_the_core_and_states_the_stop() -> None:
    at = open_page({**SMALL, "card_fmt": "float16"})
    spec = next(
        s for s in apptools.chart_specs(at) if s["layout"]["title"]["text"] == "Harmonic sum"
    )
    rn = apptools.trace(spec, "RN")
    n = apptools.plotly_array(rn["x"]).astype(int)
    assert np.array_equal(apptools.plotly_array(rn["y"]), harmonic_sum(2000, "float16")[n - 1])
    assert any("n = 513 with 7.08594" in c.value for c in at.caption)


def test_hostile_values_clamp_with_one_warning_and_a_clean_url() -> None:
    at = open_page(
        {
            "sbits": "99",
            "steps": "1e9",
            "dt": "nan",
            "fmt": "float64",
            "compare": ["nope"],
            "seed": "-5",
        }
    )
    assert len(at.warning) == 1 and at.warning[0].value.startswith("This link had values")
    assert at.slider(key="dynamics.sbits").value == 23
    assert at.slider(key="dynamics.steps").value == 200_000
    q = url(at)
    _p, msgs = from_query(type(_p0()), q)
    assert msgs == [] and q["fmt"] == ["sbits"] and q["dt"] == ["0.008"]


def _p0() -> Any:
    from ui.nav import by_key

    return by_key("dynamics").params_class()()


def test_run_sweep_button_adds_the_live_sweep() -> None:
    at = open_page({**SMALL, "steps": "1000"})
    n_before = len(apptools.chart_specs(at)[2]["data"])
    at.button(key="dynamics._run_sweep").click().run()
    assert not at.exception
    spec = apptools.chart_specs(at)[2]
    names = [t["name"] for t in spec["data"]]
    assert len(spec["data"]) > n_before and any("live, 1,000 steps" in n for n in names)
