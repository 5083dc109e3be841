"""Sweep throughput: a 40-run FP4 sweep on 2 local workers, and through Dask, against the ideal.

    .venv/bin/python bench/sweep.py [--runs 40] [--steps 200] [--workers 2]

In the same run it measures the reference, the mean time of one run trained serially in this
process on one torch thread (after a warm-up run), so the ideal throughput of W workers is
W / mean. Then it runs the same sweep (a grid of ``--runs`` configurations on the regression
task, into a fresh store) on W local worker processes, and again through Dask distributed (a
``LocalCluster`` of W single-threaded worker processes started here, as a user's cluster would
be). Each wall time includes starting the workers (the forkserver importing torch) and writing
the store. Prints runs/s, the ratio to the ideal (issue goal: >= 0.85 locally) and Dask's
per-run overhead ((wall - ideal wall) / runs). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from lowbit_core.training.sweep import load_grid, parse_grid, run_config, run_sweep  # noqa: E402


def grid(runs: int, steps: int):  # type: ignore[no-untyped-def]
    scales = ["float8_e4m3fn", "float8_e8m0fnu", "ue5m3", "float32"]
    seeds = max(1, -(-runs // (len(scales) * 2)))
    g = parse_grid({"tasks": ["regression"], "seeds": list(range(seeds)), "steps": steps,
                    "axes": {"scale_fmt": scales, "grad_mode": ["rne", "sr"]}}, "bench")
    return type(g)(g.name, g.description, g.runs[:runs])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    g = grid(a.runs, a.steps)
    run_config(load_grid("tiny").runs[1])  # warm-up: imports, kernel cache
    ref = []
    for c in g.runs[:6]:
        t = time.perf_counter()
        run_config(c)
        ref.append(time.perf_counter() - t)
    mean = statistics.mean(ref)
    ideal = a.workers / mean
    print(f"reference: one run {mean:.3f} s (mean of {len(ref)}, serial, 1 thread) -> ideal "
          f"{ideal:.2f} runs/s on {a.workers} workers")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        rep = run_sweep(g, Path(d) / "local", workers=a.workers, progress=False)
        wall = time.perf_counter() - t
        assert rep.finished == g.size, rep
        print(f"local   : {g.size} runs in {wall:.1f} s = {g.size / wall:.2f} runs/s, "
              f"{g.size / wall / ideal:.2f} x ideal (goal >= 0.85)")
        import distributed

        t = time.perf_counter()
        with distributed.LocalCluster(n_workers=a.workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None,
                                      silence_logs=40) as cl, distributed.Client(cl) as client:
            up = time.perf_counter() - t
            t1 = time.perf_counter()
            rep = run_sweep(g, Path(d) / "dask", scheduler=client, progress=False)
            wall_d = time.perf_counter() - t1
        assert rep.finished == g.size, rep
        over = (wall_d - g.size / ideal) / g.size
        print(f"dask    : {g.size} runs in {wall_d:.1f} s (+ {up:.1f} s to start the cluster) = "
              f"{g.size / wall_d:.2f} runs/s, {g.size / wall_d / ideal:.2f} x ideal; per-run "
              f"overhead {over * 1000:.0f} ms")


if __name__ == "__main__":
    main()
