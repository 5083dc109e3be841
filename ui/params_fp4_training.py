"""URL schema of the FP4 training page, and its mapping onto the training core.

Three groups of fields: what the library charts compare (task, recipes, baseline, axes), the
switches of the editable recipe (``c_*``, see :class:`lowbit_core.training.custom.Techniques`)
and the settings of a live run (``run_*``). Every field is clamped or falls back on its own,
so a hand-edited link never breaks the page. Live runs of the third task (the character-level
transformer) are capped at :data:`LIVE_MAX_STEPS` ``["charlm"]`` steps ("reduced size").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lowbit_core.training.custom import ELEMENTS, GRAD_MODES, RHT_SIZES, SCALE_FORMATS, Techniques
from lowbit_core.training.recipes import RECIPES
from lowbit_core.training.tasks import TASKS
from lowbit_core.training.train import TrainParams
from ui.params import choice, irange, multi

__all__ = [
    "BASELINES",
    "LIVE_MAX_STEPS",
    "SCALE_RULES",
    "X_AXES",
    "Y_AXES",
    "FP4TrainingParams",
]

BASELINES = ("fp32", "bf16")
X_AXES = {"step": "training step", "wall_time": "wall time (s)"}
Y_AXES = {"val_loss": "validation loss", "train_loss": "training loss",
          "val_metric": "validation metric"}
SCALE_RULES = {
    "amax": "amax / elem max, rounded (NVFP4)",
    "floor": "power of two, floor (OCP MX)",
    "ceil": "power of two, round up (no saturation)",
}
#: Largest live run per task (the transformer runs at reduced length on 2 cores).
LIVE_MAX_STEPS = {"regression": 2000, "digits": 2000, "charlm": 150}
BATCHES = ("16", "32", "64", "128", "256")


@dataclass(frozen=True)
class FP4TrainingParams:
    """Everything the page shows, as it appears in a shared link."""

    task: str = field(default="digits", metadata=choice(tuple(TASKS)))
    recipes: tuple[str, ...] = field(
        default=("fp32", "bf16", "mxfp4", "fp4_naive", "nvfp4"),
        metadata=multi(tuple(RECIPES), min_len=1),
    )
    baseline: str = field(default="fp32", metadata=choice(BASELINES))
    x: str = field(default="step", metadata=choice(tuple(X_AXES)))
    y: str = field(default="val_loss", metadata=choice(tuple(Y_AXES)))
    log_y: bool = True  #: losses fall by 10-20x; the gaps are visible on a log axis
    bands: bool = True  #: min-max band over the seeds
    # the editable recipe (defaults: the NVFP4 paper's recipe)
    c_elem: str = field(default="float4_e2m1fn", metadata=choice(tuple(ELEMENTS)))
    c_block: str = field(default="16", metadata=choice(("16", "32")))
    c_scale_fmt: str = field(default="float8_e4m3fn", metadata=choice(tuple(SCALE_FORMATS)))
    c_scale_rule: str = field(default="amax", metadata=choice(tuple(SCALE_RULES)))
    c_tensor_scale: bool = True
    c_grad_mode: str = field(default="sr", metadata=choice(tuple(GRAD_MODES)))
    c_rbits: int = field(default=8, metadata=irange(1, 24))
    c_rht: str = field(default="16", metadata=choice(tuple(str(d) for d in RHT_SIZES)))
    c_tile2d: bool = True
    c_keep_last: int = field(default=1, metadata=irange(0, 3))
    # the live run
    run_recipe: str = field(default="custom", metadata=choice(("custom", *RECIPES)))
    run_steps: int = field(default=0, metadata=irange(0, 2000))  #: 0: the library's length
    run_seed: int = field(default=0, metadata=irange(0, 999))
    run_batch: str = field(default="0", metadata=choice(("0", *BATCHES)))  #: 0: task default

    def techniques(self) -> Techniques:
        """The editable recipe's switches."""
        return Techniques(
            elem=self.c_elem, block=int(self.c_block), scale_fmt=self.c_scale_fmt,
            scale_rule=self.c_scale_rule, tensor_scale=self.c_tensor_scale,  # type: ignore[arg-type]
            grad_mode=self.c_grad_mode, rbits=self.c_rbits, rht=int(self.c_rht),
            tile2d=self.c_tile2d, keep_last=self.c_keep_last,
        )

    @property
    def live_steps(self) -> int:
        """Steps of the live run: the library's length by default, capped per task."""
        steps = self.run_steps or TASKS[self.task].steps
        return min(steps, LIVE_MAX_STEPS[self.task])

    @property
    def steps_capped(self) -> bool:
        return (self.run_steps or TASKS[self.task].steps) > LIVE_MAX_STEPS[self.task]

    def train_params(self) -> TrainParams:
        """The live run these settings describe (CUDA when the server has one)."""
        recipe = self.techniques().recipe() if self.run_recipe == "custom" else self.run_recipe
        return TrainParams(
            task=self.task, recipe=recipe, seed=self.run_seed, steps=self.live_steps,
            batch_size=int(self.run_batch), device="auto",
        )
