"""Speed of the Scaling laws page (issue 11 goals: compute-optimal search for 50 budgets
< 50 ms; every view reruns in <= 100 ms).

Prints, all measured in this run (medians):

1. ``optimal_precision_compute`` for 50 budgets (closed form), beside a brute-force search of
   the same 50 budgets on a (log N, P) grid of 400 × 400 points (the reference: what a
   numeric search of modest accuracy costs);
2. the page's rerun time after each kind of input change (AppTest), against an empty
   one-slider page in the same process: ``warm`` alternates two values (cached figures),
   ``fresh`` uses a new value every time (every figure that depends on the input is rebuilt).

Run: ``python bench/scaling_laws.py [--reps 9]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from lowbit_core.experiments import scaling_law as law  # noqa: E402

APP = str(ROOT / "app.py")
K = "scaling_laws."
EMPTY = 'import streamlit as st\nst.title("empty")\nst.slider("s", 0, 1000, key="s")\n'


def _median(fn: Callable[[], Any], reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def grid_search(budgets: np.ndarray, k: float = 6 / 16, n: int = 400) -> np.ndarray:
    """P minimising L over a (log N, P) grid per budget (N in 1e6..1e18, P in 2..16)."""
    nn = np.logspace(6, 18, n)[:, None]
    pp = np.linspace(2, 16, n)[None, :]
    lay = law.optimal_layout(pp)
    out = np.empty(budgets.size)
    for i, c in enumerate(budgets):
        loss = law.capybara_loss(nn, c / (k * pp * nn), lay.e, lay.m, 128)
        out[i] = pp[0, np.unravel_index(np.argmin(loss), loss.shape)[1]]
    return out


def core(reps: int) -> None:
    budgets = np.logspace(19, 33, 50)
    t_closed = _median(lambda: law.optimal_precision_compute(budgets, 128), reps * 20)
    t_grid = _median(lambda: grid_search(budgets), max(1, reps // 3))
    p = law.optimal_precision_compute(budgets, 128)[0]
    err = np.abs(grid_search(budgets) - p).max()
    print("| compute-optimal search, 50 budgets | ms | × grid search | goal | met |")
    print("|---|---:|---:|---|---|")
    print(f"| closed form (`optimal_precision_compute`) | {t_closed * 1e3:.3f} | "
          f"{t_closed / t_grid:.1e} | < 50 ms | {'yes' if t_closed < 0.05 else 'no'} |")
    print(f"| reference: 400×400 grid search | {t_grid * 1e3:.0f} | 1 | - | - |")
    print(f"(grid search P within {err:.3f} bits of the closed form; grid step 0.035)\n")


#: (label, widget kind, key, two warm values, fresh values from an index)
CHANGES: list[tuple[str, str, str, tuple[Any, Any], Callable[[int], Any]]] = [
    ("N (log slider)", "slider", K + "_log_n_params", (8.0, 8.5), lambda i: 6 + (i % 97) / 25),
    ("D (log slider)", "slider", K + "_log_tokens", (11.0, 11.5), lambda i: 9 + (i % 97) / 20),
    ("E (slider)", "slider", K + "ebits", (3, 5), lambda i: i % 9),
    ("block size", "select_slider", K + "block", ("64", "256"),
     lambda i: ("32", "64", "128", "256", "512", "channel")[i % 6]),
    ("format", "selectbox", K + "fmt", ("float4_e2m1fn", "float8_e5m2"),
     lambda i: ("float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn", "float8_e5m2",
                "bfloat16", "float16")[i % 6]),
]


def _set(at: AppTest, kind: str, key: str, value: Any) -> float:
    t0 = time.perf_counter()
    getattr(at, kind)(key=key).set_value(value).run()
    dt = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return dt


def page(reps: int) -> None:
    empty = AppTest.from_string(EMPTY, default_timeout=60).run()
    ref = statistics.median(
        [_set(empty, "slider", "s", i % 2 + 1) for i in range(reps + 2)][2:]
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/scaling_laws.py").run()
    print(f"empty one-slider page (reference): {ref * 1e3:.1f} ms\n")
    print("| input changed | warm rerun ms | fresh rerun ms | × empty (warm / fresh) "
          "| goal ≤ 100 ms |")
    print("|---|---:|---:|---:|---|")
    for label, kind, key, warm_vals, fresh in CHANGES:
        warm = [_set(at, kind, key, warm_vals[i % 2]) for i in range(reps + 2)][2:]
        new = [_set(at, kind, key, fresh(i + 1)) for i in range(reps)]
        w, f = statistics.median(warm), statistics.median(new)
        met = "yes" if max(w, f) <= 0.1 else ("warm only" if w <= 0.1 else "no")
        print(f"| {label} | {w * 1e3:.0f} | {f * 1e3:.0f} | {w / ref:.1f} / {f / ref:.1f} "
              f"| {met} |")
        # back to the defaults' neighbourhood for the next input
        at.switch_page("app_pages/scaling_laws.py").run()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--no-page", action="store_true")
    a = ap.parse_args()
    core(a.reps)
    if not a.no_page:
        page(a.reps)


if __name__ == "__main__":
    main()
