"""Cached boundary of the Scaling laws page: each chart's table and figure, cached by exactly
what it draws.

The law itself costs microseconds; building a plotly figure costs milliseconds, so the cache
is for the figures. ``st.cache_resource`` (shared, never copied): the page only reads them, and
a warm rerun then skips both the build and a pickle round trip. Moving one input rebuilds only
the charts that depend on it (N: loss against data, the compute star, the heat map).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.experiments import scaling_law_page as core
from lowbit_core.experiments.scaling_law_page import Readout, ScalingLawParams
from ui import figures_scaling_laws as fs

__all__ = [
    "compute_view",
    "data_view",
    "fp4_runs",
    "heatmap_view",
    "layout_view",
    "loss_data_view",
    "published",
    "readout",
]


@st.cache_resource(max_entries=64, show_spinner=False)
def readout(p: ScalingLawParams) -> Readout:
    """:func:`lowbit_core.experiments.scaling_law_page.readout`."""
    return core.readout(p)


@st.cache_resource(max_entries=32, show_spinner=False)
def loss_data_view(p: ScalingLawParams) -> dict[str, Any]:
    """Loss against D (``curves``, ``crit``, ``fig``)."""
    curves, crit = core.loss_vs_data(p)
    return {"curves": curves, "crit": crit, "fig": fs.loss_vs_data(curves, crit, p.tokens)}


@st.cache_resource(max_entries=1, show_spinner=False)
def _layouts() -> pd.DataFrame:
    return core.layout_by_bits()


@st.cache_resource(max_entries=32, show_spinner=False)
def layout_view(bits: int) -> dict[str, Any]:
    """The optimal layout per bit width, this bit width marked (``table``, ``fig``)."""
    t = _layouts()
    return {"table": t, "fig": fs.layout_by_bits(t, bits)}


@st.cache_resource(max_entries=32, show_spinner=False)
def compute_view(block: str, compute: float, bits: int) -> dict[str, Any]:
    """P_opt against compute with the page's (C, P) starred (``table``, ``fig``)."""
    t = core.precision_vs_compute(block)
    return {"table": t, "fig": fs.precision_vs_compute(t, compute, bits)}


@st.cache_resource(max_entries=32, show_spinner=False)
def data_view(block: str, tokens: float, bits: int) -> dict[str, Any]:
    """P_opt against data with the page's (D, P) starred (``table``, ``fig``)."""
    t = core.precision_vs_data(block)
    return {"table": t, "fig": fs.precision_vs_data(t, tokens, bits)}


@st.cache_resource(max_entries=32, show_spinner=False)
def heatmap_view(n_params: float, tokens: float, block: str, e: int, m: int) -> dict[str, Any]:
    """Loss over (E, M) (``grid``, ``marks``, ``fig``)."""
    grid, marks = core.loss_heatmap(n_params, tokens, block)
    ridge = _layouts()
    ridge = ridge[ridge["E_opt"] <= core.HEAT_E - 0.5]  # the ridge inside the map
    base = float((grid["loss"] - grid["penalty"]).iloc[0])
    fig = fs.loss_heatmap(grid, marks, ridge, e, m, base)
    return {"grid": grid, "marks": marks, "fig": fig}


@st.cache_resource(max_entries=1, show_spinner=False)
def fp4_runs() -> pd.DataFrame:
    """:func:`~lowbit_core.experiments.scaling_law_page.fp4_runs`."""
    return core.fp4_runs()


@st.cache_resource(max_entries=1, show_spinner=False)
def published() -> pd.DataFrame:
    """:func:`~lowbit_core.experiments.scaling_law_page.published_table`."""
    return core.published_table()
