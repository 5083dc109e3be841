"""Speed of the gradient-variance sweep: the page's default sweep vs an fp32-only sweep.

Both sweeps have the same size (model, batch sizes, repeats, one chunk layout); the fp32-only one
does the same per-sample gradients and batch sums without any rounding, so the ratio is the
quantization overhead (target <= 3x). Also times the default sweep against the 300 ms budget,
the page's other default parts (exchange rate, SGD curves) and each model's default sweep.
Median of ``--reps`` runs after one warm-up (numba kernels compiled / loaded). Print only.

Run: ``python bench/grad_variance.py [--reps 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from lowbit_core.experiments import grad_variance as gv  # noqa: E402
from ui.params_grad_variance import GradVarianceParams  # noqa: E402


def median_time(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up: kernel compile/load, problem() cache
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    page = GradVarianceParams()
    p = page.variance()
    fp32 = replace(p, modes=("fp32",))
    # the fp32-only sweep of the same size: same work, repeated once per compared mode + fp32
    n_runs = len(p.modes) + 1

    def fp32_same_size() -> None:
        for _ in range(n_runs):
            gv.gradient_variance(fp32)

    t_q = median_time(lambda: gv.gradient_variance(p), args.reps)
    t_f = median_time(fp32_same_size, args.reps)
    t_f1 = median_time(lambda: gv.gradient_variance(fp32), args.reps)
    print(f"default sweep: {p.model}, fmt {p.fmt}, modes {p.modes}, targets {p.targets}, "
          f"B {p.batch_sizes[0]}..{p.batch_sizes[-1]}, R={p.repeats}")
    print(f"  quantized sweep (fp32 + {len(p.modes)} modes) : {t_q * 1e3:8.1f} ms"
          f"   (budget 300 ms: {'ok' if t_q <= 0.3 else 'OVER'})")
    print(f"  fp32-only sweep, same size ({n_runs} passes) : {t_f * 1e3:8.1f} ms")
    print(f"  fp32-only sweep, one pass              : {t_f1 * 1e3:8.1f} ms")
    print(f"  ratio quantized / fp32 same size       : {t_q / t_f:8.2f}x"
          f"   (target <= 3x: {'ok' if t_q <= 3 * t_f else 'OVER'})")

    args_x = page.exchange(), tuple(range(page.xr_bits + 1)), page.ref, page.ebits
    t_x = median_time(lambda: gv.exchange_rate(*args_x), max(1, args.reps // 2))
    t_s = median_time(lambda: gv.sgd_curves(page.sgd()), max(1, args.reps // 2))
    print("other default parts of the page:")
    print(f"  exchange rate (mbits 0..{page.xr_bits})         : {t_x * 1e3:8.1f} ms")
    print(f"  SGD curves ({page.steps} steps, {page.train_seeds} seeds)     : {t_s * 1e3:8.1f} ms")
    for model in ("logistic", "mlp"):
        q = replace(p, model=model)

        def sweep(q: gv.GradVarianceParams = q) -> None:
            gv.gradient_variance(q)

        t = median_time(sweep, max(1, args.reps // 3))
        print(f"  default sweep, model {model:8s}          : {t * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
