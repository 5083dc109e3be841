"""Shared helpers for the AppTest page tests."""

from __future__ import annotations

import base64
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


def plotly_array(a: Any) -> np.ndarray:
    """A plotly spec array: a plain list, or plotly>=6's {"dtype", "bdata"} base64 form."""
    if isinstance(a, dict):
        return np.frombuffer(base64.b64decode(a["bdata"]), dtype=a["dtype"])
    return np.asarray(a)
