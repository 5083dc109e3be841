"""Captions computed from what their chart shows (no Streamlit import).

A caption that makes a claim about a chart ("drifts", "stagnates", "biased toward zero") must be
true of the numbers drawn for the current settings. Each function here takes those numbers and
returns the sentence, so the claim is made only where it holds; tests pin each rule on a state
where the claim holds and one where it must not be made.

The statistical rule is the lab's usual one: a mean differs from a reference when the gap is
more than twice its standard error, the standard error coming from the spread over the seeds.
"""

from __future__ import annotations

import math

import pandas as pd

from ui.figures_common import mode_short

__all__ = ["Drift", "accumulation_caption", "drift", "live_steps_note", "profile_caption"]

Z = 2.0  #: a gap counts when it exceeds Z standard errors (about 95 % for a normal mean)


class Drift:
    """The end-of-sum error of one rounding mode, over its seeds."""

    def __init__(self, errors: pd.Series) -> None:
        self.n = int(errors.size)  #: number of seeds (lanes)
        self.mean = float(errors.mean())
        self.sd = float(errors.std(ddof=1)) if self.n > 1 else math.nan
        #: standard error of the mean; nan for a single seed (no spread to judge by)
        self.se = self.sd / math.sqrt(self.n) if self.n > 1 else math.nan

    @property
    def judged(self) -> bool:
        """Whether there is a spread to judge the mean by (two seeds or more)."""
        return self.n > 1

    @property
    def drifts(self) -> bool:
        """The mean error is more than ``Z`` standard errors from zero (or, with no spread at
        all over several seeds, not zero)."""
        if not self.judged:
            return False
        if self.se == 0:
            return self.mean != 0
        return abs(self.mean) > Z * self.se


def drift(df: pd.DataFrame, mode: str) -> Drift:
    """The end-of-sum error of ``mode`` in an accumulation frame (columns term, mode, error)."""
    last = df[(df["term"] == df["term"].max()) & (df["mode"] == mode)]
    return Drift(last["error"])


def _stagnation(df: pd.DataFrame) -> int | None:
    """The first term after which RNE's sum never changes again, or None if it still moved at
    the last term."""
    rne = df[df["mode"] == "rne"].sort_values("term")
    s = rne["sum"].to_numpy()
    if s.size < 2 or s[-1] != s[-2]:
        return None
    moved = (s[1:] != s[:-1]).nonzero()[0]
    return int(moved[-1]) + 1 if moved.size else 0


def accumulation_caption(df: pd.DataFrame, few_bit: str, rbits: int, fmt_label: str) -> str:
    """The accumulation chart's caption: what RNE, exact SR and the few-bit mode did here.

    "Drifts" is said of a stochastic mode only when its mean end error is more than two
    standard errors (from the seeds' spread) from zero; a mode whose every seed ends at RNE's
    stagnated value is said to stagnate; one seed gives no spread, and the caption says so.
    """
    n = int(df["term"].max())
    out = [f"Each step adds a to the running sum and rounds the exact result to {fmt_label}."]
    stop = _stagnation(df)
    rne_end = float(df[(df["mode"] == "rne") & (df["term"] == n)]["sum"].iloc[0])
    if stop is None:
        out.append(f"Round-to-nearest still moved at the last of the {n:,} terms (a is not below "
                   "half an ulp of the sum yet).")
    else:
        out.append(f"Round-to-nearest stopped at term {stop:,}: from there a is below half an "
                   "ulp of the sum, so the sum rounds back to itself forever (stagnation).")
    name = f"{mode_short(few_bit)} (N = {rbits})"
    for mode, label in (("sr", "Exact SR"), (few_bit, name)):
        d = drift(df, mode)
        ends = df[(df["mode"] == mode) & (df["term"] == n)]["sum"]
        if not d.judged:
            out.append(f"{label}: one seed only, so there is no spread to tell drift from "
                       "noise; use more seeds.")
        elif stop is not None and bool((ends == rne_end).all()) and d.sd == 0:
            out.append(f"{label} stagnates like round-to-nearest: every seed ends at the same "
                       "sum (too few random bits to ever round up by this small a step).")
        elif d.drifts and mode == "sr":
            out.append(f"Exact SR's mean end error {d.mean:+.3g} is "
                       f"{abs(d.mean) / d.se if d.se else math.inf:.1f} standard errors from "
                       "zero: at this threshold about one setting in twenty shows that by "
                       "chance; another seed tells chance from a real bias (saturation).")
        elif d.drifts:
            out.append(f"{label} drifts: its mean end error {d.mean:+.3g} is "
                       f"{abs(d.mean) / d.se if d.se else math.inf:.1f} standard errors from "
                       f"zero ({d.n} seeds).")
        else:
            out.append(f"{label} does not drift measurably: its mean end error {d.mean:+.3g} "
                       f"is within {Z:g} standard errors ({Z * d.se:.2g}) of zero over {d.n} "
                       "seeds.")
    out.append("Bands: min–max over the seeds; lines: their mean. Exact SR is unbiased only up "
               "to saturation: a sum that reaches the format's largest value is clipped there.")
    return " ".join(out)


