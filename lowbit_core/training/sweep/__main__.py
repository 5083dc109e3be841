"""``python -m lowbit_core.training.sweep --grid tiny --out results/tiny [--workers 2]
[--scheduler tcp://HOST:PORT]``: run a sweep (resumable: finished runs are skipped)."""

from __future__ import annotations

import argparse
import sys

from .grid import load_grid, shipped_grids
from .runner import run_sweep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lowbit_core.training.sweep",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--grid", required=True,
                    help=f"a shipped grid ({', '.join(shipped_grids())}) or a TOML file")
    ap.add_argument("--out", required=True, help="results store folder (created; resumable)")
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    ap.add_argument("--scheduler", default=None,
                    help="a Dask scheduler, tcp://HOST:PORT (workers: dask worker tcp://HOST:PORT)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    try:
        grid = load_grid(a.grid)
        print(f"grid {grid.name}: {grid.size} runs -> {a.out}", file=sys.stderr)
        rep = run_sweep(grid, a.out, workers=a.workers, scheduler=a.scheduler,
                        progress=not a.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the finished runs are stored; run the same command to resume",
              file=sys.stderr)
        return 130
    print(f"{rep.finished} runs stored, {rep.skipped} already there, {len(rep.failed)} failed "
          f"(see {a.out}/failures), {rep.resubmitted} resubmitted, {rep.wall_s:.1f} s",
          file=sys.stderr)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
