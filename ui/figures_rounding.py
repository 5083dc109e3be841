"""Plotly figures of the Rounding page: tidy frames from :mod:`ui.cached` in, ``go.Figure`` out.

No Streamlit import and no numerics beyond grouping for display. Each trace carries the mode id
in ``legendgroup`` so tests can find it in the serialised spec. Figures are built as one dict
and validated once (``go.Figure(spec)``): plotly's incremental ``make_subplots``/``add_trace``/
``update_layout`` calls cost 10-50x more, which matters for a 100 ms rerun budget.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

__all__ = ["COLORS", "accumulation_figure", "outcome_figure", "profile_figure", "short"]

COLORS: dict[str, str] = {
    "rne": "#1f77b4",
    "rtz": "#7f7f7f",
    "sr": "#2ca02c",
    "srff": "#d62728",
    "srf": "#ff7f0e",
    "src": "#9467bd",
    "sro": "#8c564b",
}
MAX_POINTS = 600  # per accumulation trace: enough for the eye, and keeps reruns fast
OUTCOME_COLORS = {"lo": "#4c78a8", "hi": "#f58518"}
Spec = dict[str, Any]


def short(mode: str) -> str:
    return mode.upper()


def _title(text: str, x: float, y: float) -> Spec:
    """A subplot title (as make_subplots draws it: a paper-anchored annotation)."""
    return {"text": f"<b>{text}</b>", "x": x, "y": y, "xref": "paper", "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 15}}


def _figure(data: list[Spec], layout: Spec, title: str, height: int) -> go.Figure:
    base: Spec = {
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "height": height,
        "font": {"size": 15},
        "margin": {"l": 70, "r": 20, "t": 100, "b": 60},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 1,
                   "xanchor": "right"},
    }
    return go.Figure({"data": data, "layout": {**base, **layout}})


def outcome_figure(df: pd.DataFrame, x: float, n_draws: int, fmt_label: str) -> go.Figure:
    """Stacked bars: exact P(lo), P(hi) per mode (left) and Monte-Carlo frequencies (right)."""
    data: list[Spec] = []
    for outcome, word in (("lo", "down to"), ("hi", "up to")):
        part = df[df["outcome"] == outcome]
        value = float(part["value"].iloc[0]) if len(part) else float("nan")
        name = f"rounds {word} {value:.10g}"
        modes = [short(m) for m in part["mode"]]
        common = {"type": "bar", "x": modes, "name": name, "legendgroup": outcome,
                  "marker": {"color": OUTCOME_COLORS[outcome]}}
        data.append({**common, "y": part["p_exact"].to_numpy(), "xaxis": "x", "yaxis": "y",
                     "hovertemplate": "%{x}: P = %{y:.6g}<extra>" + name + "</extra>"})
        data.append({**common, "y": part["freq"].to_numpy(), "xaxis": "x2", "yaxis": "y2",
                     "showlegend": False, "customdata": part["count"].to_numpy(),
                     "hovertemplate": "%{x}: %{customdata} draws (%{y:.4f})<extra>" + name
                     + "</extra>"})
    layout: Spec = {
        "barmode": "stack",
        "xaxis": {"domain": [0, 0.47], "title": {"text": "rounding mode"}},
        "xaxis2": {"domain": [0.53, 1], "title": {"text": "rounding mode"}},
        "yaxis": {"range": [0, 1], "title": {"text": "probability / frequency"}},
        "yaxis2": {"range": [0, 1], "anchor": "x2", "matches": "y", "showticklabels": False},
        "annotations": [_title("Exact probabilities", 0.235, 1.0),
                        _title(f"Monte Carlo: {n_draws:,} draws", 0.765, 1.0)],
    }
    return _figure(data, layout, f"Rounding x = {x:.10g} to {fmt_label}", 450)


def profile_figure(curves: pd.DataFrame, fmt_label: str, rbits: int, dbits: int) -> go.Figure:
    """Bias (top) and standard deviation (bottom) in ulps against the position of x."""
    data: list[Spec] = []
    markers = 0 < dbits <= 6
    for mode, part in curves.groupby("mode", sort=False):
        m = str(mode)
        for axis, col in (("", "bias"), ("2", "std")):
            data.append({
                "type": "scatter", "x": part["position"].to_numpy(), "y": part[col].to_numpy(),
                "xaxis": "x" + axis, "yaxis": "y" + axis, "name": short(m), "legendgroup": m,
                "showlegend": axis == "", "mode": "lines+markers" if markers else "lines",
                "line": {"color": COLORS.get(m, "#333"), "width": 2},
                "hovertemplate": "d = %{x:.4f} ulp: %{y:.5g} ulp<extra>" + short(m) + "</extra>",
            })
    layout: Spec = {
        "xaxis": {"range": [0, 1], "anchor": "y", "matches": "x2", "showticklabels": False},
        "xaxis2": {"range": [0, 1], "anchor": "y2",
                   "title": {"text": "position of x above the lower neighbour (ulp)"}},
        "yaxis": {"domain": [0.55, 1], "title": {"text": "bias (ulp)"}},
        "yaxis2": {"domain": [0, 0.45], "rangemode": "tozero", "title": {"text": "std (ulp)"}},
        "annotations": [_title("Bias  E[round(x)] − x", 0.5, 1.0),
                        _title("Standard deviation of round(x)", 0.5, 0.45)],
    }
    inp = "exact real inputs" if not dbits else f"inputs with D = {dbits} extra bits"
    return _figure(data, layout, f"{fmt_label}, N = {rbits} random bits, {inp}", 640)


def accumulation_figure(df: pd.DataFrame, start: float, a: float, fmt_label: str) -> go.Figure:
    """Error of the rounded running sum against the exact sum: RNE line, stochastic bands."""
    data: list[Spec] = []
    n = int(df["term"].max())
    step = -(-(n + 1) // MAX_POINTS)  # plot every step-th term (the CSV keeps all of them)
    df = df[df["term"] % step == 0] if step > 1 else df
    for mode, part in df.groupby("mode", sort=False):
        m = str(mode)
        color = COLORS.get(m, "#333")
        g = part.groupby("term")["error"]
        mean = g.mean()
        k = mean.index.to_numpy()
        lanes = int(part["lane"].nunique())
        edge = {"type": "scatter", "x": k, "mode": "lines", "legendgroup": m,
                "line": {"width": 0, "color": color}, "hoverinfo": "skip"}
        if lanes > 1:
            data.append({**edge, "y": g.max().to_numpy(), "showlegend": False,
                         "name": f"{short(m)} max"})
            data.append({**edge, "y": g.min().to_numpy(), "fill": "tonexty",
                         "fillcolor": _alpha(color, 0.18),
                         "name": f"{short(m)}: min–max over {lanes} seeds"})
        data.append({
            "type": "scatter", "x": k, "y": mean.to_numpy(), "mode": "lines", "legendgroup": m,
            "line": {"color": color, "width": 2.5},
            "name": short(m) + (f" (mean of {lanes} seeds)" if lanes > 1 else ""),
            "hovertemplate": "%{x} terms: error %{y:.5g}<extra>" + short(m) + "</extra>",
        })
    layout: Spec = {
        "xaxis": {"title": {"text": "number of terms added"}},
        "yaxis": {"title": {"text": "rounded sum − exact sum"}, "zeroline": True,
                  "zerolinecolor": "#444", "zerolinewidth": 1},
    }
    return _figure(data, layout, f"Summing {start:g} + {n:,} × {a:g} in {fmt_label}", 480)


def _alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