def profile_caption(means: pd.DataFrame) -> str:
    """Which of the shown stochastic modes are biased over the interval, from the exact means
    (columns mode, mean_bias in ulps); deterministic modes are left to their own panel."""
    sto = means[means["mode"].isin(["sr", "srff", "srf", "src", "sro"])]
    biased = [(str(m), float(b)) for m, b in zip(sto["mode"], sto["mean_bias"], strict=True)
              if b != 0]
    fair = [mode_short(str(m)) for m, b in zip(sto["mode"], sto["mean_bias"], strict=True)
            if b == 0]
    parts = []
    if fair:
        parts.append(f"{', '.join(fair)}: zero mean bias over the interval (exact)")
    for m, b in biased:
        way = "toward zero" if b < 0 else "away from zero"
        parts.append(f"{mode_short(m)}: mean bias {b:+.4g} ulp ({way})")
    return ("Here " + "; ".join(parts) + ".") if parts else ""


def live_steps_note(live_steps: int, library_steps: int) -> str:
    """Why a live run of another length is not the library's run (empty when the lengths
    match): the learning rate warms up and decays over the run's own length."""
    if live_steps == library_steps:
        return ""
    if live_steps < library_steps:
        return (f"The learning rate warms up and decays over the run's own length, so a "
                f"{live_steps}-step run is not the same as the first {live_steps} of the "
                f"library's {library_steps} steps; use 0 steps to compare like with like.")
    return (f"The library's runs of this task are {library_steps} steps long; a "
            f"{live_steps}-step run goes on past them, and since its learning rate decays over "
            f"its own length even its first {library_steps} steps differ from the library's "
            "run. Use 0 steps to compare like with like.")


def block_caption(blocks: pd.DataFrame, outlier_at: int, block: int) -> str:
    """Whether the outlier's block lost resolution, from the blocks table (columns block,
    scale, rmse): said when its RMS error is more than twice every other block's."""
    lead = ("A seeded Gaussian tensor N(0, 1) with one outlier, quantized in blocks that share "
            "one scale.")
    k = outlier_at // block
    own = blocks[blocks["block"] == k]
    rest = blocks[blocks["block"] != k]
    if own.empty or rest.empty:
        return lead + " The tensor is one block here: there is no other block to compare with."
    r, others = float(own["rmse"].iloc[0]), float(rest["rmse"].max())
    scale = float(own["scale"].iloc[0])
    if r > 2 * others:
        return (lead + f" The outlier's block (block {k}) needs scale {scale:g}, so its RMS "
                f"error is {r:.3g}, {r / others:.1f}× the worst other block's ({others:.3g}): "
                "the outlier costs its whole block resolution, the other blocks keep theirs.")
    return (lead + f" Here the outlier is too small to stand out: its block's RMS error "
            f"{r:.3g} is within twice the other blocks' (up to {others:.3g}). Make it larger "
            "to see its block lose resolution.")
