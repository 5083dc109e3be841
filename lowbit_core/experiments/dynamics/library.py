"""Regenerate the shipped results of the dynamics page (the slow views).

    python -m lowbit_core.experiments.dynamics.library            # both files, lab settings
    python -m lowbit_core.experiments.dynamics.library --only w1 --steps 1000000

* ``data/dynamics_w1.csv``: :func:`climate_sweep` at 1e6 RK4 steps, sbits 4..12, 14, 16, 23 ×
  RN (once) and exact SR (seeds 0, 1, 2), plus 4 float64 floor runs: 52 runs.
* ``data/dynamics_heat.csv``: the 60-year soil column in float16 and bfloat16, float64 / RN /
  exact SR with seeds 0, 1, 2; one tidy table with ``table`` = "profile" or "mean".

Everything is seeded; rerunning gives the same numbers on any thread count.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from .lorenz import LorenzParams, climate_sweep
from .page import LIBRARY_HEAT, LIBRARY_W1, DynamicsParams, heat

__all__ = ["heat_library", "main", "w1_library"]


def w1_library(steps: int = 1_000_000) -> pd.DataFrame:
    """The shipped W1 sweep (see the module docstring)."""
    return climate_sweep(LorenzParams(steps=steps), seeds=(0, 1, 2), floor=4)


def heat_library(years: float = 60.0) -> pd.DataFrame:
    """The shipped soil columns (see the module docstring)."""
    parts = []
    for fmt in ("float16", "bfloat16"):
        res = heat(DynamicsParams(card_fmt=fmt, sr_mode="sr", card_seeds=3), years=years)
        parts += [res["profile"].assign(table="profile"), res["mean"].assign(table="mean")]
    return pd.concat(parts, ignore_index=True).assign(sr_mode="sr")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("w1", "heat"), default=None)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--years", type=float, default=60.0)
    ap.add_argument("--out-dir", type=Path, default=LIBRARY_W1.parent)
    a = ap.parse_args(argv)
    if a.only in (None, "w1"):
        t0 = time.perf_counter()
        df = w1_library(a.steps)
        df.to_csv(a.out_dir / LIBRARY_W1.name, index=False, float_format="%.6g")
        print(f"{LIBRARY_W1.name}: {len(df)} runs in {time.perf_counter() - t0:.1f} s")
    if a.only in (None, "heat"):
        t0 = time.perf_counter()
        df = heat_library(a.years)
        df.to_csv(a.out_dir / LIBRARY_HEAT.name, index=False, float_format="%.8g")
        print(f"{LIBRARY_HEAT.name}: {len(df)} rows in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
