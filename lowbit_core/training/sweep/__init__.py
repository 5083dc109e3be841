"""FP4 design-space sweeps: a grid of training configurations, run locally or on Dask, stored
as one tidy parquet table (``python -m lowbit_core.training.sweep --help``)."""

from .grid import AXES, Grid, RunConfig, load_grid, parse_grid, shipped_grids
from .runner import SweepReport, run_config, run_sweep
from .store import COLUMNS, done, failures, read

__all__ = [
    "AXES", "COLUMNS", "Grid", "RunConfig", "SweepReport", "done", "failures", "load_grid",
    "parse_grid", "read", "run_config", "run_sweep", "shipped_grids",
]
