"""The Lessons page in a real browser: a student walks lesson 2 (predict, check, the chart is
revealed, next) on a phone-sized screen, and a teacher opens the presenter view (no sidebar, QR
code, jump to a step). Screenshots in test-output/e2e/."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 120_000  # ms: cold server


def test_student_walks_a_lesson(shared_server: str, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(shared_server + "/lessons", timeout=TIMEOUT)
    page.get_by_text("2 · Ties and round-to-nearest-even").wait_for(timeout=TIMEOUT)
    page.screenshot(path=str(OUT / "lessons_list_phone.png"), full_page=True)
    page.get_by_role("button", name="Start").nth(1).click()
    page.get_by_text("Predict first").wait_for(timeout=TIMEOUT)
    assert page.locator(".js-plotly-plot").count() == 0  # hidden until an answer is committed
    box = page.get_by_label("Your answer")
    box.fill("4")
    box.press("Enter")
    page.get_by_role("button", name="Check").click()
    page.get_by_text("Right: the lab computes 4").wait_for(timeout=TIMEOUT)
    page.wait_for_url(re.compile(r"[?&]a=1%3An4\.0"), timeout=TIMEOUT)
    page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=TIMEOUT)  # revealed
    page.screenshot(path=str(OUT / "lessons_step_answered_phone.png"), full_page=True)
    q = parse_qs(urlparse(page.url).query)
    assert q["lesson"] == ["ties"] and q["a"] == ["1:n4.0"]
    page.get_by_role("button", name="Next ▶").click()
    page.get_by_text("What does 4.25 round to in E4M3 with RNA?").wait_for(timeout=TIMEOUT)
    page.wait_for_url(re.compile(r"[?&]step=2(&|$)"), timeout=TIMEOUT)
    assert parse_qs(urlparse(page.url).query)["step"] == ["2"]
    page.get_by_text("Predict first").wait_for(timeout=TIMEOUT)  # step 2 is not answered yet
    # the previous step's chart is removed once the rerun finishes (stale elements fade first)
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 0",
                           timeout=TIMEOUT)


def test_presenter_view(shared_server: str, page: Any) -> None:
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(shared_server + "/lessons?lesson=stagnation&step=1&present=1", timeout=TIMEOUT)
    page.get_by_text("Students: open this step").wait_for(timeout=TIMEOUT)
    page.get_by_text("Question.").wait_for(timeout=TIMEOUT)
    # the presenter CSS hides the sidebar (and its open button) once the page has drawn
    page.locator('section[data-testid="stSidebar"]').wait_for(state="hidden", timeout=TIMEOUT)
    qr = page.locator('[data-testid="stImage"] img').first  # the QR code (an SVG image)
    qr.wait_for(timeout=TIMEOUT)
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")
    page.screenshot(path=str(OUT / "lessons_presenter.png"), full_page=True)
    page.get_by_role("button", name="Next ▶").wait_for(timeout=TIMEOUT)  # the run has finished
    page.get_by_role("button", name="4", exact=True).click()
    page.get_by_text(re.compile("harmonic sum first stop")).wait_for(timeout=TIMEOUT)
    page.wait_for_url(re.compile(r"[?&]step=4(&|$)"), timeout=TIMEOUT)  # written after the render
    assert parse_qs(urlparse(page.url).query)["step"] == ["4"]
    # the short link (the sidebar's hidden share box holds the long one)
    link = page.locator("code", has_text=re.compile(r"/lessons\?lesson=stagnation&step=4$"))
    link.wait_for(timeout=TIMEOUT)  # the short link under the QR code follows the step
    page.screenshot(path=str(OUT / "lessons_presenter_step4.png"))
