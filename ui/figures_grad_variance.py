"""Plotly builders for the Gradient variance page: tidy DataFrame in, ``go.Figure`` out (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.params_grad_variance import MODE_LABELS

__all__ = ["bias", "exchange", "split", "training", "variance", "variance_by_bits"]

COLORS = {
    "fp32": "#555555", "rne": "#d62728", "sr": "#1f77b4", "srff": "#2ca02c", "src": "#9467bd",
    "srf": "#ff7f0e",
}
MODEL_NAME = "model Δ²/(6B)"
#: one colour per bit count, light (few bits) to dark (many bits)
BITS_COLORS = ("#fdae61", "#f46d43", "#d73027", "#a50026", "#74add1", "#4575b4", "#313695",
               "#1a1a5e", "#0b0b33")


def _label(mode: str) -> str:
    return MODE_LABELS.get(mode, mode)


def _loglog(fig: go.Figure, title: str, ytitle: str) -> go.Figure:
    fig.update_layout(
        title=title, height=420, margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2}, hovermode="x unified",
    )
    fig.update_xaxes(type="log", title="batch size B (log scale)", dtick=np.log10(2) * 2)
    fig.update_yaxes(type="log", title=ytitle, exponentformat="power")
    return fig


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
                x=d["batch"], y=d["model_var"], mode="lines", name=f"{MODEL_NAME}, {mode}",
                line={"color": c, "dash": "dash", "width": 1.5},
            ))
        floor = float(d["floor_var"].iloc[0])
        if floor > 0:
            fig.add_trace(go.Scatter(
                x=d["batch"], y=np.full(len(d), floor), mode="lines",
                name=f"weight floor, {mode}", line={"color": c, "dash": "dot", "width": 1},
            ))
    return _loglog(fig, "Gradient variance E‖ĝ − Eĝ‖² vs batch size", "variance (log scale)")


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
    fig.update_layout(
        barmode="stack", title=f"Where the variance comes from: {_label(mode)}", height=380,
        margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title="batch size B", type="category")
    fig.update_yaxes(title="share of sampling + quantization", tickformat=".0%", range=[0, 1])
    return fig


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
                   "variance (log scale)")


def exchange(df: pd.DataFrame, b_max: int) -> go.Figure:
    """Batch size needed at k mantissa bits to match the fp32 error at the reference batch.

    The y axis stops at 4·``b_max`` (the largest swept batch): model values beyond it, or
    infinite ones (a floor above the target), are off the chart, as are unmeasured points.
    """
    fig = go.Figure()
    for mode, d in df.groupby("mode", sort=False):
        c = COLORS.get(str(mode), None)
        fig.add_trace(go.Scatter(
            x=d["mbits"], y=d["batch_needed"], mode="lines+markers", name=_label(str(mode)),
            line={"color": c},
        ))
        fig.add_trace(go.Scatter(
            x=d["mbits"], y=d["model_batch"].replace(np.inf, np.nan), mode="lines",
            name=f"{MODEL_NAME}, {mode}", line={"color": c, "dash": "dash"},
        ))
    if len(df):
        ref = int(df["ref_batch"].iloc[0])
        fig.add_hline(y=ref, line={"color": "#555555", "dash": "dot"},
                      annotation_text=f"fp32 at B={ref}")
    fig.update_layout(
        title="Exchange rate: batch size needed per bit", height=400,
        margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title="bits k (format eXmk or int(k+2))", dtick=1)
    fig.update_yaxes(type="log", title="batch size needed (log scale)", dtick=np.log10(2) * 2,
                     range=[np.log10(0.7), np.log10(4 * b_max)])
    return fig


def bias(df: pd.DataFrame) -> go.Figure:
    """Squared bias ‖E ĝ − g‖² vs B (debiased estimate; ≤ 0 not drawn), noise level, floors."""
    fig = go.Figure()
    for mode, d in df.groupby("mode", sort=False):
        c = COLORS.get(str(mode), None)
        fig.add_trace(go.Scatter(
            x=d["batch"], y=_positive(d["bias2"]), mode="lines+markers", name=_label(str(mode)),
            line={"color": c},
        ))
        fb = float(d["floor_bias2"].iloc[0])
        if fb > 0:
            fig.add_trace(go.Scatter(
                x=d["batch"], y=np.full(len(d), fb), mode="lines", name=f"weight floor, {mode}",
                line={"color": c, "dash": "dot", "width": 1},
            ))
    fp = df[df["mode"] == "fp32"]
    fig.add_trace(go.Scatter(
        x=fp["batch"], y=fp["bias2_noise"], mode="lines", name="noise level (var / R)",
        line={"color": "#bbbbbb", "dash": "dash"},
    ))
    return _loglog(fig, "Squared bias ‖E ĝ − g‖² vs batch size", "squared bias (log scale)")


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
            x=g[col], y=g["mean"], mode="lines", name=_label(str(mode)), line={"color": c},
        ))
    fig.update_layout(
        title="SGD: full-data loss (mean of seeds, band = min..max)", height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title="SGD steps" if x == "steps" else "samples seen")
    fig.update_yaxes(type="log", title="training loss (log scale)")
    return fig
