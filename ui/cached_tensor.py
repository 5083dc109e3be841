"""Cached boundary of the Your-tensor page.

A tensor travels as a :class:`TensorRef`: its 2-D view plus a key that names it exactly
(``shipped:<name>:<axis>`` or ``upload:<sha256>:<array>:<axis>``). Streamlit hashes a TensorRef
by that key only (``hash_funcs``), so a rerun never re-hashes megabytes of data. Each analysis
is cached by the fields it reads (:func:`~lowbit_core.experiments.tensor_page.only`), so a
display change (the ranking's budget) reruns nothing; the figures are cached resources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.experiments import tensor_page as core
from lowbit_core.experiments.tensor_io import TensorFile, View2D, read_tensors, view2d
from lowbit_core.experiments.tensor_page import TensorParams, only
from lowbit_core.experiments.tensor_report import rank, reading, value_histogram
from ui import figures_tensor as ft
from ui.cached import heavy_slot

__all__ = ["TensorRef", "analyses", "bias_page", "read_upload", "rht_page", "shipped",
           "sweep_page", "uploaded"]


@dataclass(frozen=True, eq=False)
class TensorRef:
    key: str  #: names the tensor and its view exactly
    view: View2D


#: hash a tensor by its key and the params by their repr (Streamlit's generic hashing of a
#: dataclass costs ~5 ms a call; repr is exact for these fields)
_H: dict[str | type[Any], Callable[[Any], Any]] = {
    TensorRef: lambda r: r.key, TensorParams: repr,
}


@st.cache_resource(max_entries=64, show_spinner=False)
def shipped(name: str, axis: int) -> TensorRef:
    """A shipped tensor's view (read-only, shared by every session)."""
    return TensorRef(f"shipped:{name}:{axis}", core.shipped_view(name, axis))


def read_upload(data: bytes, filename: str) -> tuple[str, TensorFile]:
    """``(sha256, TensorFile)`` of an upload. The page keeps it in session state under the
    upload's file id, so the bytes are hashed and parsed once per upload."""
    return hashlib.sha256(data).hexdigest(), read_tensors(data, filename)


def uploaded(digest: str, tf: TensorFile, name: str, axis: int) -> TensorRef:
    """The view of one array of an upload (cached in the session, keyed by content)."""
    cache: dict[str, TensorRef] = st.session_state.setdefault("tensor._views", {})
    key = f"upload:{digest}:{name}:{axis}"
    if key not in cache:
        cache.clear()  # one upload view per session: uploads can be large
        cache[key] = TensorRef(key, view2d(tf.arrays[name], axis))
    return cache[key]


@st.cache_data(max_entries=32, hash_funcs=_H, show_spinner="Quantizing…")
def _report(ref: TensorRef, p: TensorParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    with heavy_slot():
        return core.report(ref.view, p)


@st.cache_data(max_entries=32, hash_funcs=_H, show_spinner=False)
def _hist(ref: TensorRef) -> pd.DataFrame:
    return value_histogram(ref.view)


@st.cache_data(max_entries=32, hash_funcs=_H, show_spinner="Sweeping block sizes…")
def _sweep(ref: TensorRef, p: TensorParams) -> pd.DataFrame:
    with heavy_slot():
        return core.sweep(ref.view, p)


@st.cache_data(max_entries=32, hash_funcs=_H, show_spinner="Rotating…")
def _rht(ref: TensorRef, p: TensorParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    with heavy_slot():
        return core.rht(ref.view, p)


@st.cache_data(max_entries=32, hash_funcs=_H, show_spinner="Drawing SR samples…")
def _bias(ref: TensorRef, p: TensorParams) -> pd.DataFrame:
    with heavy_slot():
        return core.bias(ref.view, p)


def analyses(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    """The metrics table, zones, ranking, reading and their figures."""
    base = only(p, "report")
    return {**_report_page(ref, base), **_ranking_page(ref, replace(base, max_bits=p.max_bits))}


def sweep_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    """The block-size sweep and its figure."""
    return _sweep_page(ref, only(p, "sweep"))


def rht_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    """RHT on/off: shape statistics, SQNR gains and the figure (ValueError: size mismatch)."""
    return _rht_page(ref, only(p, "rht"))


def bias_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    """The RNE-vs-SR bias table and figure."""
    return _bias_page(ref, only(p, "bias"))


@st.cache_resource(max_entries=32, hash_funcs=_H, show_spinner=False)
def _report_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    rep, zn = _report(ref, p)
    hist = _hist(ref)
    first = rep[rep["mode"] == p.modes[0]]
    return {"report": rep, "zones": zn, "hist": hist, "zones_fig": ft.zones(hist, zn, first)}


@st.cache_resource(max_entries=64, hash_funcs=_H, show_spinner=False)
def _ranking_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    rep, _ = _report(ref, only(p, "report"))
    return {"ranking": rank(rep, p.max_bits), "reading": reading(rep, p.max_bits),
            "ranking_fig": ft.ranking(rep, p.max_bits)}


@st.cache_resource(max_entries=32, hash_funcs=_H, show_spinner=False)
def _sweep_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    df = _sweep(ref, p)
    return {"table": df, "fig": ft.sweep(df, p.sweep_elem)}


@st.cache_resource(max_entries=32, hash_funcs=_H, show_spinner=False)
def _rht_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    shape, gain = _rht(ref, p)
    return {"shape": shape, "gain": gain, "fig": ft.rht_gain(gain)}


@st.cache_resource(max_entries=32, hash_funcs=_H, show_spinner=False)
def _bias_page(ref: TensorRef, p: TensorParams) -> dict[str, Any]:
    df = _bias(ref, p)
    return {"table": df, "fig": ft.bias(df, p.recipe(p.bias_recipe).label)}
