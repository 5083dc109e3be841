"""FP4 training lab core: quantized linear layers, recipes, tasks, the run loop, overheads.

Imports torch; ``lowbit_core`` itself does not import this package.
"""

from __future__ import annotations

from .qlinear import LayerQuant, QLinear, QuantContext, TensorQuant, fake_quant
from .recipes import RECIPES, Recipe, get_recipe, recipe_names
from .tasks import TASKS, TaskSpec, build_task, get_task
from .train import CURVE_COLUMNS, TrainParams, TrainResult, run

__all__ = [
    "CURVE_COLUMNS",
    "RECIPES",
    "TASKS",
    "LayerQuant",
    "QLinear",
    "QuantContext",
    "Recipe",
    "TaskSpec",
    "TensorQuant",
    "TrainParams",
    "TrainResult",
    "build_task",
    "fake_quant",
    "get_recipe",
    "get_task",
    "recipe_names",
    "run",
]
