"""ui.figures_common: the lab's shared chart rules (ticks, legend, wrapping, identical curves,
representability words, one rule per rounding mode)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from lowbit_core.rounding import FEW_BIT_MODES, RoundMode
from ui import figures_common as fc


def test_every_mode_has_one_label_and_one_colour_and_the_core_says_which_read_bits() -> None:
    for m in RoundMode:
        assert m.value in fc.MODE_LABELS and m.value in fc.MODE_COLORS
        assert fc.takes_rbits(m.value) == (m in FEW_BIT_MODES)
    assert not fc.takes_rbits("fp32") and not fc.takes_rbits("nonsense")
    assert len(set(fc.MODE_COLORS.values())) == len(fc.MODE_COLORS)  # one colour per mode


@pytest.mark.parametrize(("lo", "hi", "want"), [
    (0.07, 2.5, [0.1, 0.2, 0.5, 1.0, 2.0]),
    (1.0, 1024.0, [1.0, 10.0, 100.0, 1000.0]),  # 1-2-5 would give 10 ticks
    (0.3, 0.4, [0.2, 0.5]),  # fewer than two inside: the neighbours outside are added
])
def test_log_ticks_are_1_2_5_and_never_fewer_than_two(lo: float, hi: float,
                                                       want: list[float]) -> None:
    vals, text = fc.log_ticks(lo, hi)
    np.testing.assert_allclose(vals, want)
    assert len(text) == len(vals)


def test_log_tick_text_uses_superscripts_outside_plain_range() -> None:
    _, text = fc.log_ticks(1e-6, 1e-4)
    assert text[0] == "10⁻⁶" and "2·10⁻⁶" in text
    with pytest.raises(ValueError, match="0 < lo"):
        fc.log_ticks(0.0, 1.0)


def test_wrap_breaks_at_spaces_and_ignores_markup() -> None:
    w = fc.wrap("aaaa bbbb cccc dddd", 9)
    assert w == "aaaa bbbb<br>cccc dddd"
    assert fc.wrap("<b>aaaa</b> bbbb", 9) == "<b>aaaa</b> bbbb"
    assert fc.wrap("one<br>two", 3) == "one<br>two"


def test_finish_puts_the_legend_under_the_plot_and_sizes_the_ticks() -> None:
    fig = go.Figure(go.Scatter(x=[1, 2], y=[0.05, 3.0], name="a"))
    fig.update_layout(title="A title that is long enough to need two lines on a phone screen")
    fig.update_yaxes(type="log")
    fc.finish(fig, height=400, legend_rows=2)
    lay = fig.layout
    assert lay.legend.yref == "container" and lay.legend.y == 0 and lay.legend.yanchor == "bottom"
    assert lay.title.yref == "container" and "<br>" in lay.title.text
    assert lay.height == 400 + 2 * 22
    assert lay.xaxis.tickfont.size >= 12 and lay.yaxis.tickfont.size >= 12
    assert list(lay.yaxis.tickvals) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]  # no 9 px minor digits


def test_export_is_projector_resolution() -> None:
    cfg = fc.export_config("my_chart")["toImageButtonOptions"]
    assert cfg["width"] * cfg["scale"] >= 1920 and cfg["height"] * cfg["scale"] >= 1080
    assert cfg["filename"] == "my_chart" and cfg["format"] == "png"


def test_same_curves_groups_equal_ones_in_order() -> None:
    a, b = np.array([0.0, 0.5, -0.25]), np.array([0.0, 0.5, -0.2])
    groups = fc.same_curves([("srf", a), ("srff", b), ("src", a.copy()), ("sro", a + 1e-17)])
    assert groups == [["srf", "src", "sro"], ["srff"]]


def test_representability_in_words() -> None:
    exact = fc.representability(1.0, 1.0, 1.0078125, "BF16")
    assert "exactly representable" in exact and "ulp above" not in exact
    inexact = fc.representability(1.3, 1.296875, 1.3046875, "BF16")
    assert "not representable" in inexact and "0.400000** ulp above lo" in inexact
    top = fc.stored_words(448.0, 448.0, 416.0, math.nan, "E4M3")
    assert "next value down is 416, one ulp = 32" in top
    assert "This mode stores **1.296875**" in fc.stored_words(1.3, 1.296875, 1.2890625,
                                                              1.3046875, "BF16")
    assert fc.stored_words(500.0, 448.0, 416.0, math.nan, "E4M3") == ""  # overflow: its note
