"""Cached boundary of the FP4 training page: the curve library, overheads and the run pool.

The library table is read once per process (``st.cache_data``); overhead tables are cached per
(task, recipe); the worker pool is one process-wide :class:`~lowbit_core.training.pool.TrainPool`
(``st.cache_resource``), so live runs of every visitor share its slots and its finished runs.
"""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from lowbit_core.training.findings import findings as _findings
from lowbit_core.training.library import load_curves, summary
from lowbit_core.training.overhead import overhead_table
from lowbit_core.training.pool import TrainPool
from lowbit_core.training.recipes import Recipe
from lowbit_core.training.tasks import TASKS

__all__ = ["curves", "design", "findings", "owner", "pool", "recipe_overhead"]


@st.cache_resource(show_spinner=False)
def pool() -> TrainPool:
    """The process-wide pool of training workers (starts its forkserver in the background)."""
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


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs={Recipe: repr})
def recipe_overhead(task: str, recipe: Recipe | str) -> pd.DataFrame:
    """The analytic overhead row(s) of one recipe on ``task``."""
    return overhead_table(task, [recipe])


@st.cache_data(show_spinner=False, max_entries=8)
def design(task: str) -> pd.DataFrame:
    """Final gap beside the analytic overhead for every library recipe of ``task``."""
    c = curves()
    s = summary(c[c["task"] == task])
    o = overhead_table(task, list(s["recipe"]))
    return s.merge(o, on=["recipe", "task"])


def owner() -> str:
    """A random id for this browser session (the owner of its live runs in the pool)."""
    ss = st.session_state
    if "fp4_training._owner" not in ss:
        ss["fp4_training._owner"] = uuid.uuid4().hex
    return str(ss["fp4_training._owner"])
