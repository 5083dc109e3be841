"""AppTest: a link with every Gradient-variance control at its URL maximum is lowered into the
CPU budget, the widgets and the link show the values in use, and the page says what it lowered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lowbit_core.experiments import grad_variance_budget as gvb
from tests.apptools import chart_specs, open_ok, url_values
from tests.test_grad_variance_budget import WORST
from ui.params import to_query
from ui.params_grad_variance import within_budget

pytestmark = pytest.mark.app

PAGE = "app_pages/grad_variance.py"
K = "grad_variance."


def test_the_worst_link_is_lowered_and_says_so() -> None:
    fit = within_budget(WORST)
    at = open_ok(PAGE, to_query(replace(WORST, run=True)), timeout=300)
    (info,) = [i.value for i in at.info if "of CPU" in i.value]
    assert info == fit.message and f"limit of {gvb.BUDGET_S:.0f} s" in info
    for name, _label, _old, _new in fit.changes:
        want = getattr(fit.params, name)
        assert url_values(at, name) == [str(want)]  # the link carries the values in use
    assert at.slider(key=K + "repeats").value == fit.params.repeats  # and so do the widgets
    assert at.select_slider(key=K + "b_max").value == fit.params.b_max
    assert len(chart_specs(at)) == 6  # run=1 survives the lowering: the recipient sees charts
    assert not at.exception and not at.error
