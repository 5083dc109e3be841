"""The Rounding page through AppTest: deep links, URL write-back, and chart data vs lowbit_core.

The chart checks decode the plotly spec the page sent and recompute every number from
``lowbit_core`` directly (round_distribution / quantize), not through the page's own helpers.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lowbit_core.rounding import quantize, round_distribution
from tests import apptools
from ui.params import from_query

pytestmark = pytest.mark.app

SCRIPT = "app_pages/rounding.py"
FEW = ("srff", "srf", "src", "sro")


def open_page(query: dict[str, Any] | None = None) -> AppTest:
    at = apptools.open_page(SCRIPT, query, timeout=180)
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def url(at: AppTest) -> dict[str, list[str]]:
    """The page's query string as AppTest holds it (values are str, or lists for repeated keys)."""
    return {k: list(v) if isinstance(v, list | tuple) else [str(v)]
            for k, v in at.query_params.items()}


arr = apptools.plotly_array


charts = apptools.chart_specs


def traces(spec: dict[str, Any], group: str, **match: str) -> list[dict[str, Any]]:
    return [
        t for t in spec["data"]
        if t.get("legendgroup") == group and all(t.get(k, "x" if k == "xaxis" else "y") == v
                                                 for k, v in match.items())
    ]


def neighbours(fmt: str, x: float) -> tuple[float, float]:
    """Independent neighbour search: RTZ below, RUP of the next float above."""
    lo = float(quantize(np.array([x]), fmt, "rtz", backend="numpy")[0])
    hi = float(quantize(np.array([np.nextafter(max(x, lo), np.inf)]), fmt, "rup",
                        backend="numpy")[0])
    return lo, hi


SMALL = {"acc_n": "40", "acc_seeds": "4"}  # keeps the accumulation cheap where it is not tested


def test_defaults_render_three_charts_and_write_the_url() -> None:
    at = open_page()
    assert len(at.get("plotly_chart")) == 3
    assert not at.warning
    q = url(at)
    assert q["v"] == ["1"] and q["fmt"] == ["bfloat16"] and q["x"] == ["1.3"]
    assert len(q["modes"]) == 7  # defaults are written too
    assert len(at.get("download_button")) == 4  # one per chart + the mean-bias table


def test_deep_link_sets_every_widget() -> None:
    query = {"fmt": "float8_e5m2", "x": "5.3", "modes": ["srff", "src"], "rbits": "2",
             "n_draws": "500", "seed": "7", "dbits": "5", "acc_start": "2.0", "acc_a": "0.25",
             "acc_n": "30", "acc_mode": "sro", "acc_seeds": "3"}
    at = open_page(query)
    assert not at.warning
    assert at.selectbox(key="rounding.fmt").value == "float8_e5m2"
    assert at.text_input(key="rounding.x").value == "5.3"
    assert at.multiselect(key="rounding.modes").value == ["srff", "src"]
    assert at.slider(key="rounding.rbits").value == 2
    assert at.slider(key="rounding.n_draws").value == 500
    assert at.number_input(key="rounding.seed").value == 7
    assert at.select_slider(key="rounding.dbits").value == 5
    assert at.number_input(key="rounding.acc_start").value == 2.0
    assert at.number_input(key="rounding.acc_a").value == 0.25
    assert at.slider(key="rounding.acc_n").value == 30
    assert at.selectbox(key="rounding.acc_mode").value == "sro"
    assert at.slider(key="rounding.acc_seeds").value == 3
    # x = 5.3 sits 0.3 ulp above 5 in E5M2 (spacing 1 in [4, 8))
    assert at.slider(key="rounding.pos").value == pytest.approx(0.3)
    assert {k: url(at)[k] for k in query} == {
        k: v if isinstance(v, list) else [v] for k, v in query.items()
    }


def test_widget_changes_write_the_url() -> None:
    at = open_page(SMALL)
    at.slider(key="rounding.rbits").set_value(5).run()
    assert at.query_params["rbits"] == "5"
    at.selectbox(key="rounding.fmt").set_value("float8_e4m3fn").run()
    assert at.query_params["fmt"] == "float8_e4m3fn"
    at.slider(key="rounding.pos").set_value(0.25).run()
    lo, hi = neighbours("float8_e4m3fn", 1.3)  # E4M3 around 1.3: 1.25 and 1.375
    assert float(at.query_params["x"]) == lo + 0.25 * (hi - lo)
    assert at.text_input(key="rounding.x").value == at.query_params["x"]
    at.multiselect(key="rounding.modes").set_value(["sr"]).run()
    assert url(at)["modes"] == ["sr"]
    assert not at.exception
    p, msgs = from_query(type(_params()), url(at))
    assert msgs == [] and p.rbits == 5


def _params() -> Any:
    from ui.params_rounding import RoundingParams

    return RoundingParams()


