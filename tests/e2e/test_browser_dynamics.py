"""The Low-precision dynamics page in a real browser: a deep link as a cold server's first
request, the widgets and URL it ends with, and its charts drawn (screenshot in test-output/e2e/)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 480_000  # ms: cold server; on a clean clone the numba kernels may still be compiling


def test_dynamics_deep_link(server: str, page: Any) -> None:
    link = (
        "/dynamics?fmt=bfloat16&sr_mode=src&rbits=4&steps=20000&seed=9&compare=rn"
        "&compare=sr&card_fmt=bfloat16&harmonic_n=20000&card_seeds=2"
    )
    page.goto(server + link, timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("Low-precision dynamics")).wait_for(timeout=TIMEOUT)
    page.get_by_text("What the paper claims").wait_for(timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").nth(5).wait_for(timeout=TIMEOUT)  # 6 charts
    page.set_viewport_size({"width": 1400, "height": 5200})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / "dynamics_deep_link.png"))
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert "Lorenz attractor, x–z projection" in titles and "Harmonic sum" in titles
    assert page.get_by_text("bfloat16, SRC N=4 seed 9").first.is_visible()
    assert page.get_by_text("RN stops growing at n = 65 with 5.0625").is_visible()
    q = parse_qs(urlparse(page.url).query)
    assert q["fmt"] == ["bfloat16"] and q["compare"] == ["rn", "sr"] and q["v"] == ["1"]
