"""Presentation rules every chart of the lab shares, each stated once (pure: no Streamlit).

* **Rounding modes**: one label, one short name and one colour per mode (:data:`MODE_LABELS`,
  :func:`mode_short`, :data:`MODE_COLORS`); whether a mode reads N random bits comes from the core
  (:data:`lowbit_core.rounding.FEW_BIT_MODES`, via :func:`takes_rbits`).
* **Readable at 1280×720 and on a 390 px phone** (:func:`finish`): the title at the top left,
  wrapped to fit a phone, the legend under the plot anchored to the figure's bottom edge (plotly
  then reserves the room, so it never covers a title or an axis title however many rows it
  wraps to) with long entries wrapped (trace names get ``<br>``), tick labels of
  :data:`TICK_PX` px, and log axes labelled 1-2-5 with full-size labels (plotly's own log ticks
  draw the 2…9 digits at three quarters of the tick size, 9.6 px here).
* **Export**: :data:`EXPORT` is plotly's camera-button setting, a 1280×720 layout rendered at
  1.5× (1920×1080 px, a projector's resolution) so text stays large on a slide.
* **Exact representability** said in words (:func:`representability`).
* Colours of mid lightness only, so every line reads on the light and on the dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from lowbit_core.rounding import FEW_BIT_MODES, RoundMode

__all__ = [
    "EXPORT",
    "FULL_PRECISION",
    "MODE_COLORS",
    "MODE_LABELS",
    "TICK_PX",
    "export_config",
    "finish",
    "log_ticks",
    "mode_label",
    "mode_short",
    "representability",
    "same_curves",
    "stored_words",
    "takes_rbits",
    "wrap",
]

FULL_PRECISION = "fp32"  #: the "mode" of an unrounded reference (grad_variance's fp32 rows)
#: One label per rounding mode (and the unrounded reference), used by every page.
MODE_LABELS: dict[str, str] = {
    "rne": "RNE (nearest, ties to even)",
    "rna": "RNA (nearest, ties away)",
    "rtz": "RTZ (toward zero)",
    "rup": "RUP (toward +∞)",
    "rdn": "RDN (toward −∞)",
    "sr": "SR (exact stochastic)",
    "srff": "SRFF (N bits, truncated)",
    "srf": "SRF (N bits + half bit)",
    "src": "SRC (d rounded to N bits)",
    "sro": "SRO (d rounded to N bits, ties to odd)",
    FULL_PRECISION: "full precision",
}
#: One colour per rounding mode; mid lightness, readable on white and on the dark theme.
MODE_COLORS: dict[str, str] = {
    "rne": "#1f77b4", "rna": "#17becf", "rtz": "#a3a3a3", "rup": "#bcbd22", "rdn": "#e377c2",
    "sr": "#2ca02c", "srff": "#d62728", "srf": "#ff7f0e", "src": "#9467bd", "sro": "#8c564b",
    FULL_PRECISION: "#6e6e6e",
}
TICK_PX = 13  #: tick label size (px); the issue's floor is 12
TITLE_PX = 16
TEXT_PX = 14
#: Characters per title line: a 16 px bold title line of this length fits a 390 px phone.
TITLE_CHARS = 44
LEGEND_CHARS = 42  #: characters per legend-entry line (14 px, beside its 40 px symbol)
#: plotly ``toImageButtonOptions``: a 1280×720 layout at 1.5×, i.e. a 1920×1080 px PNG.
EXPORT: dict[str, Any] = {"format": "png", "width": 1280, "height": 720, "scale": 1.5}


def mode_label(mode: str) -> str:
    """The mode's label (:data:`MODE_LABELS`; an unknown id is shown as given)."""
    return MODE_LABELS.get(str(mode), str(mode))


def mode_short(mode: str) -> str:
    """The mode's short name: ``"SRFF"``; the reference stays ``"full precision"``."""
    return MODE_LABELS[FULL_PRECISION] if mode == FULL_PRECISION else str(mode).upper()


def takes_rbits(mode: str) -> bool:
    """Whether ``mode`` reads N random bits (the core's rule, :data:`FEW_BIT_MODES`)."""
    try:
        return RoundMode(str(mode)) in FEW_BIT_MODES
    except ValueError:
        return False


def export_config(name: str) -> dict[str, Any]:
    """Plotly's ``config`` for a chart: PNG export at projector resolution as ``<name>.png``,
    no plotly logo, no lasso/box-select tools."""
    return {
        "displaylogo": False,
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
        "toImageButtonOptions": {**EXPORT, "filename": name},
    }


