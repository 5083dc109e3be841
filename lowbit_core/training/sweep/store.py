"""The results store of a sweep: a folder that ``pandas.read_parquet`` reads as one tidy table.

Layout::

    OUT/runs/<run_id>.parquet      one finished run: its curve rows and its configuration columns
    OUT/failures/<run_id>.json     a run that failed twice: its configuration and the error
    OUT/grid.toml                  the grid of the last sweep into this store (for the record)

Every file is written to a hidden temporary name in the same folder and renamed into place, so a
reader (or a sweep killed at any instant) sees a run completely or not at all; parquet readers
skip names starting with ``.`` or ``_``, and :func:`done` ignores them too, so a leftover temporary
file is harmless. A run's file is never rewritten: the store only grows, and a rerun of the sweep
skips every ``run_id`` that has a file. All run files share one schema (:data:`SCHEMA`), so the
folder reads as one table: ``pd.read_parquet(OUT / "runs")`` or :func:`read`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .grid import RunConfig

__all__ = ["COLUMNS", "SCHEMA", "done", "failures", "read", "record_failure", "write_run"]

#: one row per evaluation of one run: the run's curve and every switch of its configuration
#: (null in a baseline run, whose ``recipe`` names the preset)
SCHEMA = pa.schema([
    ("run_id", pa.string()), ("task", pa.string()), ("seed", pa.int64()),
    ("steps", pa.int64()), ("recipe", pa.string()), ("label", pa.string()),
    ("step", pa.int64()), ("train_loss", pa.float64()), ("val_loss", pa.float64()),
    ("val_metric", pa.float64()), ("diverged", pa.bool_()), ("run_wall_s", pa.float64()),
    ("elem", pa.string()), ("block", pa.int64()), ("scale_fmt", pa.string()),
    ("scale_rule", pa.string()), ("tensor_scale", pa.bool_()), ("grad_mode", pa.string()),
    ("rbits", pa.int64()), ("rht", pa.int64()), ("tile2d", pa.bool_()), ("keep_last", pa.int64()),
])
COLUMNS = SCHEMA.names


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_run(out: Path, cfg: RunConfig, curve: pd.DataFrame) -> Path:
    """Store one finished run (``curve``: the rows of :func:`lowbit_core.training.sweep.run_config`)
    under its run id; returns the file. Raises ValueError if the rows are not this run's."""
    if curve.empty or set(curve["run_id"]) != {cfg.run_id}:
        raise ValueError(f"rows for run {cfg.run_id} carry other run ids or none")
    d = out / "runs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{cfg.run_id}.parquet"
    table = pa.Table.from_pandas(curve[COLUMNS], schema=SCHEMA, preserve_index=False)
    _atomic(path, lambda tmp: pq.write_table(table, tmp))
    (out / "failures" / f"{cfg.run_id}.json").unlink(missing_ok=True)  # it succeeded after all
    return path


def record_failure(out: Path, cfg: RunConfig, error: str, attempts: int) -> None:
    """Record a run that failed ``attempts`` times (a rerun of the sweep tries it again)."""
    d = out / "failures"
    d.mkdir(parents=True, exist_ok=True)
    doc = {"run_id": cfg.run_id, "label": cfg.label(), "task": cfg.task, "seed": cfg.seed,
           "steps": cfg.steps, "recipe": cfg.recipe, "switches": cfg.switches(),
           "error": error, "attempts": attempts}
    path = d / f"{cfg.run_id}.json"
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=1, default=str)))


def done(out: Path) -> set[str]:
    """Run ids with a finished run in the store."""
    d = out / "runs"
    return {p.stem for p in d.glob("*.parquet") if not p.name.startswith((".", "_"))} \
        if d.exists() else set()


def failures(out: Path) -> list[dict[str, Any]]:
    """The recorded failures (runs that failed twice and have not succeeded since)."""
    d = out / "failures"
    return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))
            if not p.name.startswith(".")] if d.exists() else []


def read(out: Path | str) -> pd.DataFrame:
    """The whole store as one tidy table (empty, with :data:`COLUMNS`, when nothing finished)."""
    d = Path(out) / "runs"
    if not done(Path(out)):
        table: pd.DataFrame = SCHEMA.empty_table().to_pandas()
        return table
    table = pd.read_parquet(d)
    return table
