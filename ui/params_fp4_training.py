"""URL schema of the FP4 training page, and its mapping onto the training core.

Three groups of fields: what the library charts compare (task, recipes, baseline, axes), the
switches of the editable recipe (``c_*``, see :class:`lowbit_core.training.custom.Techniques`)
and the settings of a live run (``run_*``). Every field is clamped or falls back on its own,
so a hand-edited link never breaks the page. Live runs of the third task (the character-level
transformer) are capped at :data:`LIVE_MAX_STEPS` ``["charlm"]`` steps ("reduced size").

``live`` lists the live runs the page shows, one token each (:func:`run_token`): task, recipe
(a preset name or the editor's ten switches), seed, steps and batch, which is everything that
defines a run, so a recipient of the link sees the same runs (from the shared pool when it
still holds them, else behind one Run button) and not just the sender's settings.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field, fields, replace

from lowbit_core.training.custom import ELEMENTS, GRAD_MODES, RHT_SIZES, SCALE_FORMATS, Techniques
from lowbit_core.training.recipes import RECIPES, Recipe
from lowbit_core.training.tasks import TASKS
from lowbit_core.training.train import TrainParams
from ui.params import choice, irange, multi, validator

__all__ = [
    "BASELINES",
    "LIVE_MAX_STEPS",
    "MAX_LIVE",
    "SCALE_RULES",
    "X_AXES",
    "Y_AXES",
    "FP4TrainingParams",
    "baseline_of",
    "from_token",
    "run_token",
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
MAX_LIVE = 8  #: live runs a page (and its link) shows at most
_SEP, _CSEP = "~", "."  # unreserved in URLs: a token needs no escaping


def run_token(p: TrainParams) -> str:
    """A live run as a short URL-safe token: ``task~recipe~seed~steps~batch``; an edited
    recipe is ``c.`` + its ten switches (see :class:`~lowbit_core.training.custom.Techniques`)."""
    if isinstance(p.recipe, Recipe) and p.recipe.name not in RECIPES:
        t = _techniques_of_custom(p.recipe)
        rec = "c" + _CSEP + _CSEP.join(
            str(int(v)) if isinstance(v, bool) else str(v) for v in astuple(t))
    else:
        rec = p.recipe if isinstance(p.recipe, str) else p.recipe.name
    return _SEP.join((p.task, rec, str(p.seed), str(p.steps), str(p.batch_size)))


def _techniques_of_custom(r: Recipe) -> Techniques:
    from lowbit_core.training.custom import techniques_of

    return techniques_of(r)


def from_token(s: str) -> TrainParams:
    """The run a :func:`run_token` token describes, within the page's limits (a token is the
    canonical form: ``from_token(t)`` re-encodes to ``t``).

    Raises:
        ValueError: malformed token, unknown task or recipe, or a seed, step count or batch
            outside what the page's own widgets offer.
    """
    parts = s.strip().split(_SEP)
    if len(parts) != 5:
        raise ValueError(f"run token {s!r}: expected task~recipe~seed~steps~batch")
    task, rec, seed, steps, batch = parts
    if task not in TASKS:
        raise ValueError(f"run token {s!r}: unknown task {task!r}")
    if rec.startswith("c" + _CSEP):
        vals = rec.split(_CSEP)[1:]
        names = [f.name for f in fields(Techniques)]
        if len(vals) != len(names):
            raise ValueError(f"run token {s!r}: an edited recipe needs {len(names)} switches")
        kinds = {f.name: type(getattr(Techniques(), f.name)) for f in fields(Techniques)}
        kw = {n: (v == "1" if kinds[n] is bool else int(v) if kinds[n] is int else v)
              for n, v in zip(names, vals, strict=True)}
        recipe: Recipe | str = Techniques(**kw).recipe()  # type: ignore[arg-type]
    elif rec in RECIPES:
        recipe = rec
    else:
        raise ValueError(f"run token {s!r}: unknown recipe {rec!r}")
    n_seed, n_steps, n_batch = int(seed), int(steps), int(batch)
    if not 0 <= n_seed <= 999:
        raise ValueError(f"run token {s!r}: seed {n_seed} outside 0..999")
    if not 1 <= n_steps <= LIVE_MAX_STEPS[task]:
        raise ValueError(f"run token {s!r}: steps {n_steps} outside 1..{LIVE_MAX_STEPS[task]}")
    if n_batch and str(n_batch) not in BATCHES:
        raise ValueError(f"run token {s!r}: batch {n_batch} is not one of {', '.join(BATCHES)}")
    return TrainParams(task=task, recipe=recipe, seed=n_seed, steps=n_steps, batch_size=n_batch,
                       device="auto")


def _canonical_token(s: str) -> str:
    return run_token(from_token(s))


def baseline_of(p: TrainParams, baseline: str) -> TrainParams:
    """The run a live run ``p`` is compared with: ``baseline`` trained with the same seed,
    steps, batch and learning rate (so the same initial weights and batches)."""
    return replace(p, recipe=baseline)


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
    #: the live runs shown (tokens of :func:`run_token`), oldest first
    live: tuple[str, ...] = field(default=(), metadata=validator(_canonical_token, MAX_LIVE))

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
