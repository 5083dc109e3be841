"""Cost of the counter generator: the SR rows of bench/quantize.py, this tree against a git ref.

Issue 17 changed how the round keys come from the seed (SplitMix64 over the whole seed instead of
two 32-bit mixes of its halves); the per-element word function is unchanged, so stochastic
rounding should cost the same. This script checks it *in one run*: it checks out ``--ref``
(default: the commit before the change) into a temporary git worktree, then alternates
subprocesses of the same timing snippet in both trees (``--rounds`` times each, own numba cache
per tree, compiled before timing) and prints, per row, Melem/s of both and the ratio
new / old with the spread over rounds. Rows: exact SR and SRC with 4 random bits to bfloat16,
float8_e4m3fn and float4_e2m1fn, and MXFP4 / NVFP4 block quantization with exact SR
(10^7 float32 N(0,1) values, seed 0; median of 5 calls per subprocess; numpy ``x.copy()`` in
the same subprocess as a load indicator).

Usage: ``python bench/rng_cost.py [--ref 020fd2c^] [--n 10000000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = r"""
import json, os, statistics, sys, time
sys.path.insert(0, os.getcwd())
import numpy as np
import lowbit_core as lb
from lowbit_core.blocks import quantize_blocks
n = int(sys.argv[1])
x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
def t(fn, r=5):
    fn()
    ts = []
    for _ in range(r):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return n / statistics.median(ts) / 1e6
rows = {"numpy copy": t(x.copy)}
for f in ("bfloat16", "float8_e4m3fn", "float4_e2m1fn"):
    rows[f"SR exact {f}"] = t(lambda: lb.quantize(x, f, "sr", seed=1, backend="numba"))
    rows[f"SRC 4 bits {f}"] = t(lambda: lb.quantize(x, f, "src", rbits=4, seed=1,
                                                    backend="numba"))
xb = x.reshape(-1, 32)
for p in ("mxfp4", "nvfp4"):
    rows[f"{p} SR exact"] = t(lambda: quantize_blocks(xb, p, mode="sr", seed=1,
                                                      backend="numba"))
print(json.dumps(rows))
"""


def run(tree: Path, n: int, cache: Path) -> dict[str, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(n)], cwd=tree, env=env, check=True,
        capture_output=True, text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="020fd2c^", help="git ref of the old generator")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), a.ref], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            caches = {"old": Path(tmp) / "cache_old", "new": Path(tmp) / "cache_new"}
            trees = {"old": old, "new": ROOT}
            for k in trees:  # compile once per tree, untimed
                run(trees[k], 1024, caches[k])
            res: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            for _ in range(a.rounds):
                for k in ("old", "new"):
                    res[k].append(run(trees[k], a.n, caches[k]))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           check=False, capture_output=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}; ref {a.ref}; n = {a.n}; "
          f"{a.rounds} alternating rounds")
    print(f"{'row':<28} {'old Melem/s':>12} {'new Melem/s':>12} {'new/old':>8} {'range':>14}")
    worst = 1.0
    for row in res["new"][0]:
        o = [r[row] for r in res["old"]]
        w = [r[row] for r in res["new"]]
        ratios = [wi / oi for wi, oi in zip(w, o, strict=True)]
        ratio = statistics.median(ratios)
        if row != "numpy copy":
            worst = min(worst, ratio)
        print(f"{row:<28} {statistics.median(o):12.1f} {statistics.median(w):12.1f} "
              f"{ratio:8.3f} {min(ratios):6.3f}-{max(ratios):.3f}")
    print(f"slowest SR row, new / old: {worst:.3f} (goal: >= 0.95)")


if __name__ == "__main__":
    main()
