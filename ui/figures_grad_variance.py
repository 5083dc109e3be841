"""Plotly builders for the Gradient variance page: tidy DataFrame in, ``go.Figure`` out (pure).

Labels and colours of the modes are the lab's (:mod:`ui.figures_common`); every figure goes
through :func:`ui.figures_common.finish` (legend under the plot, 13 px ticks, 1-2-5 log ticks).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.figures_common import MODE_COLORS as COLORS
from ui.figures_common import finish, mode_label, mode_short

__all__ = ["bias", "exchange", "exchange_sentence", "split", "training", "variance",
           "variance_by_bits"]

MODEL_NAME = "model Δ²/(6B)"
#: powers of two on batch-size axes (full-size labels, unlike plotly's log minor ticks)
_POW2 = [2**k for k in range(0, 14)]
#: one colour per bit count, light (few bits) to dark (many bits)
BITS_COLORS = ("#fdae61", "#f46d43", "#d73027", "#a50026", "#74add1", "#4575b4", "#313695",
               "#1a1a5e", "#0b0b33")


def _label(mode: str) -> str:
    return mode_label(mode)


def _batch_axis(fig: go.Figure, batches: pd.Series | None = None) -> None:
    """A log batch-size x axis labelled in powers of two (every other one past eight)."""
    b = [] if batches is None else sorted({int(v) for v in batches})
    ticks = [v for v in _POW2 if (not b or b[0] <= v <= b[-1])]
    if len(ticks) > 7:
        ticks = ticks[::2]
    fig.update_xaxes(type="log", title="batch size B (log scale)", tickmode="array",
                     tickvals=ticks, ticktext=[f"{v:,}" for v in ticks])


def _loglog(fig: go.Figure, title: str, ytitle: str, batches: pd.Series | None = None,
            rows: int = 2) -> go.Figure:
    fig.update_layout(title=title, margin={"l": 70, "r": 20, "t": 50, "b": 20},
                      hovermode="x unified")
    _batch_axis(fig, batches)
    fig.update_yaxes(type="log", title=ytitle)
    return finish(fig, height=440, legend_rows=rows)


def _positive(v: pd.Series) -> np.ndarray:
    a = v.to_numpy(np.float64)
    return np.where(a > 0, a, np.nan)


def variance(df: pd.DataFrame) -> go.Figure:
    """Total gradient variance vs B per mode (solid), the lab's model (dashed), weight floors."""
    fig = go.Figure()
    for mode, d in df.groupby("mode", sort=False):
        c = COLORS.get(str(mode), None)
        fig.add_trace(go.Scatter(
            x=d["batch"], y=d["total_var"], mode="lines+markers", name=_label(str(mode)),
            line={"color": c, "width": 3 if mode == "fp32" else 2},
        ))
        if d["model_var"].notna().any():
            fig.add_trace(go.Scatter(
                x=d["batch"], y=d["model_var"], mode="lines",
                name=f"{MODEL_NAME}, {mode_short(str(mode))}",
                line={"color": c, "dash": "dash", "width": 1.5},
            ))
        floor = float(d["floor_var"].iloc[0])
        if floor > 0:
            fig.add_trace(go.Scatter(
                x=d["batch"], y=np.full(len(d), floor), mode="lines",
                name=f"weight floor, {mode_short(str(mode))}",
                line={"color": c, "dash": "dot", "width": 1},
            ))
    return _loglog(fig, "Gradient variance E‖ĝ − Eĝ‖² vs batch size", "variance (log scale)",
                   df["batch"], rows=len(fig.data) // 2)


def split(df: pd.DataFrame, mode: str) -> go.Figure:
    """Stacked shares of sampling and quantization variance for one mode (bars per B)."""
    d = df[df["mode"] == mode]
    tot = d["sampling_var"] + d["quant_var"]
    x = [str(b) for b in d["batch"]]
    fig = go.Figure()
    for col, name, c in (("sampling_var", "sampling (batch) variance", "#7f7f7f"),
                         ("quant_var", "quantization variance", COLORS.get(mode, "#1f77b4"))):
        fig.add_trace(go.Bar(
            x=x, y=d[col] / tot, name=name, marker_color=c, customdata=d[col],
            hovertemplate="B=%{x}: %{y:.1%} (%{customdata:.3g})<extra>" + name + "</extra>",
        ))
    fig.update_layout(barmode="stack", title=f"Where the variance comes from: {_label(mode)}",
                      margin={"l": 70, "r": 20, "t": 50, "b": 20})
    fig.update_xaxes(title="batch size B", type="category")
    fig.update_yaxes(title="share of sampling + quantization", tickformat=".0%", range=[0, 1])
    return finish(fig, height=400, legend_rows=1)


def variance_by_bits(df: pd.DataFrame, mode: str) -> go.Figure:
    """Total variance vs B for every mantissa-bit count of one mode (a :func:`bits_sweep`
    table), the lab's model dashed, full precision in black."""
    fig = go.Figure()
    d = df[df["mode"] == mode]
    ks = sorted(int(k) for k in d["mbits"].unique())
    for i, k in enumerate(ks):
        dk = d[d["mbits"] == k]
        c = BITS_COLORS[i % len(BITS_COLORS)]
        fig.add_trace(go.Scatter(
            x=dk["batch"], y=dk["total_var"], mode="lines+markers", name=f"k = {k}",
            line={"color": c},
        ))
        if dk["model_var"].notna().any():
            fig.add_trace(go.Scatter(
                x=dk["batch"], y=dk["model_var"], mode="lines", name=f"{MODEL_NAME}, {k} bits",
                line={"color": c, "dash": "dash", "width": 1.5}, showlegend=i == 0,
                legendgroup="model",
            ))
    fp = df[df["mode"] == "fp32"]
    fig.add_trace(go.Scatter(
        x=fp["batch"], y=fp["total_var"], mode="lines+markers", name=_label("fp32"),
        line={"color": COLORS["fp32"], "width": 3},
    ))
    return _loglog(fig, f"Variance vs batch size per bit count: {_label(mode)}",
                   "variance (log scale)", df["batch"], rows=3)


def exchange(df: pd.DataFrame, b_max: int) -> go.Figure:
    """Batch size needed at k mantissa bits to match the fp32 error at the reference batch.

    The y axis stops at 4·``b_max`` (the largest swept batch): model values beyond it, or
    infinite ones (a floor above the target), are off the chart, as are unmeasured points;
    those are marked with an upward triangle at the top edge ("no batch gets there").
    """
    fig = go.Figure()
    top = 4 * b_max
    for mode, d in df.groupby("mode", sort=False):
        m = str(mode)
        c = COLORS.get(m)
        need = d["batch_needed"].to_numpy(np.float64)
        fig.add_trace(go.Scatter(
            x=d["mbits"], y=np.where(np.isfinite(need), need, np.nan), mode="lines+markers",
            name=_label(m), line={"color": c, "width": 3}, marker={"size": 9},
            hovertemplate="k = %{x}: B ≈ %{y:.3g}<extra>" + mode_short(m) + "</extra>",
        ))
        off = ~np.isfinite(need) | (need > top)
        if off.any():
            fig.add_trace(go.Scatter(
                x=d["mbits"][off], y=np.full(int(off.sum()), top * 0.9), mode="markers",
                name=f"{mode_short(m)}: no batch up to {top:,} gets there",
                marker={"symbol": "triangle-up", "size": 13, "color": c},
            ))
        fig.add_trace(go.Scatter(
            x=d["mbits"], y=d["model_batch"].replace(np.inf, np.nan), mode="lines",
            name=f"{MODEL_NAME}, {mode_short(m)}", line={"color": c, "dash": "dash"},
        ))
    if len(df):
        ref = int(df["ref_batch"].iloc[0])
        fig.add_hline(y=ref, line={"color": "#888888", "dash": "dot"})
        fig.add_annotation(  # a log axis takes annotation positions as log10 (add_hline's don't)
            x=1, xref="paper", y=math.log10(ref), yref="y", xanchor="right", yanchor="top",
            text=f"full precision at B = {ref}", showarrow=False, font={"color": "#888888"})
    fig.update_layout(title="Exchange rate: batch size needed per bit",
                      margin={"l": 70, "r": 20, "t": 50, "b": 20})
    fig.update_xaxes(title="bits k (format eXmk or int(k+2))", dtick=1)
    ticks = [v for v in _POW2 if v <= top]
    fig.update_yaxes(type="log", title="batch size needed (log scale)", tickmode="array",
                     tickvals=ticks[::2] if len(ticks) > 7 else ticks,
                     range=[np.log10(0.7), np.log10(top)])
    return finish(fig, height=440, legend_rows=2)


def exchange_sentence(df: pd.DataFrame, mode: str = "sr") -> str:
    """One sentence with the numbers of the exchange-rate chart for ``mode`` (markdown)."""
    d = df[df["mode"] == mode].sort_values("mbits")
    if d.empty:
        return ""
    ref = int(d["ref_batch"].iloc[0])
    parts = []
    for k, b in zip(d["mbits"], d["batch_needed"], strict=True):
        parts.append(f"k = {int(k)}: {'no batch' if not math.isfinite(b) else f'B ≈ {b:.0f}'}")
    hi, lo = d.iloc[-1], d.iloc[0]
    if math.isfinite(lo["batch_needed"]) and math.isfinite(hi["batch_needed"]):
        ratio = lo["batch_needed"] / max(hi["batch_needed"], 1e-300)
        what = (f"going from {int(hi['mbits'])} to {int(lo['mbits'])} bits costs "
                f"**{ratio:.0f}×** the batch")
    else:
        what = "at the fewest bits no batch size in the sweep gets there"
    return (f"**Fewer bits need a larger batch:** to match full precision at B = {ref}, "
            f"{mode_label(mode)} needs {'; '.join(parts)}, so {what}.")


def bias(df: pd.DataFrame) -> go.Figure:
    """Squared bias ‖E ĝ − g‖² vs B, only where it is resolved (> 2 SE), with ±2 SE bars.

    The grey band is what R batches cannot tell from zero: twice the standard error of a zero
    bias (``bias2_se0``), the largest over the modes. A mode's point is drawn only when its
    estimate exceeds twice its own standard error (``bias2_se``); lines join consecutive
    resolved points only. Weight floors (dotted) as in :func:`variance`.
    """
    fig = go.Figure()
    band = 2.0 * df.groupby("batch")["bias2_se0"].max()
    shown: list[np.ndarray] = [band.to_numpy(np.float64)]
    fig.add_trace(go.Scatter(
        x=band.index.to_numpy(), y=band.to_numpy(), mode="lines", fill="tozeroy",
        fillcolor="rgba(150,150,150,0.25)", line={"color": "rgba(150,150,150,0.6)", "width": 1},
        name="not resolved by the R batches (< 2 SE)", hoverinfo="skip",
    ))
    for mode, d in df.groupby("mode", sort=False):
        m = str(mode)
        c = COLORS.get(m)
        b2, se = d["bias2"].to_numpy(np.float64), d["bias2_se"].to_numpy(np.float64)
        ok = b2 > 2.0 * se
        if ok.any():
            y = np.where(ok, b2, np.nan)
            shown.append(y[ok])
            fig.add_trace(go.Scatter(
                x=d["batch"], y=y, mode="lines+markers", name=_label(m), connectgaps=False,
                line={"color": c, "width": 2.5}, marker={"size": 8},
                error_y={"type": "data", "array": np.where(ok, 2.0 * se, np.nan),
                         "color": c, "thickness": 1.5},
                hovertemplate="B=%{x}: %{y:.3g} ± %{error_y.array:.2g}<extra>" + mode_short(m)
                + "</extra>",
            ))
        fb = float(d["floor_bias2"].iloc[0])
        if fb > 0:
            shown.append(np.array([fb]))
            fig.add_trace(go.Scatter(
                x=d["batch"], y=np.full(len(d), fb), mode="lines",
                name=f"weight floor, {mode_short(m)}",
                line={"color": c, "dash": "dot", "width": 1.5},
            ))
    v = np.concatenate(shown)
    v = v[np.isfinite(v) & (v > 0)]
    fig.update_layout(title="Squared bias ‖E ĝ − g‖² vs batch size (resolved values only)",
                      margin={"l": 70, "r": 20, "t": 50, "b": 20}, hovermode="closest")
    _batch_axis(fig, df["batch"])
    fig.update_yaxes(type="log", title="squared bias (log scale)")
    if v.size:
        fig.update_yaxes(range=[math.log10(v.min() / 3), math.log10(v.max() * 3)])
    return finish(fig, height=440, legend_rows=2)


def training(df: pd.DataFrame, x: str = "steps") -> go.Figure:
    """Full-data loss vs steps or samples seen: mean over seeds, min..max band."""
    col = "step" if x == "steps" else "samples"
    fig = go.Figure()
    for mode, d in df.groupby("mode", sort=False):
        c = COLORS.get(str(mode), "#1f77b4")
        g = d.groupby(col)["loss"].agg(["mean", "min", "max"]).reset_index()
        fig.add_trace(go.Scatter(
            x=np.concatenate([g[col], g[col][::-1]]), y=np.concatenate([g["max"], g["min"][::-1]]),
            fill="toself", fillcolor=c, opacity=0.2, line={"width": 0}, hoverinfo="skip",
            showlegend=False, name=f"{mode} band",
        ))
        fig.add_trace(go.Scatter(
            x=g[col], y=g["mean"], mode="lines", name=_label(str(mode)),
            line={"color": c, "width": 2.5},
        ))
    fig.update_layout(title="SGD: full-data loss (mean of seeds, band = min..max)",
                      margin={"l": 70, "r": 20, "t": 50, "b": 20})
    fig.update_xaxes(title="SGD steps" if x == "steps" else "samples seen")
    fig.update_yaxes(type="log", title="training loss (log scale)")
    return finish(fig, height=440, legend_rows=2)
