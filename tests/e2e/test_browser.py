"""The lab in a real browser: deep links on a cold server, and slider -> URL.

Each test starts its own server, so the deep link is the very first page request that server
sees (the case a top-level ``pages/`` folder breaks). Screenshots: ``test-output/e2e/``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 90_000  # ms: a cold server imports numpy/plotly/numba and renders software-GL plotly


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def _wait_for_charts(page: Any, n: int) -> None:
    page.locator(".js-plotly-plot").nth(n - 1).wait_for(state="visible", timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").nth(n - 1).wait_for(timeout=TIMEOUT)


def test_deep_link_is_first_request_after_start(server: str, page: Any) -> None:
    link = "/rounding?fmt=float8_e5m2&x=5.3&rbits=2&seed=7&acc_n=200&modes=sr&modes=srff"
    page.goto(server + link, timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("Rounding: nearest")).wait_for(timeout=TIMEOUT)
    _wait_for_charts(page, 3)
    page.set_viewport_size({"width": 1400, "height": 3000})  # the app scrolls inside its main
    page.wait_for_timeout(1500)  # area, so a tall viewport is how to see the whole page
    page.screenshot(path=str(OUT / "rounding_deep_link.png"))
    assert page.get_by_role("textbox", name="Exact value x (≥ 0)").input_value() == "5.3"
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert any("x = 5.3" in t and "FP8 E5M2" in t for t in titles), titles
    q = _query(page.url)
    assert q["fmt"] == ["float8_e5m2"] and q["x"] == ["5.3"] and q["rbits"] == ["2"]
    assert q["modes"] == ["sr", "srff"] and q["v"] == ["1"]
    assert urlparse(page.url).path == "/rounding"


def test_slider_move_updates_the_url(server: str, page: Any) -> None:
    page.goto(server + "/rounding?acc_n=100", timeout=TIMEOUT)
    _wait_for_charts(page, 3)
    assert _query(page.url)["rbits"] == ["3"]
    thumb = page.get_by_role("slider", name=re.compile("Random bits N"))
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_url(re.compile(r"[?&]rbits=4(&|$)"), timeout=TIMEOUT)
    page.get_by_text(re.compile("N = 4 random bits")).first.wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(OUT / "rounding_after_slider.png"))


def test_home_lists_the_pages(server: str, page: Any) -> None:
    page.goto(server + "/", timeout=TIMEOUT)
    page.get_by_role("heading", name="Low-Bit Lab").wait_for(timeout=TIMEOUT)
    page.get_by_text("Round one number many ways").wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(OUT / "home.png"))


def test_fp4_training_deep_link_and_live_run(server: str, page: Any) -> None:
    """A cold deep link draws the library curves; Run trains in the worker pool, shows its
    progress and overlays the finished curve (dashed) on the first chart."""
    link = ("/fp4_training?task=regression&recipes=fp32&recipes=nvfp4&run_recipe=fp4_naive"
            "&run_steps=60&run_seed=11")
    page.goto(server + link, timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("FP4 training")).wait_for(timeout=TIMEOUT)
    _wait_for_charts(page, 4)
    q = _query(page.url)
    assert q["task"] == ["regression"] and q["recipes"] == ["fp32", "nvfp4"]
    assert q["run_steps"] == ["60"] and q["v"] == ["1"]
    page.get_by_role("button", name=re.compile("Run")).first.click()
    page.get_by_text(re.compile(r"seed 11 · 60 steps: done in")).wait_for(timeout=TIMEOUT)
    # the finished run triggers a whole-page rerun, which redraws the first chart with it
    first = page.locator(".js-plotly-plot").first
    first.locator(".legendtext", has_text=re.compile(r"^live: .*seed 11")).wait_for(
        timeout=TIMEOUT)
    legend = first.locator(".legendtext").all_text_contents()
    assert sum(t.startswith("live:") for t in legend) == 1, legend
    page.set_viewport_size({"width": 1400, "height": 3000})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / "fp4_training_live_run.png"))
