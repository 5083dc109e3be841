"""Every caption rule of the Gradient variance page (issue 18), each on a table built so the
rule holds and on one built so it does not, plus the issue's own case: INT2 with W quantized,
where exact SR training diverges and the caption must say so instead of "keeps them on average"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lowbit_core.experiments import grad_variance as gv
from ui import captions_grad_variance as cap
from ui.params_grad_variance import PRESETS, GradVarianceParams

B = np.array([1, 2, 4, 8, 16, 32], dtype=np.float64)


def var_table(curves: dict[str, np.ndarray], repeats: int = 128) -> pd.DataFrame:
    rows = []
    for mode, v in curves.items():
        rows.append(pd.DataFrame({"mode": mode, "batch": B.astype(int), "total_var": v,
                                  "repeats": repeats}))
    return pd.concat(rows, ignore_index=True)


# --- variance chart ---


def test_all_curves_on_one_over_b_are_said_to_fall_as_one_over_b() -> None:
    text = cap.variance_caption(var_table({"fp32": 1.0 / B, "sr": 1.5 / B}))
    assert "every curve falls as 1/B" in text and "-1.00" in text
    assert "flatten" not in text and "Less variance" not in text
    assert "Δ is the spacing" in text  # the jargon spelled out


def test_a_floor_is_called_a_flattening() -> None:
    text = cap.variance_caption(var_table({"fp32": 1.0 / B, "sr": 1.0 / B + 0.5}))
    assert "every curve" not in text and "SR (exact stochastic) flattens" in text


def test_less_variance_than_full_precision_is_named_and_explained() -> None:
    # R = 128: two relative SE = 2 sqrt(2/127) = 0.25, so 0.7x is resolved and 0.9x is not
    text = cap.variance_caption(var_table({"fp32": 1.0 / B, "rne": 0.7 / B}))
    assert "Less variance than full precision:** RNE" in text and "not a better" in text
    assert "Less variance" not in cap.variance_caption(var_table({"fp32": 1.0 / B,
                                                                  "rne": 0.9 / B}))
    # with R = 8 two relative SE are 1.07: nothing can be resolved below full precision
    assert "Less variance" not in cap.variance_caption(
        var_table({"fp32": 1.0 / B, "rne": 0.3 / B}, repeats=8))


def test_slope_is_least_squares_on_logs() -> None:
    assert cap.slope(B, 3.0 * B**-0.5) == pytest.approx(-0.5)
    assert np.isnan(cap.slope(B[:1], B[:1]))


# --- split chart ---


def split_table(quant: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"mode": "sr", "batch": B.astype(int), "sampling_var": 1.0 / B,
                         "quant_var": quant})


def test_split_shares_stay_put_or_move() -> None:
    assert "stays near 50 %" in cap.split_caption(split_table(1.0 / B), "sr")
    grows = cap.split_caption(split_table(1.0 / B + 0.1), "sr")
    assert "grows from 52 % at B = 1 to 81 % at B = 32" in grows  # 1.1/2.1, 0.13125/0.1625


# --- bias chart ---


def bias_table(b2: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"mode": m, "batch": 1, "bias2": v, "bias2_se": 1.0}
                         for m, v in b2.items()])


def test_resolved_bias_and_the_band() -> None:
    text = cap.bias_caption(bias_table({"fp32": 0.0, "rne": 5.0, "sr": 1.5}), "INT2")
    assert "the bias of RNE (nearest, ties to even) is resolved" in text
    assert "SR (exact stochastic): inside the band" in text and "saturation" not in text


def test_a_resolved_sr_bias_is_blamed_on_saturation() -> None:
    text = cap.bias_caption(bias_table({"fp32": 0.0, "sr": 2.5}), "INT2")
    assert "unbiased only up to saturation" in text and "INT2's largest number" in text


# --- exchange chart ---


def xr_table(needs: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"mode": "srff", "mbits": range(len(needs)), "batch_needed": needs})


def test_a_batch_below_the_reference_is_explained() -> None:
    text = cap.exchange_caption(xr_table([40.0, 5.0]), ref=8, repeats=128)
    assert "smaller batch than full precision:** SRFF (N bits, truncated) at k = 1 (B ≈ 5)" in text
    assert "biased rounding" in text
    # 7.9 against 8 is inside two relative SE of R = 128 (25 %): not claimed
    assert "smaller batch" not in cap.exchange_caption(xr_table([40.0, 7.9]), 8, 128)
    assert "smaller batch" not in cap.exchange_caption(xr_table([np.inf, 9.0]), 8, 128)


# --- training chart ---


def train_table(curves: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"mode": m, "seed": 0, "step": i, "loss": v}
                         for m, c in curves.items() for i, v in enumerate(c)])


def test_divergence_is_said_plainly() -> None:
    text = cap.training_caption(train_table({"fp32": [1.0, 0.1], "sr": [1.0, 1e9]}), True, "INT2")
    assert "**Diverged:** SR (exact stochastic) (loss 1e+09 at the end, from 1)" in text
    assert "keeps those updates" not in text
    inf = cap.training_caption(train_table({"sr": [1.0, float("inf")]}), False, "INT2")
    assert "Diverged" in inf
    assert "Diverged" not in cap.training_caption(train_table({"sr": [1.0, 9.0]}), False, "x")


def test_the_stall_story_only_when_it_happens() -> None:
    stall = train_table({"rne": [1.0, 0.95], "sr": [1.0, 0.2]})
    assert "stalls; SR keeps those updates on average" in cap.training_caption(stall, True, "x")
    assert "stalls" not in cap.training_caption(stall, False, "x")  # W not quantized
    both = train_table({"rne": [1.0, 0.3], "sr": [1.0, 0.2]})
    assert "stalls" not in cap.training_caption(both, True, "x")  # RNE did not stall


def test_int2_with_weights_the_issue_case() -> None:
    """Issue 18: on INT2 with W, A and G quantized exact SR training diverges (~1e8 here)."""
    preset = PRESETS["Weights too: the floor no batch removes (W, A, G)"]
    p = GradVarianceParams(**{**preset, "mbits": 0})
    tr = gv.sgd_curves(p.sgd())
    end = tr[tr["mode"] == "sr"].groupby("step")["loss"].mean().iloc[-1]
    text = cap.training_caption(tr, True, p.fmt_label)
    assert end > cap.DIVERGE_X * tr["loss"].iloc[0]
    assert "**Diverged:** SR (exact stochastic)" in text and "INT2" in text
    assert "keeps those updates on average" not in text
