"""Small helpers every page uses: chart + CSV download, and the expected-error guard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

__all__ = ["PLOTLY_CONFIG", "chart", "csv_download", "expected_errors"]

#: Plotly toolbar: keep zoom and PNG export, drop the plotly logo and the lasso tools.
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def csv_download(df: pd.DataFrame, file_name: str, key: str) -> None:
    """A download button for ``df`` as CSV, written only when clicked; clicking does not rerun."""
    st.download_button(
        "Download the data (CSV)",
        data=lambda: df.to_csv(index=False).encode(),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
    )


def chart(fig: go.Figure, data: pd.DataFrame, name: str) -> None:
    """Draw ``fig`` and offer ``data`` (the numbers behind it) as ``<name>.csv``."""
    st.plotly_chart(fig, config=PLOTLY_CONFIG, key=f"chart.{name}")
    csv_download(data, f"{name}.csv", key=f"csv.{name}")


@contextmanager
def expected_errors() -> Iterator[None]:
    """Show a ``ValueError`` from the core as ``st.error`` and carry on with the page.

    Only ``ValueError`` (bad user input that the core rejects, with a message naming the value)
    is caught; every other exception surfaces, so that tests see it.
    """
    try:
        yield
    except ValueError as exc:
        st.error(f"Could not compute this: {exc}")
