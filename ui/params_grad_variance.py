"""URL schema of the Gradient variance page, and its mapping onto the core experiment's params.

Field metadata bounds hostile links (the codec clamps and falls back field by field); the one
cross-field rule (the smallest batch size may not exceed the largest) is checked in
``__post_init__``, so a link that breaks it falls back to the defaults with one warning.
Batch sizes are stored as powers of two (``b_min``, ``b_max`` and ``ref_batch`` are log2).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from lowbit_core.experiments import grad_variance as gv
from lowbit_core.experiments import grad_variance_budget as gvb
from ui.figures_common import MODE_LABELS as _ALL_LABELS
from ui.params import choice, frange, irange, multi

__all__ = [
    "GRID_LABELS",
    "MODEL_LABELS",
    "MODES",
    "MODE_LABELS",
    "PRESETS",
    "TARGET_LABELS",
    "GradVarianceParams",
    "knobs",
    "seconds",
    "within_budget",
]

MODES: tuple[str, ...] = ("rne", "sr", "srff", "src", "srf")
MODE_LABELS = {m: _ALL_LABELS[m] for m in ("fp32", *MODES)}  # the lab's labels
MODEL_LABELS = {
    "linear": "Linear regression (teacher–student)",
    "logistic": "Logistic regression (digits)",
    "mlp": "MLP 64–32–10 (digits)",
}
TARGET_LABELS = {"w": "W: weights", "a": "A: saved activations", "g": "G: gradients"}
GRID_LABELS = {"float": "Float eXmk (k mantissa bits)", "int": "Integer int(k+2), scaled"}
#: Starting points (the first is the default): each sets the fields it names.
PRESETS: dict[str, dict[str, Any]] = {
    "Bits for batch: INT grid, A and G rounded": {
        "grid": "int", "targets": ("a", "g"), "mbits": 1, "modes": ("rne", "sr", "srff")},
    "Weights too: the floor no batch removes (W, A, G)": {
        "grid": "int", "targets": ("w", "a", "g"), "mbits": 1, "modes": ("rne", "sr", "srff")},
    "Float E5M1 on W, A and G": {
        "grid": "float", "targets": ("w", "a", "g"), "mbits": 1, "modes": ("rne", "sr", "srff")},
}


@dataclass(frozen=True)
class GradVarianceParams:
    """Everything the page shows, as it appears in a shared link."""

    model: str = field(default="linear", metadata=choice(tuple(MODEL_LABELS)))
    #: "float": IEEE-like eXmk; "int": int(k+2), a fixed-point grid (relative to the tensor scale).
    #: Default int with A and G rounded: there the rounding noise is large next to the sampling
    #: noise, so the batch needed per bit climbs visibly (about 8 -> 16 -> 96 from 4 to 0 bits)
    grid: str = field(default="int", metadata=choice(tuple(GRID_LABELS)))
    ebits: int = field(default=5, metadata=irange(2, 8))  #: exponent bits of the eXmY format
    mbits: int = field(default=1, metadata=irange(0, 10))  #: the "bits" slider: k (see grid)
    modes: tuple[str, ...] = field(default=("rne", "sr", "srff"), metadata=multi(MODES, 1))
    rbits: int = field(default=4, metadata=irange(1, 16))  #: random bits of the few-bit SR modes
    targets: tuple[str, ...] = field(default=("a", "g"), metadata=multi(("w", "a", "g")))
    scaling: bool = True  #: power-of-two tensor scaling before rounding
    b_min: int = field(default=0, metadata=irange(0, 11))  #: log2 of the smallest batch
    b_max: int = field(default=8, metadata=irange(0, 11))  #: log2 of the largest batch
    #: mini-batches per batch size; 128 resolves RNE's and SRFF's bias at the large batches
    repeats: int = field(default=128, metadata=irange(8, 1024))
    seed: int = field(default=0, metadata=irange(0, 2**31 - 1))
    split_mode: str = field(default="sr", metadata=choice(MODES))  #: mode of the stacked split
    ref_batch: int = field(default=3, metadata=irange(0, 11))  #: log2 of the fp32 reference B
    xr_bits: int = field(default=4, metadata=irange(1, 8))  #: exchange rate over 0..xr_bits
    train_batch: int = field(default=4, metadata=irange(0, 10))  #: log2 of the SGD batch
    steps: int = field(default=100, metadata=irange(10, 2000))
    lr: float = field(default=0.05, metadata=frange(1e-4, 10.0))
    train_seeds: int = field(default=3, metadata=irange(1, 8))
    train_x: str = field(default="steps", metadata=choice(("steps", "samples")))
    #: the slow parts of these settings were run (Run pressed): a link that says so computes
    #: them for its recipient instead of showing the Run box
    run: bool = False

    def __post_init__(self) -> None:
        if self.b_min > self.b_max:
            raise ValueError(f"b_min={self.b_min} is above b_max={self.b_max}")

    @property
    def view(self) -> GradVarianceParams:
        """These settings without :attr:`run` (what a Run was pressed for)."""
        return replace(self, run=False)

    @property
    def fmt(self) -> str:
        return gv.bits_format(self.mbits, self.ebits, self.grid)

    @property
    def fmt_label(self) -> str:
        if self.grid == "int":
            return f"INT{self.mbits + 2}"
        return f"E{self.ebits}M{self.mbits} (IEEE-like)"

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        return tuple(2**k for k in range(self.b_min, self.b_max + 1))

    @property
    def ref(self) -> int:
        """The exchange rate's reference batch size, kept inside the swept range."""
        return int(2 ** min(max(self.ref_batch, self.b_min), self.b_max))

    def variance(self) -> gv.GradVarianceParams:
        """The core sweep these settings ask for."""
        return gv.GradVarianceParams(
            model=self.model, fmt=self.fmt, modes=self.modes, rbits=self.rbits,
            targets=self.targets, scaling=self.scaling, batch_sizes=self.batch_sizes,
            repeats=self.repeats, seed=self.seed,
        )

    def exchange(self) -> gv.GradVarianceParams:
        """The sweep behind the exchange-rate chart: stochastic modes only (RNE's bias never
        averages away, so it has no finite exchange rate)."""
        modes = tuple(m for m in self.modes if m != "rne") or ("sr",)
        # fmt is replaced per bit count by exchange_rate; a constant keeps the cache key
        # independent of the mantissa-bits slider
        return gv.GradVarianceParams(
            model=self.model, fmt=gv.bits_format(0, self.ebits, self.grid), modes=modes,
            rbits=self.rbits,
            targets=self.targets, scaling=self.scaling, batch_sizes=self.batch_sizes,
            repeats=self.repeats, seed=self.seed,
        )

    def sgd(self) -> gv.SGDParams:
        """The training runs these settings ask for."""
        return gv.SGDParams(
            model=self.model, fmt=self.fmt, modes=self.modes, rbits=self.rbits,
            targets=self.targets, scaling=self.scaling, batch=2**self.train_batch,
            steps=self.steps, lr=self.lr, seeds=self.train_seeds,
            eval_every=max(1, self.steps // 20),
        )


def seconds(p: GradVarianceParams) -> dict[str, float]:
    """Estimated CPU seconds of each part of the page for these settings (the core's model,
    :func:`lowbit_core.experiments.grad_variance_budget.part_seconds`)."""
    return gvb.part_seconds(p.variance(), p.exchange(), p.xr_bits + 1, p.sgd())


def _pow2(k: int) -> str:
    return f"{2**k:,}"


def _lower_b_max(p: GradVarianceParams) -> dict[str, int]:
    """Halve the largest batch; the smallest moves along when they meet."""
    if p.b_max == 0:
        return {}
    return {"b_max": p.b_max - 1, "b_min": min(p.b_min, p.b_max - 1)}


def knobs(p: GradVarianceParams) -> tuple[gvb.Knob, ...]:
    """The settings the budget may lower, with their floors (the URL minimums)."""
    lo = {n: int(field_min(n)) for n in ("repeats", "xr_bits", "steps", "train_seeds",
                                         "train_batch")}
    return (
        gvb.Knob("repeats", "repeats R", gvb.halve("repeats", lo["repeats"]), gvb.log2),
        gvb.Knob("b_max", "largest batch", _lower_b_max, show=_pow2),
        gvb.Knob("b_min", "smallest batch", gvb.never, show=_pow2),
        gvb.Knob("xr_bits", "exchange-rate bits 0 … k", gvb.minus_one("xr_bits", lo["xr_bits"])),
        gvb.Knob("steps", "training steps", gvb.halve("steps", lo["steps"], 10), gvb.log2),
        gvb.Knob("train_seeds", "training seeds",
                 gvb.minus_one("train_seeds", lo["train_seeds"]), gvb.log2),
        gvb.Knob("train_batch", "training batch",
                 gvb.minus_one("train_batch", lo["train_batch"]), show=_pow2),
    )


def field_min(name: str) -> float:
    """The URL minimum of a numeric field."""
    md = next(f.metadata for f in fields(GradVarianceParams) if f.name == name)
    return float(md["min"])


def within_budget(p: GradVarianceParams) -> gvb.Budgeted:
    """These settings, lowered until the whole page fits the CPU budget
    (:func:`lowbit_core.experiments.grad_variance_budget.fit_budget`).

    Raises:
        ValueError: even the lowest values of every knob are over the budget.
    """
    return gvb.fit_budget(p, lambda q: sum(seconds(q).values()), knobs(p))
