"""Cached boundary of the Formats page: one ``st.cache_data`` wrapper per table or figure.

Formats travel as their build arguments (:data:`FmtKey`), which hash cheaply and exactly. Each
wrapper also returns the CSV text of its data, so a rerun does not re-serialise it.

The figure and table wrappers use ``st.cache_resource``: what they return is only read (plotly
charts and dataframes are serialised from a copy), and un-pickling a cached plotly figure, as
``st.cache_data`` does on every hit, costs ~30 ms, a third of the page's rerun budget.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import figures_formats as ff
from ui.params_formats import build_format

#: (fmt, ebits, mbits, bias, specials, signed): the arguments of :func:`build_format`.
FmtKey = tuple[str, int, int, int, str, bool]


@st.cache_resource(max_entries=64, show_spinner=False)
def number_line(
    key: FmtKey, center: float, count: int, mode: str, log_view: bool, x: float
) -> tuple[pd.DataFrame, bool, go.Figure, str]:
    """Rounding bins of the zoom window, whether it is complete, the figure and the CSV."""
    f = build_format(*key)
    bins, complete = ff.number_line(f, center, count, mode, log_view)
    what = "all values" if complete else f"{len(bins)} values around {center:g}"
    title = f"{f.describe()}: {what}; rounding bins for {mode}"
    fig = ff.number_line_figure(bins, mode, log_view, x=x, title=title)
    return bins, complete, fig, bins.to_csv(index=False)


@st.cache_data(max_entries=32, show_spinner=False)
def value_table(key: FmtKey) -> tuple[str, str]:
    """All values of a format of <= 8 bits: the tinted HTML grid, and the CSV (code, value,
    class)."""
    f = build_format(*key)
    text, kinds = ff.value_table(f)
    flat = pd.DataFrame({"code": range(f.num_codes), "value": text.to_numpy().ravel(),
                         "class": kinds.to_numpy().ravel()})
    return ff.value_table_html(text, kinds), flat.to_csv(index=False)


@st.cache_resource(max_entries=64, show_spinner=False)
def properties(names: tuple[str, ...], key: FmtKey) -> tuple[pd.DataFrame, str]:
    """Side-by-side properties and their CSV; ``key`` builds the custom format if listed."""
    custom = build_format("custom", *key[1:]) if "custom" in names else None
    df = ff.properties(list(names), custom)
    return df, df.to_csv()
