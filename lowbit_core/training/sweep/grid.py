"""Sweep grids: which FP4 training runs a sweep makes, read from a TOML file.

A grid names the tasks, seeds and steps, the technique switches to vary (``[axes]``: every
combination, the full product) or a list of configurations (``points``), switches held fixed
(``[fixed]``), and baseline presets run at every task and seed (the reference of the loss gaps)::

    name = "tiny"
    tasks = ["regression"]
    seeds = [0, 1]
    steps = 20                 # 0: the task's default
    baselines = ["bf16"]       # presets (lowbit_core.training.recipes), one run per task and seed
    [fixed]                    # Techniques fields set in every run
    rht = 0
    [axes]                     # Techniques fields, each with its values: the full product
    scale_fmt = ["float8_e4m3fn", "float8_e8m0fnu", "ue5m3"]

The axes are the fields of :class:`~lowbit_core.training.custom.Techniques` (element format,
block size, scale format and rule, tensor scale, gradient rounding and its random bits, RHT size,
2-D weight tiles, BF16 last layers); every configuration is validated when the grid is read.
Each run is identified by :attr:`RunConfig.run_id`, a hash of its whole configuration.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..custom import Techniques
from ..recipes import get_recipe
from ..tasks import get_task
from ..train import TrainParams

__all__ = ["AXES", "GRIDS_DIR", "Grid", "RunConfig", "grid_path", "load_grid", "shipped_grids"]

GRIDS_DIR = Path(__file__).resolve().parent / "grids"
#: the technique switches a grid may vary or fix, with their Python types
AXES: dict[str, type] = {f.name: type(getattr(Techniques(), f.name)) for f in fields(Techniques)}
_ID_VERSION = 1  #: bump when a run's meaning changes for the same configuration


@dataclass(frozen=True)
class RunConfig:
    """One training run of a sweep: a preset (``recipe``) or technique switches."""

    task: str
    seed: int
    steps: int  #: 0: the task's default
    recipe: str = ""  #: a preset name for a baseline run ("" for a technique configuration)
    techniques: tuple[tuple[str, Any], ...] = ()  #: sorted (field, value) pairs

    def __post_init__(self) -> None:
        if bool(self.recipe) == bool(self.techniques):
            raise ValueError("a run has either a preset recipe or technique switches")
        TrainParams(task=self.task, recipe=self.recipe or "fp32", seed=self.seed, steps=self.steps)
        if self.techniques:
            Techniques(**dict(self.techniques))
        else:
            get_recipe(self.recipe)

    @property
    def run_id(self) -> str:
        """A hash of the whole configuration (16 hex digits), the key of the results store."""
        blob = json.dumps({"v": _ID_VERSION, "task": self.task, "seed": self.seed,
                           "steps": self.steps or get_task(self.task).steps,
                           "recipe": self.recipe, "techniques": self.switches()},
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def switches(self) -> dict[str, Any]:
        """Every technique switch of the run (defaults filled in); {} for a preset run."""
        if not self.techniques:
            return {}
        return {k: (str(v) if k == "scale_rule" else v)
                for k, v in asdict(Techniques(**dict(self.techniques))).items()}

    def params(self) -> TrainParams:
        """The :class:`TrainParams` of this run (on the CPU: results do not depend on where)."""
        recipe = (self.recipe if self.recipe
                  else Techniques(**dict(self.techniques)).recipe(f"sweep-{self.run_id}"))
        return TrainParams(task=self.task, recipe=recipe, seed=self.seed, steps=self.steps,
                           device="cpu")

    def label(self) -> str:
        """One line for logs and charts."""
        what = self.recipe or Techniques(**dict(self.techniques)).describe()
        return f"{self.task} · seed {self.seed} · {what}"


@dataclass(frozen=True)
class Grid:
    """A parsed grid file."""

    name: str
    description: str
    runs: tuple[RunConfig, ...]  #: every run, baselines first, in a stable order

    @property
    def size(self) -> int:
        return len(self.runs)


def _check_keys(table: dict[str, Any], where: str) -> None:
    bad = sorted(set(table) - set(AXES))
    if bad:
        raise ValueError(f"{where}: unknown switch(es) {', '.join(bad)}; use {', '.join(AXES)}")


def _ints(v: Any, name: str) -> list[int]:
    vals = v if isinstance(v, list) else [v]
    if not vals or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in vals):
        raise ValueError(f"{name}={v!r}: need integers >= 0")
    return [int(x) for x in vals]


def _canonical(sw: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Sorted switches, with the ones that change nothing normalised: an FP32 block scale takes
    no tensor scale (:meth:`Techniques.tensor`), and only few-bit SR reads ``rbits``."""
    t = Techniques(**sw)
    if t.scale_fmt == "float32" and t.tensor_scale:
        sw = {**sw, "tensor_scale": False}
    if t.grad_mode not in ("src", "srff") and "rbits" in sw:
        sw = {k: v for k, v in sw.items() if k != "rbits"}
    return tuple(sorted(sw.items()))


