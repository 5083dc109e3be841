"""Training recipes: named presets of per-role quantization, each a frozen dataclass.

A :class:`Recipe` says how every quantized linear layer runs its three GEMMs
(:class:`~lowbit_core.training.qlinear.LayerQuant`) and how many of the model's *last* linear
layers stay in high precision. The page shows a recipe's fields and edits them with
``dataclasses.replace``; :func:`get_recipe` returns the presets by name.

Presets (papers_spec (c), (d)):

* ``fp32``, ``bf16``: references (BF16: operands cast to bfloat16, FP32 accumulation).
* ``fp8``: E4M3 forward (x, W), E5M2 backward (gradients), one FP32 scale per tensor, RNE.
* ``mxfp4``: OCP MXFP4 everywhere: E2M1, 1x32 blocks, UE8M0 scale with the OCP floor rule, RNE.
* ``fp4_naive``: the NVFP4 *format* (E2M1, 1x16, E4M3 scale + FP32 tensor scale) in every layer
  with RNE everywhere, no RHT, 1-D weight blocks.
* ``nvfp4``: the paper's recipe (§4): RHT 16 on the Wgrad inputs only, 16x16 weight tiles, SR on
  the gradients (Dgrad and Wgrad), RNE elsewhere, the last layer(s) in BF16.
* ``nvfp4_no_sr``, ``nvfp4_no_rht``, ``nvfp4_no_2d``, ``nvfp4_no_hp_last``: one technique removed.
* ``mxfp4_recipe``: the NVFP4 recipe's techniques with the MXFP4 format (format-only contrast).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..blocks import ScaleRule
from ..rounding import RoundMode
from .qlinear import LayerQuant, QLinear, TensorQuant

__all__ = [
    "BF16_LAYER",
    "FP32_LAYER",
    "RECIPES",
    "Recipe",
    "apply_recipe",
    "get_recipe",
    "recipe_names",
]


FP32_LAYER = LayerQuant()  #: every role FP32: a plain F.linear


@dataclass(frozen=True)
class Recipe:
    """A named training recipe."""

    name: str  #: preset id (URL-safe)
    label: str  #: UI label
    layer: LayerQuant  #: GEMM quantization of the low-precision layers
    keep_last: int = 0  #: last linear layers kept in `high` (NVFP4 keeps ~15% at the end, §4.1)
    high: LayerQuant = FP32_LAYER  #: precision of the kept layers (BF16 in the paper)
    note: str = ""  #: one line on where the preset comes from

    def __post_init__(self) -> None:
        if isinstance(self.keep_last, bool) or not isinstance(self.keep_last, int) or (
            self.keep_last < 0
        ):
            raise ValueError(f"keep_last={self.keep_last!r} must be an integer >= 0")

    def layer_quants(self, n_layers: int) -> list[LayerQuant]:
        """The LayerQuant of each of ``n_layers`` linear layers, in model order."""
        k = min(self.keep_last, n_layers)
        return [self.layer] * (n_layers - k) + [self.high] * k


def _all(t: TensorQuant, rht_wgrad: int = 0) -> LayerQuant:
    return LayerQuant(x=t, w=t, dy=t, dy_wgrad=t, x_wgrad=t, rht_wgrad=rht_wgrad)


_BF16 = TensorQuant(elem="bfloat16")
BF16_LAYER = _all(_BF16)

_E4M3_T = TensorQuant(elem="float8_e4m3fn", block=0, scale_fmt="float32")
_E5M2_T = TensorQuant(elem="float8_e5m2", block=0, scale_fmt="float32")
_FP8 = LayerQuant(x=_E4M3_T, w=_E4M3_T, dy=_E5M2_T, dy_wgrad=_E5M2_T, x_wgrad=_E4M3_T)

_MX = TensorQuant(
    elem="float4_e2m1fn", block=32, scale_fmt="float8_e8m0fnu", scale_rule=ScaleRule.FLOOR
)
_NV = TensorQuant(
    elem="float4_e2m1fn", block=16, scale_fmt="float8_e4m3fn", scale_rule=ScaleRule.AMAX,
    tensor_scale=True,
)


def _nvfp4_layer(
    base: TensorQuant, sr: bool = True, rht: int = 16, tile2d: bool = True
) -> LayerQuant:
    """The NVFP4 recipe's GEMMs (paper §4, TE ``NVFP4BlockScaling``) on element/scale ``base``."""
    g = replace(base, mode=RoundMode.SR) if sr else base
    w = replace(base, tile2d=tile2d)
    return LayerQuant(x=base, w=w, dy=g, dy_wgrad=g, x_wgrad=base, rht_wgrad=rht)


