"""Plotly figures of the Your-tensor page: tidy tables in, ``go.Figure`` out (no Streamlit).

Pure builders: no numerics beyond picking rows and columns for display. Mode colours are the
Rounding page's (:data:`ui.figures_rounding.COLORS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures_rounding import COLORS

__all__ = ["ZONE_COLORS", "bias", "ranking", "rht_gain", "sweep", "zones"]

ZONE_COLORS = {"flushed": "#d62728", "subnormal": "#ff7f0e", "normal": "#2ca02c",
               "saturated": "#9467bd"}
KIND_SYMBOL = {"cast": "circle", "block": "diamond", "int": "square"}
#: plotly_white's look in a few keys: the full template is ~1000 nodes that st.plotly_chart
#: validates and copies on every rerun (2 ms a chart, measured)
_TEMPLATE = go.layout.Template(layout={
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "xaxis": {"gridcolor": "#ebebeb", "zerolinecolor": "#ebebeb", "linecolor": "#bbbbbb"},
    "yaxis": {"gridcolor": "#ebebeb", "zerolinecolor": "#ebebeb", "linecolor": "#bbbbbb"},
    "colorway": ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"],
})
_LAYOUT: dict[str, Any] = {
    "template": _TEMPLATE,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 100},
    # at the foot of the whole figure: it never covers the x-axis title, however it wraps
    "legend": {"orientation": "h", "yref": "container", "y": 0.005, "yanchor": "bottom", "x": 0},
}


def zones(hist: pd.DataFrame, zn: pd.DataFrame, rep: pd.DataFrame) -> go.Figure:
    """Top: the histogram of log2|x|. Below, one strip per recipe on the same axis: where its
    values flush, are subnormal, normal or saturate at its median scale, and (a box) where the
    block scales put each block's largest representable value."""
    n = len(zn)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.45, 0.55])
    fig.add_trace(go.Bar(x=(hist["lo"] + hist["hi"]) / 2, y=hist["count"],
                         width=(hist["hi"] - hist["lo"]), name="values",
                         marker_color="#777777", hovertemplate="log2|x| ≈ %{x}<br>%{y} values"
                         "<extra></extra>"), row=1, col=1)
    lo, hi = float(hist["lo"].min()) - 1, float(hist["hi"].max()) + 1
    pct = rep.drop_duplicates("recipe").set_index("recipe").loc[list(zn["recipe"])]
    labels = list(zn["label"])
    edges = {  # one trace per zone (few traces keep st.plotly_chart's validation cheap)
        "flushed": (np.full(n, lo), zn["flush_edge"].to_numpy(), pct["flushed_pct"]),
        "subnormal": (zn["flush_edge"].to_numpy(), zn["normal_edge"].to_numpy(),
                      pct["subnormal_pct"]),
        "normal": (zn["normal_edge"].to_numpy(), zn["saturate_edge"].to_numpy(),
                   100 - pct["flushed_pct"] - pct["subnormal_pct"] - pct["saturated_pct"]),
        "saturated": (zn["saturate_edge"].to_numpy(), np.full(n, hi), pct["saturated_pct"]),
    }
    for zone, (a, b, share) in edges.items():
        a, b = np.clip(a.astype(float), lo, hi), np.clip(b.astype(float), lo, hi)
        fig.add_trace(go.Bar(
            x=b - a, base=a, y=labels, orientation="h", name=zone, legendgroup=zone,
            marker_color=ZONE_COLORS[zone], opacity=0.55, width=0.6,
            customdata=np.clip(np.asarray(share, float), 0, 100),
            hovertemplate="%{y}: " + zone + " %{customdata:.2f}% of values<extra></extra>"),
            row=2, col=1)
    multi = zn[zn["scales"] > 1]
    if len(multi):
        fig.add_trace(go.Box(
            y=list(multi["label"]), q1=multi["top_q25"], median=multi["top_q50"],
            q3=multi["top_q75"], lowerfence=multi["top_q5"], upperfence=multi["top_q95"],
            orientation="h", name="block ceilings", marker_color="black", line_width=1.5,
            fillcolor="rgba(0,0,0,0.15)", hoverinfo="skip"), row=2, col=1)
    fig.update_layout(**_LAYOUT, barmode="overlay", height=380 + 34 * n,
                      title="log2|x| and each recipe's zones")
    fig.update_yaxes(title_text="values", row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], row=2, col=1)
    fig.update_xaxes(title_text="log2 |x|", range=[lo, hi], row=2, col=1)
    return fig