def parse_grid(doc: dict[str, Any], name: str = "grid") -> Grid:
    """A :class:`Grid` from a parsed TOML document (see the module docstring)."""
    known = {"name", "description", "tasks", "seeds", "steps", "baselines", "fixed", "axes",
             "points"}
    bad = sorted(set(doc) - known)
    if bad:
        raise ValueError(f"grid {name!r}: unknown key(s) {', '.join(bad)}")
    tasks = doc.get("tasks", [])
    if not isinstance(tasks, list) or not tasks:
        raise ValueError(f"grid {name!r}: tasks must be a non-empty list")
    for t in tasks:
        get_task(t)
    seeds = _ints(doc.get("seeds", [0]), "seeds")
    (steps,) = _ints(doc.get("steps", 0), "steps")
    fixed = dict(doc.get("fixed", {}))
    axes = dict(doc.get("axes", {}))
    points = list(doc.get("points", []))
    _check_keys(fixed, "[fixed]")
    _check_keys(axes, "[axes]")
    for i, pt in enumerate(points):
        _check_keys(pt, f"points[{i}]")
    if axes and points:
        raise ValueError(f"grid {name!r}: give [axes] (a product) or points (a list), not both")
    for k, v in axes.items():
        if not isinstance(v, list) or not v:
            raise ValueError(f"[axes] {k}: need a non-empty list of values")
    combos = ([dict(zip(axes, vals, strict=True)) for vals in itertools.product(*axes.values())]
              if axes else points or ([{}] if fixed else []))
    baselines = list(doc.get("baselines", []))
    runs: list[RunConfig] = []
    for task in tasks:
        for seed in seeds:
            runs += [RunConfig(task, seed, steps, recipe=b) for b in baselines]
            runs += [RunConfig(task, seed, steps, techniques=_canonical({**fixed, **c}))
                     for c in combos]
    unique: dict[str, RunConfig] = {}
    for r in runs:  # a combination that is the same run as an earlier one: run once
        unique.setdefault(r.run_id, r)
    runs = list(unique.values())
    if not runs:
        raise ValueError(f"grid {name!r} has no runs: give baselines, [axes] or points")
    return Grid(str(doc.get("name", name)), str(doc.get("description", "")), tuple(runs))


def shipped_grids() -> list[str]:
    """Names of the grids shipped with the lab (``--grid NAME``)."""
    return sorted(p.stem for p in GRIDS_DIR.glob("*.toml"))


def grid_path(grid: str | Path) -> Path:
    """A shipped grid's file by name, or the path given."""
    p = Path(grid)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise ValueError(f"grid file {str(p)!r} does not exist")
        return p
    if grid not in shipped_grids():
        raise ValueError(f"grid {grid!r}: not a file and not one of {', '.join(shipped_grids())}")
    return GRIDS_DIR / f"{grid}.toml"


def load_grid(grid: str | Path) -> Grid:
    """Read a grid (a shipped name or a TOML path)."""
    p = grid_path(grid)
    try:
        doc = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"grid {str(p)!r} is not valid TOML: {exc}") from None
    return parse_grid(doc, p.stem)
