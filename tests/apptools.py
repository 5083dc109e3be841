"""Shared helpers for the AppTest page tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(script: str, query: dict[str, Any] | None = None, timeout: float = 180) -> AppTest:
    """Run app.py switched to ``script`` with ``query`` as the URL's query parameters."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(script)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def open_ok(script: str, query: dict[str, Any] | None = None, timeout: float = 180) -> AppTest:
    """:func:`open_page`, asserting that the page ran without an exception."""
    at = open_page(script, query, timeout)
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def url_dict(at: AppTest) -> dict[str, list[str]]:
    """Every URL parameter the page wrote, each as a list of strings."""
    return {k: url_values(at, k) for k in at.query_params}


def plotly_array(a: Any) -> np.ndarray:
    """A plotly spec array: a plain list, or plotly>=6's {"dtype", "bdata"} base64 form."""
    if isinstance(a, dict):
        return np.frombuffer(base64.b64decode(a["bdata"]), dtype=a["dtype"])
    return np.asarray(a)


def url_values(at: AppTest, key: str) -> list[str]:
    """A URL parameter as a list of strings (AppTest stores a single value as a bare string)."""
    v = at.query_params[key]
    return [v] if isinstance(v, str) else list(v)


def chart_specs(at: AppTest) -> list[dict[str, Any]]:
    """Every plotly chart of the page, as its decoded JSON spec, in page order."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def trace(spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The trace called ``name`` in a chart spec (KeyError listing the names if absent); a
    legend name wrapped for phones (``<br>``) matches its one-line form."""
    for t in spec["data"]:
        if str(t.get("name")).replace("<br>", " ") == name:
            return t  # type: ignore[no-any-return]
    raise KeyError(f"{name!r} not in {[t.get('name') for t in spec['data']]}")
