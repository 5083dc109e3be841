"""Captions of the Gradient variance page, computed from the results they describe (issue 18).

Each function takes the table its chart is drawn from and returns markdown: the fixed part says
how to read the chart (jargon spelled out), the computed part says what this chart shows for
these settings, and says so plainly when a setting breaks the story the page tells (a run that
diverges, a biased mode that looks "better", a bias that exact SR should not have). Pure: no
Streamlit, so every rule has a test (tests/test_captions_grad_variance.py).

Rules, each with the threshold its test checks:

* **less variance than full precision**: a mode's total variance below the full-precision one by
  more than two relative standard errors of a variance estimated from R batches, sqrt(2/(R-1)),
  at at least half the batch sizes;
* **1/B**: the log-log slope of total variance against B (least squares); "falls as 1/B" when
  it is within 0.15 of -1, "flattens" when it is above -0.85;
* **shares stay put**: the rounding share of sampling + rounding variance changes by at most
  10 percentage points from the smallest to the largest batch;
* **bias resolved**: a squared bias above twice its standard error (as the chart draws it);
* **needs a smaller batch than full precision**: a batch needed below the reference batch by
  more than the same two relative standard errors (the target and the fits are variances);
* **diverged**: a mean loss at the end above 10× the start, or not finite; **stalls**: with W
  quantized, round-to-nearest's end loss at least 0.9× its start while SR's fell below 0.5×.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ui.figures_common import mode_label

__all__ = [
    "DIVERGE_X",
    "bias_caption",
    "exchange_caption",
    "split_caption",
    "training_caption",
    "variance_caption",
]

DIVERGE_X = 10.0  #: an end loss this many times the start loss is a diverged run
SLOPE_TOL = 0.15  #: |slope + 1| within this: "falls as 1/B"
FLAT_SLOPE = -0.85  #: a slope above this: "flattens"
MODEL_WORDS = (
    "Δ is the spacing of the number grid where a value lies, B the batch size; exact SR's error "
    "on one value has variance δ(1−δ)Δ² for a value a fraction δ of the way between two grid "
    "points, Δ²/6 on average, and a batch mean divides it by B: hence Δ²/(6B)."
)


def _names(modes: Iterable[str]) -> str:
    labels = [mode_label(m) for m in modes]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def slope(batch: np.ndarray, var: np.ndarray) -> float:
    """Least-squares slope of log(var) against log(batch) over the positive values."""
    ok = (batch > 0) & (var > 0) & np.isfinite(var)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(batch[ok]), np.log(var[ok]), 1)[0])


def lower_than_fp32(df: pd.DataFrame) -> list[str]:
    """Modes whose total variance is resolved below full precision's (see the module rules)."""
    fp = df[df["mode"] == "fp32"].set_index("batch")["total_var"]
    out = []
    for mode, d in df[df["mode"] != "fp32"].groupby("mode", sort=False):
        tol = _rel_tol(int(d["repeats"].iloc[0]))
        ratio = d.set_index("batch")["total_var"] / fp.reindex(d["batch"]).to_numpy()
        if (ratio < 1.0 - tol).sum() * 2 >= len(ratio):
            out.append(str(mode))
    return out


def variance_caption(df: pd.DataFrame) -> str:
    """Caption of the variance chart (a :func:`~lowbit_core.experiments.grad_variance.
    gradient_variance` table)."""
    text = ("Total variance of the mini-batch gradient over R batches (solid). Dashed: the lab's "
            "model Δ²/(6B) of the rounding noise added to the measured sampling term. "
            f"{MODEL_WORDS} Dotted: the floor that weight quantization leaves (one rounding of "
            "W per step, shared by the whole batch). Log-log axes: a slope of −1 means "
            "variance ∝ 1/B.")
    slopes = {str(m): slope(d["batch"].to_numpy(np.float64), d["total_var"].to_numpy(np.float64))
              for m, d in df.groupby("mode", sort=False)}
    flat = [m for m, s in slopes.items() if s > FLAT_SLOPE]
    fits = [m for m, s in slopes.items() if abs(s + 1.0) <= SLOPE_TOL]
    if len(fits) == len(slopes):
        text += (" **Here:** every curve falls as 1/B (slopes "
                 + ", ".join(f"{mode_label(m)} {s:.2f}" for m, s in slopes.items()) + ").")
    elif flat:
        text += (f" **Here:** {_names(flat)} flatten{'s' if len(flat) == 1 else ''} (slope "
                 + ", ".join(f"{slopes[m]:.2f}" for m in flat) + "): part of the error does "
                 "not fall with B (the weight floor, or a rounding bias).")
    low = lower_than_fp32(df)
    if low:
        text += (f" **Less variance than full precision:** {_names(low)}. That is not a better "
                 "gradient: a deterministic or biased rounding pulls nearby gradient values "
                 "onto the same grid points, which removes spread but adds a bias that no "
                 "batch size removes (section 4).")
    return text


SHARE_MOVE = 0.10  #: a change of the rounding share larger than this: "the shares move"


