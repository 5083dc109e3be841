"""Plotly figures of the Scaling laws page: tidy tables in, ``go.Figure`` out.

Pure builders (no Streamlit, no arithmetic beyond layout). Each figure is built as one dict and
validated once, as on the Rounding page (incremental ``add_trace`` calls and a named template
cost several times more, and every view must rerun in 100 ms). Every title says that the curves
are the paper's fitted law, not a lab measurement.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

__all__ = [
    "FITTED",
    "layout_by_bits",
    "loss_heatmap",
    "loss_vs_data",
    "precision_vs_compute",
    "precision_vs_data",
]

Spec = dict[str, Any]
FITTED = "Sun et al. 2025 fitted law, not a lab measurement"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22")
CURRENT = "#111111"


def _figure(
    data: list[Spec], layout: Spec, title: str, height: int = 420, sub: str = ""
) -> go.Figure:
    """One validated figure; the subtitle says what the curves are (short lines: phones)."""
    sub = f"{sub} · {FITTED}" if sub else FITTED
    data = [{k: _typed(v) if k in ("x", "y", "z") else v for k, v in t.items()} for t in data]
    base: Spec = {
        "title": {"text": f"{title}<br><sup>{sub}</sup>", "x": 0.0, "xanchor": "left"},
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 80, "b": 60},
        #: below the x-axis title, anchored by its top, so that it never covers the axis
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
    }
    return go.Figure({"data": data, "layout": {**base, **layout}})


def _typed(v: Any) -> Any:
    """A numeric array as plotly's typed-array spec (what ``to_json`` would write anyway):
    encoded once here, the figure's cached copy costs less to serialise on every rerun."""
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "fiu":
        return v
    a = np.ascontiguousarray(v, dtype=np.float64)
    spec: Spec = {"dtype": "f8", "bdata": base64.b64encode(a.tobytes()).decode("ascii")}
    if a.ndim > 1:
        spec["shape"] = ",".join(str(n) for n in a.shape)
    return spec


def _num(x: float) -> str:
    """``1e9`` rather than ``1e+09``."""
    return f"{x:.3g}".replace("e+0", "e").replace("e+", "e")


def loss_vs_data(curves: pd.DataFrame, crit: pd.DataFrame, tokens: float) -> go.Figure:
    """L against D per format (the page's own layout black and thick); every D_crit in one
    marker trace, in ``crit``'s order and colours."""
    data: list[Spec] = []
    fmt = curves["format"].to_numpy()
    colors = []
    for i, name in enumerate(crit["format"]):
        g = curves[fmt == name]
        cur = bool(crit["current"].iloc[i])
        colors.append(CURRENT if cur else PALETTE[i % len(PALETTE)])
        data.append({
            "type": "scatter", "mode": "lines", "name": str(name),
            "x": g["D"].to_numpy(), "y": g["loss"].to_numpy(),
            "line": {"color": colors[-1], "width": 3.5 if cur else 2},
            "hovertemplate": "D = %{x:.3g}: L = %{y:.5f}<extra>" + str(name) + "</extra>",
        })
    data.append({
        "type": "scatter", "mode": "markers", "name": "D_crit",
        "x": crit["d_crit"].to_numpy(), "y": crit["loss_at_crit"].to_numpy(),
        "text": crit["format"].to_numpy(),
        "marker": {"symbol": "diamond", "size": 11, "color": colors,
                   "line": {"width": 1, "color": "white"}},
        "hovertemplate": "%{text}: D_crit = %{x:.4g}, L = %{y:.5f}<extra></extra>",
    })
    lo, hi = float(curves["loss"].min()), float(curves["loss"].quantile(0.95))
    layout: Spec = {
        "xaxis": {"type": "log", "title": {"text": "training tokens D"}, "exponentformat": "power"},
        "yaxis": {"title": {"text": "predicted loss L"}, "range": [lo - 0.05 * (hi - lo), hi]},
        "shapes": [{"type": "line", "x0": tokens, "x1": tokens, "yref": "paper", "y0": 0,
                    "y1": 1, "line": {"dash": "dot", "color": "#888888"}}],
        "annotations": [{"x": float(np.log10(tokens)), "y": 1, "yref": "paper",
                         "text": "this D", "showarrow": False, "yanchor": "bottom"}],
    }
    n, b = curves.attrs.get("n_params", float("nan")), curves.attrs.get("block", "?")
    return _figure(data, layout, "Loss against data (◆ = D_crit)", 480,
                   f"N = {_num(n)}, B = {b}")


