"""Plotly figures of the Rounding page: tidy frames from :mod:`ui.cached` in, ``go.Figure`` out.

No Streamlit import and no numerics beyond grouping for display. Each trace carries the mode id
in ``legendgroup`` so tests can find it in the serialised spec. Figures are built as one dict
and validated once (``go.Figure(spec)``): plotly's incremental ``make_subplots``/``add_trace``/
``update_layout`` calls cost 10-50x more, which matters for a 100 ms rerun budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lowbit_core.rounding import STOCHASTIC_MODES
from ui.figures_common import MODE_COLORS, finish, mode_short, same_curves, wrap

__all__ = ["COLORS", "accumulation_figure", "outcome_figure", "profile_figure", "short"]

COLORS = MODE_COLORS  # the lab's one colour per mode (ui.figures_common)
MAX_POINTS = 600  # per accumulation trace: enough for the eye, and keeps reruns fast
OUTCOME_COLORS = {"lo": "#4c78a8", "hi": "#f58518"}
#: Dash patterns and extra widths for curves that coincide: the first is drawn widest and
#: pale, the next narrower on top of it, so every member stays visible.
_SAME_DASH = ("solid", "dash", "dot", "dashdot")
STOCHASTIC = frozenset(m.value for m in STOCHASTIC_MODES)
Spec = dict[str, Any]
short = mode_short


def _title(text: str, x: float, y: float, chars: int = 44) -> Spec:
    """A subplot title (as make_subplots draws it: a paper-anchored annotation), wrapped to
    ``chars`` characters per line so it fits a phone."""
    return {"text": "<b>" + wrap(text, chars).replace("<br>", "</b><br><b>") + "</b>", "x": x,
            "y": y, "xref": "paper", "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 15}}


def _figure(data: list[Spec], layout: Spec, title: str, height: int, rows: int = 1) -> go.Figure:
    base: Spec = {"title": {"text": title}, "margin": {"l": 70, "r": 20, "t": 80, "b": 20}}
    return finish(go.Figure({"data": data, "layout": {**base, **layout}}), height=height,
                  legend_rows=rows)


def outcome_figure(df: pd.DataFrame, x: float, n_draws: int, fmt_label: str) -> go.Figure:
    """Stacked bars: exact P(lo), P(hi) per mode (left) and Monte-Carlo frequencies (right).

    A value on the format's grid says so in the title: every mode returns it unchanged.
    """
    data: list[Spec] = []
    exact = bool(len(df)) and bool((df["value"] == x).any())
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
        "annotations": [_title("Exact probabilities", 0.235, 1.0, 16),
                        _title(f"Monte Carlo: {n_draws:,} draws", 0.765, 1.0, 16)],
    }
    title = f"Rounding x = {x:.10g} to {fmt_label}"
    if exact:
        title += " (exactly representable: every mode returns x)"
    return _figure(data, layout, title, 470, rows=1)


def _line(m: str, x: np.ndarray, y: np.ndarray, axis: str, panel: str, show: bool,
          markers: bool, rank: int = 0, of: int = 1) -> Spec:
    """One curve; ``rank`` of ``of`` identical curves: drawn wider and paler the lower the rank,
    each with its own dash, so all of them stay visible."""
    width = 2.0 + 2.5 * (of - 1 - rank)
    return {
        "type": "scatter", "x": x, "y": y, "xaxis": "x" + axis, "yaxis": "y" + axis,
        "name": short(m), "legendgroup": m, "showlegend": show, "meta": panel,
        "mode": "lines+markers" if markers else "lines", "opacity": 0.55 if rank < of - 1 else 1,
        "line": {"color": COLORS.get(m, "#333"), "width": width,
                 "dash": _SAME_DASH[rank % len(_SAME_DASH)] if of > 1 else "solid"},
        "hovertemplate": "d = %{x:.4f} ulp: %{y:.5g} ulp<extra>" + short(m) + "</extra>",
    }


def _panel(curves: pd.DataFrame, modes: list[str], col: str, axis: str, panel: str,
           shown: set[str], markers: bool) -> tuple[list[Spec], list[list[str]]]:
    """The traces of one panel; identical curves are grouped and drawn distinguishably."""
    by = {m: curves[curves["mode"] == m] for m in modes}
    groups = same_curves([(m, by[m][col].to_numpy()) for m in modes])
    data: list[Spec] = []
    for g in groups:
        for rank, m in enumerate(g):
            part = by[m]
            data.append(_line(m, part["position"].to_numpy(), part[col].to_numpy(), axis, panel,
                              m not in shown, markers, rank, len(g)))
            shown.add(m)
    return data, [g for g in groups if len(g) > 1]


def _same_note(groups: list[list[str]]) -> str:
    """" · SRF = SRC = SRO here" for the coinciding groups of a panel ("" if none)."""
    if not groups:
        return ""
    return " · identical: " + "; ".join(" = ".join(short(m) for m in g) for g in groups)


def _zoom(curves: pd.DataFrame, modes: list[str], resolution: float) -> tuple[list[float], str]:
    """A symmetric y range that shows the largest stochastic bias, and a note when all are 0."""
    b = curves[curves["mode"].isin(modes)]["bias"].abs()
    top = float(b.max()) if len(b) else 0.0
    if top <= resolution:
        return [-0.05, 0.05], " (all exactly 0)"
    return [-1.15 * top, 1.15 * top], f" (zoom ±{top:.3g} ulp)"


def profile_figure(curves: pd.DataFrame, fmt_label: str, rbits: int, dbits: int,
                   resolution: float = 0.0) -> go.Figure:
    """Bias and standard deviation in ulps against the position of x, one panel per scale.

    The deterministic modes' bias (up to ±1/2 ulp for RNE, −1 for RTZ) gets its own panel, so
    the stochastic modes' panel can zoom to their own bias, down to a few-bit SRFF's
    −2^−(N+1) ulp; deterministic modes have no spread and are left out of the spread panel.
    Curves that coincide in a panel are named in its title and drawn with different dashes.
    ``resolution``: biases at or below it (float64's rounding of the computation, in ulps) count
    as exactly 0. Each trace's ``meta`` is ``"bias"`` or ``"std"``.
    """
    modes = [str(m) for m in dict.fromkeys(curves["mode"])]
    det = [m for m in modes if m not in STOCHASTIC]
    sto = [m for m in modes if m in STOCHASTIC]
    markers = 0 < dbits <= 6
    shown: set[str] = set()
    panels: list[tuple[str, list[Spec], Spec]] = []  # (title, traces, y axis)
    if det:
        d, same = _panel(curves, det, "bias", "", "bias", shown, markers)
        names = ", ".join(short(m) for m in det)
        panels.append((f"Bias E[round(x)] − x of {names}" + _same_note(same), d,
                       {"title": {"text": "bias (ulp)"}}))
    if sto:
        rng, note = _zoom(curves, sto, resolution)
        ax = str(len(panels) + 1) if panels else ""
        d, same = _panel(curves, sto, "bias", ax, "bias", shown, markers)
        panels.append(("Bias, stochastic modes" + note + _same_note(same), d,
                       {"title": {"text": "bias (ulp)"}, "range": rng}))
        ax = str(len(panels) + 1)
        d, same = _panel(curves, sto, "std", ax, "std", shown, markers)
        panels.append(("Standard deviation, stochastic modes" + _same_note(same), d,
                       {"title": {"text": "std (ulp)"}, "rangemode": "tozero"}))
    n = len(panels)
    gap, top = 0.13, 1.0
    h = (top - gap * (n - 1)) / n
    data: list[Spec] = []
    layout: Spec = {"annotations": []}
    for i, (title, traces, yax) in enumerate(panels):
        k = "" if i == 0 else str(i + 1)
        y1 = top - i * (h + gap)
        data += traces
        layout["yaxis" + k] = {**yax, "domain": [max(0.0, y1 - h), y1], "anchor": "x" + k}
        layout["xaxis" + k] = {"range": [0, 1], "anchor": "y" + k,
                               **({"matches": "x"} if k else {}),
                               **({"title": {"text": "position of x above the lower neighbour "
                                             "(ulp)"}} if i == n - 1 else {})}
        layout["annotations"].append(_title(title, 0.5, y1))
    inp = "exact real inputs" if not dbits else f"inputs with D = {dbits} extra bits"
    det_note = f"; {', '.join(short(m) for m in det)}: spread 0" if det and sto else ""
    return _figure(data, layout, f"{fmt_label}, N = {rbits} random bits, {inp}{det_note}",
                   300 + 230 * n, rows=2)


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
    return _figure(data, layout, f"Summing {start:g} + {n:,} × {a:g} in {fmt_label}", 480,
                   rows=3)


def _alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
