"""The app shell (app.py + Home) through AppTest: navigation, links, share box, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import nav

pytestmark = pytest.mark.app

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = nav.available()


def test_home_renders_and_links_every_available_page() -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Low-Bit Lab"
    links = at.get("page_link")
    assert [el.proto.label for el in links] == [p.title for p in PAGES]
    text = " ".join(m.value for m in at.markdown)
    for p in PAGES:
        assert p.blurb in text
    assert not at.sidebar.code  # Home has no state to share


def test_no_legacy_pages_folder() -> None:
    # A top-level pages/ folder switches Streamlit to legacy auto-discovery, and a deep link that
    # is the first request after a server start then skips app.py (see README, "Pages").
    assert not (ROOT / "pages").exists()
    for p in nav.PAGES:
        assert p.script.startswith("app_pages/")


@pytest.mark.parametrize("page", PAGES, ids=[p.key for p in PAGES])
def test_every_page_renders_and_shares_its_url(page: nav.PageInfo) -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(page.script).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert not at.warning  # defaults never need a warning
    assert at.query_params["v"] == "1"
    (share,) = at.sidebar.code
    assert share.value.startswith(f"/{page.key}?") and "v=1" in share.value
    # the share link carries exactly what the page wrote to the URL
    for key in page.params_class().__dataclass_fields__:
        assert f"{key}=" in share.value


def test_app_sets_the_numba_cache_and_omp_policy() -> None:
    code = (
        f"import os, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "os.environ.pop('NUMBA_CACHE_DIR', None); os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); assert not at.exception\n"
        "import json; print(json.dumps([os.environ.get('NUMBA_CACHE_DIR'),"
        " os.environ.get('OMP_WAIT_POLICY'), 'numba' in sys.modules, 'torch' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cache_dir, omp, numba_loaded, torch_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(cache_dir) == ROOT / ".numba_cache"
    assert omp == "PASSIVE"
    assert not numba_loaded and not torch_loaded  # Home compiles and imports nothing heavy


@pytest.mark.skipif(not any(p.key == "rounding" for p in PAGES), reason="no Rounding page")
def test_rounding_page_does_not_import_torch() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=300)\n"
        "at.query_params['acc_n'] = '20'\n"
        "at.switch_page('app_pages/rounding.py').run(); assert not at.exception\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
