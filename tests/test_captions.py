"""Caption rules (ui.captions): each claim is made where the numbers support it and not elsewhere.

The frames are built by hand, so the expected verdict follows from arithmetic on the numbers put
in (mean, standard error), not from the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ui import captions


def _acc(rne: list[float], sr_end: list[float], few_end: list[float], few: str = "srff"
         ) -> pd.DataFrame:
    """An accumulation frame: RNE's sums per term, the stochastic modes' end errors (their
    start errors are 0), exact sums 0 so error == sum for the stochastic lanes."""
    n = len(rne) - 1
    rows = [{"term": t, "mode": "rne", "lane": 0, "sum": s, "exact": 0.0, "error": s}
            for t, s in enumerate(rne)]
    for mode, ends in (("sr", sr_end), (few, few_end)):
        for lane, e in enumerate(ends):
            rows.append({"term": 0, "mode": mode, "lane": lane, "sum": 0.0, "exact": 0.0,
                         "error": 0.0})
            rows.append({"term": n, "mode": mode, "lane": lane, "sum": e, "exact": 0.0,
                         "error": e})
    return pd.DataFrame(rows)


STAGNANT = [1.0, 1.0, 1.0, 1.0]  # RNE never moved: stopped at term 0
MOVING = [1.0, 2.0, 3.0, 4.0]  # RNE still moving at the last term


def test_drift_rule_uses_two_standard_errors() -> None:
    # mean -0.023, sd 0.02 over 16 seeds: se = 0.005, 4.6 se from zero -> drifts
    e = -0.023 + 0.02 * np.tile([1.0, -1.0], 8) * np.sqrt(15 / 16)
    d = captions.Drift(pd.Series(e))
    assert abs(d.se - 0.005) < 1e-12
    assert d.drifts
    # the case: -0.023 with a spread like exact SR's (sd 0.1, se 0.025): 0.9 se -> no
    e2 = -0.023 + 0.1 * np.tile([1.0, -1.0], 8) * np.sqrt(15 / 16)
    assert not captions.Drift(pd.Series(e2)).drifts


def test_accumulation_says_drifts_only_past_the_seed_spread() -> None:
    spread = np.tile([1.0, -1.0], 8) * np.sqrt(15 / 16)  # sd exactly 1 over 16 seeds
    sr = list(0.0 + 0.1 * spread)
    drifting = list(-0.06 + 0.05 * spread)  # 4.8 se
    quiet = list(-0.023 + 0.1 * spread)  # 0.9 se
    text = captions.accumulation_caption(_acc(STAGNANT, sr, drifting), "srff", 3, "BF16")
    assert "SRFF (N = 3) drifts" in text
    assert "Exact SR does not drift measurably" in text
    text = captions.accumulation_caption(_acc(STAGNANT, sr, quiet), "srff", 3, "BF16")
    assert "drifts" not in text.replace("does not drift", "")
    assert "SRFF (N = 3) does not drift measurably" in text


def test_accumulation_stagnation_claims() -> None:
    spread = list(np.tile([0.1, -0.1], 8))
    few_stuck = [1.0] * 16  # every seed ends at RNE's stagnated sum, no spread
    text = captions.accumulation_caption(_acc(STAGNANT, spread, few_stuck), "srff", 2, "BF16")
    assert "Round-to-nearest stopped at term 0" in text
    assert "SRFF (N = 2) stagnates like round-to-nearest" in text
    text = captions.accumulation_caption(_acc(MOVING, spread, spread), "srff", 2, "BF16")
    assert "still moved" in text and "stopped at term" not in text
    assert "stagnates" not in text


def test_accumulation_one_seed_makes_no_drift_claim() -> None:
    text = captions.accumulation_caption(_acc(STAGNANT, [0.5], [-0.5]), "src", 3, "BF16")
    assert "drifts" not in text and text.count("one seed only") == 2


def test_accumulation_on_the_real_experiment() -> None:
    """Integration: the caption's verdict agrees with a t-statistic computed here by hand."""
    from ui.cached import accumulation

    df = accumulation("bfloat16", 1.0, 0.001, 300, "srff", 3, 16, 0)
    end = df[(df["term"] == 300) & (df["mode"] == "srff")]["error"].to_numpy()
    t = abs(end.mean()) / (end.std(ddof=1) / 4)
    text = captions.accumulation_caption(df, "srff", 3, "BF16")
    assert ("SRFF (N = 3) drifts" in text) == (t > 2)


def test_profile_caption_names_only_biased_modes() -> None:
    means = pd.DataFrame({"mode": ["rne", "sr", "srff", "src"],
                          "mean_bias": [0.0, 0.0, -0.0625, 0.0]})
    text = captions.profile_caption(means)
    assert "SR, SRC: zero mean bias" in text
    assert "SRFF: mean bias -0.0625 ulp (toward zero)" in text
    assert "RNE" not in text  # deterministic modes have their own panel
    assert "toward zero" not in captions.profile_caption(means[means["mode"] != "srff"])


def test_live_steps_note_uses_the_task_length() -> None:
    assert captions.live_steps_note(400, 400) == ""
    short = captions.live_steps_note(200, 400)
    assert "first 200 of the library's 400 steps" in short
    long = captions.live_steps_note(2000, 400)
    assert "library's runs of this task are 400 steps long" in long
    assert "first 2000" not in long and "first 400 steps differ" in long


def _blocks(rmse: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"block": range(len(rmse)), "scale": [4.0] + [0.25] * (len(rmse) - 1),
                         "rmse": rmse})


def test_block_caption_says_the_outlier_block_lost_resolution_only_when_it_did() -> None:
    text = captions.block_caption(_blocks([0.9, 0.15, 0.14]), outlier_at=5, block=32)
    assert "costs its whole block resolution" in text and "6.0×" in text  # 0.9 / 0.15
    text = captions.block_caption(_blocks([0.25, 0.15]), outlier_at=5, block=32)  # 1.7x
    assert "too small to stand out" in text and "costs" not in text
    # the outlier sits in block 1 (element 40, blocks of 32)
    assert "block 1" in captions.block_caption(_blocks([0.1, 0.9]), outlier_at=40, block=32)
    one = captions.block_caption(_blocks([0.9]), outlier_at=5, block=32)
    assert "one block" in one and "costs" not in one


def test_block_caption_on_the_real_demo() -> None:
    from ui import figures_formats as ff

    _, big, _, _ = ff.block_demo("mxfp4", 2, 20.0, 5, 0)
    assert "costs its whole block" in captions.block_caption(big, 5, 32)
    _, small, _, _ = ff.block_demo("mxfp4", 2, 0.5, 5, 0)
    assert "too small" in captions.block_caption(small, 5, 32)
