"""Cached boundary of the FP4 training page: the curve library, overheads and the run pool.

The library table is read once per process (``st.cache_data``); overhead tables are cached per
(task, recipe); the worker pool is one process-wide :class:`~lowbit_core.training.pool.TrainPool`
(``st.cache_resource``), so live runs of every visitor share its slots and its finished runs.
Under ``make serve`` (several Streamlit processes) the pool is the server's one pool, reached
through :class:`~lowbit_core.training.pool_server.RemotePool`: the bound on live runs, the
queue and the finished runs are then shared by every process.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lowbit_core.training.findings import findings as _findings
from lowbit_core.training.library import design_space, load_curves
from lowbit_core.training.pool import Pool, TrainPool
from lowbit_core.training.tasks import TASKS
from ui import figures_fp4_training as figs

__all__ = [
    "curves", "design", "final_table", "findings", "gap", "literature_figure", "loss_figure",
    "overhead_figure", "owner", "pool",
]


#: Set by ``make serve`` (:mod:`ui.serve`): the pool server's socket and its authkey file.
POOL_ADDRESS_ENV = "LOWBIT_POOL_ADDRESS"
POOL_AUTHKEY_ENV = "LOWBIT_POOL_AUTHKEY_FILE"


@st.cache_resource(show_spinner=False)
def pool() -> Pool:
    """The pool of training workers: the server's shared one under ``make serve``, else this
    process's own (whose forkserver starts loading torch in the background at once)."""
    address = os.environ.get(POOL_ADDRESS_ENV)
    if address:
        from lowbit_core.training.pool_server import connect

        return connect(address, Path(os.environ[POOL_AUTHKEY_ENV]).read_bytes().strip())
    return TrainPool()


@st.cache_data(show_spinner=False)
def curves() -> pd.DataFrame:
    """The curve library, only the runs of each task's library length (its default steps)."""
    c = load_curves()
    if c.empty:
        return c
    want = c["task"].map({k: t.steps for k, t in TASKS.items()})
    out: pd.DataFrame = c[c["steps"].to_numpy() == want.to_numpy()].reset_index(drop=True)
    return out


@st.cache_data(show_spinner=False)
def findings() -> pd.DataFrame:
    """Which published findings the library reproduces (see lowbit_core.training.findings)."""
    return _findings(curves())


@st.cache_data(show_spinner=False, max_entries=8)
def design(task: str) -> pd.DataFrame:
    """Final gap beside the analytic overhead for every library recipe of ``task``."""
    return design_space(curves(), task)


def owner() -> str:
    """A random id for this browser session (the owner of its live runs in the pool)."""
    ss = st.session_state
    if "fp4_training._owner" not in ss:
        ss["fp4_training._owner"] = uuid.uuid4().hex
    return str(ss["fp4_training._owner"])


# --- figures, cached by everything they draw (live runs included, as frames) -------------------
# A rerun that changes none of these (e.g. a switch of the recipe editor) rebuilds nothing.


def _task_rows(task: str, recipes: tuple[str, ...]) -> pd.DataFrame:
    c = curves()
    out: pd.DataFrame = c[(c["task"] == task) & c["recipe"].isin(recipes)]
    return out


def _labels(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    from lowbit_core.training.recipes import RECIPES

    return {**{r: RECIPES[r].label for r in RECIPES}, **dict(extra)}


@st.cache_data(show_spinner=False, max_entries=64)
def loss_figure(
    task: str, recipes: tuple[str, ...], x: str, y: str, log_y: bool, bands: bool,
    metric_name: str, live: pd.DataFrame | None, baseline: str, title: str | None = None,
    zoom: bool = True,
) -> go.Figure:
    """:func:`ui.figures_fp4_training.loss_figure` on the library rows of ``task``."""
    return figs.loss_figure(
        _task_rows(task, recipes), list(recipes), _labels(), x=x, y=y, live=live, log_y=log_y,
        bands=bands, metric_name=metric_name, title=title, baseline=baseline, zoom=zoom,
    )


@st.cache_data(show_spinner=False, max_entries=64)
def final_table(
    task: str, recipes: tuple[str, ...], baseline: str, live: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The final-gap table: library recipes, then finished live runs (one row each, each
    compared with its same-seed baseline)."""
    return figs.final_table(_task_rows(task, recipes), _labels(), baseline, live)


@st.cache_data(show_spinner=False, max_entries=64)
def gap(
    task: str, recipes: tuple[str, ...], baseline: str, live: pd.DataFrame | None,
    final: pd.DataFrame | None,
) -> tuple[go.Figure, pd.DataFrame]:
    """The gap-over-training figure (live runs against their same-seed baselines) and its
    table (library and live rows)."""
    rows = _task_rows(task, recipes)
    tab = figs.gap_table(rows, baseline)
    if live is not None and len(live):
        tab = pd.concat([tab, live.rename(columns={"run": "recipe_label"})], ignore_index=True)
    return (figs.gap_figure(rows, list(recipes), _labels(), baseline, live=live, final=final),
            tab)


@st.cache_data(show_spinner=False, max_entries=32)
def overhead_figure(task: str, recipes: tuple[str, ...]) -> tuple[go.Figure, pd.DataFrame]:
    """Gap against analytic overhead for the shown library recipes (gaps to FP32, ± two
    standard errors of the paired per-seed gaps), and its data."""
    d = design(task)
    d = d[d["recipe"].isin(recipes)]
    unc = final_table(task, (*d["recipe"], "fp32"), "fp32")
    d = d.merge(unc[["recipe", "gap_unc_pct", "verdict"]], on="recipe", how="left")
    return figs.overhead_figure(d, _labels()), d


@st.cache_data(show_spinner=False)
def literature_figure() -> go.Figure:  # (a constant figure: built once per process)
    return figs.literature_figure()
