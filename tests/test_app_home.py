"""Home page and app frame (issue 18's small defects): Home's URL holds no other page's state,
and the favicon ships with the lab (no outside font host)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def test_home_url_drops_another_pages_state() -> None:
    """Back from /rounding?x=5.3&... lands on Home with that query string: Home clears it."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["x"] = "5.3"
    at.query_params["fmt"] = "float8_e5m2"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Low-Bit Lab"
    assert dict(at.query_params) == {}


def test_other_pages_keep_their_url() -> None:
    """The clearing is Home's alone: a page's own state stays in its URL."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/rounding.py")
    at.query_params["x"] = "5.3"
    at.run()
    assert not at.exception
    assert at.query_params["x"] == "5.3"


def test_favicon_is_a_shipped_image() -> None:
    calls: list[dict[str, Any]] = []
    real = __import__("streamlit").set_page_config

    def spy(**kw: Any) -> None:
        calls.append(kw)
        real(**kw)

    with mock.patch("streamlit.set_page_config", spy):
        at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    (kw,) = calls
    icon = Path(str(kw["page_icon"]))
    assert icon.is_absolute() and icon.is_file()  # a local file, not ":material/..." or a URL
    assert ROOT in icon.parents
    with Image.open(icon) as im:
        assert im.format == "PNG" and im.size[0] >= 32