@pytest.mark.parametrize(
    ("fmt", "x", "rbits"), [("bfloat16", "1.3", 3), ("float4_e2m1fn", "2.7", 2)]
)
def test_outcome_chart_equals_core(fmt: str, x: str, rbits: int) -> None:
    n, seed = 400, 11
    at = open_page({"fmt": fmt, "x": x, "rbits": str(rbits), "n_draws": str(n),
                    "seed": str(seed), **SMALL})
    spec = charts(at)[0]
    xv = float(x)
    lo, hi = neighbours(fmt, xv)
    for mode in ("rne", "rtz", "sr", *FEW):
        nb = rbits if mode in FEW else None
        d = round_distribution(np.array([xv]), fmt, mode, nb)
        assert (float(d.lo[0]), float(d.hi[0])) == (lo, hi)
        p_hi = float(d.p_hi[0])
        draws = quantize(np.full(n, xv), fmt, mode, rbits=nb,
                         seed=seed if mode not in ("rne", "rtz") else None)
        (ex_hi,) = traces(spec, "hi", xaxis="x")
        (mc_hi,) = traces(spec, "hi", xaxis="x2")
        (ex_lo,) = traces(spec, "lo", xaxis="x")
        i = ex_hi["x"].index(mode.upper())
        assert arr(ex_hi["y"])[i] == p_hi
        assert arr(ex_lo["y"])[i] == 1.0 - p_hi
        assert arr(mc_hi["y"])[i] == np.count_nonzero(draws == hi) / n
        assert arr(mc_hi["customdata"])[i] == np.count_nonzero(draws == hi)


def test_profile_chart_equals_core() -> None:
    at = open_page({"fmt": "float8_e5m2", "x": "5.3", "rbits": "3", "dbits": "4", **SMALL})
    spec = charts(at)[1]
    lo, hi = 5.0, 6.0
    for mode in ("rne", "sr", *FEW):
        nb = 3 if mode in FEW else None
        (bias,) = traces(spec, mode, meta="bias")
        spread = traces(spec, mode, meta="std")
        if mode == "rne":  # a deterministic mode has no spread: no trace in that panel
            assert spread == []
            spread = [{"x": bias["x"], "y": np.zeros(len(arr(bias["x"])))}]
        (std,) = spread
        t = arr(bias["x"])
        assert np.array_equal(t, np.arange(16) / 16)  # D = 4: the 16 representable inputs
        xs = lo + t * (hi - lo)
        d = round_distribution(xs, "float8_e5m2", mode, nb, input_bits=4)
        np.testing.assert_array_equal(arr(bias["y"]), d.mean - xs)
        np.testing.assert_allclose(arr(std["y"]), np.sqrt(d.var), rtol=1e-15)


def _mean_bias(at: AppTest) -> dict[str, Fraction]:
    df = at.dataframe[0].value
    labels = {  # the table shows labels; map back through their leading mode name
        str(label).split(" ")[0].lower(): Fraction(str(frac)) for label, frac in
        zip(df["mode"], df["fraction"], strict=True)
    }
    return labels


def test_mean_bias_matches_spec_b_exact_inputs() -> None:
    n = 3
    at = open_page({"fmt": "float8_e5m2", "x": "5.3", "rbits": str(n), "dbits": "0", **SMALL})
    mb = _mean_bias(at)
    # papers_spec.md (b): SRFF -2^-(N+1) toward zero, SRF 0, SRC 0; exact SR 0; RNE 0; RTZ -1/2
    assert mb["srff"] == -Fraction(1, 2 ** (n + 1))
    assert mb["srf"] == 0 and mb["src"] == 0 and mb["sr"] == 0
    assert mb["rne"] == 0 and mb["rtz"] == Fraction(-1, 2)


@pytest.mark.parametrize("n", [1, 3, 4])
def test_mean_bias_matches_spec_b_finite_inputs(n: int) -> None:
    dd = 5  # bfloat16 -> E5M2 has D = 5 (the gfloat notebook's example)
    at = open_page({"fmt": "float8_e5m2", "x": "5.3", "rbits": str(n), "dbits": str(dd),
                    "modes": ["srff", "srf", "src"], **SMALL})
    mb = _mean_bias(at)
    assert mb["srff"] == Fraction(1, 2 ** (dd + 1)) - Fraction(1, 2 ** (n + 1))  # N <= D
    assert mb["srf"] == Fraction(1, 2 ** (dd + 1))  # N < D
    assert mb["src"] == 0


def test_mean_bias_many_random_bits_float32() -> None:
    n = 24
    at = open_page({"fmt": "float32", "x": "1.3", "rbits": str(n), "modes": ["srff"], **SMALL})
    assert _mean_bias(at)["srff"] == -Fraction(1, 2 ** (n + 1))


