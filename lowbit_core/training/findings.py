"""Which of the papers' findings the curve library reproduces, judged against seed noise.

Runs with the same seed share the initial weights, the batch order and the data, so two recipes
are compared *paired*: per seed, the difference of the final validation losses relative to the
baseline's; its mean over the seeds, and the standard error of that mean, ``SE = sd / sqrt(n)``.
A difference counts as measured when ``|mean| > k SE`` (``k = 2`` by default; with 3 seeds this
is a rough screen, not a significance test, and the page says so) and is reported as "within
seed noise" otherwise. Nothing is tuned per task: every finding is checked on every task.

The page states every gap the same way (:func:`paired_gaps`, :func:`gap_uncertainty`,
:func:`noise_verdict`): the gap of the seed means, ± two standard errors of the paired per-seed
gaps, and "within seed noise" when the gap is smaller than that. A live run is one seed compared
with a baseline trained with the same seed, steps and batch (:func:`paired_curve_gap`); its ±
is twice the library's pooled spread of one paired gap (:func:`typical_spread`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "FINDINGS", "Finding", "final_by_seed", "final_losses", "findings", "gap_uncertainty",
    "noise_verdict", "paired_curve_gap", "paired_gap", "paired_gaps", "typical_spread",
]


@dataclass(frozen=True)
class Finding:
    """One published claim, as a comparison of two recipes."""

    key: str
    claim: str  #: what the papers found (papers_spec (c), (d))
    worse: str  #: the recipe expected to have the higher loss ("" for "about equal")
    better: str  #: the recipe it is compared against
    kind: str = "worse"  #: "worse": worse > better; "close": |gap| below `close` %
    close: float = 1.0  #: threshold (percent) of a "close" finding
    source: str = ""


FINDINGS: tuple[Finding, ...] = (
    Finding("bf16_close", "BF16 trains like FP32", "bf16", "fp32", "close", 1.0,
            "common practice; NVFP4 paper baselines"),
    Finding("naive_worse", "Naive FP4 (RNE everywhere, no RHT, 1-D weights) is clearly worse",
            "fp4_naive", "fp32", source="NVFP4 paper §4, Fig. 4"),
    Finding("nvfp4_closes", "The NVFP4 recipe closes most of the naive FP4 gap",
            "fp4_naive", "nvfp4", source="NVFP4 paper §4–5"),
    Finding("sr_helps", "Removing SR on gradients hurts", "nvfp4_no_sr", "nvfp4",
            source="NVFP4 paper Fig. 4, Fig. 10"),
    Finding("rht_helps", "Removing the Hadamard transform (Wgrad) hurts", "nvfp4_no_rht", "nvfp4",
            source="NVFP4 paper Fig. 4, Fig. 11"),
    Finding("tiles_help", "Removing 2-D weight tiles hurts", "nvfp4_no_2d", "nvfp4",
            source="NVFP4 paper Fig. 4, §4.3"),
    Finding("hp_last_helps", "Quantizing the last layer too hurts", "nvfp4_no_hp_last", "nvfp4",
            source="NVFP4 paper §4.1"),
    Finding("mx_worse", "MXFP4 is worse than NVFP4", "mxfp4", "nvfp4",
            source="NVFP4 paper Fig. 6 (8B: 2.5% vs 1.5%)"),
    Finding("mx_format_worse", "With the same techniques, the MXFP4 format is worse than NVFP4",
            "mxfp4_recipe", "nvfp4", source="NVFP4 paper §5, Fig. 6"),
    Finding("fp8_close", "FP8 (E4M3/E5M2, tensor scaling) stays close to the baseline", "fp8",
            "fp32", "close", 1.0, "FP8 training practice"),
)


def final_losses(curves: pd.DataFrame) -> pd.DataFrame:
    """Final validation loss of every run: one row per (task, recipe, seed); diverged = inf.

    Only runs of each task's library length (its most common planned ``steps``) are kept, so
    stray shorter runs never mix with the library's.
    """
    if curves.empty:
        return pd.DataFrame(columns=["task", "recipe", "seed", "val_loss"])
    c = curves
    if "steps" in c.columns:
        main = c.groupby("task")["steps"].agg(lambda s: s.mode().iloc[0])
        c = c[c["steps"].to_numpy() == main.reindex(c["task"]).to_numpy()]
    last = c.sort_values("step").groupby(["task", "recipe", "seed"], as_index=False).last()
    v = last["val_loss"].astype(float)
    if "diverged" in last.columns:
        v = v.where(~last["diverged"].astype(bool), math.inf)
    return last.assign(val_loss=v.where(np.isfinite(v) | (v == math.inf), math.inf))[
        ["task", "recipe", "seed", "val_loss"]
    ]


def paired_gap(
    finals: pd.DataFrame, task: str, a: str, b: str, ref: str = "fp32"
) -> tuple[float, float, int]:
    """Mean and standard error over shared seeds of ``(L_a - L_b) / L_ref`` in percent.

    Returns ``(mean, se, n_seeds)``; ``(nan, nan, 0)`` when no seed has all three runs. ``se``
    is NaN with a single seed.
    """
    f = finals[finals["task"] == task].pivot_table(
        index="seed", columns="recipe", values="val_loss", aggfunc="first"
    )
    if any(r not in f.columns for r in (a, b, ref)):
        return math.nan, math.nan, 0
    f = f[list(dict.fromkeys((a, b, ref)))].dropna()
    if f.empty:
        return math.nan, math.nan, 0
    d = 100.0 * (f[a] - f[b]) / f[ref]
    n = len(d)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return float(d.mean()), se, n


def _verdict(fd: Finding, mean: float, se: float, n: int, k: float) -> str:
    if n == 0 or not math.isfinite(mean):
        return "diverged" if n and mean == math.inf else "not measured"
    noise = k * se if math.isfinite(se) else 0.0
    if fd.kind == "close":
        return "reproduces" if abs(mean) < fd.close else "does not reproduce"
    if mean > noise and (n > 1):
        return "reproduces"
    if mean < -noise and n > 1:
        return "opposite"
    return "within seed noise"


def findings(curves: pd.DataFrame, k: float = 2.0, ref: str = "fp32") -> pd.DataFrame:
    """Every finding on every task of ``curves``: measured paired gap, noise and verdict.

    Columns: ``key, claim, task, worse, better, gap_pct`` (mean of ``(L_worse - L_better) /
    L_ref`` over seeds, percent), ``se_pct``, ``seeds``, ``verdict`` (reproduces / within seed
    noise / opposite / does not reproduce / not measured), ``source``. For "nvfp4_closes" the
    gap is naive minus NVFP4 and the verdict also needs NVFP4's own gap to be below half of
    the naive one ("most of the gap").
    """
    finals = final_losses(curves)
    rows = []
    for task in sorted(finals["task"].unique()):
        for fd in FINDINGS:
            mean, se, n = paired_gap(finals, task, fd.worse, fd.better, ref)
            verdict = _verdict(fd, mean, se, n, k)
            if fd.key == "nvfp4_closes" and verdict == "reproduces":
                naive, _, _ = paired_gap(finals, task, "fp4_naive", ref, ref)
                nv, _, _ = paired_gap(finals, task, "nvfp4", ref, ref)
                if not (nv < 0.5 * naive):
                    verdict = "partly (less than half the gap closed)"
            rows.append({
                "key": fd.key, "claim": fd.claim, "task": task, "worse": fd.worse,
                "better": fd.better, "gap_pct": mean, "se_pct": se, "seeds": n,
                "verdict": verdict, "source": fd.source,
            })
    return pd.DataFrame(rows, columns=["key", "claim", "task", "worse", "better", "gap_pct",
                                       "se_pct", "seeds", "verdict", "source"])


# --- fair comparisons: every gap with its seed noise ---------------------------------------------


def final_by_seed(curves: pd.DataFrame) -> pd.DataFrame:
    """Last validation loss of every (recipe, seed) run in ``curves`` (one task, one run length),
    diverged runs and non-finite losses left out: columns ``recipe, seed, val_loss``."""
    if curves.empty:
        return pd.DataFrame({"recipe": pd.Series(dtype=str), "seed": pd.Series(dtype=int),
                             "val_loss": pd.Series(dtype=float)})
    last = curves.sort_values("step").groupby(["recipe", "seed"], as_index=False).last()
    ok = np.isfinite(last["val_loss"].astype(float))
    if "diverged" in last.columns:
        ok &= ~last["diverged"].eq(True)
    return last.loc[ok, ["recipe", "seed", "val_loss"]].reset_index(drop=True)


def paired_gaps(finals: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Per recipe, the per-seed gaps ``100 (L_r,s / L_base,s − 1)`` over the seeds both ran.

    Args:
        finals: :func:`final_by_seed` rows.
        baseline: the recipe every other is compared with.

    Returns:
        Columns ``recipe, n, gap_mean, gap_sd`` (sd with ddof=1: NaN for one seed); the baseline
        and recipes sharing no seed with it are left out.
    """
    cols = ["recipe", "n", "gap_mean", "gap_sd"]
    base = finals[finals["recipe"] == baseline].set_index("seed")["val_loss"].rename("_b")
    f = finals[finals["recipe"] != baseline].join(base, on="seed", how="inner")
    if f.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    f = f.assign(_g=100.0 * (f["val_loss"] / f["_b"] - 1.0))
    g = f.groupby("recipe")["_g"].agg(n="count", gap_mean="mean", gap_sd="std").reset_index()
    return g[cols]


