"""Tables and plotly builders for the FP4 training page: tidy curves in, frames/figures out (pure).

The input is the curve library's tidy table (:func:`lowbit_core.training.library.load_curves`):
one row per evaluation with ``recipe, task, seed, step, train_loss, val_loss, val_metric,
wall_time`` and, in the library, ``steps`` (planned steps of the run) and ``diverged``. Every
function takes the rows of **one task**; when the rows hold several run lengths (``steps``) the
longest runs are used, since curves of different schedules do not share steps
(:func:`select` does both filters explicitly).

Conventions (papers_spec (d): the NVFP4 paper reports relative loss gaps of seed-free runs; the
lab has seeds, so it shows their spread):

* a run *diverged* when its ``diverged`` flag is set or a row after step 0 has a non-finite
  training loss; that row and any after it are dropped from the curves;
* non-finite losses and metrics are missing values, never plotted;
* a gap is relative, in percent, of seed means: ``100 * (L_r / L_base - 1)``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lowbit_core.training.findings import (
    final_by_seed,
    gap_uncertainty,
    noise_verdict,
    paired_gaps,
    typical_spread,
)
from ui.figures_common import finish, wrap

__all__ = [
    "BAND_COLUMNS",
    "COLORS",
    "FINAL_COLUMNS",
    "GAP_COLUMNS",
    "LITERATURE",
    "TECHNIQUES",
    "Technique",
    "bands",
    "color",
    "final_table",
    "gap_figure",
    "gap_table",
    "gap_text",
    "literature_figure",
    "loss_figure",
    "overhead_figure",
    "select",
]

#: One colour per preset (``lowbit_core.training.recipes.RECIPES``); references dark and light
#: grey (mid lightness, so both read on the light and on the dark theme).
COLORS: dict[str, str] = {
    "fp32": "#5f5f5f", "bf16": "#a0a0a0", "fp8": "#1f77b4", "mxfp4": "#d62728",
    "fp4_naive": "#e6ab02", "nvfp4": "#2ca02c", "nvfp4_no_sr": "#ff7f0e",
    "nvfp4_no_rht": "#9467bd", "nvfp4_no_2d": "#e377c2", "nvfp4_no_hp_last": "#bcbd22",
    "mxfp4_recipe": "#17becf",
}
#: Colours for recipes outside :data:`COLORS` (edited recipes), picked by a stable hash.
_EXTRA_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d")
#: Literature bars: muted, unlike any lab colour, so nobody mistakes them for measurements.
_LIT_COLORS = {"NVFP4": "#b9a88f", "MXFP4": "#8f9bb0"}

X_TITLES = {"step": "training step", "wall_time": "wall time (s)"}
Y_TITLES = {"val_loss": "validation loss", "train_loss": "training loss (mean since last eval)"}
#: Axis titles of the tasks' metrics (``TaskSpec.metric``).
METRIC_TITLES = {
    "rel_mse": "validation relative MSE",
    "accuracy": "validation accuracy",
    "bits_per_char": "validation bits per character",
}
_CURVE_COLUMNS = ("recipe", "seed", "step", "train_loss", "val_loss", "val_metric", "wall_time")
#: Columns of :func:`bands`.
BAND_COLUMNS = ["recipe", "step", "wall_time", "mean", "min", "max", "std", "n_seeds",
                "diverged_seeds"]
#: Columns of :func:`gap_table`.
GAP_COLUMNS = ["recipe", "step", "gap_pct", "val_loss", "baseline_val_loss", "n_seeds"]
#: Columns of :func:`final_table`.
FINAL_COLUMNS = [
    "recipe", "label", "seeds", "val_loss_mean", "val_loss_std", "val_loss", "metric_mean",
    "gap_pct", "gap_unc_pct", "verdict", "gap", "compared", "paired_gap_std", "wall_time_s",
    "diverged",
]
#: Columns of the live-run rows :func:`final_table` appends (one row per finished live run).
LIVE_COLUMNS = ["recipe", "label", "val_loss", "metric", "wall_time_s", "diverged", "gap_pct",
                "gap_unc_pct", "compared"]
_LAYOUT = {"height": 440, "margin": {"l": 70, "r": 20, "t": 50, "b": 20}}


def color(recipe: str) -> str:
    """The recipe's colour: :data:`COLORS`, else a stable pick (CRC32 of the name)."""
    if recipe in COLORS:
        return COLORS[recipe]
    return _EXTRA_COLORS[zlib.crc32(recipe.encode()) % len(_EXTRA_COLORS)]


def _label(labels: Mapping[str, str], recipe: str) -> str:
    return str(labels.get(recipe, recipe))


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _empty(title: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text="no data", xref="paper", yref="paper", x=0.5, y=0.5,
                       showarrow=False, font={"size": 16})
    fig.update_layout(title=title, **_LAYOUT)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return finish(fig, legend=False)


def _finite(a: pd.Series | np.ndarray) -> np.ndarray:
    return np.isfinite(np.asarray(a, dtype=np.float64))


# --- tidy tables ----------------------------------------------------------------------------------


