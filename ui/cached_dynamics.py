"""Cached boundary of the Low-precision dynamics page: one bounded ``st.cache_data`` per core
function, keyed by the page's params dataclass. Heavy work takes a slot of the process-wide
semaphore (:func:`ui.cached.heavy_slot`); the numba kernels release the GIL."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.experiments.dynamics import page as core
from lowbit_core.experiments.dynamics.page import DynamicsParams, LorenzView
from ui import figures_dynamics as fd
from ui.cached import heavy_slot

__all__ = [
    "cards_page",
    "heat",
    "heat_library",
    "heat_page",
    "heat_sentence",
    "heat_view",
    "library",
    "live_sweep",
    "lorenz_page",
    "run",
    "stagnation",
]


@st.cache_data(max_entries=16, show_spinner="Integrating…")
def run(p: DynamicsParams) -> LorenzView:
    """:func:`lowbit_core.experiments.dynamics.page.run`, cached."""
    with heavy_slot():
        return core.run(p)


@st.cache_data(max_entries=8, show_spinner="Running the stagnation cards…")
def stagnation(p: DynamicsParams) -> dict[str, pd.DataFrame]:
    """:func:`~lowbit_core.experiments.dynamics.page.stagnation`, cached (keyed by its inputs)."""
    with heavy_slot():
        return core.stagnation(p)


@st.cache_data(max_entries=4, show_spinner="Running the 60-year soil column…")
def heat(p: DynamicsParams) -> dict[str, pd.DataFrame]:
    """:func:`~lowbit_core.experiments.dynamics.page.heat`, cached."""
    with heavy_slot():
        return core.heat(p)


@st.cache_data(max_entries=4, show_spinner="Sweeping 48 runs…")
def live_sweep(p: DynamicsParams) -> pd.DataFrame:
    """:func:`~lowbit_core.experiments.dynamics.page.live_sweep`, cached."""
    with heavy_slot():
        return core.live_sweep(p)


@st.cache_data(max_entries=1)
def library() -> pd.DataFrame:
    """The shipped W1 sweep (data/dynamics_w1.csv)."""
    return core.load_library()


@st.cache_data(max_entries=1)
def heat_library() -> pd.DataFrame:
    """The shipped soil columns (data/dynamics_heat.csv); empty when absent."""
    if not core.LIBRARY_HEAT.is_file():
        return pd.DataFrame(
            columns=["table", "fmt", "sr_mode", "run", "depth_m", "T", "years", "T_mean"]
        )
    return pd.read_csv(core.LIBRARY_HEAT)


def heat_view(p: DynamicsParams, live: bool) -> dict[str, pd.DataFrame] | None:
    """The soil column to draw: the shipped one when it holds ``p``'s settings, else the live
    run when ``live`` (the page's Run button), else None."""
    shipped = core.heat_from_library(heat_library(), p)
    if shipped is not None:
        return shipped
    return heat(p) if live else None


def heat_sentence(h: dict[str, pd.DataFrame]) -> str:
    """What the column shows, measured (one or two sentences for the caption)."""
    f = core.heat_findings(h["mean"])
    fmt = str(h["mean"]["fmt"].iloc[0])
    rn = f[f["run"] == "RN"]["diff_vs_float64"]
    sr = f[f["run"].str.startswith("SR")]["diff_vs_float64"]
    ref = float(f[f["run"] == "float64"]["T_mean_final"].iloc[0])
    out = (
        f"After 60 years the float64 column's depth-mean is {ref:.3f} K. In {fmt}, RN ends "
        f"{float(rn.iloc[0]):+.3f} K from it: each update ξ·ΔT is below half an ulp of the "
        "temperature (ulp 0.25 K near 273 K in float16), so it rounds to nothing."
    )
    if len(sr):
        within = bool((sr.abs() <= 0.05).all())
        out += (
            f" SR ends {sr.min():+.3f} … {sr.max():+.3f} K from it over {len(sr)} seed(s): "
            + ("within" if within else "not always within")
            + " the ±0.05 K expected beforehand (lab measurement, reported as measured)."
        )
    return out


# --- what the page draws, cached by what it draws --------------------------------------------
# st.cache_resource: shared and never copied (the figures are only read by st.plotly_chart),
# so a warm rerun skips both the compute and the pickle round trip of ~60k plotted points.


@st.cache_resource(max_entries=16, show_spinner=False)
def lorenz_page(p: DynamicsParams, live: bool) -> dict[str, Any]:
    """The Lorenz views: ``view`` (tables) and the ``attractor``, ``histogram`` and ``w1``
    figures (``live``: with the live sweep drawn in)."""
    view = run(p)
    sweep = live_sweep(p) if live else None
    pts = view.summary[view.summary["kind"] != "float64"]
    return {
        "view": view,
        "sweep": sweep,
        "attractor": fd.attractors(view.trajectories),
        "histogram": fd.histogram(view.histograms),
        "w1": fd.w1_sbits(library(), sweep, pts),
    }


@st.cache_resource(max_entries=16, show_spinner=False)
def cards_page(p: DynamicsParams) -> dict[str, Any]:
    """The harmonic and decay cards: their tables and figures."""
    c = stagnation(p)
    return {
        **c,
        "harmonic_fig": fd.harmonic(c["harmonic"], c["bounds"]),
        "decay_fig": fd.decay(c["decay"]),
    }


@st.cache_resource(max_entries=8, show_spinner=False)
def heat_page(p: DynamicsParams, live: bool) -> dict[str, Any] | None:
    """The soil column (shipped or live, see :func:`heat_view`) with its figure and sentence."""
    h = heat_view(p, live)
    if h is None:
        return None
    return {**h, "fig": fd.heat(h["profile"], h["mean"]), "sentence": heat_sentence(h)}
