"""AppTest: the Gradient variance page shows the captions computed from its own charts' data
(issue 18): INT2 with W quantized says SR diverged; the defaults name RNE's lower variance."""

from __future__ import annotations

import pytest

from lowbit_core.experiments import grad_variance as gv
from tests.apptools import open_ok
from ui import captions_grad_variance as cap
from ui.params import to_query
from ui.params_grad_variance import GradVarianceParams

pytestmark = pytest.mark.app

PAGE = "app_pages/grad_variance.py"


def test_int2_weights_caption_says_diverged() -> None:
    p = GradVarianceParams(targets=("w", "a", "g"), mbits=0, b_max=5, repeats=16, xr_bits=1)
    at = open_ok(PAGE, to_query(p), timeout=300)
    captions = [c.value for c in at.caption]
    want = cap.training_caption(gv.sgd_curves(p.sgd()), True, p.fmt_label)
    assert want in captions and "**Diverged:** SR (exact stochastic)" in want
    assert not any("keeps those updates on average" in c for c in captions)


def test_every_caption_is_the_computed_one() -> None:
    p = GradVarianceParams()
    at = open_ok(PAGE, to_query(p), timeout=300)
    captions = [c.value for c in at.caption]
    df = gv.gradient_variance(p.variance())
    assert cap.variance_caption(df) in captions
    assert cap.split_caption(df, p.split_mode) in captions
    assert cap.bias_caption(df, p.fmt_label) in captions
    sweep = gv.bits_sweep(p.exchange(), range(p.xr_bits + 1), p.ebits, family=p.grid)
    assert cap.exchange_caption(gv.exchange_from_sweep(sweep, p.ref), p.ref, p.repeats) in captions
    assert any(c.startswith("Plain SGD") for c in captions)
    assert not any("(a)" in c or "§" in c for c in captions)
