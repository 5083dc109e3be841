"""Analytic overhead of a recipe: the extra work per GEMM, counted from the shapes.

Each GEMM ``C (M x N) = A (M x K) @ B (N x K)^T`` costs ``2 M N K`` flops. Quantizing an operand
of ``R x K`` elements in blocks of ``b`` along K costs, per the recipe's role (all counts are
operations, one per element or per block, the way the FP4 design-space paper (papers_spec (c))
sets overhead beside the loss):

* ``amax``: ``R K`` (|x| and max per element); tensor scaling adds a second pass of ``R K``;
* ``scale``: about 4 per block (multiply, round to the scale format, reciprocal, clamp);
* ``convert``: 2 per element (multiply by the encode scale, round);
* ``random bits``: ``R K`` draws of the mode's bits (32 for exact SR) for stochastic rounding;
* ``rht``: ``2 d R K`` flops for a d x d Hadamard on every chunk of d along K (dense; a fast
  Walsh-Hadamard transform would need ``R K log2 d`` additions);
* ``dequant``: the GEMM applies one scale per block pair to each partial dot product:
  ``M N ceil(K / b)`` multiplies (twice with a second operand's scale), plus ``M N`` for tensor
  scales.

2-D weight tiles quantize W once for Fprop and Dgrad; 1-D weights quantize it twice (once along
each dimension). FP32 operands cost nothing; BF16 operands cost one cast per element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from .qlinear import LayerQuant, QLinear, TensorQuant
from .recipes import Recipe, get_recipe, recipe_names
from .tasks import build_task

__all__ = ["OVERHEAD_COLUMNS", "GemmShape", "gemm_overhead", "layer_shapes", "overhead_table"]

#: Columns of :func:`overhead_table`.
OVERHEAD_COLUMNS = [
    "recipe", "task", "gemm_flops", "amax_ops", "scale_ops", "convert_ops", "random_bits",
    "rht_flops", "dequant_ops", "extra_ops", "overhead",
]


@dataclass(frozen=True)
class GemmShape:
    """A linear layer's shape in one step: ``tokens`` rows through ``d_in -> d_out``."""

    tokens: int  #: batch rows (samples x sequence)
    d_in: int
    d_out: int


def _operand(rows: int, k: int, q: TensorQuant, rht: int) -> dict[str, float]:
    n = rows * k
    if q.elem == "float32":
        return {}
    if q.elem in ("bfloat16", "float16"):
        return {"convert_ops": float(n)}
    blocks = rows * (1 if q.block == 0 else math.ceil(k / q.block))
    if q.tile2d:
        blocks = math.ceil(rows / q.block) * math.ceil(k / q.block)
    out: dict[str, float] = {
        "amax_ops": n * (2 if q.tensor_scale else 1),
        "scale_ops": 4 * blocks,
        "convert_ops": 2 * n,
        "random_bits": n * ((32 if q.rbits is None else q.rbits) if q.stochastic else 0),
        "rht_flops": 2 * rht * n if rht else 0,
    }
    return out


def _dequant(m: int, n: int, k: int, qa: TensorQuant, qb: TensorQuant) -> float:
    ops = 0.0
    for q in (qa, qb):
        if q.elem in ("float32", "bfloat16", "float16"):
            continue
        ops += m * n * (1 if q.block == 0 else math.ceil(k / q.block))
        ops += m * n if q.tensor_scale else 0
    return ops


def gemm_overhead(shape: GemmShape, lq: LayerQuant) -> list[dict[str, float | str]]:
    """Per-GEMM counts (Fprop, Dgrad, Wgrad) of one layer under ``lq``."""
    t, i, o = shape.tokens, shape.d_in, shape.d_out
    w_2d_shared = lq.w.tile2d and not lq.rht_fprop and not lq.rht_dgrad
    gemms = [
        # name, M, N, K, (rows, qa), (rows, qb), rht, count B?
        ("fprop", t, o, i, lq.x, lq.w, lq.rht_fprop, True),
        ("dgrad", t, i, o, lq.dy, lq.w, lq.rht_dgrad, not w_2d_shared),
        ("wgrad", o, i, t, lq.dy_wgrad, lq.x_wgrad, lq.rht_wgrad, True),
    ]
    rows: list[dict[str, float | str]] = []
    for name, m, n, k, qa, qb, rht, count_b in gemms:
        acc: dict[str, float | str] = {"gemm": name, "gemm_flops": 2.0 * m * n * k}
        parts = [_operand(m, k, qa, rht)] + ([_operand(n, k, qb, rht)] if count_b else [])
        for key in ("amax_ops", "scale_ops", "convert_ops", "random_bits", "rht_flops"):
            acc[key] = float(sum(p.get(key, 0) for p in parts))
        acc["dequant_ops"] = _dequant(m, n, k, qa, qb)
        rows.append(acc)
    return rows


def layer_shapes(task: str) -> list[GemmShape]:
    """Shapes of the task's linear layers for one training step (default batch size)."""
    setup = build_task(task, seed=0)
    shapes: list[GemmShape] = []

    def hook(mod: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        assert isinstance(mod, QLinear)
        shapes.append(GemmShape(args[0].numel() // mod.in_features, mod.in_features,
                                mod.out_features))

    handles = [lin.register_forward_pre_hook(hook) for lin in setup.linears]
    with torch.no_grad():
        setup.model(setup.sample(torch.Generator().manual_seed(0), setup.spec.batch_size)[0])
    for h in handles:
        h.remove()
    return shapes


def overhead_table(
    task: str, recipes: list[Recipe | str] | None = None
) -> pd.DataFrame:
    """One row per recipe: extra operations per training step of ``task`` and their ratio.

    ``extra_ops`` sums amax, scale, convert, dequant operations and RHT flops (random bits are
    reported separately, in bits); ``overhead = extra_ops / gemm_flops``.

    Raises:
        ValueError: unknown task or recipe.
    """
    shapes = layer_shapes(task)
    out = []
    for r in (recipes if recipes is not None else recipe_names()):
        rec = get_recipe(r)
        tot: dict[str, float] = dict.fromkeys(OVERHEAD_COLUMNS[2:-2], 0.0)
        for shape, lq in zip(shapes, rec.layer_quants(len(shapes)), strict=True):
            for g in gemm_overhead(shape, lq):
                for key in tot:
                    tot[key] += float(g[key])
        extra = sum(tot[k] for k in ("amax_ops", "scale_ops", "convert_ops", "rht_flops",
                                     "dequant_ops"))
        out.append({"recipe": rec.name, "task": task, **tot, "extra_ops": extra,
                    "overhead": extra / tot["gemm_flops"]})
    return pd.DataFrame(out, columns=OVERHEAD_COLUMNS)
