"""Your-tensor speed (issue 13): the report of a 4M-element tensor against 12 ``x.copy()``.

* ``report``: :func:`tensor_report` of a 4096 x 1024 float32 tensor through the 12 default
  recipes (casts, MX, NVFP4, INT per-tensor/channel/block), RNE, every metric; goal at most 10x
  the time of 12 ``x.copy()`` of the same tensor, timed in the same run, interleaved.
* the same with exact SR (no goal: the block quantizer's general kernel is the cost);
* ``page rerun``: AppTest rerun of the page after the ranking budget changes (warm: two values
  alternate, fresh: a new value each time); goal at most 100 ms, beside an empty page.

Run: ``python bench/tensor.py [--reps 5]``. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py sets it

import numpy as np  # noqa: E402

from lowbit_core.experiments.tensor_report import DEFAULT_RECIPES, tensor_report  # noqa: E402


def _tensor() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 1024)) * np.exp(0.5 * rng.standard_normal((4096, 1024)))
    return x.astype(np.float32)


def _time(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def report(reps: int) -> list[tuple[str, float, float]]:
    x = _tensor()
    tensor_report(x[:64], DEFAULT_RECIPES, ("rne", "sr"))  # compile / load kernels
    rows = []
    for mode in ("rne", "sr"):
        ts, cs = [], []
        for _ in range(reps):
            cs.append(_time(lambda: [x.copy() for _ in range(12)]))
            ts.append(_time(lambda mode=mode: tensor_report(x, DEFAULT_RECIPES, (mode,))))
        rows.append((mode, statistics.median(ts), statistics.median(cs)))
    return rows


def rerun(reps: int) -> tuple[float, float, float]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("app_pages/tensor.py").run()
    assert not at.exception, at.exception
    warm, fresh = [], []
    for i in range(reps * 2):
        warm.append(_time(lambda i=i: at.slider(key="tensor.max_bits").set_value(
            5.0 if i % 2 else 6.0).run()))
    for i in range(reps * 2):
        fresh.append(_time(lambda i=i: at.slider(key="tensor.max_bits").set_value(
            8.0 + 0.25 * i).run()))
    empty = AppTest.from_string(
        "import streamlit as st\nst.slider('s', 0, 100, key='s')", default_timeout=60).run()
    base = [_time(lambda i=i: empty.slider(key="s").set_value(i % 2 + 1).run())
            for i in range(reps * 2)]
    return statistics.median(warm[1:]), statistics.median(fresh), statistics.median(base)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    print(f"cpus={os.cpu_count()}; 4096 x 1024 float32, 12 recipes {', '.join(DEFAULT_RECIPES)}")
    print("\n| case | time | reference | ratio | goal |\n|---|---:|---:|---:|---|")
    for mode, t, c in report(a.reps):
        goal = "≤ 10× 12 copies" if mode == "rne" else "–"
        print(f"| report, {mode.upper()}, every metric | {t * 1e3:.0f} ms | 12 × x.copy() "
              f"{c * 1e3:.1f} ms | {t / c:.1f}× | {goal} |")
    warm, fresh, base = rerun(a.reps)
    print(f"| page rerun, budget K changed (warm) | {warm * 1e3:.0f} ms | empty page "
          f"{base * 1e3:.0f} ms | {warm / base:.1f}× | ≤ 100 ms |")
    print(f"| page rerun, budget K changed (new value) | {fresh * 1e3:.0f} ms | empty page "
          f"{base * 1e3:.0f} ms | {fresh / base:.1f}× | ≤ 100 ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
