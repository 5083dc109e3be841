"""Low-Bit Lab entry point: page config, navigation over app_pages/, the shared sidebar.

Page scripts live in ``app_pages/``, not ``pages/``: Streamlit treats a top-level ``pages/``
folder as the legacy multipage layout, and a deep link that is the first request after a server
start is then served from that folder without running this entry point (measured, 1.67).
"""

import os
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent
# Before anything imports numba: compiled kernels are cached on disk, so a cold server start
# compiles nothing until a page needs a kernel, and a restart reuses what earlier runs compiled.
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
# Parallel numba kernels use OpenMP. With the default (active) wait policy a small kernel call
# costs ~20 ms instead of ~0.1 ms whenever the CPU is busy (measured, 2 cores under load): the
# pool's threads spin against the script threads. Passive waiting costs nothing measurable.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

from ui import glossary, nav  # noqa: E402

# "auto": open beside the page on a wide screen, closed on a phone (where it would cover the page)
# The favicon ships with the lab (a material icon would be fetched from a font host: offline, none)
st.set_page_config(
    page_title="Low-Bit Lab", page_icon=str(ROOT / "ui" / "static" / "favicon.png"), layout="wide",
    initial_sidebar_state="auto",
)

home = st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True)
pages = [home] + [
    st.Page(p.script, title=p.title, icon=p.icon, url_path=p.key) for p in nav.available()
]
current = st.navigation(pages)
if os.environ.get("LOWBIT_WARM_POOL") == "1":  # `make run`: the live-run workers load torch now
    from ui.cached_fp4_training import pool

    pool()
current.run()

# Drawn after the page ran, so the share box shows the query string the page just published.
with st.sidebar:  # (the navigation menu already ends with a rule)
    st.markdown(
        "**Low-Bit Lab** shows how ML number formats (FP8, FP6, FP4, block-scaled MX/NVFP4) "
        "store values, how rounding (nearest or stochastic) moves them, and what that does to "
        "training."
    )
    if current is not home:
        query = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
        base = st.context.url or f"/{current.url_path}"
        st.markdown("**Share this view**")
        # one line (scrolls sideways, copy button at its end): a wrapped link fills a phone
        st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=False)
        st.caption("This link reproduces the page exactly: every setting and the random seed.")
    glossary.show()  # every abbreviation spelled out, and the papers by title, on every page
