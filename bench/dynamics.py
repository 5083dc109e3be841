"""Speed of the dynamics page's core: emulated-precision Lorenz runs against plain float64 numba.

Prints, all measured in this run (median of ``--reps``, after a warm-up):

1. one 1e5-step RK4 run with every result rounded (68 roundings a step), per precision and mode,
   as a ratio to the same run written as plain float64 numba (no rounding machinery at all);
2. the live W1 sweep at 1e5 steps: 48 runs (sbits 4..12, 14, 16, 23 × RN once + SR 3 seeds)
   plus 3 float64 floor runs, in parallel over the machine's cores;
3. the page's rerun time with cached results (AppTest, the sbits slider alternating between
   two values already computed).

Run: ``python bench/dynamics.py [--reps 5] [--no-page]``. Goals (issue 10): RNE <= 10x,
SR <= 15x, sweep < 3 s on 2 cores, cached rerun <= 150 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from lowbit_core.experiments.dynamics import _kernels as K  # noqa: E402
from lowbit_core.experiments.dynamics.lorenz import (  # noqa: E402
    LorenzParams,
    _constants,
    climate_sweep,
)


@numba.njit(nogil=True, cache=True)
def _f(x: float, y: float, z: float, s: float, r: float, b: float) -> Any:
    return s * (y - x), x * (r - z) - y, x * y - b * z


@numba.njit(nogil=True, cache=True)
def plain_rk4(out: Any, s0: Any, k: Any) -> None:
    """The reference: the same RK4 in plain float64 (same operation order, nothing rounded)."""
    s, r, b, dt, h2, h6 = k[0], k[1], k[2], k[3], k[4], k[5]
    x, y, z = s0[0], s0[1], s0[2]
    out[0, 0], out[0, 1], out[0, 2] = x, y, z
    for n in range(1, out.shape[0]):
        ax, ay, az = _f(x, y, z, s, r, b)
        bx, by, bz = _f(x + h2 * ax, y + h2 * ay, z + h2 * az, s, r, b)
        cx, cy, cz = _f(x + h2 * bx, y + h2 * by, z + h2 * bz, s, r, b)
        ex, ey, ez = _f(x + dt * cx, y + dt * cy, z + dt * cz, s, r, b)
        x = x + h6 * ((ax + ex) + 2.0 * (bx + cx))
        y = y + h6 * ((ay + ey) + 2.0 * (by + cy))
        z = z + h6 * ((az + ez) + 2.0 * (bz + cz))
        out[n, 0], out[n, 1], out[n, 2] = x, y, z


def _median(fn: Any, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _ratios(fn: Any, ref: Any, reps: int) -> tuple[float, list[float]]:
    """Median time of ``fn`` and its ratios to ``ref``, the two timed alternately (a busy
    machine slows both alike)."""
    fn()
    ref()
    ts, rs = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        ref()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        ts.append(t2 - t1)
        rs.append((t2 - t1) / (t1 - t0))
    return statistics.median(ts), rs


def kernels(reps: int) -> None:
    steps = 100_000
    out = np.empty((steps + 1, 3))
    ref_out = np.empty((steps + 1, 3))
    p64 = LorenzParams(fmt="float64", steps=steps)
    s0 = np.array(p64.start)
    k64 = _constants(p64)
    ref = _median(lambda: plain_rk4(ref_out, s0, k64), reps)
    print(f"plain float64 numba RK4, 1e5 steps: {ref * 1e3:.2f} ms (reference)\n")
    print("| run (1e5 RK4 steps, 68 roundings a step) | ms | × plain float64 (median, range) |")
    print("|---|---:|---:|")
    cases = [
        ("float64 through the kernel", {"fmt": "float64"}),
        ("7 sbits RNE", {"sbits": 7}),
        ("7 sbits SR (exact)", {"sbits": 7, "mode": "sr"}),
        ("7 sbits SRC, N=8", {"sbits": 7, "mode": "src", "rbits": 8}),
        ("23 sbits SR", {"sbits": 23, "mode": "sr"}),
        ("bfloat16 RNE", {"fmt": "bfloat16"}),
        ("bfloat16 SR", {"fmt": "bfloat16", "mode": "sr"}),
        ("float16 RNE", {"fmt": "float16"}),
        ("e4m3 RNE (saturating)", {"fmt": "e4m3"}),
    ]
    for name, kw in cases:
        p = LorenzParams(steps=steps, spinup=0, **kw)  # type: ignore[arg-type]
        ci, cf = p.precision.rows()
        k = _constants(p)
        st = p.precision.nearest(s0)
        t, rs = _ratios(
            lambda st=st, k=k, p=p, ci=ci, cf=cf: K.run_one(out, st, k, p.scheme_code, 0, ci, cf),
            lambda: plain_rk4(ref_out, s0, k64),
            reps,
        )
        print(
            f"| {name} | {t * 1e3:.1f} | {statistics.median(rs):.1f} "
            f"({min(rs):.1f}–{max(rs):.1f}) |"
        )


def sweep(reps: int) -> None:
    base = LorenzParams(steps=100_000)
    climate_sweep(base, floor=3)
    ts = []
    for _ in range(max(2, reps // 2)):
        t0 = time.perf_counter()
        climate_sweep(base, floor=3)
        ts.append(time.perf_counter() - t0)
    print(
        f"\nlive W1 sweep, 1e5 steps, 48 runs + 3 floor runs, {numba.get_num_threads()} "
        f"threads: {statistics.median(ts):.2f} s (range {min(ts):.2f}–{max(ts):.2f})"
    )


def page(reps: int) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page("app_pages/dynamics.py").run()
    for v in (8, 7):  # warm both values
        at.slider(key="dynamics.sbits").set_value(v).run()
    ts = []
    for i in range(reps * 2):
        t0 = time.perf_counter()
        at.slider(key="dynamics.sbits").set_value(8 if i % 2 == 0 else 7).run()
        ts.append(time.perf_counter() - t0)
    assert not at.exception
    print(
        f"page rerun, cached results (AppTest, sbits 7 <-> 8): "
        f"{statistics.median(ts) * 1e3:.0f} ms median of {len(ts)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-page", action="store_true")
    a = ap.parse_args()
    kernels(a.reps)
    sweep(a.reps)
    if not a.no_page:
        page(a.reps)


if __name__ == "__main__":
    main()
