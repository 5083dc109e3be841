"""Fill numba's disk cache with every page's kernels, in a process of its own, at server start.

On a fresh machine (an empty ``NUMBA_CACHE_DIR``) the first view of a page compiles its kernels
inside the Streamlit process: about 70 s for Low-precision dynamics and for Your own tensor,
10 s for Gradient variance, 8 s for Rounding (measured on 2 cores), and numba holds the GIL while
it compiles, so every other visitor waits too. ``make run`` and ``make serve`` start this module
in the background instead: it runs each page's default view once with Streamlit's headless
``AppTest`` at a low CPU priority, which compiles (or, on later starts, only loads) the kernels
and writes them to the disk cache; the server's processes then load them from there. A visitor
who opens a page before its kernels are cached compiles them as before (nothing waits for this
process), and the time limits of the pages do not count compilation
(:mod:`lowbit_core.jitclock`).

Usage: ``python -m ui.precompile [--nice N] [--pages PAGE ...]``; prints one line per page
and the total.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: pages whose default view runs numba kernels, the slowest to compile first
PAGES = ("dynamics", "tensor", "grad_variance", "rounding", "fp4_training", "formats",
         "scaling_laws")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ui.precompile", description=__doc__.split("\n")[0])
    ap.add_argument("--nice", type=int, default=10, help="CPU priority increment (default 10)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per page at most")
    ap.add_argument("--pages", nargs="*", default=list(PAGES), choices=PAGES, metavar="PAGE",
                    help=f"pages to run (default: {' '.join(PAGES)})")
    a = ap.parse_args(argv)
    if a.nice:
        os.nice(a.nice)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    t0, failed = time.monotonic(), 0
    for name in a.pages:
        t = time.monotonic()
        try:
            at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"),
                                   default_timeout=a.timeout)
            at.run()
            note = "" if not at.exception else f" ({len(at.exception)} exception(s) shown)"
        except Exception as exc:  # a page that fails here fails for visitors too: say so, go on
            note, failed = f" (failed: {type(exc).__name__}: {exc})", failed + 1
        print(f"precompile: {name} {time.monotonic() - t:.1f} s{note}", flush=True)
    print(f"precompile: every page's kernels cached in {time.monotonic() - t0:.1f} s "
          f"(NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', 'numba default')})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