def ranking(rep: pd.DataFrame, max_bits: float) -> go.Figure:
    """SQNR against bits per element for every recipe and mode, with the budget K. Names are
    written beside the points no other point beats (more SQNR for no more bits); every point
    has its name on hover. Built as one dict and validated once: it is rebuilt whenever K
    moves, and plotly's add_vline/update_layout calls cost several times more."""
    fin = rep[rep["sqnr_db"] < float("inf")]
    data = []
    for mode in dict.fromkeys(rep["mode"]):
        d = fin[fin["mode"] == mode].sort_values(["bits_per_element", "sqnr_db"],
                                                 ascending=[True, False])
        front = d["sqnr_db"] > d["sqnr_db"].cummax().shift(fill_value=-np.inf)
        data.append({
            "type": "scatter", "x": d["bits_per_element"].to_numpy(),
            "y": d["sqnr_db"].to_numpy(), "mode": "markers+text", "name": mode.upper(),
            "text": list(np.where(front, d["label"].str.split(" \\(").str[0], "")),
            "textposition": "middle right", "textfont": {"size": 11},
            "marker": {"size": 10, "color": COLORS.get(mode, "#333333"),
                       "symbol": [KIND_SYMBOL[k] for k in d["kind"]]},
            "customdata": list(d["label"]),
            "hovertemplate": "%{customdata}<br>%{x:.3f} bits, %{y:.2f} dB<extra></extra>"})
    bits = fin["bits_per_element"] if len(fin) else pd.Series([4.0, 16.0])
    lo, hi = min(float(bits.min()), max_bits), max(float(bits.max()), max_bits)
    layout = {
        **_LAYOUT, "height": 480, "title": {"text": "SQNR against bits per element"},
        "xaxis": {"title": {"text": "bits per element (scales included)"}, "type": "log",
                  "range": [float(np.log10(lo / 1.15)), float(np.log10(hi * 1.6))]},
        "yaxis": {"title": {"text": "SQNR (dB)"}},
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": max_bits,
                    "x1": max_bits, "y0": 0, "y1": 1,
                    "line": {"dash": "dash", "color": "#444444"}}],
        "annotations": [{"x": float(np.log10(max_bits)), "xref": "x", "y": 1, "yref": "paper",
                         "text": f"K = {max_bits:g} bits", "showarrow": False,
                         "xanchor": "right", "yanchor": "bottom"}],
    }
    return go.Figure({"data": data, "layout": layout})


def sweep(df: pd.DataFrame, elem: str) -> go.Figure:
    """SQNR against bits per element, one line per scale format, a point per block size."""
    fig = go.Figure()
    for i, sc in enumerate(dict.fromkeys(df["scale"])):
        d = df[df["scale"] == sc]
        fig.add_trace(go.Scatter(  # block sizes written on the first line only (they coincide)
            x=d["bits_per_element"], y=d["sqnr_db"], mode="lines+markers+text" if i == 0 else
            "lines+markers", name=sc, text=[f"B={b}" for b in d["block"]],
            textposition="bottom center", textfont={"size": 10},
            hovertemplate=sc + ", %{text}: %{x:.3f} bits, %{y:.2f} dB<extra></extra>"))
    fig.update_layout(**_LAYOUT, height=460, title=f"Block size 8…256: {elem} elements",
                      xaxis_title="bits per element", yaxis_title="SQNR (dB)")
    return fig


def rht_gain(gain: pd.DataFrame) -> go.Figure:
    """SQNR of every recipe without and with the random Hadamard transform."""
    fig = go.Figure()
    for col, name, color in (("sqnr_off_db", "without RHT", "#7f7f7f"),
                             ("sqnr_on_db", "with RHT", "#1f77b4")):
        fig.add_trace(go.Bar(x=gain["label"], y=gain[col], name=name, marker_color=color,
                             hovertemplate="%{x}: %{y:.2f} dB<extra>" + name + "</extra>"))
    fig.update_layout(**_LAYOUT, barmode="group", height=460,
                      title="Random Hadamard transform: SQNR off and on",
                      yaxis_title="SQNR (dB)")
    return fig


def bias(df: pd.DataFrame, recipe: str) -> go.Figure:
    """Relative bias of the sum and of x @ v against the number of draws averaged."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("sum of the tensor", "product x @ v"))
    for mode in dict.fromkeys(df["mode"]):
        d = df[df["mode"] == mode]
        color = COLORS.get(mode, "#333333")
        for col, y in ((1, "sum_bias"), (2, "matvec_bias")):
            fig.add_trace(go.Scatter(x=d["draws"], y=d[y], mode="lines+markers",
                                     name=mode.upper(), legendgroup=mode, showlegend=col == 1,
                                     line={"color": color}), row=1, col=col)
    top = max(int(df["draws"].max()), 2)
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= top]
    fig.update_xaxes(title_text="draws averaged", type="log", tickvals=ticks,
                     range=[-0.03, float(np.log10(top)) + 0.03])
    fig.update_yaxes(type="log")
    fig.update_yaxes(title_text="|mean error| / sum|x|", row=1, col=1)
    fig.update_yaxes(title_text="rms(mean error) / rms(x @ v)", row=1, col=2)
    fig.update_layout(**_LAYOUT, height=440, title=f"RNE vs SR: bias ({recipe})")
    return fig
