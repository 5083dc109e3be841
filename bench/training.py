"""Benchmark: training steps per second of the digits MLP under FP32, NVFP4 and MXFP4.

    .venv/bin/python bench/training.py [--steps 200] [--repeats 3]

Prints steps/s per recipe (best of the repeats, evaluation excluded), each recipe's step time
as a ratio to FP32's measured in the same run (target: a simulated FP4 step <= 3x an FP32
step), and the wall time of the default live run (digits, 500 steps, NVFP4; target < 15 s).
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

from lowbit_core.training import TrainParams, run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    recipes = ["fp32", "bf16", "nvfp4", "mxfp4", "fp4_naive"]
    run(TrainParams(task="digits", recipe="nvfp4", steps=5, device="cpu"))  # warm-up
    best: dict[str, float] = {}
    for _ in range(a.repeats):  # interleaved, so load changes hit every recipe alike
        for r in recipes:
            res = run(TrainParams(task="digits", recipe=r, steps=a.steps, eval_every=a.steps,
                                  device="cpu"))
            best[r] = max(best.get(r, 0.0), res.steps_per_s)
    print(f"digits MLP, {a.steps} steps, best of {a.repeats}")
    print(f"{'recipe':<10} {'steps/s':>9} {'step time / FP32':>17}")
    for r in recipes:
        print(f"{r:<10} {best[r]:9.1f} {best['fp32'] / best[r]:17.2f}")
    t0 = time.perf_counter()
    res = run(TrainParams(task="digits", recipe="nvfp4", steps=500, device="cpu"))
    print(f"default live run (digits, 500 steps, NVFP4, 20 evaluations): "
          f"{time.perf_counter() - t0:.1f} s wall, val loss {res.final_val_loss:.4f}, "
          f"accuracy {res.final_metric:.3f}")


if __name__ == "__main__":
    main()
