"""Page speed: first view after a cold start, and rerun time after a slider change (AppTest).

For every available page: the time of its first view in a fresh process (imports, kernel loads
from the on-disk numba cache, first compute), then the median rerun time after a slider change
at default settings, in two flavours:

* ``warm``: the slider alternates between two values, so the cached compute is hit (the steady
  state when a student wiggles a slider);
* ``fresh``: every rerun uses a value not seen before (a cache miss for what the slider feeds).

Each is printed beside the same measurement on an empty one-slider page in the same run, and
the ratio. Run: ``python bench/pages.py [--reps 15] [--page rounding]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py sets it

from streamlit.testing.v1 import AppTest  # noqa: E402

from ui import nav  # noqa: E402

APP = str(ROOT / "app.py")
EMPTY = """
import streamlit as st
st.title("empty")
st.slider("s", 0, 1000, key="s")
"""
#: The slider each page is timed with, and how to make fresh values from an index.
SLIDERS = {
    "rounding": ("rounding.pos", lambda i: (i % 60 + 2) / 64),
    # the editor's "last layers in BF16" slider: every chart of the page is rebuilt
    "fp4_training": ("fp4_training.c_keep_last", lambda i: i % 4),
}


def _slider_values(at: AppTest, key: str, i: int, page: str) -> object:
    if page in SLIDERS:
        return SLIDERS[page][1](i)
    s = at.slider(key=key)
    lo, hi = s.min, s.max
    if isinstance(lo, float) or isinstance(hi, float):
        return lo + (hi - lo) * ((i % 97) + 1) / 99
    return lo + (i % max(1, hi - lo))


def _first_slider(at: AppTest, page: str) -> str:
    if page in SLIDERS:
        return SLIDERS[page][0]
    for s in at.slider:
        if s.key and s.key.startswith(page + "."):
            return str(s.key)
    raise RuntimeError(f"page {page!r} has no slider to time")


def _reruns(at: AppTest, key: str, page: str, reps: int, fresh: bool) -> list[float]:
    times = []
    for i in range(reps):
        value = _slider_values(at, key, (i + 1000 if fresh else i % 2), page)
        t = time.perf_counter()
        at.slider(key=key).set_value(value).run()
        times.append(time.perf_counter() - t)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    return times


def time_page(page: str, reps: int) -> dict[str, float]:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "empty":
        at.switch_page(nav.by_key(page).script).run()
        if at.exception:
            raise RuntimeError(at.exception[0].value)
        key = _first_slider(at, page)
    else:
        at = AppTest.from_string(EMPTY, default_timeout=60)
        at.run()
        key = "s"
    warm = _reruns(at, key, page, reps, fresh=False)
    fresh = _reruns(at, key, page, reps, fresh=True)
    return {"warm": statistics.median(warm[2:]), "fresh": statistics.median(fresh)}


def first_view(page: str) -> float:
    """Seconds for the first view of ``page`` in a new process (cold imports, warm disk cache)."""
    script = nav.by_key(page).script
    code = (
        f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); t = time.perf_counter()\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=300); at.run()\n"
        f"at.switch_page({script!r}).run(); assert not at.exception, at.exception\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--page", action="append", help="page key (default: every available page)")
    args = ap.parse_args()
    pages = args.page or [p.key for p in nav.available()]
    ref = time_page("empty", args.reps)
    print(f"{'page':<16}{'first view':>12}{'warm rerun':>14}{'fresh rerun':>14}   ratio to empty")
    w, f = ref["warm"] * 1e3, ref["fresh"] * 1e3
    print(f"{'(empty page)':<16}{'':>12}{w:>11.1f} ms{f:>11.1f} ms")
    for page in pages:
        try:
            cold = first_view(page)
            r = time_page(page, args.reps)
        except (RuntimeError, SystemExit, subprocess.CalledProcessError) as exc:
            print(f"{page:<16}failed: {str(exc).splitlines()[0][:100]}")
            continue
        print(
            f"{page:<16}{cold:>10.2f} s{r['warm'] * 1e3:>11.1f} ms{r['fresh'] * 1e3:>11.1f} ms"
            f"   {r['warm'] / ref['warm']:.1f}x / {r['fresh'] / ref['fresh']:.1f}x"
        )


if __name__ == "__main__":
    main()
