"""The Formats page's bit view in a real browser (issue 18): coloured cells, keyboard flips that
keep the focus, hex entry, and no horizontal overflow at 1280 px and on a 390 px phone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest

from .conftest import OUT

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

TIMEOUT = 120_000  # ms: a cold server imports numpy/plotly/numba first
FRAME = "iframe[title*='bitview']"


def _cells(page: Any) -> Any:
    cells = page.frame_locator(FRAME).locator("button.bit")
    cells.first.wait_for(timeout=TIMEOUT)
    return cells


def _bg(cell: Any) -> str:
    return str(cell.evaluate("e => getComputedStyle(e).backgroundColor"))


def test_bit_cells_colours_keyboard_focus_and_hex(shared_server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(shared_server + "/formats", timeout=TIMEOUT)
    cells = _cells(page)
    assert cells.count() == 8  # E4M3 at 1.0 = 0 0111 000
    # the bits themselves carry the field colours: sign red, exponent green, mantissa blue
    # (a 0 bit a light tint, a 1 bit the full colour)
    sign, e3, e2, m0 = (_bg(cells.nth(i)) for i in (0, 1, 2, 7))
    assert sign == "rgb(253, 227, 227)" and e3 == "rgb(223, 243, 223)"
    assert e2 == "rgb(46, 125, 50)" and m0 == "rgb(221, 233, 251)"
    # keyboard: Space flips the focused bit, the page reruns, and the focus stays on that bit
    cells.nth(7).focus()
    cells.nth(7).press("Space")
    page.wait_for_url(re.compile(r"[?&]code=57(&|$)"), timeout=TIMEOUT)
    page.wait_for_timeout(1000)  # the rerun's render message reaches the component
    focused = page.frame_locator(FRAME).locator("button.bit:focus")
    assert focused.get_attribute("data-i") == "7"
    assert _bg(cells.nth(7)) == "rgb(21, 101, 192)"  # now a 1: full mantissa blue
    page.keyboard.press("ArrowLeft")  # still driving the cells: no click needed
    page.keyboard.press("1")
    page.wait_for_url(re.compile(r"[?&]code=59(&|$)"), timeout=TIMEOUT)
    page.keyboard.press("ArrowUp")  # next representable value up
    page.wait_for_url(re.compile(r"[?&]code=60(&|$)"), timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    assert focused.get_attribute("data-i") == "6"
    # hex entry, and a clear message on a code that does not fit
    box = page.get_by_role("textbox", name="Bits as hex or binary")
    assert box.input_value() == "0x3C"
    box.fill("0x7e")
    box.press("Enter")
    page.wait_for_url(re.compile(r"[?&]code=126(&|$)"), timeout=TIMEOUT)
    page.get_by_text("448").first.wait_for(timeout=TIMEOUT)
    box.fill("0x1FF")
    box.press("Enter")
    page.get_by_text(re.compile("does not fit the 8-bit format")).wait_for(timeout=TIMEOUT)
    assert box.input_value() == "0x7E"
    page.screenshot(path=str(OUT / "bitview_1280.png"))
    # the 16x16 table fits the width at 1280 px: nothing cut, nothing to scroll
    table = page.locator("table:has(td[title^='code 0x'])").first
    sw, cw = table.evaluate("e => [e.parentElement.scrollWidth, e.parentElement.clientWidth]")
    assert sw <= cw
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.close()


def test_float32_bits_wrap_in_a_few_rows_on_a_phone(shared_server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(shared_server + "/formats?fmt=float32", timeout=TIMEOUT)
    cells = _cells(page)
    assert cells.count() == 32
    page.wait_for_timeout(1500)
    tops = {round(t) for t in
            cells.evaluate_all("cs => cs.map(c => c.getBoundingClientRect().top)")}
    assert 2 <= len(tops) <= 4  # a few rows, not one bit per row
    frame_doc = page.frame_locator(FRAME).locator("html")
    sw, cw = frame_doc.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert sw <= cw  # every cell inside the component's width
    digits = cells.evaluate_all(
        "cs => cs.map(c => { const d = c.querySelector('.dig').getBoundingClientRect(),"
        " b = c.getBoundingClientRect();"
        " return d.left >= b.left - 0.5 && d.right <= b.right + 0.5 })")
    assert all(digits)  # no digit clipped by its cell
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(OUT / "bitview_390.png"), full_page=True)
    page.close()


def test_back_to_home_drops_the_page_state_and_the_favicon_is_local(
        shared_server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(shared_server + "/", timeout=TIMEOUT)
    page.get_by_role("heading", name="Low-Bit Lab").wait_for(timeout=TIMEOUT)
    page.get_by_role("link", name="Rounding").first.click()
    page.wait_for_url(re.compile(r"/rounding\?.*x=1\.3"), timeout=TIMEOUT)
    page.get_by_role("heading", name=re.compile("Rounding: nearest")).wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(3000)  # the page has published its settings to the URL
    for _ in range(3):  # Streamlit keeps /rounding and /rounding?... as two history entries
        page.go_back()
        page.wait_for_timeout(2500)
        if urlparse(page.url).path == "/":
            break
    page.get_by_role("heading", name="Low-Bit Lab").wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(2000)  # Home's script has run and rewritten the URL
    assert "?" not in page.url and "x=" not in page.url, page.url
    icon = page.locator("link[rel*='icon']").first.get_attribute("href") or ""
    assert not icon.startswith("http") or icon.startswith(shared_server), icon
    outside = [u for u in requests if not u.startswith(shared_server) and not
               u.startswith(("data:", "blob:", "about:"))]
    assert not outside, outside  # nothing fetched from a font host or elsewhere
    page.close()
