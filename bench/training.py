"""Benchmark: training steps per second of the digits MLP under FP32, NVFP4 and MXFP4.

    .venv/bin/python bench/training.py [--steps 200] [--repeats 3]

Prints steps/s per recipe (best of the repeats, evaluation excluded), each recipe's step time
as a ratio to FP32's measured in the same run (target: a simulated FP4 step <= 3x an FP32
step), the fused numba ``fake_quant`` against the torch-ops path forced with
``qlinear.set_backend("torch")`` (same bits, so the same curves), and the wall time of the
default live run (digits, 500 steps, NVFP4; target < 15 s). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from lowbit_core.training import TrainParams, qlinear, run  # noqa: E402


def _steps_per_s(recipe: str, steps: int) -> float:
    res = run(TrainParams(task="digits", recipe=recipe, steps=steps, eval_every=steps,
                          device="cpu"))
    return res.steps_per_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    recipes = ["fp32", "bf16", "nvfp4", "mxfp4", "fp4_naive"]
    run(TrainParams(task="digits", recipe="nvfp4", steps=5, device="cpu"))  # warm-up, compile
    best: dict[str, float] = {}
    for _ in range(a.repeats):  # interleaved, so load changes hit every recipe alike
        for r in recipes:
            best[r] = max(best.get(r, 0.0), _steps_per_s(r, a.steps))
    print(f"digits MLP, {a.steps} steps, best of {a.repeats}, backend {qlinear.get_backend()}")
    print(f"{'recipe':<10} {'steps/s':>9} {'step time / FP32':>17}")
    for r in recipes:
        print(f"{r:<10} {best[r]:9.1f} {best['fp32'] / best[r]:17.2f}")

    # fused kernel vs the torch-ops path (fewer steps: the torch path is ~10x slower)
    t_steps = max(20, a.steps // 4)
    for r in ["nvfp4", "mxfp4"]:
        fused = torch_path = 0.0
        for _ in range(a.repeats):
            fused = max(fused, _steps_per_s(r, t_steps))
            prev = qlinear.set_backend("torch")
            try:
                torch_path = max(torch_path, _steps_per_s(r, t_steps))
            finally:
                qlinear.set_backend(prev)
        print(f"{r}: fused fake_quant {fused:.1f} steps/s vs torch path {torch_path:.1f} steps/s "
              f"({fused / torch_path:.1f}x faster; {t_steps} steps, best of {a.repeats})")

    t0 = time.perf_counter()
    res = run(TrainParams(task="digits", recipe="nvfp4", steps=500, device="cpu"))
    print(f"default live run (digits, 500 steps, NVFP4, 20 evaluations): "
          f"{time.perf_counter() - t0:.1f} s wall, val loss {res.final_val_loss:.4f}, "
          f"accuracy {res.final_metric:.3f}")


if __name__ == "__main__":
    main()
