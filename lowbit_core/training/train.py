"""The run loop: one task, one recipe, one seed -> a tidy loss curve.

Adam on FP32 master weights (the quantized layers only change what the GEMMs see), a linear
warm-up over the first 5% of steps then cosine decay to 10% of the peak rate, evaluation on the
fixed validation set every ``eval_every`` steps. CUDA when available (``device="auto"``), CPU
otherwise; on CPU a run is deterministic for a given seed and thread count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch

from .qlinear import QuantContext
from .recipes import Recipe, apply_recipe, get_recipe
from .tasks import build_task, get_task

__all__ = ["CURVE_COLUMNS", "TrainParams", "TrainResult", "resolve_device", "run"]

#: Columns of :attr:`TrainResult.curve` (and of the curve library's parquet table).
CURVE_COLUMNS = [
    "recipe", "task", "seed", "step", "train_loss", "val_loss", "val_metric", "wall_time",
]


@dataclass(frozen=True)
class TrainParams:
    """One training run. Zero means "the task's default" for steps, lr and batch size."""

    task: str = "digits"  #: regression, digits or charlm
    recipe: Recipe | str = "nvfp4"  #: a preset name or an edited Recipe
    seed: int = 0  #: initialisation, batch order and SR bits
    steps: int = 0  #: optimizer steps (0: task default)
    lr: float = 0.0  #: Adam peak learning rate (0: task default)
    batch_size: int = 0  #: samples per step (0: task default)
    eval_every: int = 0  #: steps between evaluations (0: steps // 20)
    device: str = "auto"  #: "auto" (CUDA if available), "cpu" or "cuda"

    def __post_init__(self) -> None:
        get_task(self.task)
        get_recipe(self.recipe)
        for name in ("seed", "steps", "batch_size", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}={v!r} must be an integer >= 0")
        if not (self.lr >= 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr!r} must be a finite number >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device={self.device!r}: use 'auto', 'cpu' or 'cuda'")


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`run`."""

    curve: pd.DataFrame  #: tidy, one row per evaluation, columns CURVE_COLUMNS
    final_val_loss: float  #: validation loss after the last step (NaN if diverged)
    final_metric: float  #: the task's metric after the last step
    wall_s: float  #: seconds for the whole run (training and evaluation)
    steps_per_s: float  #: training steps per second (evaluation time excluded)
    diverged: bool  #: a non-finite training loss stopped the run early
    device: str  #: where it ran


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _lr_factor(step: int, steps: int) -> float:
    warm = max(1, steps // 20)
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, steps - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))


def run(
    p: TrainParams,
    progress: Callable[[int, int], None] | None = None,
    on_eval: Callable[[dict[str, object]], None] | None = None,
) -> TrainResult:
    """Train ``p.task`` under ``p.recipe`` and return its loss curve.

    Args:
        p: the run's parameters.
        progress: called as ``progress(step, steps)`` after every training step and evaluation
            (for a progress bar).
        on_eval: called with each new curve row (a dict over CURVE_COLUMNS) as soon as it is
            measured (to stream a live curve).

    Returns:
        :class:`TrainResult`; the curve has a row at step 0 (before training) and every
        ``eval_every`` steps through ``steps``; ``train_loss`` is the mean training loss since
        the previous row (NaN at step 0).

    Raises:
        ValueError: invalid parameters (see :class:`TrainParams`).
    """
    spec = get_task(p.task)
    recipe = get_recipe(p.recipe)
    steps = p.steps or spec.steps
    bs = p.batch_size or spec.batch_size
    lr = p.lr or spec.lr
    every = p.eval_every or max(1, steps // 20)
    dev = resolve_device(p.device)

    setup = build_task(spec, p.seed, dev)
    qc = QuantContext(seed=p.seed + 1_000_003, device=dev)
    apply_recipe(setup.linears, recipe, qc)
    data_gen = torch.Generator().manual_seed(p.seed + 2_000_003)
    opt = torch.optim.Adam(setup.model.parameters(), lr=lr)
    rows: list[dict[str, object]] = []

    t0 = time.perf_counter()
    eval_s = 0.0

    def evaluate(step: int, train_loss: float) -> float:
        te = time.perf_counter()
        setup.model.eval()
        with torch.no_grad():
            vl, vm = setup.metric(setup.model, setup.val)
        setup.model.train()
        rows.append({
            "recipe": recipe.name, "task": spec.name, "seed": p.seed, "step": step,
            "train_loss": train_loss, "val_loss": vl, "val_metric": vm,
            "wall_time": time.perf_counter() - t0,
        })
        if on_eval is not None:
            on_eval(dict(rows[-1]))
        if progress is not None:
            progress(step, steps)
        return time.perf_counter() - te

    eval_s += evaluate(0, float("nan"))
    acc, n_acc, diverged = 0.0, 0, False
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * _lr_factor(step, steps)
        batch = setup.sample(data_gen, bs)
        loss = setup.loss(setup.model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        lv = float(loss.detach())
        if not math.isfinite(lv):
            diverged = True
            eval_s += evaluate(step + 1, lv)
            break
        acc, n_acc = acc + lv, n_acc + 1
        if (step + 1) % every == 0 or step + 1 == steps:
            eval_s += evaluate(step + 1, acc / n_acc)
            acc, n_acc = 0.0, 0
        elif progress is not None:
            progress(step + 1, steps)
    wall = time.perf_counter() - t0
    curve = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    last = rows[-1]
    done = int(last["step"])  # type: ignore[call-overload]
    return TrainResult(
        curve=curve,
        final_val_loss=float("nan") if diverged else float(last["val_loss"]),  # type: ignore[arg-type]
        final_metric=float(last["val_metric"]),  # type: ignore[arg-type]
        wall_s=wall,
        steps_per_s=done / max(wall - eval_s, 1e-9),
        diverged=diverged,
        device=str(dev),
    )
