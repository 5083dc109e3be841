"""The Your-tensor page in a real browser: a deep link as a cold server's first request (widgets,
URL and charts), then an upload through the file input, which the link does not carry."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 480_000  # ms: cold server; on a clean clone the numba kernels may still be compiling


def test_tensor_deep_link_and_upload(server: str, page: Any, tmp_path: Path) -> None:
    link = (
        "/tensor?tensor=digits.layers.1.act&axis=0&recipes=mxfp4&recipes=nvfp4"
        "&recipes=int4_channel&modes=rne&modes=sr&max_bits=6.0&bias_recipe=mxfp4&bias_draws=4"
    )
    page.goto(server + link, timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("Your tensor")).wait_for(timeout=TIMEOUT)
    page.get_by_text("RNE vs SR: bias (MXFP4)").wait_for(timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").nth(4).wait_for(timeout=TIMEOUT)  # 5 charts
    assert page.get_by_text("Best SQNR at ≤ 6 bits per element").is_visible()
    assert page.get_by_text("digits.layers.1.act", exact=True).first.is_visible()
    assert page.get_by_text(re.compile("viewed as 128 rows × 64 along axis 0")).is_visible()
    q = parse_qs(urlparse(page.url).query)
    assert q["tensor"] == ["digits.layers.1.act"] and q["axis"] == ["0"]
    assert q["recipes"] == ["mxfp4", "nvfp4", "int4_channel"] and q["modes"] == ["rne", "sr"]
    page.set_viewport_size({"width": 1280, "height": 5600})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / "tensor_deep_link.png"))

    # an upload replaces the shipped tensor on the page, not in the link
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    np.savez(buf, w=rng.standard_normal((32, 48)).astype(np.float32), idx=np.arange(4))
    f = tmp_path / "mine.npz"
    f.write_bytes(buf.getvalue())
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator('input[type="file"]').set_input_files(str(f))
    page.get_by_text("mine.npz: w").wait_for(timeout=TIMEOUT)
    page.get_by_text(re.compile("Left out: 'idx' is an integer tensor")).wait_for(timeout=TIMEOUT)
    # .first: while the rerun draws, the previous run's chart may still be on the page
    page.get_by_text("RNE vs SR: bias (MXFP4)").first.wait_for(timeout=TIMEOUT)
    assert parse_qs(urlparse(page.url).query)["tensor"] == ["digits.layers.1.act"]
    page.screenshot(path=str(OUT / "tensor_upload.png"))
