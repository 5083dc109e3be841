"""The Scaling laws page in a real browser: a deep link as a cold server's first request, the
widgets and URL it ends with, and its charts drawn (screenshot in test-output/e2e/)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from lowbit_core.experiments import scaling_law as law

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 120_000  # ms: cold server


def test_scaling_laws_deep_link(server: str, page: Any) -> None:
    link = (
        "/scaling_laws?n_params=85000000.0&tokens=20000000000.0&fmt=custom&ebits=3&mbits=4"
        "&block=channel&compare=float16&compare=float4_e2m1fn"
    )
    page.goto(server + link, timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("Scaling laws")).wait_for(timeout=TIMEOUT)
    page.get_by_text("What the law does not cover").wait_for(timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").nth(4).wait_for(timeout=TIMEOUT)  # 5 charts
    page.set_viewport_size({"width": 1400, "height": 4600})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / "scaling_laws_deep_link.png"))
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    assert any(t.startswith("Loss against data") for t in titles)
    assert any(t.startswith("Loss over the layout") for t in titles)
    assert page.get_by_text("E3M4 (custom)").first.is_visible()  # the legend
    loss = law.capybara_loss(85e6, 2e10, 3, 4, "channel")
    assert page.get_by_text(f"{loss:.4f}", exact=True).is_visible()  # the loss readout
    assert page.get_by_text("Every input is inside the fitted range.").is_visible()
    q = parse_qs(urlparse(page.url).query)
    assert q["fmt"] == ["custom"] and q["block"] == ["channel"] and q["v"] == ["1"]
    assert q["compare"] == ["float16", "float4_e2m1fn"] and q["n_params"] == ["85000000.0"]