def wrap(text: str, width: int = TITLE_CHARS) -> str:
    """``text`` broken into lines of at most ``width`` characters at spaces (plotly's ``<br>``);
    existing ``<br>`` breaks are kept, and markup tags count as no characters."""
    import re

    out = []
    for para in text.split("<br>"):
        line, n = "", 0
        for word in para.split(" "):
            w = len(re.sub(r"<[^>]*>", "", word))
            if line and n + 1 + w > width:
                out.append(line)
                line, n = word, w
            else:
                line, n = (f"{line} {word}" if line else word), (n + 1 + w if line else w)
        out.append(line)
    return "<br>".join(out)


# --- axes -----------------------------------------------------------------------------------------

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _tick_text(v: float) -> str:
    if 1e-3 <= v < 1e5:
        return f"{v:,.10g}"
    e = math.floor(math.log10(v) + 1e-9)
    m = round(v / 10.0**e)
    return ("" if m == 1 else f"{m}·") + "10" + str(e).translate(_SUP)


def log_ticks(lo: float, hi: float, max_ticks: int = 9) -> tuple[list[float], list[str]]:
    """Tick values and labels for a log axis over ``[lo, hi]`` (both > 0).

    1-2-5 in every decade when that gives at most ``max_ticks`` ticks inside the range, else the
    powers of ten (every k-th decade when even those are too many). Always at least two ticks:
    when the range holds fewer, the nearest 1-2-5 values outside it are added.

    Raises:
        ValueError: ``lo`` or ``hi`` not positive and finite.
    """
    if not (0 < lo <= hi < math.inf):
        raise ValueError(f"log_ticks needs 0 < lo <= hi < inf, got lo={lo!r}, hi={hi!r}")
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    for mants in ((1, 2, 5), (1,)):
        cand = [m * 10.0**e for e in range(e0, e1 + 1) for m in mants]
        inside = [v for v in cand if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]
        if len(inside) <= max_ticks:
            break
    else:
        step = math.ceil(len(inside) / max_ticks)
        inside = inside[::step]
    if len(inside) < 2:
        below = [v for v in cand if v < lo]
        above = [v for v in cand if v > hi]
        inside = ([below[-1]] if below and not inside else []) + inside + above[:1]
        inside = sorted(set(inside))
    return inside, [_tick_text(v) for v in inside]