def typical_spread(gaps: pd.DataFrame) -> float:
    """The seed-to-seed spread of one paired gap, pooled over recipes: the root mean square of
    :func:`paired_gaps`' ``gap_sd`` over the recipes with at least two seeds (NaN if none).

    This is what a single-seed comparison (a live run against its same-seed baseline) is
    uncertain by: with the initial weights and the batch order shared, the seed moves a gap far
    less than it moves either loss."""
    sd = gaps.loc[gaps["n"] >= 2, "gap_sd"].to_numpy(np.float64)
    sd = sd[np.isfinite(sd)]
    return float(np.sqrt(np.mean(sd**2))) if sd.size else math.nan


def gap_uncertainty(sd: float, n: int, typical: float, k: float = 2.0) -> float:
    """``k`` standard errors of a mean of ``n`` paired gaps: ``k sd / sqrt(n)``, with the pooled
    ``typical`` spread standing in for ``sd`` when fewer than two seeds give one.

    Raises:
        ValueError: ``n`` < 1 or ``k`` <= 0.
    """
    if n < 1 or not k > 0:
        raise ValueError(f"need n >= 1 and k > 0, got n={n!r}, k={k!r}")
    s = sd if n >= 2 and math.isfinite(sd) else typical
    return k * s / math.sqrt(n)


def noise_verdict(gap: float, unc: float) -> str:
    """``"within seed noise"`` when ``|gap| < unc``, ``"beyond seed noise"`` otherwise;
    ``"noise unknown"`` without a finite uncertainty, ``"n/a"`` without a finite gap."""
    if not math.isfinite(gap):
        return "n/a"
    if not math.isfinite(unc):
        return "noise unknown"
    return "within seed noise" if abs(gap) < unc else "beyond seed noise"


def paired_curve_gap(run: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Gap ``100 (L_run / L_base − 1)`` at every step both curves evaluated (same seed, steps
    and batch, so the same evaluation steps): columns ``step, val_loss, base_val_loss,
    gap_pct``; non-finite losses are left out."""
    cols = ["step", "val_loss"]
    j = run[cols].merge(base[cols].rename(columns={"val_loss": "base_val_loss"}), on="step")
    j = j[np.isfinite(j["val_loss"].astype(float)) & np.isfinite(j["base_val_loss"].astype(float))]
    j = j.sort_values("step").reset_index(drop=True)
    return j.assign(gap_pct=100.0 * (j["val_loss"] / j["base_val_loss"] - 1.0))
