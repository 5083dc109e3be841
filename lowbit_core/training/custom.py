"""An editable FP4 recipe: one switch per technique, mapped onto a :class:`Recipe`.

The FP4 training page lets a user start from any FP4 preset and switch each technique of the
NVFP4 recipe on or off. :class:`Techniques` holds those switches (the element format and its
block scaling, and the recipe's techniques); :meth:`Techniques.recipe` builds the
:class:`~lowbit_core.training.recipes.Recipe` and :func:`techniques_of` reads the switches back
from a preset, so that every FP4 preset is exactly expressible (tested).

The mapping follows the NVFP4 recipe's structure (papers_spec (d), TE ``NVFP4BlockScaling``):

* weights and activations round to nearest-even; the gradients (into Dgrad and Wgrad) use
  ``grad_mode`` (RNE, exact SR, or few-bit SR with ``rbits`` random bits);
* the random Hadamard transform of size ``rht`` acts on the Wgrad GEMM's two inputs only;
* ``tile2d`` quantizes the weights in ``block x block`` tiles (one quantized W for Fprop and
  Dgrad), else ``1 x block`` along each GEMM's K;
* the last ``keep_last`` linear layers run in BF16.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from ..blocks import ScaleRule
from ..rounding import RoundMode
from .qlinear import LayerQuant, TensorQuant
from .recipes import BF16_LAYER, FP32_LAYER, Recipe, get_recipe

__all__ = [
    "ELEMENTS",
    "GRAD_MODES",
    "RHT_SIZES",
    "SCALE_FORMATS",
    "Techniques",
    "fp4_presets",
    "techniques_of",
]

#: Element formats the editor offers (id -> label).
ELEMENTS = {
    "float4_e2m1fn": "FP4 E2M1",
    "float6_e2m3fn": "FP6 E2M3",
    "float6_e3m2fn": "FP6 E3M2",
    "float8_e4m3fn": "FP8 E4M3",
}
#: Block scale formats (id -> label).
SCALE_FORMATS = {
    "float8_e4m3fn": "E4M3 (NVFP4)",
    "float8_e8m0fnu": "UE8M0 (MX, powers of two)",
    "ue5m3": "UE5M3 (design-space paper)",
    "float32": "FP32",
}
#: Rounding of the gradients (id -> label).
GRAD_MODES = {
    "rne": "round to nearest even",
    "sr": "stochastic (32 random bits, bias < 2^-33 ulp)",
    "src": "stochastic, few random bits (rounded)",
    "srff": "stochastic, few random bits (truncated, biased)",
}
RHT_SIZES = (0, 4, 16, 64)  #: 0 = off


@dataclass(frozen=True)
class Techniques:
    """The switches of an FP4 recipe (defaults: the NVFP4 paper's recipe)."""

    elem: str = "float4_e2m1fn"  #: element format of every low-precision GEMM operand
    block: int = 16  #: elements per block scale (16: NVFP4, 32: MX)
    scale_fmt: str = "float8_e4m3fn"  #: block scale format
    scale_rule: ScaleRule = ScaleRule.AMAX  #: how amax becomes a scale
    tensor_scale: bool = True  #: an FP32 per-tensor scale in front of the block scales
    grad_mode: str = "sr"  #: rounding of the gradients (Dgrad and Wgrad inputs)
    rbits: int = 8  #: random bits of the few-bit SR modes
    rht: int = 16  #: Hadamard size on the Wgrad inputs (0: off)
    tile2d: bool = True  #: 16x16 weight tiles (one quantized W for Fprop and Dgrad)
    keep_last: int = 1  #: last linear layers kept in BF16

    def __post_init__(self) -> None:
        if self.elem not in ELEMENTS:
            raise ValueError(f"elem={self.elem!r}: use one of {', '.join(ELEMENTS)}")
        if self.scale_fmt not in SCALE_FORMATS:
            raise ValueError(f"scale_fmt={self.scale_fmt!r}: use one of {', '.join(SCALE_FORMATS)}")
        if self.grad_mode not in GRAD_MODES:
            raise ValueError(f"grad_mode={self.grad_mode!r}: use one of {', '.join(GRAD_MODES)}")
        if self.block not in (16, 32):
            raise ValueError(f"block={self.block!r}: use 16 or 32")
        if self.rht not in RHT_SIZES:
            raise ValueError(f"rht={self.rht!r}: use one of {RHT_SIZES}")
        if isinstance(self.rbits, bool) or not isinstance(self.rbits, int) or not (
            1 <= self.rbits <= 24
        ):
            raise ValueError(f"rbits={self.rbits!r} must be an integer 1..24")
        if isinstance(self.keep_last, bool) or not isinstance(self.keep_last, int) or not (
            0 <= self.keep_last <= 3
        ):
            raise ValueError(f"keep_last={self.keep_last!r} must be an integer 0..3")
        object.__setattr__(self, "scale_rule", ScaleRule(str(self.scale_rule).lower()))

    def tensor(self, mode: str = "rne", tile2d: bool = False) -> TensorQuant:
        """The TensorQuant of one operand role under these switches."""
        few = mode in ("src", "srff")
        return TensorQuant(
            elem=self.elem, block=self.block, scale_fmt=self.scale_fmt,
            scale_rule=self.scale_rule, tile2d=tile2d,
            tensor_scale=self.tensor_scale and self.scale_fmt != "float32",
            mode=RoundMode(mode), rbits=self.rbits if few else None,
        )

    def layer(self) -> LayerQuant:
        """The GEMM quantization of the low-precision layers."""
        base = self.tensor()
        g = self.tensor(self.grad_mode)
        return LayerQuant(
            x=base, w=self.tensor(tile2d=self.tile2d), dy=g, dy_wgrad=g, x_wgrad=base,
            rht_wgrad=self.rht,
        )

    @property
    def key(self) -> str:
        """A short stable id of these switches (the cache key of a live run's recipe)."""
        blob = repr(sorted((k, str(v)) for k, v in asdict(self).items()))
        return hashlib.sha1(blob.encode()).hexdigest()[:8]

    def describe(self) -> str:
        """One line for labels: format, scaling and the techniques that are on."""
        parts = [
            f"{ELEMENTS[self.elem]} 1x{self.block} {self.scale_fmt.replace('float8_', '')}"
            + (" +tensor" if self.tensor_scale and self.scale_fmt != "float32" else ""),
            f"grads {self.grad_mode}" + (str(self.rbits) if self.grad_mode in ("src", "srff")
                                           else ""),
        ]
        if self.rht:
            parts.append(f"RHT{self.rht}")
        if self.tile2d:
            parts.append("2D W")
        if self.keep_last:
            parts.append(f"last {self.keep_last} BF16")
        return ", ".join(parts)

    def recipe(self, name: str | None = None) -> Recipe:
        """The :class:`Recipe` these switches describe (named ``custom-<key>`` by default)."""
        return Recipe(
            name or f"custom-{self.key}", f"Custom: {self.describe()}", self.layer(),
            keep_last=self.keep_last, high=BF16_LAYER if self.keep_last else FP32_LAYER,
            note="edited on the FP4 training page",
        )


def techniques_of(recipe: Recipe | str) -> Techniques:
    """The switches that reproduce an FP4 preset (see :func:`fp4_presets`).

    Raises:
        ValueError: the recipe is not expressible with the switches (FP32, BF16, FP8 presets,
            or a hand-built recipe with a different structure).
    """
    r = get_recipe(recipe)
    lq = r.layer
    x, g = lq.x, lq.dy
    if x.elem not in ELEMENTS or x.block not in (16, 32) or x.scale_fmt not in SCALE_FORMATS:
        raise ValueError(f"recipe {r.name!r} is not an FP4-style block-scaled recipe")
    t = Techniques(
        elem=x.elem, block=x.block, scale_fmt=x.scale_fmt, scale_rule=x.scale_rule,
        tensor_scale=x.tensor_scale, grad_mode=g.mode.value,
        rbits=g.rbits if g.rbits is not None else 8, rht=lq.rht_wgrad, tile2d=lq.w.tile2d,
        keep_last=r.keep_last,
    )
    if t.layer() != lq or (r.keep_last and r.high != BF16_LAYER):
        raise ValueError(f"recipe {r.name!r} does not fit the technique switches")
    return t


def fp4_presets() -> list[str]:
    """Presets the switches express exactly (the page's "start from" list)."""
    from .recipes import RECIPES

    out = []
    for name in RECIPES:
        try:
            techniques_of(name)
        except ValueError:
            continue
        out.append(name)
    return out

