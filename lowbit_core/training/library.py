"""The curve library: every preset x task x seed, stored as one tidy parquet table.

    python -m lowbit_core.training.library                 # everything (resumable)
    python -m lowbit_core.training.library --tasks digits regression --steps 200
    python -m lowbit_core.training.library --threads 2        # torch CPU threads (default 1)

Finished runs (same recipe, task, seed and planned steps) are skipped, and the table is
rewritten after every run, so an interrupted regeneration resumes where it stopped. The page
reads the table with :func:`load_curves` and summarises it with :func:`summary`.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from ..datasets import DATA_DIR
from .overhead import overhead_table
from .progress import Progress
from .recipes import recipe_names
from .tasks import TASKS, get_task
from .train import CURVE_COLUMNS, TrainParams, run

__all__ = [
    "CURVES_PATH", "LIBRARY_COLUMNS", "library_run", "load_curves", "main", "regenerate",
    "summary",
]

CURVES_PATH = DATA_DIR / "fp4_curves.parquet"
#: CURVE_COLUMNS plus the run's planned steps (the resume key) and its divergence flag.
LIBRARY_COLUMNS = [*CURVE_COLUMNS, "steps", "diverged"]


def load_curves(path: Path | str = CURVES_PATH) -> pd.DataFrame:
    """The stored table (empty, with the columns, when the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in LIBRARY_COLUMNS})
    return pd.read_parquet(p)


def library_run(curves: pd.DataFrame, p: TrainParams) -> pd.DataFrame | None:
    """The stored curve of exactly the run ``p``, or None when the library does not hold it.

    The library ran every preset with the task's defaults (steps, batch size, learning rate,
    evaluation interval) on one torch thread, so a preset run with those defaults and one of
    the library's seeds is the stored run: the page uses it instead of training it again.
    """
    if not isinstance(p.recipe, str) or p.lr or p.eval_every or curves.empty:
        return None
    spec = get_task(p.task)
    if p.batch_size not in (0, spec.batch_size):
        return None
    c = curves[(curves["recipe"] == p.recipe) & (curves["task"] == p.task)
               & (curves["seed"] == p.seed) & (curves["steps"] == (p.steps or spec.steps))]
    return c.reset_index(drop=True) if len(c) else None


def _done(table: pd.DataFrame) -> set[tuple[str, str, int, int]]:
    if table.empty:
        return set()
    keys = table[["recipe", "task", "seed", "steps"]].drop_duplicates()
    return {(str(r), str(t), int(s), int(n)) for r, t, s, n in keys.itertuples(index=False)}


def _write(table: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".tmp.parquet")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def regenerate(
    tasks: list[str] | None = None,
    recipes: list[str] | None = None,
    seeds: list[int] | None = None,
    steps: int = 0,
    path: Path | str = CURVES_PATH,
    device: str = "auto",
) -> pd.DataFrame:
    """Run every missing (recipe, task, seed) and append it to the table at ``path``.

    Args:
        tasks, recipes, seeds: what to run (defaults: all tasks, all presets, seeds 0, 1, 2).
        steps: training steps per run (0: each task's default); part of the resume key.
        path: the parquet table.
        device: passed to :class:`TrainParams`.

    Returns:
        The full table after the runs.
    """
    p = Path(path)
    table = load_curves(p)
    done = _done(table)
    todo = [
        (r, t, s)
        for t in (tasks or list(TASKS))
        for r in (recipes or recipe_names())
        for s in (seeds if seeds is not None else [0, 1, 2])
        if (r, t, s, steps or get_task(t).steps) not in done
    ]
    bar = Progress(len(todo))
    for k, (r, t, s) in enumerate(todo):
        bar.update(k, label=f"{r} {t} seed {s}")
        res = run(TrainParams(task=t, recipe=r, seed=s, steps=steps, device=device))
        curve = res.curve.assign(steps=steps or get_task(t).steps, diverged=res.diverged)
        table = curve if table.empty else pd.concat([table, curve], ignore_index=True)
        _write(table, p)
    bar.update(len(todo), label="done")
    bar.close()
    return table


def summary(curves: pd.DataFrame, reference: str = "fp32") -> pd.DataFrame:
    """Final validation loss per (task, steps, recipe): mean/std over seeds, gap to ``reference``.

    ``gap`` is relative: ``(loss - loss_ref) / loss_ref`` of the seed means, as the NVFP4
    paper reports its loss gaps. A diverged run counts as an infinite loss.
    """
    keys = ["task", "steps"] if "steps" in curves.columns else ["task"]
    last = curves.sort_values("step").groupby([*keys, "recipe", "seed"], as_index=False).last()
    last["val_loss"] = last["val_loss"].where(~last["diverged"].astype(bool), float("inf"))
    g = last.groupby([*keys, "recipe"], as_index=False).agg(
        val_loss=("val_loss", "mean"), val_loss_std=("val_loss", "std"),
        val_metric=("val_metric", "mean"), seeds=("seed", "nunique"),
        wall_time=("wall_time", "mean"),
    )
    ref = g[g["recipe"] == reference].set_index(keys)["val_loss"]
    g["gap"] = g["val_loss"].to_numpy() / ref.reindex(
        pd.MultiIndex.from_frame(g[keys]) if len(keys) > 1 else g[keys[0]]
    ).to_numpy() - 1.0
    return g


def design_space(curves: pd.DataFrame, task: str, reference: str = "fp32") -> pd.DataFrame:
    """Loss gap beside the analytic overhead for each recipe of ``task`` (paper (c)'s view)."""
    s = summary(curves, reference)
    s = s[s["task"] == task]
    o = overhead_table(task, list(dict.fromkeys(s["recipe"])))
    return s.merge(o, on=["recipe", "task"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--tasks", nargs="*", choices=list(TASKS), default=None)
    ap.add_argument("--recipes", nargs="*", choices=recipe_names(), default=None)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=0, help="steps per run (0: task default)")
    ap.add_argument("--out", type=Path, default=CURVES_PATH)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1, as the page's live-run workers use on a "
                         "2-core machine, so a live run of a library config repeats its curve)")
    a = ap.parse_args(argv)
    if a.threads < 1:
        ap.error(f"--threads={a.threads} must be >= 1")
    import torch

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    table = regenerate(a.tasks, a.recipes, a.seeds, a.steps, a.out, a.device)
    print(f"{len(table)} rows in {a.out} ({time.perf_counter() - t0:.0f} s)")
    print(summary(table).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