def test_accumulation_chart_equals_core() -> None:
    fmt, start, a, n, seeds, seed, nb = "bfloat16", 1.0, 0.001, 60, 5, 3, 3
    at = open_page({"fmt": fmt, "acc_start": str(start), "acc_a": str(a), "acc_n": str(n),
                    "acc_seeds": str(seeds), "seed": str(seed), "rbits": str(nb),
                    "acc_mode": "srff"})
    spec = charts(at)[2]
    exact = start + np.arange(n + 1) * a
    rne = [1.0]
    for _ in range(n):
        rne.append(float(quantize(np.array([rne[-1] + a]), fmt, "rne")[0]))
    (rne_line,) = traces(spec, "rne")
    np.testing.assert_array_equal(arr(rne_line["y"]), np.array(rne) - exact)
    for mode in ("sr", "srff"):
        paths = [np.full(seeds, 1.0)]
        for i in range(1, n + 1):  # step i draws from stream (seed << 16) + i, lane = index
            paths.append(quantize(paths[-1] + a, fmt, mode, rbits=nb if mode != "sr" else None,
                                  seed=(seed << 16) + i))
        err = np.array(paths) - exact[:, None]
        hi_edge, lo_edge, mean = traces(spec, mode)
        np.testing.assert_array_equal(arr(hi_edge["y"]), err.max(axis=1))
        np.testing.assert_array_equal(arr(lo_edge["y"]), err.min(axis=1))
        np.testing.assert_allclose(arr(mean["y"]), err.mean(axis=1), rtol=0, atol=1e-15)


def test_default_accumulation_shows_rne_stagnation() -> None:
    at = open_page()
    spec = charts(at)[2]
    (rne_line,) = traces(spec, "rne")
    err = arr(rne_line["y"])
    # bfloat16: 0.001 < half an ulp of 1 (2^-8), so 1 + 0.001 rounds back to 1 every time
    assert err[-1] == pytest.approx(1.0 - 2.0, abs=1e-12)
    assert "1 + 1,000 × 0.001" in spec["layout"]["title"]["text"]


def test_typed_junk_value_is_reported_not_raised() -> None:
    at = open_page(SMALL)
    at.text_input(key="rounding.x").set_value("one point three").run()
    assert not at.exception
    assert any("'one?point?three' is not a number" in e.value for e in at.error)
    assert at.query_params["x"] == "1.3"  # the fallback is what the URL holds


@pytest.mark.parametrize(("junk", "why"), [("abc", "is not a number"),
                                           ("nan", "is not a finite number"),
                                           ("-1", "is outside")])
def test_rejected_x_leaves_the_value_in_use_in_the_box(junk: str, why: str) -> None:
    """Issue 18 / 15: a rejected x keeps the previous good value (not the default), in the box
    as in the URL and the charts, and the message names what was rejected and what is used."""
    at = open_page(SMALL)
    at.text_input(key="rounding.x").set_value("2.5").run()
    assert at.query_params["x"] == "2.5"
    at.text_input(key="rounding.x").set_value(junk).run()
    assert not at.exception
    assert at.text_input(key="rounding.x").value == "2.5"
    assert at.query_params["x"] == "2.5"
    (err,) = [e.value for e in at.error]
    assert f"'{junk}' {why}" in err and "Still using x = 2.5" in err
    assert "x = 2.5" in charts(at)[0]["layout"]["title"]["text"]
    at.run()  # the message is said once, not on every later rerun
    assert not at.error


def test_value_beyond_the_format_is_clamped_with_a_note() -> None:
    at = open_page({"fmt": "float4_e2m1fn", "x": "1000", **SMALL})
    assert not at.exception
    assert any("outside" in i.value for i in at.info)
    assert "x = 6" in charts(at)[0]["layout"]["title"]["text"]


def test_coinciding_curves_are_named_and_drawn_distinguishably() -> None:
    at = open_page({"rbits": "3", **SMALL})
    spec = charts(at)[1]
    titles = " ".join(a["text"] for a in spec["layout"]["annotations"])
    assert "SRF = SRC = SRO" in titles.replace("</b><br><b>", " ")  # bias at N = 3, exact inputs
    dashes = {t["legendgroup"]: t["line"]["dash"] for t in spec["data"] if t.get("meta") == "bias"
              and t["legendgroup"] in ("srf", "src", "sro")}
    assert len(set(dashes.values())) == 3  # each member its own dash, so all three show


def test_stochastic_bias_panel_zooms_to_a_few_bit_bias() -> None:
    n = 6  # SRFF's mean bias is -2^-(N+1) = -1/128 ulp: invisible next to RNE's ±1/2
    at = open_page({"rbits": str(n), **SMALL})
    spec = charts(at)[1]
    (srff,) = traces(spec, "srff", meta="bias")
    ax = "yaxis" + srff.get("yaxis", "y")[1:]
    lo, hi = spec["layout"][ax]["range"]
    y = arr(srff["y"])
    assert lo <= y.min() and y.max() <= hi
    assert hi - lo < 8 * (y.max() - y.min())  # the sawtooth fills a good part of the panel
    (rne,) = traces(spec, "rne", meta="bias")
    assert rne.get("yaxis", "y") != srff.get("yaxis", "y")  # RNE's ±1/2 has its own panel


def test_a_representable_value_is_said_to_be_exact() -> None:
    at = open_page({"x": "1", **SMALL})
    text = " ".join(m.value for m in at.markdown)
    assert "**exactly representable** in BF16" in text and "ulp above lo" not in text
    assert "exactly representable" in charts(at)[0]["layout"]["title"]["text"].replace("<br>", " ")
    at = open_page({"x": "1.3", **SMALL})
    assert any("**not representable**" in m.value for m in at.markdown)