def select(curves: pd.DataFrame, task: str, steps: int | None = None) -> pd.DataFrame:
    """The rows of one task and one run length (``steps``; default: the longest stored).

    Raises:
        ValueError: ``steps`` is given but no run of ``task`` has that length.
    """
    c = curves[curves["task"] == task] if "task" in curves.columns else curves
    if "steps" not in c.columns or not c["steps"].notna().any():
        return c.reset_index(drop=True)
    want = int(c["steps"].max()) if steps is None else int(steps)
    if want not in set(c["steps"].dropna().astype(int)):
        raise ValueError(f"steps={steps!r}: no {task!r} runs of that length")
    return c[c["steps"] == want].reset_index(drop=True)


def _prep(curves: pd.DataFrame) -> pd.DataFrame:
    """Checked rows of one task and run length, with a per-run ``_diverged`` flag and the rows
    from the divergence on dropped."""
    missing = [c for c in _CURVE_COLUMNS if c not in curves.columns]
    if missing:
        raise ValueError(f"curves lack the columns {missing}")
    if curves.empty:
        return curves.assign(_diverged=pd.Series(dtype=bool))
    if "task" in curves.columns and curves["task"].nunique() > 1:
        raise ValueError(
            f"curves hold several tasks {sorted(curves['task'].unique())}: pass one (select())"
        )
    c = curves
    if "steps" in c.columns and c["steps"].nunique() > 1:  # rows without steps (live) stay
        c = c[c["steps"].isna() | (c["steps"] == c["steps"].max())]
    c = c.assign(recipe=c["recipe"].astype(str)).sort_values(["recipe", "seed", "step"])
    # 1. the first row after step 0 with a non-finite training loss marks a divergence
    bad = (c["step"] > 0) & ~_finite(c["train_loss"])
    first_bad = c[bad].groupby(["recipe", "seed"])["step"].min().rename("_first_bad")
    c = c.join(first_bad, on=["recipe", "seed"])
    flag = c["diverged"].eq(True) if "diverged" in c.columns else False  # NaN: not flagged
    c = c.assign(_diverged=c["_first_bad"].notna() | flag)
    c["_diverged"] = c.groupby(["recipe", "seed"])["_diverged"].transform("any")
    # 2. drop that row and everything after it
    keep = c["_first_bad"].isna() | (c["step"] < c["_first_bad"])
    return c[keep].drop(columns="_first_bad").reset_index(drop=True)


def _diverged_seeds(c: pd.DataFrame) -> pd.Series:
    runs = c[["recipe", "seed", "_diverged"]].drop_duplicates(["recipe", "seed"])
    return runs.groupby("recipe")["_diverged"].sum().astype(int).rename("diverged_seeds")


def bands(curves: pd.DataFrame, x: str = "step", y: str = "val_loss") -> pd.DataFrame:
    """Seed statistics of ``y`` per recipe and evaluation step.

    ``mean, min, max, std`` (sample std, ``ddof=1``: NaN with one seed) and ``n_seeds`` count the
    seeds with a finite ``y`` at that step; ``wall_time`` is the seed-mean wall time at that step
    (the x of a wall-time plot: the seeds of a recipe share their evaluation steps);
    ``diverged_seeds`` counts the recipe's diverged runs (their rows from the divergence on are
    dropped, so a diverged seed leaves the later means).

    Args:
        curves: tidy curves of one task (see the module docstring).
        x: ``"step"`` or ``"wall_time"``; both columns are returned, sorted along ``x``.
        y: ``"val_loss"``, ``"train_loss"`` or ``"val_metric"``.

    Returns:
        A frame with :data:`BAND_COLUMNS` (empty when no finite ``y`` is left).

    Raises:
        ValueError: unknown ``x`` or ``y``, missing columns, several tasks in ``curves``.
    """
    if x not in X_TITLES:
        raise ValueError(f"x={x!r}: use one of {list(X_TITLES)}")
    if y not in ("val_loss", "train_loss", "val_metric"):
        raise ValueError(f"y={y!r}: use 'val_loss', 'train_loss' or 'val_metric'")
    c = _prep(curves)
    ok = c[_finite(c[y])]
    if ok.empty:
        return pd.DataFrame({k: pd.Series(dtype=float) for k in BAND_COLUMNS})
    g = ok.groupby(["recipe", "step"])[y].agg(["mean", "min", "max", "std", "count"])
    g = g.rename(columns={"count": "n_seeds"}).reset_index()
    wall = c.groupby(["recipe", "step"])["wall_time"].mean().rename("wall_time")
    g = g.join(wall, on=["recipe", "step"]).join(_diverged_seeds(c), on="recipe")
    return g.sort_values(["recipe", x]).reset_index(drop=True)[BAND_COLUMNS]


_band_table = bands  # loss_figure's ``bands`` flag shadows the function there


def gap_table(curves: pd.DataFrame, baseline: str = "fp32") -> pd.DataFrame:
    """Relative gap of each recipe's seed-mean validation loss to the baseline's, per step.

    ``gap_pct = 100 * (mean_r / mean_base - 1)`` at the steps both have (papers_spec (d): the
    NVFP4 paper's "relative loss gap"). The baseline itself is left out (its gap is 0).

    Returns:
        A frame with :data:`GAP_COLUMNS`, sorted by recipe and step (empty without a baseline).
    """
    b = bands(curves, "step", "val_loss")
    base = b[b["recipe"] == baseline].set_index("step")["mean"].rename("baseline_val_loss")
    if base.empty:
        return pd.DataFrame({k: pd.Series(dtype=float) for k in GAP_COLUMNS})
    t = b[b["recipe"] != baseline].join(base, on="step", how="inner")
    t = t.rename(columns={"mean": "val_loss"})
    t["gap_pct"] = 100.0 * (t["val_loss"] / t["baseline_val_loss"] - 1.0)
    return t[GAP_COLUMNS].sort_values(["recipe", "step"]).reset_index(drop=True)


