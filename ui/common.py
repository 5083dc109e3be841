"""Small helpers every page uses: chart + CSV download, the expected-error guard, the Run gate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.figures_common import export_config

__all__ = ["PLOTLY_CONFIG", "chart", "csv_download", "expected_errors", "plot", "run_gate"]

#: Plotly toolbar: keep zoom and PNG export (at projector resolution), drop the plotly logo and
#: the lasso tools. :func:`plot` names the PNG after the chart.
PLOTLY_CONFIG = export_config("lowbit_lab")


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


def plot(fig: go.Figure, name: str) -> None:
    """Draw ``fig``; its camera button saves ``<name>.png`` at 1920×1080 px (a projector)."""
    st.plotly_chart(fig, config=export_config(name), key=f"chart.{name}")


def chart(fig: go.Figure, data: pd.DataFrame, name: str) -> None:
    """Draw ``fig`` (:func:`plot`) and offer ``data`` (the numbers behind it) as ``<name>.csv``."""
    plot(fig, name)
    csv_download(data, f"{name}.csv", key=f"csv.{name}")


def run_gate(page: str, key: str, parts: str, seconds: float, on_run: Callable[[], None]) -> None:
    """The box that holds back a slow computation until the Run button is pressed.

    Draw it only while the settings ``key`` have not been run. The button's callback
    (``on_run``, which records ``key`` as run) fires before the rerun, so the rerun draws the
    results and no box: the box never stays on screen above its own results.
    """
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.info(f"These settings take about {seconds:.0f} s to compute ({parts}). Press Run to "
            "compute them; a link to this view computes them for whoever opens it.",
            icon=":material/hourglass_empty:")
    c2.button("Run", type="primary", key=f"{page}._run", icon=":material/play_arrow:",
              on_click=on_run, width="stretch")


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
