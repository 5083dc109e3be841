"""Cached boundary of the Formats page: one ``st.cache_data`` wrapper per table or figure.

Formats travel as their build arguments (:data:`FmtKey`), which hash cheaply and exactly.

The figure and table wrappers use ``st.cache_resource``: what they return is only read (plotly
charts and dataframes are serialised from a copy), and un-pickling a cached plotly figure, as
``st.cache_data`` does on every hit, costs ~30 ms, a third of the page's rerun budget.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lowbit_core.blocks import PRESETS
from ui import figures_formats as ff
from ui.params_formats import build_format

#: (fmt, ebits, mbits, bias, specials, signed): the arguments of :func:`build_format`.
FmtKey = tuple[str, int, int, int, str, bool]


@st.cache_resource(max_entries=64, show_spinner=False)
def number_line(
    key: FmtKey, center: float, count: int, mode: str, log_view: bool, x: float
) -> tuple[pd.DataFrame, bool, go.Figure]:
    """Rounding bins of the zoom window, whether it is complete, and the figure."""
    f = build_format(*key)
    bins, complete = ff.number_line(f, center, count, mode, log_view)
    what = "all values" if complete else f"{len(bins)} values around {center:g}"
    title = f"{f.describe()}: {what}; rounding bins for {mode}"
    return bins, complete, ff.number_line_figure(bins, mode, log_view, x=x, title=title)


@st.cache_data(max_entries=32, show_spinner=False)
def value_table(key: FmtKey) -> tuple[str, pd.DataFrame]:
    """All values of a format of <= 8 bits: the tinted HTML grid, and (code, value, class)."""
    f = build_format(*key)
    text, kinds = ff.value_table(f)
    flat = pd.DataFrame({"code": range(f.num_codes), "value": text.to_numpy().ravel(),
                         "class": kinds.to_numpy().ravel()})
    return ff.value_table_html(text, kinds), flat


@st.cache_resource(max_entries=64, show_spinner=False)
def properties(names: tuple[str, ...], key: FmtKey) -> pd.DataFrame:
    """Side-by-side properties; ``key`` builds the custom format if "custom" is listed."""
    custom = build_format("custom", *key[1:]) if "custom" in names else None
    return ff.properties(list(names), custom)


@st.cache_resource(max_entries=32, show_spinner=False)
def block_demo(
    preset: str, groups: int, outlier: float, outlier_at: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float | None, go.Figure]:
    """The block-format demo's tables, tensor scale and error figure."""
    elements, blocks, errors, ts = ff.block_demo(preset, groups, outlier, outlier_at, seed)
    spec = PRESETS[preset]
    title = f"{preset.upper()}: {spec.describe()}"
    fig = ff.block_error_figure(errors, spec.block, spec.scale_rule.value, title)
    return elements, blocks, errors, ts, fig
