"""The Your-tensor page as Python: its URL schema, the shipped tensors and its tables.

:class:`TensorParams` is the page's URL schema (field metadata in the form :mod:`ui.params`
reads, as :mod:`lowbit_core.experiments.dynamics.page` does). An uploaded tensor is not part of
it: its bytes never travel in a link; the shipped tensors do (``tensor=<name>``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from ..formats import FORMATS
from ..rounding import STOCHASTIC_MODES, RoundMode
from .tensor_capture import SHIPPED_NAMES, SHIPPED_PATH, SHIPPED_SHA256
from .tensor_io import View2D, check_tensor, view2d
from .tensor_report import (
    BLOCK_SIZES,
    DEFAULT_RECIPES,
    RECIPES,
    Recipe,
    bias_report,
    block_sweep,
    custom_recipe,
    report_and_zones,
    rht_report,
)

__all__ = [
    "ELEM_CHOICES",
    "MODES",
    "RECIPE_CHOICES",
    "SCALE_CHOICES",
    "SWEEP_ELEMS",
    "TensorParams",
    "bias",
    "heavy",
    "load_shipped",
    "only",
    "report",
    "rht",
    "shipped_view",
    "sweep",
]

MODES = tuple(m.value for m in RoundMode)
RECIPE_CHOICES = (*RECIPES, "custom")
#: element formats of a custom block recipe (every catalogue format of at most 16 bits, signed)
ELEM_CHOICES = (*(n for n, f in FORMATS.items() if f.signed and f.bits <= 16), "int8_sym",
                "int4_sym")
SCALE_CHOICES = ("float8_e8m0fnu", "float8_e4m3fn", "ue4m3", "ue5m3", "ue5m3_ieee", "bfloat16",
                 "float16", "float8_e5m2")
SWEEP_ELEMS = ("float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e4m3fn",
               "float8_e5m2", "int4_sym", "int8_sym")
#: element-passes (elements x quantizations) the page runs without a button
LIVE_WORK = 40_000_000


def _r(lo: float, hi: float) -> dict[str, float]:
    return {"min": lo, "max": hi}


def _c(options: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"choices": options}


def _m(options: tuple[str, ...], lo: int, hi: int | None) -> dict[str, Any]:
    return {"choices": options, "min_len": lo, "max_len": hi}


@dataclass(frozen=True)
class TensorParams:
    """Everything the page shows, as it appears in a shared link (upload excepted)."""

    tensor: str = field(default="charlm.blocks.0.fc.weight", metadata=_c(SHIPPED_NAMES))
    axis: int = field(default=-1, metadata=_r(-8, 7))  #: the axis blocks run along (-1: last)
    recipes: tuple[str, ...] = field(default=DEFAULT_RECIPES, metadata=_m(RECIPE_CHOICES, 1, None))
    modes: tuple[str, ...] = field(default=("rne",), metadata=_m(MODES, 1, 4))
    rbits: int = field(default=8, metadata=_r(1, 24))  #: random bits of srff/srf/src/sro
    seed: int = field(default=0, metadata=_r(0, 2**31 - 1))  #: SR stream, probe, RHT signs
    max_bits: float = field(default=4.5, metadata=_r(1.0, 33.0))  #: the ranking's budget K
    custom_elem: str = field(default="float4_e2m1fn", metadata=_c(ELEM_CHOICES))
    custom_block: int = field(default=16, metadata=_r(1, 256))
    custom_scale: str = field(default="ue5m3", metadata=_c(SCALE_CHOICES))
    custom_rule: str = field(default="amax", metadata=_c(("floor", "ceil", "amax")))
    custom_ts: bool = False  #: FP32 tensor scale on the custom recipe
    sweep_elem: str = field(default="float4_e2m1fn", metadata=_c(SWEEP_ELEMS))
    rht_log2: int = field(default=4, metadata=_r(1, 8))  #: RHT size 2^k
    bias_recipe: str = field(default="nvfp4", metadata=_c(RECIPE_CHOICES))
    bias_draws: int = field(default=16, metadata=_r(1, 64))  #: SR draws averaged

    def __post_init__(self) -> None:
        fields = TensorParams.__dataclass_fields__
        for name in ("tensor", "custom_elem", "custom_scale", "custom_rule", "sweep_elem",
                     "bias_recipe"):
            if getattr(self, name) not in fields[name].metadata["choices"]:
                raise ValueError(f"{name}={getattr(self, name)!r} is not a known option")
        for name in ("axis", "rbits", "seed", "max_bits", "custom_block", "rht_log2",
                     "bias_draws"):
            md, v = fields[name].metadata, getattr(self, name)
            if not md["min"] <= v <= md["max"]:
                raise ValueError(f"{name}={v!r} out of range {md['min']}..{md['max']}")
        for name, opts in (("recipes", RECIPE_CHOICES), ("modes", MODES)):
            v = getattr(self, name)
            if not v or any(c not in opts for c in v):
                raise ValueError(f"{name}={v!r}: use some of {opts}")
        self.custom()  # raises ValueError for an invalid combination

    def custom(self) -> Recipe:
        """The custom block recipe of the sidebar."""
        return custom_recipe(self.custom_elem, self.custom_block, self.custom_scale,
                             self.custom_rule, self.custom_ts)

    def recipe(self, name: str) -> Recipe:
        return self.custom() if name == "custom" else RECIPES[name]

    def recipe_list(self) -> tuple[Recipe, ...]:
        return tuple(self.recipe(r) for r in self.recipes)

    @property
    def rht_size(self) -> int:
        return 1 << self.rht_log2

    def bias_modes(self) -> tuple[str, ...]:
        """RNE, exact SR and every other stochastic mode the page compares."""
        extra = [m for m in self.modes if RoundMode(m) in STOCHASTIC_MODES and m != "sr"]
        return ("rne", "sr", *extra)


_CUSTOM = ("custom_elem", "custom_block", "custom_scale", "custom_rule", "custom_ts")
#: the fields each analysis reads (the rest of the params only change the display)
FIELDS = {
    "report": ("recipes", "modes", "rbits", "seed", *_CUSTOM),
    "sweep": ("sweep_elem",),
    "rht": ("recipes", "rht_log2", "seed", *_CUSTOM),
    "bias": ("bias_recipe", "bias_draws", "modes", "rbits", "seed", *_CUSTOM),
}


def only(p: TensorParams, analysis: str) -> TensorParams:
    """``p`` with every field the analysis does not read set to its default: a cache key that
    a display change (the ranking's budget, another section's control) leaves alone."""
    return replace(TensorParams(), **{n: getattr(p, n) for n in FIELDS[analysis]})


@cache
def load_shipped() -> dict[str, np.ndarray]:
    """The shipped tensors (data/tensors.safetensors), checked against the recorded sha256.

    Raises:
        ValueError: the file is missing or its checksum is not the recorded one.
    """
    if not SHIPPED_PATH.is_file():
        raise ValueError(f"{SHIPPED_PATH.name} is missing: run "
                         "python -m lowbit_core.experiments.tensor_capture")
    blob = SHIPPED_PATH.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SHIPPED_SHA256:
        raise ValueError(f"{SHIPPED_PATH.name} has sha256 {digest}, expected {SHIPPED_SHA256}")
    from safetensors.numpy import load

    out = {k: check_tensor(v, k) for k, v in load(blob).items()}
    for a in out.values():
        a.flags.writeable = False
    return out


def shipped_view(name: str, axis: int) -> View2D:
    """The shipped tensor ``name`` as the report's 2-D view along ``axis``.

    Raises:
        ValueError: unknown name, bad axis, or a damaged file.
    """
    arrays = load_shipped()
    if name not in arrays:
        raise ValueError(f"unknown shipped tensor {name!r}")
    return view2d(arrays[name], axis)


def work(n: int, p: TensorParams) -> int:
    """Element-passes the page's analyses cost for an ``n``-element tensor (SR counted 10x:
    the block quantizer's general kernel is about that much slower than its RNE path)."""
    sr = sum(1 for m in p.modes if RoundMode(m) in STOCHASTIC_MODES)
    per = len(p.recipes) * (len(p.modes) - sr + 10 * sr)
    bias = p.bias_draws * 10 * (len(p.bias_modes()) - 1) + 1
    return n * (per + len(BLOCK_SIZES) * 5 + 2 * len(p.recipes) + bias)


def heavy(n: int, p: TensorParams) -> bool:
    """Whether the analyses wait for the page's Run button (more than LIVE_WORK passes)."""
    return work(n, p) > LIVE_WORK


def report(v: View2D, p: TensorParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics table and the zones of every chosen recipe and mode."""
    return report_and_zones(v, p.recipe_list(), p.modes, rbits=p.rbits, seed=p.seed)


def sweep(v: View2D, p: TensorParams) -> pd.DataFrame:
    """The block-size sweep of ``p.sweep_elem``."""
    return block_sweep(v, p.sweep_elem)


def rht(v: View2D, p: TensorParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RHT on/off for the chosen recipes (ValueError when the size does not divide the rows)."""
    return rht_report(v, p.recipe_list(), p.rht_size, p.seed)


def bias(v: View2D, p: TensorParams) -> pd.DataFrame:
    """Bias of the sum and of ``x @ v`` against the number of draws averaged."""
    return bias_report(v, p.recipe(p.bias_recipe), p.bias_modes(), p.bias_draws,
                       rbits=p.rbits, seed=p.seed)