def layout_by_bits(df: pd.DataFrame, bits: int) -> go.Figure:
    """E_opt and M_opt against P (continuous lines, integer layouts as markers)."""
    p = df["P"].to_numpy()
    data: list[Spec] = [
        {"type": "scatter", "mode": "lines", "name": "M_opt (continuous)", "x": p,
         "y": df["M_opt"].to_numpy(), "line": {"color": PALETTE[0]}},
        {"type": "scatter", "mode": "lines", "name": "E_opt (continuous)", "x": p,
         "y": df["E_opt"].to_numpy(), "line": {"color": PALETTE[1]}},
        {"type": "scatter", "mode": "markers", "name": "integer layout: M", "x": p,
         "y": df["M_int"].to_numpy(), "marker": {"color": PALETTE[0], "size": 8},
         "text": df["layout"].to_numpy(), "hovertemplate": "%{x} bits: %{text}<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": "integer layout: E", "x": p,
         "y": df["E_int"].to_numpy(), "marker": {"color": PALETTE[1], "size": 8,
                                                 "symbol": "square"},
         "text": df["layout"].to_numpy(), "hovertemplate": "%{x} bits: %{text}<extra></extra>"},
    ]
    row = df[df["P"] == bits]
    layout: Spec = {
        "xaxis": {"title": {"text": "bits P = E + M + 1"}, "dtick": 2},
        "yaxis": {"title": {"text": "bits"}},
    }
    if len(row):
        layout["shapes"] = [{"type": "line", "x0": bits, "x1": bits, "yref": "paper", "y0": 0,
                             "y1": 1, "line": {"dash": "dot", "color": "#888888"}}]
        layout["annotations"] = [{"x": bits, "y": 1, "yref": "paper", "yanchor": "bottom",
                                  "showarrow": False,
                                  "text": f"{bits} bits: {row['layout'].iloc[0]}"}]
    return _figure(data, layout, "Optimal exponent/mantissa split", 440, "per bit width")


def precision_vs_compute(df: pd.DataFrame, compute: float, bits: int) -> go.Figure:
    """P_opt against compute per block size, the paper's 4–8-bit reading as a band, and the
    page's own (C, P) as a star."""
    data: list[Spec] = [
        {"type": "scatter", "x": [1e21, 1e31, 1e31, 1e21], "y": [4, 4, 8, 8], "fill": "toself",
         "mode": "none", "fillcolor": "rgba(0,0,0,0.08)", "hoverinfo": "skip",
         "name": "paper, Fig. 7: 4–8 bits over 1e21–1e31 (B = 128)"},
    ]
    for i, (b, g) in enumerate(df.groupby("block", sort=False)):
        data.append({
            "type": "scatter", "mode": "lines", "name": f"P_opt, B = {b}",
            "x": g["C"].to_numpy(), "y": g["P_opt"].to_numpy(),
            "customdata": np.column_stack([g["N_opt"], g["D_opt"]]),
            "line": {"color": PALETTE[i], "dash": "solid" if i == 0 else "dash"},
            "hovertemplate": "C = %{x:.3g}: P = %{y:.2f}, N* = %{customdata[0]:.3g}, "
                             "D* = %{customdata[1]:.3g}<extra></extra>",
        })
    data.append({
        "type": "scatter", "mode": "markers", "name": "this page's N, D, P (C = 6/16·P·N·D)",
        "x": [compute], "y": [bits],
        "marker": {"symbol": "star", "size": 15, "color": CURRENT},
    })
    layout: Spec = {
        "xaxis": {"type": "log", "title": {"text": "compute C (FLOPs)"},
                  "exponentformat": "power"},
        "yaxis": {"title": {"text": "compute-optimal precision P (bits)"}},
    }
    return _figure(data, layout, "Optimal precision against compute", 440, "k = 6/16")