def _pm(m: float, s: float) -> str:
    if not np.isfinite(m):
        return "n/a"
    return f"{m:.4g} ± {s:.2g}" if np.isfinite(s) else f"{m:.4g}"


def gap_text(gap: float, unc: float, verdict: str) -> str:
    """A gap as the page prints it, with its uncertainty and what that means, in one cell:
    ``"+5.80 % ± 1.20 · beyond seed noise"``."""
    if not np.isfinite(gap):
        return "n/a"
    pm = f" ± {unc:.2f}" if np.isfinite(unc) else ""
    return f"{gap:+.2f} %{pm} · {verdict}"


def final_table(
    curves: pd.DataFrame, labels: Mapping[str, str], baseline: str = "fp32",
    live: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per recipe from the last row of each run, sorted by the gap to ``baseline``,
    then one row per finished live run (``live``, :data:`LIVE_COLUMNS`, gaps already paired).

    * ``val_loss_mean``, ``val_loss_std`` (ddof=1), ``metric_mean``, ``wall_time_s``: over the
      runs that did not diverge (a diverged run's last loss is meaningless);
    * ``gap_pct = 100 * (mean_r / mean_base - 1)`` of those seed means;
    * ``gap_unc_pct``: two standard errors of the paired per-seed gaps
      ``100 * (L_r,s / L_base,s - 1)`` over the seeds both recipes ran (a seed fixes the
      initialisation and the batch order for every recipe, so this paired spread is far below
      the seeds' spread of either loss); with one seed, twice the task's pooled spread of one
      paired gap (:func:`lowbit_core.training.findings.typical_spread`);
    * ``verdict``: "within seed noise" when ``|gap_pct| < gap_unc_pct``, else "beyond seed
      noise"; ``gap``: the three in one cell (:func:`gap_text`), the baseline says "baseline";
    * ``paired_gap_std``: the sd behind ``gap_unc_pct``; ``compared``: what was paired with
      what; ``seeds``: runs of the recipe; ``diverged``: how many of them diverged.

    Returns:
        A frame with :data:`FINAL_COLUMNS`; recipes without a finished run sort last.
    """
    c = _prep(curves)
    if c.empty and (live is None or live.empty):
        return pd.DataFrame({k: pd.Series(dtype=object) for k in FINAL_COLUMNS})
    last = c.groupby(["recipe", "seed"]).tail(1)
    ok = last[~last["_diverged"] & _finite(last["val_loss"])]
    agg = ok.groupby("recipe").agg(
        val_loss_mean=("val_loss", "mean"), val_loss_std=("val_loss", "std"),
        metric_mean=("val_metric", "mean"), wall_time_s=("wall_time", "mean"),
    )
    t = last.groupby("recipe").agg(seeds=("seed", "nunique"), diverged=("_diverged", "sum"))
    t = t.join(agg).reset_index()
    t["diverged"] = t["diverged"].astype(int)
    has_base = bool((t["recipe"] == baseline).any())
    base = t[t["recipe"] == baseline]
    m0 = float(base["val_loss_mean"].iloc[0]) if has_base else np.nan
    t["gap_pct"] = 100.0 * (t["val_loss_mean"] / m0 - 1.0)
    pg = paired_gaps(final_by_seed(ok.drop(columns="_diverged")), baseline)
    typical = typical_spread(pg)
    t = t.join(pg.set_index("recipe")[["n", "gap_sd"]], on="recipe")
    t["paired_gap_std"] = t["gap_sd"]
    base_name = _label(labels, baseline)
    unc, verdict, text, compared = [], [], [], []
    for r, g, sd, n, seeds in zip(t["recipe"], t["gap_pct"], t["gap_sd"], t["n"], t["seeds"],
                                  strict=True):
        if r == baseline:
            unc.append(0.0)
            verdict.append("baseline")
            text.append("baseline")
            compared.append(f"{int(seeds)} seeds")
            continue
        nn = int(n) if np.isfinite(n) else 0
        u = gap_uncertainty(float(sd), nn, typical) if nn else np.nan
        v = noise_verdict(float(g), u) if has_base else "n/a (no baseline)"
        unc.append(u)
        verdict.append(v)
        text.append(gap_text(float(g), u, v) if has_base else v)
        compared.append(f"{nn} seed{'s' if nn != 1 else ''}, each with {base_name}'s same seed"
                        if nn else f"no seed shared with {base_name}")
    t["gap_unc_pct"], t["verdict"], t["gap"], t["compared"] = unc, verdict, text, compared
    t["label"] = [_label(labels, r) for r in t["recipe"]]
    t["val_loss"] = [_pm(float(m), float(s))
                     for m, s in zip(t["val_loss_mean"], t["val_loss_std"], strict=True)]
    t = t.sort_values("gap_pct", na_position="last", kind="stable")
    if live is not None and len(live):
        lv = live.assign(
            seeds=1, val_loss_mean=live["val_loss"], val_loss_std=np.nan,
            metric_mean=live["metric"], paired_gap_std=np.nan,
            val_loss=[_pm(float(v), np.nan) for v in live["val_loss"]],
        )
        lv["verdict"] = [noise_verdict(float(g), float(u))
                         for g, u in zip(lv["gap_pct"], lv["gap_unc_pct"], strict=True)]
        lv["gap"] = [gap_text(float(g), float(u), v) if np.isfinite(g) else str(cmp)
                     for g, u, v, cmp in zip(lv["gap_pct"], lv["gap_unc_pct"], lv["verdict"],
                                             lv["compared"], strict=True)]
        t = pd.concat([t, lv], ignore_index=True)
    return t[FINAL_COLUMNS].reset_index(drop=True)


# --- figures --------------------------------------------------------------------------------------


def _live_runs(
    live: pd.DataFrame | None, x: str, y: str
) -> list[tuple[str, str, pd.DataFrame, bool]]:
    """(run label, colour, finite rows sorted by x, is a baseline) of each live curve; a
    ``kind`` column of ``"baseline"`` marks the same-seed baseline of a live run."""
    if live is None or live.empty or y not in live.columns or x not in live.columns:
        return []
    runs = live["run"].astype(str) if "run" in live.columns else pd.Series("run", live.index)
    out = []
    for run in dict.fromkeys(runs):
        d = live[runs == run]
        d = d[_finite(d[x]) & _finite(d[y])].sort_values(x)
        rec = str(d["recipe"].iloc[0]) if "recipe" in d.columns and len(d) else run
        base = bool("kind" in d.columns and len(d) and d["kind"].iloc[0] == "baseline")
        if len(d):
            out.append((run, color(rec), d, base))
    return out


def _live_trace(run: str, c: str, xs: np.ndarray, ys: np.ndarray, fmt: str,
                baseline: bool = False, **kw: object) -> go.Scatter:
    name = run if baseline else f"live: {run}"
    return go.Scatter(
        x=xs, y=ys, mode="lines+markers", name=name,
        line={"color": c, "dash": "dot" if baseline else "dash", "width": 2.5},
        marker={"size": 6, "color": c, "symbol": "square" if baseline else "circle"},
        hovertemplate=f"{name}<br>%{{x}}: %{{y:{fmt}}}<extra></extra>", **kw,
    )


def _zoom_window(b: pd.DataFrame, live: list[tuple[str, str, pd.DataFrame, bool]], x: str,
                 y: str) -> tuple[float, list[float]] | None:
    """Start of the zoom panel (30% into the x range) and the y range of the curves there."""
    xs = b[x].to_numpy(np.float64)
    if xs.size < 2:
        return None
    x0 = float(np.nanmin(xs) + 0.3 * (np.nanmax(xs) - np.nanmin(xs)))
    vals = [b.loc[b[x] >= x0, "mean"].to_numpy(np.float64)]
    vals += [d.loc[d[x] >= x0, y].to_numpy(np.float64) for _, _, d, _ in live]
    v = np.concatenate(vals)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    pad = 0.15 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-12)
    return x0, [lo - pad, hi + pad]


def loss_figure(
    curves: pd.DataFrame,
    recipes: Sequence[str],
    labels: Mapping[str, str],
    *,
    x: str = "step",
    y: str = "val_loss",
    live: pd.DataFrame | None = None,
    log_y: bool = False,
    title: str | None = None,
    metric_name: str | None = None,
    bands: bool = True,
    baseline: str | None = None,
    zoom: bool = True,
) -> go.Figure:
    """Seed-mean curve and min–max seed band per recipe, live runs dashed on top, and a zoom.

    Per recipe (in ``recipes`` order; names absent from ``curves`` are skipped) two traces: the
    band (``name="<label> band"``, a ``toself`` polygon: max along x, then min back) and the
    mean line (``name=<label>``, hover: mean, std and seeds). The ``baseline`` recipe's mean
    is drawn last and widest, so the curves it is compared with never hide it. Live runs (a
    tidy frame with the curve columns and a ``run`` label; ``kind="baseline"`` marks a live
    run's same-seed baseline, dotted) come after as ``"live: <run>"``. With ``zoom`` a second
    panel below repeats the curves from 30% of the x range on, with a linear y axis fitted to
    the means there (traces named ``"<name> · zoom"``, not in the legend): late in training the
    curves bunch within a few percent, which a full-range axis cannot separate.

    Args:
        curves: tidy curves of one task.
        recipes: which recipes to draw, in order.
        labels: recipe id -> legend label (missing ids show the id).
        x: ``"step"`` or ``"wall_time"`` (the seed-mean wall time at each step).
        y: ``"val_loss"``, ``"train_loss"`` or ``"val_metric"``.
        live: optional live runs.
        log_y: logarithmic y axis (the main panel).
        title: figure title (default from ``y``).
        metric_name: the task's metric (``TaskSpec.metric``, e.g. ``"bits_per_char"``) for
            the y title when ``y="val_metric"``; other text is used as given.
        bands: draw the min–max seed bands (off: mean lines only).
        baseline: the reference recipe (drawn on top).
        zoom: add the zoom panel.

    Raises:
        ValueError: unknown ``x`` or ``y`` (see :func:`bands`).
    """
    b = _band_table(curves, x, y)
    key = (metric_name or "").strip().replace(" ", "_")
    ytitle = (METRIC_TITLES.get(key, metric_name or "validation metric")
              if y == "val_metric" else Y_TITLES[y])
    title = title or f"{ytitle[0].upper()}{ytitle[1:]}: seed means, bands min–max"
    fmt = ".4g"
    order: list[str] = [r for r in recipes if r != baseline]
    if baseline is not None and baseline in recipes:
        order.append(baseline)
    shown = b[b["recipe"].isin(order) & _finite(b[x])]
    runs = _live_runs(live, x, y)
    window = _zoom_window(shown, runs, x, y) if zoom else None
    panels = [("", "")] + ([("2", " · zoom")] if window else [])
    fig = go.Figure()
    for ax, suffix in panels:
        first = not ax
        for r in order if bands and first else ():
            d = shown[shown["recipe"] == r]
            if d.empty:
                continue
            c, name = color(r), _label(labels, r)
            xs = d[x].to_numpy(np.float64)
            lo, hi = d["min"].to_numpy(np.float64), d["max"].to_numpy(np.float64)
            fig.add_trace(go.Scatter(
                x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                fill="toself", fillcolor=_rgba(c, 0.12), line={"width": 0}, hoverinfo="skip",
                showlegend=False, name=f"{name} band{suffix}", legendgroup=r,
                xaxis="x" + ax, yaxis="y" + ax,
            ))
        for r in order:
            d = shown[shown["recipe"] == r]
            if d.empty:
                continue
            c, name = color(r), _label(labels, r)
            ref = r == baseline or (baseline is None and r in ("fp32", "bf16"))
            fig.add_trace(go.Scatter(
                x=d[x].to_numpy(np.float64), y=d["mean"].to_numpy(np.float64), mode="lines",
                name=name + suffix, legendgroup=r, showlegend=first,
                line={"color": c, "width": 4 if ref else 2.5}, opacity=0.8 if ref else 1.0,
                xaxis="x" + ax, yaxis="y" + ax,
                customdata=np.column_stack([d["n_seeds"], d["std"], d["step"]]),
                hovertemplate=(f"{name}<br>step %{{customdata[2]}}<br>mean %{{y:{fmt}}} "
                               f"(std %{{customdata[1]:.2g}})<br>n seeds %{{customdata[0]}}"
                               "<extra></extra>"),
            ))
        for run, c, d, is_base in runs:
            tr = _live_trace(run, c, d[x].to_numpy(np.float64), d[y].to_numpy(np.float64), fmt,
                             is_base, xaxis="x" + ax, yaxis="y" + ax, showlegend=first,
                             legendgroup="live:" + run)
            if suffix:
                tr.name = tr.name + suffix
            fig.add_trace(tr)
    if not fig.data:
        return _empty(title)
    ylab = f"{ytitle} (log scale)" if log_y else ytitle
    fig.update_layout(title=title, hovermode="closest", margin={"l": 70, "r": 20, "t": 50,
                                                                "b": 20})
    if window:
        x0, yr = window
        xmax = float(shown[x].max())
        fig.update_layout(
            yaxis={"domain": [0.42, 1.0], "type": "log" if log_y else "linear",
                   "title": {"text": wrap(ylab, 28)}},
            xaxis={"anchor": "y", "title": {"text": X_TITLES[x]}},
            yaxis2={"domain": [0.0, 0.27], "range": yr, "title": {"text": "zoom (linear)"}},
            xaxis2={"anchor": "y2", "range": [x0, xmax]},
            annotations=[{"text": f"<b>Zoom: from {X_TITLES[x]} {x0:.4g} on, linear y</b>",
                          "x": 0.5, "y": 0.29, "xref": "paper", "yref": "paper",
                          "xanchor": "center", "yanchor": "bottom", "showarrow": False}],
        )
        return finish(fig, height=720, legend_rows=3)
    fig.update_xaxes(title=X_TITLES[x])
    fig.update_yaxes(title=ylab, type="log" if log_y else "linear")
    return finish(fig, height=520, legend_rows=3)


def gap_figure(
    curves: pd.DataFrame,
    recipes: Sequence[str],
    labels: Mapping[str, str],
    baseline: str = "fp32",
    *,
    live: pd.DataFrame | None = None,
    final: pd.DataFrame | None = None,
) -> go.Figure:
    """Relative validation-loss gap (%) to ``baseline`` per step (:func:`gap_table`), a zero
    line, and live runs dashed, each against its **same-seed** baseline run (``live``: rows of
    :func:`lowbit_core.training.findings.paired_curve_gap` with a ``run`` label and
    ``recipe``). ``final`` (:func:`final_table`) adds, at each curve's last step, an error bar
    of ± its ``gap_unc_pct`` and the verdict in the legend entry."""
    t = gap_table(curves, baseline)
    base_name = _label(labels, baseline)
    title = f"Gap to {base_name}: 100·(L/L_base − 1)"
    unc: dict[str, tuple[float, str]] = {} if final is None else {
        str(lab): (float(u), str(v))
        for lab, u, v in zip(final["label"], final["gap_unc_pct"], final["verdict"], strict=True)
    }
    bars: list[tuple[str, str, float, float, float]] = []  # (name, colour, x, gap, ± at the end)

    def _err(name: str, c: str, xs: np.ndarray, ys: np.ndarray) -> None:
        if name in unc and np.isfinite(unc[name][0]):
            bars.append((name, c, float(xs[-1]), float(ys[-1]), unc[name][0]))

    def _name(name: str) -> str:  # the short label and the verdict
        return f"{name.split(' (')[0]}: {unc[name][1]}" if name in unc else name

    fig = go.Figure()
    for r in recipes:
        d = t[(t["recipe"] == r) & _finite(t["gap_pct"])]
        if r == baseline or d.empty:
            continue
        name = _label(labels, r)
        xs, ys = d["step"].to_numpy(np.float64), d["gap_pct"].to_numpy(np.float64)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=_name(name), line={"color": color(r), "width": 2.5},
            customdata=d["n_seeds"].to_numpy(), legendgroup=r,
            hovertemplate=(f"{name}<br>step %{{x}}<br>gap %{{y:+.2f}}%<br>"
                           "n seeds %{customdata}<extra></extra>"),
        ))
        _err(name, color(r), xs, ys)
    if live is not None and len(live):
        for run in dict.fromkeys(live["run"].astype(str)):
            d = live[live["run"].astype(str) == run].sort_values("step")
            d = d[_finite(d["gap_pct"])]
            if d.empty:
                continue
            c = color(str(d["recipe"].iloc[0])) if "recipe" in d.columns else "#333333"
            xs, ys = d["step"].to_numpy(np.float64), d["gap_pct"].to_numpy(np.float64)
            tr = _live_trace(run, c, xs, ys, "+.2f")
            tr.name = _name("live: " + run)
            fig.add_trace(tr)
            _err("live: " + run, c, xs, ys)
    if not fig.data:
        return _empty(title)
    # the end-of-run error bars, side by side (all curves end at the same step)
    span = max((float(np.ptp(np.asarray(t.x, dtype=np.float64))) for t in fig.data), default=1.0)
    for i, (name, c, x_end, g, u) in enumerate(bars):
        dx = (i - (len(bars) - 1) / 2) * 0.012 * span
        fig.add_trace(go.Scatter(
            x=[x_end + dx], y=[g], mode="markers", name=f"{name} ± 2 SE", showlegend=False,
            marker={"color": c, "size": 7}, meta="error bar",
            error_y={"type": "data", "array": [u], "color": c, "thickness": 2, "width": 5},
            hovertemplate=f"{name}<br>final gap %{{y:+.2f}}% ± {u:.2f}<extra></extra>",
        ))
    fig.add_hline(y=0.0, line={"color": "#888888", "width": 1.5},
                  annotation_text=base_name, annotation_position="bottom right")
    fig.update_layout(title=title, hovermode="closest", **_LAYOUT)
    fig.update_xaxes(title=X_TITLES["step"])
    fig.update_yaxes(title=f"gap to {base_name} (%)", ticksuffix="%")
    return finish(fig, height=460, legend_rows=3)


def overhead_figure(
    design: pd.DataFrame, labels: Mapping[str, str], *, baseline: str = "fp32"
) -> go.Figure:
    """Final loss gap (%) against analytic overhead (%), one marker per recipe (paper (c)'s view).

    ``design`` is :func:`lowbit_core.training.library.design_space`: ``overhead`` is
    ``extra_ops / gemm_flops`` (amax, scale, convert, RHT and dequant operations per GEMM flop of
    a training step), ``gap`` the relative gap of the final seed-mean loss. The error bar is
    ``gap_unc_pct`` when the frame has it (two standard errors of the paired per-seed gap, as
    in :func:`final_table`), else the recipe's seed std on the gap's scale,
    ``100 * val_loss_std / L_base`` with ``L_base = val_loss / (1 + gap)``. The y axis spans
    every bar. Markers are named by the legend (labels beside the markers collide when
    recipes share an overhead). Rows with a non-finite gap (a diverged seed) are listed in the
    title instead. Several run lengths: the longest; duplicate recipes: the first row.
    """
    title = f"Loss gap to {_label(labels, baseline)} vs analytic overhead"
    need = ("recipe", "gap", "overhead", "val_loss", "val_loss_std")
    if design.empty or any(k not in design.columns for k in need):
        return _empty(title)
    d = design
    if "steps" in d.columns and d["steps"].nunique() > 1:
        d = d[d["steps"] == d["steps"].max()]
    d = d.drop_duplicates("recipe")
    ok = _finite(d["gap"]) & _finite(d["overhead"])
    skipped = [_label(labels, str(r)) for r in d.loc[~ok, "recipe"]]
    d = d[ok]
    if d.empty:
        return _empty(title)
    parts = [k for k in ("amax_ops", "scale_ops", "convert_ops", "rht_flops", "dequant_ops",
                         "random_bits") if k in d.columns]
    d = d.sort_values("overhead")
    xs_all = 100.0 * d["overhead"].to_numpy(np.float64)
    fig = go.Figure()
    lo, hi = [0.0], [0.0]
    for _, row in d.iterrows():
        r = str(row["recipe"])
        gap = float(row["gap"])
        if "gap_unc_pct" in d.columns and np.isfinite(row["gap_unc_pct"]):
            err, what = float(row["gap_unc_pct"]), "± 2 SE, paired seeds"
        else:
            err = 100.0 * float(row["val_loss_std"]) / (float(row["val_loss"]) / (1.0 + gap))
            what = "± seed std"
        e = err if np.isfinite(err) else 0.0
        lo.append(100.0 * gap - e)
        hi.append(100.0 * gap + e)
        name = _label(labels, r)
        extra = "".join(f"<br>{k}: {float(row[k]):.3g}" for k in parts)
        fig.add_trace(go.Scatter(
            x=[100.0 * float(row["overhead"])], y=[100.0 * gap], mode="markers", name=name,
            marker={"color": color(r), "size": 13, "line": {"width": 1, "color": "#ffffff"}},
            error_y={"type": "data", "array": [e], "visible": bool(np.isfinite(err) and e > 0),
                     "color": color(r), "thickness": 2, "width": 6},
            hovertemplate=(f"{name}<br>overhead %{{x:.2f}}%<br>gap %{{y:+.2f}}% "
                           f"({what} {e:.2f}%){extra}<extra></extra>"),
        ))
    if skipped:
        title += f"<br><sup>not shown (diverged): {', '.join(skipped)}</sup>"
    fig.add_hline(y=0.0, line={"color": "#888888", "width": 1.5})
    fig.update_layout(title=title, hovermode="closest", **_LAYOUT)
    pad = 0.08 * max(float(np.ptp(xs_all)), 1.0)
    span = max(max(hi) - min(lo), 1e-9)
    fig.update_xaxes(title="analytic overhead: extra ops per GEMM flop (%)", ticksuffix="%",
                     range=[float(xs_all.min()) - pad, float(xs_all.max()) + pad])
    fig.update_yaxes(title="final validation-loss gap (%)", ticksuffix="%",
                     range=[min(lo) - 0.12 * span, max(hi) + 0.12 * span])
    return finish(fig, height=460, legend_rows=3)


# --- published values (not measured here) ---------------------------------------------------------

_NV = "arXiv 2509.25149v1"


@dataclass(frozen=True)
class _Lit:
    model: str  #: as the paper names it
    tokens: str  #: training tokens
    comparison: str  #: which arm (or "A vs B" for a relative gap)
    quantity: str
    value: float
    unit: str
    relation: str  #: "<", "≈" or "=": how the paper states the value
    source: str  #: where in the paper (arXiv id, table or figure)
    bar: str = ""  #: label of the bar in literature_figure ("" = not drawn)


_LIT_ROWS = (
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4 vs FP8",
         "relative validation-loss gap, stable phase", 1.0, "%", "<",
         f"{_NV}, 12B pretraining results", "12B, 10T: NVFP4 vs FP8, stable"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4 vs FP8",
         "relative validation-loss gap, end of training (slightly > 1.5%)", 1.5, "%", "≈",
         f"{_NV}, 12B pretraining results", "12B, 10T: NVFP4 vs FP8, end"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4", "MMLU-Pro 5-shot", 62.58, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "FP8", "MMLU-Pro 5-shot", 62.62, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4", "MMLU", 76.57, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "FP8", "MMLU", 77.36, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4", "GSM8k CoT", 92.27, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "FP8", "GSM8k CoT", 89.08, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4", "Code (average)", 56.67, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "FP8", "Code (average)", 59.52, "score", "=",
         f"{_NV} Table 2"),
    _Lit("12B hybrid Mamba-Transformer", "10T", "NVFP4 -> BF16 forward for the last 18%",
         "relative validation-loss gap at the end (1.5% before the switch at 8.2T)", 0.5, "%",
         "≈", f"{_NV}, switch to BF16 at 8.2T tokens"),
    _Lit("8B", "1T", "NVFP4 vs BF16", "relative loss error", 1.5, "%", "≈", f"{_NV} Fig. 6",
         "8B, 1T: NVFP4 vs BF16"),
    _Lit("8B", "1T", "MXFP4 vs BF16", "relative loss error", 2.5, "%", "≈", f"{_NV} Fig. 6",
         "8B, 1T: MXFP4 vs BF16"),
    _Lit("8B", "1T", "MXFP4 vs NVFP4", "tokens MXFP4 needs to match NVFP4's loss at 1T", 1.36,
         "T tokens", "=", f"{_NV} Fig. 6"),
    _Lit("8B", "1T", "MXFP4 vs NVFP4", "extra tokens MXFP4 needs to match NVFP4 at 1T", 36.0,
         "%", "=", f"{_NV} Fig. 6"),
    _Lit("GB200 Tensor Cores", "-", "NVFP4/MXFP4 vs BF16", "math throughput", 4.0, "x", "=",
         f"{_NV} Table 1"),
    _Lit("GB300 Tensor Cores", "-", "NVFP4/MXFP4 vs BF16", "math throughput", 6.0, "x", "=",
         f"{_NV} Table 1"),
)

#: Published reference values (papers_spec (d) headline results and check 18): shown as
#: literature, never as a lab measurement.
LITERATURE = pd.DataFrame(
    [{k: getattr(r, k) for k in ("model", "tokens", "comparison", "quantity", "value", "unit",
                                 "relation", "source")} for r in _LIT_ROWS]
)


def literature_figure() -> go.Figure:
    """Horizontal bars of the published relative loss gaps (:data:`LITERATURE`), text ``<1%``
    for an upper bound; muted colours and the title say they are not lab measurements."""
    rows = [r for r in _LIT_ROWS if r.bar][::-1]  # first row on top
    fig = go.Figure(go.Bar(
        x=[r.value for r in rows], y=[wrap(r.bar, 18) for r in rows], orientation="h",
        marker_color=[_LIT_COLORS["MXFP4" if r.comparison.startswith("MXFP4") else "NVFP4"]
                      for r in rows],
        text=[f"{'' if r.relation == '=' else r.relation}{r.value:g}%" for r in rows],
        textposition="outside", customdata=[r.source for r in rows],
        hovertemplate="%{y}: %{text}<br>%{customdata}<extra></extra>",
        name="published",
    ))
    fig.update_layout(
        title="Published (not measured here): relative loss gap, NVFP4 paper",
        margin={"l": 60, "r": 40, "t": 50, "b": 20},
    )
    fig.update_xaxes(title="relative loss gap (%)", ticksuffix="%",
                     range=[0, 1.45 * max(r.value for r in rows)])
    return finish(fig, height=360, legend=False)


# --- the techniques the recipes switch ------------------------------------------------------------


@dataclass(frozen=True)
class Technique:
    """One ingredient of an FP4 recipe, with what the papers found (papers_spec (c), (d))."""

    key: str  #: short id
    label: str  #: UI label
    what_it_does: str  #: one line
    paper_finding: str  #: one line, with its source as papers_spec states it
    ablation: str = ""  #: lab preset that removes it (recipes.RECIPES), "" if none


TECHNIQUES: tuple[Technique, ...] = (
    Technique(
        "sr_grad", "Stochastic rounding on gradients",
        "Rounds the gradient operands of Dgrad and Wgrad up or down at random, unbiased in "
        "expectation; weights and activations keep RNE.",
        "(d) §4: SR on gradients, RNE elsewhere; SR on activations or weights diverged (1.2B, "
        "Fig. 10); the 12B model needs SR on gradients into Dgrad and Wgrad. (c): SR gives "
        "consistent positive returns.",
        "nvfp4_no_sr",
    ),
    Technique(
        "rht_wgrad", "Random Hadamard transform (16×16) on Wgrad inputs",
        "Multiplies both Wgrad operands by the same random-sign Hadamard matrix along the "
        "token dimension, spreading outliers over 16 values before block quantization.",
        "(d) §4: RHT only on Wgrad inputs, 16×16, one sign vector for the run; RHT on "
        "Fprop/Dgrad hurt the 1.2B model (Fig. 11); d = 4 worse than 16, d = 128 minor "
        "benefit (Fig. 12). (c): Hadamard transforms are part of the best trade-off.",
        "nvfp4_no_rht",
    ),
    Technique(
        "tile2d", "2-D 16×16 weight tiles",
        "Scales weights in 16×16 tiles, so Fprop and Dgrad use the same quantized W (W and "
        "Wᵀ quantize identically); activations and gradients keep 1×16 blocks.",
        "(d) §4.3: 2-D weight scaling keeps the forward and backward weights consistent "
        "(chain rule); removing 2-D weights worsens loss (Fig. 4 ablation).",
        "nvfp4_no_2d",
    ),
    Technique(
        "hp_last", "Last layer(s) in BF16",
        "Keeps the last linear layer(s) in BF16 instead of FP4.",
        "(d) §4: keep ~15% of linear layers in BF16, mostly at the end (12B: first 2 + last 8 "
        "blocks = 16%; stable with only the last 4 blocks); switching to BF16 for the last 18% "
        "of tokens closes the gap.",
        "nvfp4_no_hp_last",
    ),
    Technique(
        "tensor_scale", "Tensor scaling (FP32 per-tensor scale)",
        "A per-tensor FP32 scale s_enc = 6·448 / amax puts every block scale inside the range "
        "of the E4M3 scale format.",
        "(d) §2 Eq. 1: NVFP4 pairs E4M3 block scales with an FP32 per-tensor scale. (c): tensor "
        "scaling gives consistent positive returns; part of the best trade-off with Hadamard "
        "and SR.",
    ),
    Technique(
        "block_size", "Block size (16 vs 32)",
        "How many elements share one scale: NVFP4 uses 1×16 blocks, MXFP4 1×32.",
        "(d) Fig. 6: 8B/1T vs BF16, NVFP4 ≈1.5% vs MXFP4 ≈2.5% relative loss error (format "
        "and scale differ too); (c) reviewers: no NVFP4-vs-MXFP4 block-size ablation.",
        "mxfp4_recipe",
    ),
    Technique(
        "scale_fmt", "Scale format (E4M3 / UE8M0 / UE5M3 / FP32)",
        "The format the block scale is stored in: E4M3 (NVFP4, 3 mantissa bits, max 448), "
        "UE8M0 (MXFP4, powers of two), UE5M3 (range and precision), FP32 (exact).",
        "(c): a precise scale is preferred, UE5M3 is a good range/precision compromise; an "
        "E4M3 scale did not converge despite tensor scaling due to its range (reviewer "
        "summary); 'Scale Representation is the Primary Bottleneck'.",
    ),
    Technique(
        "scale_rule", "Scale rule (AMAX vs OCP floor vs ceil)",
        "How amax becomes the block scale: amax/6 rounded into the scale format (NVFP4), "
        "2^(floor(log2 amax) − 2) (OCP MX, saturates), 2^ceil(log2(amax/6)) (round up).",
        "(d) App. B.4: NVIDIA's MXFP4 rounds the scale up to avoid saturation (citing Mishra et "
        "al. 2025), e.g. amax = 3+ε uses 2.58 instead of 3.58 binades; the OCP floor rule clips "
        "values in (6X, 8X).",
    ),
)