def split_caption(df: pd.DataFrame, mode: str) -> str:
    """Caption of the split chart for ``mode``: do the shares stay put as B grows?"""
    d = df[df["mode"] == mode].sort_values("batch")
    share = (d["quant_var"] / (d["sampling_var"] + d["quant_var"])).to_numpy(np.float64)
    text = ("Share of the sampling variance (the same batches, no rounding) and of the rounding "
            "noise in their sum, per batch size.")
    if len(share) == 0 or not np.isfinite(share).all():
        return text
    lo, hi = float(share[0]), float(share[-1])
    b0, b1 = int(d["batch"].iloc[0]), int(d["batch"].iloc[-1])
    if abs(hi - lo) <= SHARE_MOVE:
        text += (f" **Here** the rounding share stays near {100 * hi:.0f} % from B = {b0} to "
                 f"{b1:,}: both parts fall as 1/B, so a larger batch shrinks them together.")
    elif hi > lo:
        text += (f" **Here** the rounding share grows from {100 * lo:.0f} % at B = {b0} to "
                 f"{100 * hi:.0f} % at B = {b1:,}: part of the rounding noise does not fall with "
                 "B (the weights are rounded once per step for the whole batch).")
    else:
        text += (f" **Here** the rounding share falls from {100 * lo:.0f} % at B = {b0} to "
                 f"{100 * hi:.0f} % at B = {b1:,}: the rounding noise falls faster than the "
                 "sampling noise.")
    return text


def bias_caption(df: pd.DataFrame, fmt_label: str) -> str:
    """Caption of the bias chart: which modes' bias is resolved (> 2 SE) and what that means."""
    text = ("Squared bias of the mean gradient, estimated from R batches and corrected for the "
            "noise of their mean; bars: ±2 standard errors (SE). Only estimates above 2 SE are "
            "drawn; the grey band is what R batches cannot tell from zero.")
    resolved = [str(m) for m, d in df[df["mode"] != "fp32"].groupby("mode", sort=False)
                if (d["bias2"] > 2.0 * d["bias2_se"]).any()]
    quiet = [str(m) for m in dict.fromkeys(df["mode"]) if m != "fp32" and m not in resolved]
    if resolved:
        text += (f" **Here:** the bias of {_names(resolved)} is resolved; it does not fall "
                 "with B, so a larger batch cannot fix it.")
    if quiet:
        text += f" {_names(quiet)}: inside the band (no bias these R batches can resolve)."
    if "sr" in resolved:
        text += (f" Exact SR is unbiased only up to saturation: values beyond {fmt_label}'s "
                 "largest number are clipped, and that clipping biases the mean (fewer bits "
                 "or no tensor scaling make it likelier).")
    return text


def _rel_tol(repeats: int) -> float:
    """Two relative standard errors of a variance estimated from ``repeats`` samples."""
    return 2.0 * math.sqrt(2.0 / max(repeats - 1.0, 1.0))


def exchange_caption(xr: pd.DataFrame, ref: int, repeats: int) -> str:
    """Caption of the exchange-rate chart (an :func:`~lowbit_core.experiments.grad_variance.
    exchange_from_sweep` table)."""
    text = (f"Batch size at which the error E‖ĝ − g‖² (ĝ the mini-batch gradient, g the "
            f"full-data one) with k bits falls to the full-precision value at B = {ref}, from a "
            "fit C/B + F to each measured curve (F: what no batch removes; a point off the top "
            "never gets there). Dashed: the model (σ² + ΣΔ²/6)/(target − weight floor), σ² the "
            "sampling variance of one sample. One bit fewer quadruples the rounding term, so "
            "at most 4× batch per bit; less when sampling noise dominates.")
    need = xr["batch_needed"].to_numpy(np.float64)
    below = xr[np.isfinite(need) & (need < ref * (1.0 - _rel_tol(repeats)))]
    if len(below):
        parts = [f"{mode_label(str(r['mode']))} at k = {int(r['mbits'])} (B ≈ "
                 f"{r['batch_needed']:.2g})" for _i, r in below.iterrows()]
        text += (f" **Needs a smaller batch than full precision:** {'; '.join(parts)}. Not "
                 "because fewer bits help: a biased rounding (few random bits) can shrink the "
                 "spread of the gradient more than the bias it adds at these batch sizes, and "
                 "its bias stays however large B grows (section 4).")
    return text


def training_caption(tr: pd.DataFrame, w_quantized: bool, fmt_label: str) -> str:
    """Caption of the SGD chart (a :func:`~lowbit_core.experiments.grad_variance.sgd_curves`
    table): how to read it, and per mode whether it diverged or stalled."""
    mean = tr.groupby(["mode", "step"], sort=False)["loss"].mean()
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    for mode in dict.fromkeys(tr["mode"]):
        s = mean.loc[mode]
        start[str(mode)], end[str(mode)] = float(s.iloc[0]), float(s.iloc[-1])
    diverged = [m for m in end
                if not math.isfinite(end[m]) or end[m] > DIVERGE_X * start[m]]
    text = "Plain SGD from the same start and batches for every mode."
    if w_quantized:
        text += (" W is quantized: the weights are stored in the format (no full-precision "
                 "copy).")
        rne, sr = "rne", "sr"
        if (rne in end and sr in end and rne not in diverged and sr not in diverged
                and end[rne] >= 0.9 * start[rne] and end[sr] < 0.5 * start[sr]):
            text += (" Round-to-nearest drops every update smaller than half a grid spacing "
                     "and stalls; SR keeps those updates on average.")
    if diverged:
        parts = [f"{mode_label(m)} (loss {end[m]:.3g} at the end, from {start[m]:.3g})"
                 for m in diverged]
        text += (f" **Diverged:** {'; '.join(parts)}. On {fmt_label} the rounding noise is "
                 "too large for this learning rate: unbiased rounding (up to saturation) keeps "
                 "updates right on average, but its variance still adds up and can throw the "
                 "weights off. "
                 "Lower the learning rate, or give the format more bits.")
    return text