_NVFP4 = _nvfp4_layer(_NV)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe("fp32", "FP32", FP32_LAYER, note="reference"),
        Recipe("bf16", "BF16", BF16_LAYER, note="operands in bfloat16, FP32 accumulate"),
        Recipe(
            "fp8", "FP8 (E4M3 fwd / E5M2 bwd)", _FP8,
            note="per-tensor FP32 scale amax/max, RNE (TE current scaling)",
        ),
        Recipe("mxfp4", "MXFP4 (OCP)", _all(_MX), note="OCP MX v1.0: 1x32, UE8M0 floor rule, RNE"),
        Recipe(
            "fp4_naive", "FP4 naive (NVFP4 format, RNE, no RHT, 1D)", _all(_NV),
            note="NVFP4 format without the recipe: every layer, RNE, 1x16 weights",
        ),
        Recipe(
            "nvfp4", "NVFP4 recipe", _NVFP4, keep_last=1, high=BF16_LAYER,
            note="arXiv 2509.25149 §4: RHT16 on Wgrad, 16x16 weights, SR on grads, last in BF16",
        ),
        Recipe(
            "nvfp4_no_sr", "NVFP4 − SR", _nvfp4_layer(_NV, sr=False), keep_last=1,
            high=BF16_LAYER, note="gradients rounded RNE",
        ),
        Recipe(
            "nvfp4_no_rht", "NVFP4 − RHT", _nvfp4_layer(_NV, rht=0), keep_last=1,
            high=BF16_LAYER, note="no Hadamard on the Wgrad inputs",
        ),
        Recipe(
            "nvfp4_no_2d", "NVFP4 − 2D weights", _nvfp4_layer(_NV, tile2d=False), keep_last=1,
            high=BF16_LAYER, note="1x16 weight blocks: Fprop and Dgrad see different W",
        ),
        Recipe(
            "nvfp4_no_hp_last", "NVFP4 − BF16 last layer", _NVFP4, keep_last=0,
            note="every linear layer in NVFP4",
        ),
        Recipe(
            "mxfp4_recipe", "MXFP4 + NVFP4 recipe", _nvfp4_layer(_MX), keep_last=1,
            high=BF16_LAYER, note="NVFP4's techniques, MX format (1x32, UE8M0): format contrast",
        ),
    ]
}


def recipe_names() -> list[str]:
    """Preset ids, in catalogue order."""
    return list(RECIPES)


def get_recipe(recipe: Recipe | str) -> Recipe:
    """A preset by name (or the recipe itself).

    Raises:
        ValueError: unknown preset name.
    """
    if isinstance(recipe, Recipe):
        return recipe
    key = str(recipe).strip().lower()
    if key not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: use one of {', '.join(RECIPES)}")
    return RECIPES[key]


def apply_recipe(linears: list[QLinear], recipe: Recipe | str, ctx: object) -> None:
    """Set each layer's quantization (model order) and the shared :class:`QuantContext`."""
    r = get_recipe(recipe)
    for layer, lq in zip(linears, r.layer_quants(len(linears)), strict=True):
        layer.quant = lq
        layer.ctx = ctx  # type: ignore[assignment]
