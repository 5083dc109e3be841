"""Plotly figures of the Low-precision dynamics page: tidy tables in, ``go.Figure`` out.

Pure builders (no Streamlit, no arithmetic beyond layout: bands are min/max of given rows).
Mode colours are the Rounding page's (:data:`ui.figures_rounding.COLORS`), float64 is grey.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.figures_rounding import COLORS

__all__ = ["KIND_COLORS", "attractors", "decay", "harmonic", "heat", "histogram", "w1_sbits"]

KIND_COLORS = {"float64": "#444444", "rn": COLORS["rne"], "sr": COLORS["sr"]}
#: legend below the plot, anchored by its top so that it never covers the x-axis title
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
    "legend": {"orientation": "h", "y": -0.22, "yanchor": "top"},
}


def _run_color(run: str) -> str:
    if run == "float64" or run.startswith("float64"):
        return KIND_COLORS["float64"]
    return KIND_COLORS["rn"] if run == "RN" or run.endswith(", RN") else KIND_COLORS["sr"]


def attractors(traj: pd.DataFrame) -> go.Figure:
    """One x–z panel per run (WebGL scatter of the decimated states)."""
    runs = list(dict.fromkeys(traj["run"]))
    fig = make_subplots(
        rows=1, cols=len(runs), subplot_titles=runs, shared_yaxes=True, horizontal_spacing=0.03
    )
    for i, run in enumerate(runs, start=1):
        d = traj[traj["run"] == run]
        kind = str(d["kind"].iloc[0])
        fig.add_trace(
            go.Scattergl(
                x=d["x"].to_numpy(),
                y=d["z"].to_numpy(),
                mode="markers",
                name=run,
                marker={"size": 2, "color": KIND_COLORS[kind], "opacity": 0.5},
                showlegend=False,
                hovertemplate="x=%{x:.4g}<br>z=%{y:.4g}<extra>" + run + "</extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text="x", row=1, col=i)
    fig.update_yaxes(title_text="z", row=1, col=1)
    fig.update_layout(**_LAYOUT, height=380, title="Lorenz attractor, x–z projection")
    return fig


def histogram(hist: pd.DataFrame, var: str = "z") -> go.Figure:
    """The marginal density of ``var`` per run (step lines on common bins)."""
    fig = go.Figure()
    d = hist[hist["var"] == var]
    for run in dict.fromkeys(d["run"]):
        r = d[d["run"] == run]
        kind = str(r["kind"].iloc[0])
        fig.add_trace(
            go.Scatter(
                x=r["lo"].to_numpy(),
                y=r["density"].to_numpy(),
                mode="lines",
                name=run,
                line={
                    "shape": "hv",
                    "color": KIND_COLORS[kind],
                    "width": 3 if kind == "float64" else 2,
                },
            )
        )
    fig.update_layout(
        **_LAYOUT,
        height=340,
        title=f"Distribution of {var} over the run",
        xaxis_title=var,
        yaxis_title="density",
    )
    return fig


def w1_sbits(
    lib: pd.DataFrame, live: pd.DataFrame | None, points: pd.DataFrame | None
) -> go.Figure:
    """W1 of z against stored bits: the library's RN line, SR seeds (points) and their mean
    (line), the float64 floor as a band; optionally a live sweep (dashed) and live points."""
    fig = go.Figure()

    def add_sweep(df: pd.DataFrame, tag: str, dash: str) -> None:
        floor = df[df["mode"] == "float64"]
        if len(floor):  # the band min..max of the floor runs, across the whole axis
            lo, hi = float(floor["w1_z"].min()), float(floor["w1_z"].max())
            fig.add_trace(
                go.Scatter(
                    x=[3.5, 23.5, 23.5, 3.5],
                    y=[lo, lo, hi, hi],
                    fill="toself",
                    mode="none",
                    name=f"float64 floor ({tag})",
                    fillcolor="rgba(0,0,0,0.12)" if tag == "library" else "rgba(0,0,0,0.06)",
                    hoverinfo="skip",
                )
            )
        rn = df[df["mode"] == "rne"].sort_values("sbits")
        fig.add_trace(
            go.Scatter(
                x=rn["sbits"],
                y=rn["w1_z"],
                mode="lines+markers",
                name=f"RN ({tag})",
                line={"color": COLORS["rne"], "dash": dash},
            )
        )
        sr = df[~df["mode"].isin(["rne", "float64"])]
        if len(sr):
            sr_label = str(sr["mode"].iloc[0]).upper()  # the mode these rows were run with
            mean = sr.groupby("sbits", as_index=False)["w1_z"].mean()
            fig.add_trace(
                go.Scatter(
                    x=sr["sbits"],
                    y=sr["w1_z"],
                    mode="markers",
                    name=f"{sr_label} seeds ({tag})",
                    opacity=0.5,
                    marker={"color": COLORS["sr"], "size": 6},
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=mean["sbits"],
                    y=mean["w1_z"],
                    mode="lines",
                    name=f"{sr_label} mean ({tag})",
                    line={"color": COLORS["sr"], "dash": dash},
                )
            )

    if len(lib):
        add_sweep(lib, "library", "solid")
    if live is not None and len(live):
        add_sweep(live, f"live, {int(live['steps'].iloc[0]):,} steps", "dash")
    if points is not None:
        for _, r in points.iterrows():
            fig.add_trace(
                go.Scatter(
                    x=[r["sbits"]],
                    y=[r["w1_z"]],
                    mode="markers",
                    name=f"this page: {r['run']}",
                    marker={
                        "symbol": "star",
                        "size": 14,
                        "color": KIND_COLORS[str(r["kind"])],
                        "line": {"width": 1, "color": "black"},
                    },
                )
            )
    fig.update_layout(
        **_LAYOUT,
        height=420,
        title="Climate error W1 of z vs precision",
        xaxis_title="stored significand bits (sbits)",
        xaxis_range=[3.5, 23.5],
        yaxis_title="W1(z, float64 run)",
        yaxis_type="log",
    )
    return fig


def harmonic(h: pd.DataFrame, bounds: pd.DataFrame) -> go.Figure:
    """Left: the running sum vs n; right: its relative error with the two bounds."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("running sum", "relative error"))
    ex = h[h["run"] == "RN"]
    fig.add_trace(
        go.Scatter(
            x=ex["n"],
            y=ex["exact"],
            name="exact (float64)",
            line={"color": KIND_COLORS["float64"], "width": 3},
        ),
        row=1,
        col=1,
    )
    for run in dict.fromkeys(h["run"]):
        r = h[h["run"] == run]
        c = _run_color(run)
        first = run in ("RN", "SR seed 0")
        fig.add_trace(
            go.Scatter(
                x=r["n"],
                y=r["sum"],
                name=run.split(" seed")[0],
                legendgroup=run[:2],
                showlegend=first,
                line={"color": c},
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=r["n"],
                y=r["rel_err"],
                name=run,
                legendgroup=run[:2],
                showlegend=False,
                line={"color": c},
            ),
            row=1,
            col=2,
        )
    for col, dash, name in (
        ("deterministic", "dot", "bound n·u/(1−n·u)"),
        ("probabilistic", "dash", "probabilistic bound (λ=1)"),
    ):
        fig.add_trace(
            go.Scatter(
                x=bounds["n"], y=bounds[col], name=name, line={"color": "#888888", "dash": dash}
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(type="log", title_text="terms n")
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_yaxes(title_text="Σ 1/i", row=1, col=1)
    fig.update_layout(**_LAYOUT, height=360, title="Harmonic sum")
    return fig


def decay(d: pd.DataFrame) -> go.Figure:
    """Error of forward Euler for y' = −y/20 against the step count (SR: seeds as a band)."""
    fig = go.Figure()
    for run in ("float64", "RN"):
        r = d[d["run"] == run]
        if len(r):
            fig.add_trace(
                go.Scatter(
                    x=r["n"],
                    y=r["error"].clip(lower=1e-17),
                    name=run,
                    mode="lines+markers",
                    line={"color": _run_color(run)},
                )
            )
    sr = d[d["run"].str.startswith("SR")]
    if len(sr):
        g = sr.groupby("n")["error"]
        lo, hi, mean = g.min().clip(lower=1e-17), g.max(), g.mean()
        fig.add_trace(
            go.Scatter(
                x=list(hi.index) + list(lo.index[::-1]),
                y=list(hi.values) + list(lo.values[::-1]),
                fill="toself",
                mode="none",
                fillcolor="rgba(44,160,44,0.18)",
                name="SR, min–max over seeds",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=mean.index,
                y=mean.values,
                name="SR, mean error",
                mode="lines+markers",
                line={"color": COLORS["sr"]},
            )
        )
    fig.update_layout(
        **_LAYOUT,
        height=360,
        title="Decay ODE y′ = −y/20, forward Euler",
        xaxis_title="steps n",
        yaxis_title="|y_n − exp(−t/20)|",
        xaxis_type="log",
        yaxis_type="log",
    )
    return fig


def heat(profile: pd.DataFrame, mean: pd.DataFrame) -> go.Figure:
    """Left: the depth-mean temperature over the years; right: the final depth profile."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("depth-mean temperature", "final profile"))
    for run in dict.fromkeys(mean["run"]):
        c = _run_color(run)
        m = mean[mean["run"] == run]
        p = profile[profile["run"] == run]
        first = run in ("float64", "RN", "SR seed 0")
        name = run.split(" seed")[0]
        fig.add_trace(
            go.Scatter(
                x=m["years"],
                y=m["T_mean"],
                name=name,
                legendgroup=name,
                showlegend=first,
                line={"color": c},
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=p["T"],
                y=p["depth_m"],
                name=run,
                legendgroup=name,
                showlegend=False,
                line={"color": c},
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text="years", row=1, col=1)
    fig.update_yaxes(title_text="T (K)", row=1, col=1)
    fig.update_xaxes(title_text="T (K)", row=1, col=2)
    fig.update_yaxes(title_text="depth (m)", autorange="reversed", row=1, col=2)
    fig.update_layout(**_LAYOUT, height=380, title="Soil heat column, 60 years")
    return fig