def _positive(values: Iterable[Any]) -> np.ndarray:
    out: list[np.ndarray] = []
    for v in values:
        if v is None:
            continue
        try:
            a = np.asarray(v, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            continue
        out.append(a[np.isfinite(a) & (a > 0)])
    return np.concatenate(out) if out else np.zeros(0)


def _axis_traces(fig: go.Figure, letter: str, name: str) -> list[Any]:
    ref = letter + name.removeprefix(letter + "axis")  # "yaxis2" -> "y2", "yaxis" -> "y"
    return [getattr(t, letter) for t in fig.data
            if (getattr(t, letter + "axis", None) or letter) == ref
            and getattr(t, "visible", True) is not False]


def _log_axis(fig: go.Figure, letter: str, name: str) -> None:
    ax = fig.layout[name]
    if ax.tickvals is not None or ax.dtick is not None:
        return
    if ax.range is not None and all(r is not None for r in ax.range):
        lo, hi = (10.0 ** float(r) for r in ax.range)
    else:
        v = _positive(_axis_traces(fig, letter, name))
        if not v.size:
            return
        lo, hi = float(v.min()), float(v.max())
    vals, text = log_ticks(lo, hi)
    ax.update(tickmode="array", tickvals=vals, ticktext=text)


def _axes(fig: go.Figure) -> list[tuple[str, str]]:
    names = {"xaxis", "yaxis"} | {k for k in fig.layout.to_plotly_json() if k[1:5] == "axis"}
    return sorted((n[0], n) for n in names if n[0] in "xy")


# --- the finishing pass ---------------------------------------------------------------------------


def finish(
    fig: go.Figure, *, height: int | None = None, legend: bool = True, legend_rows: int = 0
) -> go.Figure:
    """Apply the lab's readability rules to ``fig`` in place (see the module docstring).

    Args:
        fig: a figure whose title, axes and traces are set.
        height: the figure height in px (default: keep the figure's, else 440).
        legend: False hides the legend (marker text or annotations say what is what).
        legend_rows: expected legend rows on a phone; each adds 22 px so the plot keeps its
            height when the legend wraps.

    Returns:
        ``fig``.
    """
    lay = fig.layout
    title = wrap(lay.title.text) if lay.title is not None and lay.title.text else None
    base_h = height or lay.height or 440
    margin = lay.margin.to_plotly_json() if lay.margin is not None else {}
    fig.update_layout(
        height=int(base_h + 22 * legend_rows),
        font={"size": TEXT_PX},
        title={"text": title, "x": 0.0, "xanchor": "left", "xref": "container",
               "y": 1.0, "yanchor": "top", "yref": "container", "automargin": True,
               "pad": {"t": 10, "l": 4}, "font": {"size": TITLE_PX}},
        margin={"l": margin.get("l", 60), "r": margin.get("r", 24),
                "t": max(int(margin.get("t") or 0), 20 + 24 * (title or "").count("<br>")
                         + (40 if title else 0)),
                "b": max(int(margin.get("b") or 0), 20)},
        showlegend=legend if legend else False,
    )
    if legend:
        fig.update_layout(legend={
            "orientation": "h", "x": 0.0, "xanchor": "left", "xref": "container",
            "y": 0.0, "yanchor": "bottom", "yref": "container", "font": {"size": TEXT_PX},
            "itemsizing": "constant", "bgcolor": "rgba(0,0,0,0)", "title": None,
        })
    for tr in fig.data:  # a legend entry never wider than a phone (plotly does not wrap it)
        if tr.name and len(tr.name) > LEGEND_CHARS and tr.showlegend is not False:
            tr.name = wrap(tr.name, LEGEND_CHARS)
    for letter, name in _axes(fig):
        ax = fig.layout[name]
        ax.update(tickfont={"size": TICK_PX}, automargin=True)
        if ax.title is not None and ax.title.text:
            ax.update(title={"font": {"size": TEXT_PX}})
        if ax.type == "log":
            _log_axis(fig, letter, name)
    for a in fig.layout.annotations or ():
        size = a.font.size if a.font is not None and a.font.size else None
        if size is None or size < TICK_PX:
            a.update(font={"size": max(TICK_PX, int(size or TEXT_PX))})
    return fig


# --- identical curves -----------------------------------------------------------------------------


def same_curves(curves: Sequence[tuple[str, np.ndarray]], rtol: float = 1e-12) -> list[list[str]]:
    """Groups (in order) of names whose curves are equal within ``rtol`` of the largest value.

    Each input is ``(name, y)``; curves of different lengths are never equal. A curve in no
    group with another comes back alone, so every name appears exactly once.
    """
    groups: list[tuple[np.ndarray, list[str]]] = []
    scale = max((float(np.nanmax(np.abs(y))) for _, y in curves if np.size(y)), default=0.0)
    tol = rtol * max(scale, 1e-300)
    for name, y in curves:
        ya = np.asarray(y, dtype=np.float64)
        for ref, members in groups:
            if ref.shape == ya.shape and bool(np.all(np.abs(ref - ya) <= tol)):
                members.append(name)
                break
        else:
            groups.append((ya, [name]))
    return [m for _, m in groups]


# --- words ----------------------------------------------------------------------------------------


def representability(x: float, lo: float, hi: float, fmt_label: str, digits: int = 10) -> str:
    """A sentence (markdown) about ``x`` between its neighbours ``lo <= x <= hi`` in a format.

    ``x == lo`` (or ``hi``): "exactly representable", as float.exposed and Float Toy say it, and
    no distance in ulps; otherwise the neighbours and the distance above ``lo`` in ulps.
    """
    g = f".{digits}g"
    if x in (lo, hi):
        side, other = ("up", hi) if x == lo else ("down", lo)
        return (f"x = **{x:{g}}** is **exactly representable** in {fmt_label}: every rounding "
                f"mode returns it unchanged (the next value {side} is {other:{g}}, one ulp = "
                f"{hi - lo:.6g} away).")
    d = (x - lo) / (hi - lo)
    return (f"x = **{x:{g}}** is **not representable** in {fmt_label}: it lies between "
            f"lo = **{lo:{g}}** and hi = **{hi:{g}}** (ulp = {hi - lo:.6g}), **{d:.6f}** ulp "
            "above lo.")


def stored_words(x: float, value: float, next_down: float, next_up: float, fmt_label: str,
                 digits: int = 10) -> str:
    """:func:`representability` for a typed ``x`` stored as ``value`` (a neighbour of ``x``)
    whose own neighbours are ``next_down`` and ``next_up`` (NaN at the ends of the format)."""
    if not math.isfinite(x) or not math.isfinite(value):
        return ""
    if x == value:
        if math.isfinite(next_up):
            return representability(x, x, next_up, fmt_label, digits)
        if math.isfinite(next_down):
            return representability(x, next_down, x, fmt_label, digits)
        return f"x = **{x:.{digits}g}** is **exactly representable** in {fmt_label}."
    other = next_up if x > value else next_down
    if not math.isfinite(other) or not min(value, other) <= x <= max(value, other):
        return ""  # outside the finite range: the overflow note says what happens
    lo, hi = min(value, other), max(value, other)
    stores = f" This mode stores **{value:.{digits}g}**."
    return representability(x, lo, hi, fmt_label, digits) + stores
