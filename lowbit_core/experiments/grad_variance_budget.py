"""How much CPU one Gradient-variance request costs, and the budget that bounds it (issue 15).

Every setting of the page is clamped on its own, but their product is not: the largest batch,
the most repeats, every mode and every bit count together are thousands of times the defaults'
work. This module estimates the CPU seconds of each part of a request from the loops the
experiment runs (:func:`part_seconds`), and lowers the settings that cost the most until the
estimate fits a budget (:func:`fit_budget`), saying what it lowered. :class:`~.grad_variance.
Deadline` is the backstop: a computation that runs past its time limit anyway (a busy server,
an estimate that is off) stops between chunks with a message naming what to lower.

The cost model, per part (work units times CPU nanoseconds per unit, plus a fixed cost):

* variance: every repeat runs ``B_max`` samples through forward and backward once per mode
  plus the unquantized reference, ``repeats × B_max × width × (modes + 1)``, where ``width`` is
  the summed layer sizes (the quantized elements per sample); with W quantized each mode adds
  ``floor_draws`` full-data gradients for the weight floor, ``floor_draws × N × width``;
* exchange: the same for every (stochastic mode, bit count) pair plus one reference pass;
* training: per step, mode and seed a batch of ``batch`` samples, plus a fixed cost per step and
  mode (the small quantize calls and the full-data loss evaluations).

The nanoseconds per unit are fitted to :func:`process CPU time <time.process_time>` (which
counts every thread of the parallel kernels) on the 2-core development machine while other
work ran, and rounded up; ``bench/worst_links.py`` measures the page's worst link (7.0 s of
CPU for the lowered worst link, estimated at 7.8 s).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from ..rounding import STOCHASTIC_MODES, RoundMode
from .grad_variance import FP32, GradVarianceParams, SGDParams, problem

__all__ = [
    "BUDGET_S",
    "TIME_LIMIT_S",
    "Budgeted",
    "Knob",
    "exchange_units",
    "fit_budget",
    "floor_units",
    "halve",
    "log2",
    "minus_one",
    "never",
    "part_seconds",
    "stochastic",
    "training_units",
    "variance_units",
]

#: Estimated CPU seconds one request of the page may cost, all parts together. The measured
#: worst case (every control at its URL maximum, lowered to this budget) is in the README.
BUDGET_S = 8.0
#: Wall-clock seconds a part may run before it stops (the backstop of the estimate).
TIME_LIMIT_S = 20.0

#: CPU nanoseconds per work unit, per model and part (see the module docstring): the largest
#: value measured over the defaults and a heavy setting (W, A, G, every mode, R = 32,
#: B_max = 1024, 7 bit counts, 200 steps of 4 seeds at batch 256), plus 10-30 %.
NS_PER_UNIT: dict[str, dict[str, float]] = {
    "linear": {"variance": 100.0, "exchange": 60.0, "training": 80.0},
    "logistic": {"variance": 100.0, "exchange": 100.0, "training": 100.0},
    "mlp": {"variance": 160.0, "exchange": 180.0, "training": 650.0},
}
#: CPU nanoseconds per unit of the weight floor's full-data gradients (no quantization in the
#: loop, so cheaper per unit; measured 7.5, 64 and 63).
FLOOR_NS: dict[str, float] = {"linear": 15.0, "logistic": 80.0, "mlp": 80.0}
#: CPU seconds per SGD step and mode that do not grow with the batch (small quantize calls,
#: the loss evaluations), per model (fitted 2.3e-4, 1.2e-3 and ~0).
STEP_S: dict[str, float] = {"linear": 3e-4, "logistic": 1.5e-3, "mlp": 1.5e-3}
START_S = 0.05  #: fixed start-up CPU seconds of a part


def _width(model: str) -> int:
    return sum(w.shape[0] + w.shape[1] for w in problem(model).ws)


def _n_modes(modes: Sequence[str]) -> int:
    return len([m for m in modes if m != FP32])


def floor_units(p: GradVarianceParams, variants: int) -> float:
    """Work units of the weight floor's full-data gradients over ``variants`` (mode, format)
    passes (0 unless W is quantized)."""
    if "w" not in p.targets:
        return 0.0
    return float(variants * p.floor_draws * problem(p.model).x.shape[0] * _width(p.model))


def variance_units(p: GradVarianceParams) -> float:
    """Work units of the sample loop of :func:`~.grad_variance.gradient_variance` (its weight
    floor: :func:`floor_units` with one variant per mode)."""
    return float(p.repeats * p.batch_sizes[-1] * _width(p.model)) * (_n_modes(p.modes) + 1)


def exchange_units(p: GradVarianceParams, n_bits: int) -> float:
    """Work units of the sample loop of :func:`~.grad_variance.bits_sweep` over ``n_bits`` bit
    counts (its weight floor: :func:`floor_units` with modes × n_bits variants).

    Raises:
        ValueError: n_bits < 1.
    """
    if n_bits < 1:
        raise ValueError(f"n_bits={n_bits!r} must be >= 1")
    per = float(p.repeats * p.batch_sizes[-1] * _width(p.model))
    return per * (_n_modes(p.modes) * n_bits + 1)


def training_units(p: SGDParams) -> float:
    """Batch-dependent work units of :func:`~.grad_variance.sgd_curves`."""
    return float(p.steps * (_n_modes(p.modes) + 1) * p.seeds * p.batch * _width(p.model))


def part_seconds(
    variance: GradVarianceParams | None = None,
    exchange: GradVarianceParams | None = None,
    n_bits: int = 1,
    training: SGDParams | None = None,
) -> dict[str, float]:
    """Estimated CPU seconds of each part given (a part that is None costs 0).

    Raises:
        ValueError: n_bits < 1.
    """
    out = {"variance": 0.0, "exchange": 0.0, "training": 0.0}
    if variance is not None:
        ns, fl = NS_PER_UNIT[variance.model]["variance"], FLOOR_NS[variance.model]
        out["variance"] = START_S + 1e-9 * (
            variance_units(variance) * ns + floor_units(variance, _n_modes(variance.modes)) * fl)
    if exchange is not None:
        ns, fl = NS_PER_UNIT[exchange.model]["exchange"], FLOOR_NS[exchange.model]
        variants = _n_modes(exchange.modes) * n_bits
        out["exchange"] = START_S + 1e-9 * (
            exchange_units(exchange, n_bits) * ns + floor_units(exchange, variants) * fl)
    if training is not None:
        ns = NS_PER_UNIT[training.model]["training"]
        modes = _n_modes(training.modes) + 1
        out["training"] = (START_S + training_units(training) * ns * 1e-9
                           + training.steps * modes * STEP_S[training.model])
    return out


def stochastic(modes: Sequence[str]) -> tuple[str, ...]:
    """The stochastic modes among ``modes`` (the exchange rate's)."""
    return tuple(m for m in modes if m != FP32 and RoundMode(m) in STOCHASTIC_MODES)


# --- the budget -----------------------------------------------------------------------------------

T = TypeVar("T")


class Knob(NamedTuple):
    """A setting :func:`fit_budget` may lower."""

    field: str  #: the field of the caller's params dataclass
    label: str  #: its name on the page, for the message
    #: the fields to change to lower this setting one step ({} at its floor); it may move
    #: another field along (the smallest batch with the largest)
    lower: Callable[[Any], dict[str, Any]]
    #: how high a value is, in steps (log2 for a count): the knob furthest above its default
    #: is lowered first
    level: Callable[[Any], float] = float
    show: Callable[[Any], str] = str  #: a value as the page shows it


class Budgeted(NamedTuple):
    """What :func:`fit_budget` did."""

    params: Any  #: the settings that fit (the input when nothing was lowered)
    asked_s: float  #: estimated CPU seconds of the settings asked for
    used_s: float  #: ... of ``params``
    changes: tuple[tuple[str, str, str, str], ...]  #: (field, label, old, new) per lowered knob

    @property
    def message(self) -> str:
        """One sentence for the page ("" when nothing was lowered)."""
        if not self.changes:
            return ""
        what = ", ".join(f"{label} {old} → {new}" for _f, label, old, new in self.changes)
        return (f"These settings would take about {self.asked_s:,.0f} s of CPU, over this page's "
                f"limit of {BUDGET_S:.0f} s per view, so they were lowered: {what} (about "
                f"{self.used_s:.1f} s). To choose what gives instead, lower one of these "
                "yourself, or pick fewer modes, fewer quantized tensors or a smaller model.")


def fit_budget(
    p: T, seconds: Callable[[T], float], knobs: Sequence[Knob], budget: float = BUDGET_S,
) -> Budgeted:
    """Lower ``knobs`` of the dataclass ``p`` until ``seconds(p) <= budget``.

    Greedy in two phases: each round lowers one knob by one step, the one whose step saves the
    most time among the knobs still above their defaults (in :attr:`Knob.level`), or among all
    of them once none is (ties: the first in ``knobs``). So a link's raised settings give back
    first, and the defaults are cut only when the defaults themselves are over the budget.
    Deterministic, so a shared link is lowered the same way for everyone.

    Raises:
        ValueError: no knob can be lowered further and the estimate is still over the budget.
    """
    asked = used = seconds(p)
    start, default = p, type(p)()  # type: ignore[call-arg]
    while used > budget:
        best: tuple[bool, float, T] | None = None
        for k in knobs:
            change = k.lower(p)
            if not change:
                continue
            q = dataclasses.replace(p, **change)  # type: ignore[type-var]
            s = seconds(q)
            if s >= used:
                continue
            raised = k.level(getattr(p, k.field)) > k.level(getattr(default, k.field))
            if best is None or (raised, used - s) > (best[0], used - best[1]):
                best = (raised, s, q)
        if best is None:
            names = ", ".join(k.label for k in knobs)
            raise ValueError(
                f"these settings need about {used:,.0f} s of CPU even with {names} at their "
                f"lowest, over this page's limit of {budget:.0f} s: pick fewer modes, fewer "
                "quantized tensors or a smaller model")
        _e, used, p = best
    changes = tuple(
        (k.field, k.label, k.show(getattr(start, k.field)), k.show(getattr(p, k.field)))
        for k in knobs if getattr(start, k.field) != getattr(p, k.field)
    )
    return Budgeted(p, asked, used, changes)


def halve(field: str, floor: int, step: int = 1) -> Callable[[Any], dict[str, Any]]:
    """A :attr:`Knob.lower` that halves ``field`` (rounded down to a multiple of ``step``),
    never below ``floor``."""
    def lower(p: Any) -> dict[str, Any]:
        v = getattr(p, field)
        new = max(floor, min(v, (v // 2) // step * step))
        return {field: new} if new != v else {}
    return lower


def minus_one(field: str, floor: int) -> Callable[[Any], dict[str, Any]]:
    """A :attr:`Knob.lower` that subtracts one from ``field`` (a log2 setting: halves it),
    never below ``floor``."""
    def lower(p: Any) -> dict[str, Any]:
        v = getattr(p, field)
        return {field: v - 1} if v - 1 >= floor else {}
    return lower


def log2(v: float) -> float:
    """:attr:`Knob.level` of a count (each halving is one step)."""
    return math.log2(v)


def never(p: Any) -> dict[str, Any]:
    """:attr:`Knob.lower` of a field that is only moved along by another knob."""
    return {}