def precision_vs_data(df: pd.DataFrame, tokens: float, bits: int) -> go.Figure:
    """P_opt(D) per block size, and the page's own (D, P)."""
    data: list[Spec] = []
    for i, (b, g) in enumerate(df.groupby("block", sort=False)):
        data.append({
            "type": "scatter", "mode": "lines", "name": f"P_opt(D), B = {b}",
            "x": g["D"].to_numpy(), "y": g["P_opt"].to_numpy(),
            "line": {"color": PALETTE[i], "dash": "solid" if i == 0 else "dash"},
            "hovertemplate": "D = %{x:.3g}: P = %{y:.2f}<extra></extra>",
        })
    data.append({
        "type": "scatter", "mode": "markers", "name": "this page's D and P",
        "x": [tokens], "y": [bits], "marker": {"symbol": "star", "size": 15, "color": CURRENT},
    })
    layout: Spec = {
        "xaxis": {"type": "log", "title": {"text": "training tokens D"},
                  "exponentformat": "power"},
        "yaxis": {"title": {"text": "optimal precision P (bits)"}},
    }
    return _figure(data, layout, "Optimal precision against data", 420, "compute fixed")


def loss_heatmap(
    grid: pd.DataFrame, marks: pd.DataFrame, ridge: pd.DataFrame, ebits: int, mbits: int,
    base: float,
) -> go.Figure:
    """Loss over integer (E, M); colour = loss − ``base`` (the penalty-free part, the same in
    every cell) on a log scale; catalogue formats, the optimal ridge and the page's layout."""
    e = np.sort(grid["E"].unique())
    m = np.sort(grid["M"].unique())
    g = grid.sort_values(["E", "M"])
    shape = (e.size, m.size)
    pen = g["penalty"].to_numpy().reshape(shape)
    loss = g["loss"].to_numpy().reshape(shape)
    z = np.log10(pen)
    ticks = np.arange(np.floor(z.min()), np.ceil(z.max()) + 1)
    data: list[Spec] = [
        {"type": "heatmap", "x": m, "y": e, "z": z, "customdata": np.dstack([loss, pen]),
         "colorscale": "Viridis", "reversescale": True, "name": "law",
         "colorbar": {"title": {"text": f"L − {base:.4f}"}, "tickvals": ticks,
                      "ticktext": [f"1e{int(t)}" for t in ticks]},
         "hovertemplate": "E%{y}M%{x}: L = %{customdata[0]:.5f} "
                          "(penalty %{customdata[1]:.3g})<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": "optimal split per bit width",
         "x": ridge["M_opt"].to_numpy(), "y": ridge["E_opt"].to_numpy(),
         "line": {"color": "#111111", "dash": "dash", "width": 2}, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "markers+text", "name": "catalogue formats",
         "x": marks["M"].to_numpy(), "y": marks["E"].to_numpy(),
         "text": [re.sub(r"^float\d+_", "", s.split(" / ")[0]) for s in marks["format"]],
         "textposition": "top center",
         "textfont": {"color": "#111111", "size": 11, "shadow": "0 0 3px white"},
         "hovertext": marks["format"].to_numpy(), "customdata": marks["loss"].to_numpy(),
         "marker": {"symbol": "circle", "size": 10, "color": "white",
                    "line": {"width": 1.5, "color": "#111111"}},
         "hovertemplate": "%{hovertext}: L = %{customdata:.5f}<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": f"this page: E{ebits}M{mbits}",
         "x": [mbits], "y": [ebits],
         "marker": {"symbol": "star", "size": 16, "color": "#ff4b4b",
                    "line": {"width": 1, "color": "white"}}},
    ]
    layout: Spec = {
        "xaxis": {"title": {"text": "mantissa bits M"}, "dtick": 1, "range": [-0.5, m[-1] + 0.5]},
        "yaxis": {"title": {"text": "exponent bits E"}, "dtick": 1, "range": [-0.5, e[-1] + 0.9]},
    }
    return _figure(data, layout, "Loss over the layout (E, M)", 500, "at this N, D, B")
