"""What every format, block recipe and rounding mode does to one real tensor (no Streamlit).

    from lowbit_core.experiments.tensor_report import load_tensors, tensor_report
    x = load_tensors(open("w.safetensors", "rb").read(), "w.safetensors")["layer.weight"]
    df = tensor_report(x, ["mxfp4", "nvfp4", "int4_channel"], modes=("rne", "sr"))

The tensor is viewed as a (rows, cols) matrix whose rows run along the blocking axis
(:func:`~lowbit_core.experiments.tensor_io.view2d`). A recipe (:class:`Recipe`) is

* ``cast``: every element rounded to a catalogue format, no scale (saturating);
* ``block``: :func:`lowbit_core.quantize_blocks` (MX, NVFP4, any custom block configuration);
  when the block does not divide the row, the row is padded with zeros to whole blocks and the
  padding dropped again (it changes no amax; its scales are counted in the bits);
* ``int``: symmetric INT8/INT4 with an FP32 scale ``amax / qmax`` per tensor, per row of the
  view (per channel) or per block of 32, the elements rounded by :func:`lowbit_core.quantize`.

Metrics (one row per recipe and mode; ``e = q - x``, sums over all elements):
``mse = mean(e^2)``, ``sqnr_db = 10 log10(sum x^2 / sum e^2)``, ``max_abs_err``,
``max_rel_err = max |e| / |x|`` (x != 0), ``sum_err = sum e`` (the error of the tensor's sum)
and ``sum_rel_err = sum e / sum |x|``, ``mean_err`` (bias), ``matvec_rel_err =
rms(e @ v) / rms(x @ v)`` for a seeded Gaussian probe ``v``, ``flushed_pct`` (non-zero values
that became 0), ``saturated_pct`` (values whose nearest grid value at their scale lies beyond
the largest finite one), ``subnormal_pct``, ``in_range_pct`` (neither flushed nor saturated),
``scale_underflow_pct`` / ``scale_overflow_pct`` (blocks whose raw scale falls below the scale
format's smallest value or above its largest), ``bits_per_element`` (element bits plus the
scale bits spread over the elements, plus 32 bits of FP32 tensor scale: MXFP4 4.25, NVFP4
4.5 + 32/n).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..blocks import PRESETS, BlockSpec, ScaleRule, _raw_scale, quantize_blocks
from ..formats import FORMATS, FloatFormat, Format, get_format
from ..hadamard import rht
from ..rounding import FEW_BIT_MODES, STOCHASTIC_MODES, RoundMode, check_mode, quantize
from ._tensor_kernels import error_stats
from .tensor_io import View2D, check_tensor, load_tensors, read_tensors, view2d

__all__ = [
    "BLOCK_SIZES",
    "COLUMNS",
    "DEFAULT_RECIPES",
    "RECIPES",
    "SWEEP_SCALES",
    "Recipe",
    "bias_report",
    "bits_per_element",
    "block_sweep",
    "custom_recipe",
    "get_recipe",
    "kurtosis",
    "load_tensors",
    "quantize_recipe",
    "rank",
    "read_tensors",
    "reading",
    "report_and_zones",
    "rht_report",
    "tensor_report",
    "value_histogram",
]

BLOCK_SIZES = (8, 16, 32, 64, 128, 256)
INT_BLOCK = 32
COLUMNS = (
    "recipe", "label", "kind", "mode", "bits_per_element", "mse", "sqnr_db", "max_abs_err",
    "max_rel_err", "sum_err", "sum_rel_err", "mean_err", "matvec_rel_err", "flushed_pct",
    "saturated_pct", "subnormal_pct", "in_range_pct", "scale_underflow_pct",
    "scale_overflow_pct", "n",
)


@dataclass(frozen=True)
class Recipe:
    """One way of storing a tensor in few bits."""

    name: str  #: id (URL value)
    label: str  #: UI label
    kind: str  #: "cast", "block" or "int"
    fmt: str  #: element format id
    spec: BlockSpec | None = None  #: block recipes
    group: str = ""  #: int recipes: "tensor", "channel" or "block"

    @property
    def block(self) -> int:
        """Elements per scale along the row (0: one scale per row or tensor, or none)."""
        if self.spec is not None:
            return self.spec.block
        return INT_BLOCK if self.group == "block" else 0


def _mx_label(name: str) -> str:
    return {"mxfp8_e4m3": "MXFP8 E4M3", "mxfp8_e5m2": "MXFP8 E5M2", "mxfp6_e3m2": "MXFP6 E3M2",
            "mxfp6_e2m3": "MXFP6 E2M3", "mxfp4": "MXFP4", "nvfp4": "NVFP4"}[name]


def _build() -> dict[str, Recipe]:
    out = {n: Recipe(n, f.describe(), "cast", n) for n, f in FORMATS.items()}
    out |= {n: Recipe(n, _mx_label(n), "block", s.elem, s) for n, s in PRESETS.items()}
    for w in (8, 4):
        for g, lab in (("tensor", "per-tensor"), ("channel", "per-channel"),
                       ("block", f"per-block {INT_BLOCK}")):
            n = f"int{w}_{g}" + (str(INT_BLOCK) if g == "block" else "")
            out[n] = Recipe(n, f"INT{w} {lab}", "int", f"int{w}_sym", group=g)
    return out


#: Every named recipe: the catalogue casts, the MX/NVFP4 presets and the INT8/INT4 variants.
RECIPES: dict[str, Recipe] = _build()
DEFAULT_RECIPES = (
    "bfloat16", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "mxfp8_e4m3", "mxfp6_e2m3",
    "mxfp4", "nvfp4", "int8_channel", "int4_tensor", "int4_channel", "int4_block32",
)
#: Scale formats of the block-size sweep: (scale format, rule, FP32 tensor scale)
SWEEP_SCALES: dict[str, tuple[str, ScaleRule, bool]] = {
    "UE8M0 (floor)": ("float8_e8m0fnu", ScaleRule.FLOOR, False),
    "E4M3 + tensor scale": ("float8_e4m3fn", ScaleRule.AMAX, True),
    "E4M3": ("float8_e4m3fn", ScaleRule.AMAX, False),
    "UE5M3": ("ue5m3", ScaleRule.AMAX, False),
    "BF16": ("bfloat16", ScaleRule.AMAX, False),
}


def custom_recipe(elem: str, block: int, scale_fmt: str, rule: str,
                  tensor_scale: bool, name: str = "custom") -> Recipe:
    """A block recipe from its parts (:class:`lowbit_core.blocks.BlockSpec` fields).

    Raises:
        ValueError: an invalid BlockSpec field.
    """
    spec = BlockSpec(elem=elem, block=block, scale_fmt=scale_fmt, scale_rule=ScaleRule(rule),
                     tensor_scale=tensor_scale)
    ef, sf = get_format(elem), get_format(scale_fmt)
    ts = " + FP32 tensor scale" if tensor_scale else ""
    short = [f.describe().split(" (")[0] for f in (ef, sf)]
    label = f"{short[0]}, 1×{block}, {short[1]} ({rule}){ts}"
    return Recipe(name, label, "block", elem, spec)


def get_recipe(r: Recipe | str) -> Recipe:
    """A recipe by id. Raises ValueError naming an unknown id."""
    if isinstance(r, Recipe):
        return r
    if r not in RECIPES:
        raise ValueError(f"unknown recipe {r!r}: use one of {', '.join(RECIPES)} or a Recipe")
    return RECIPES[r]


class Quantized(NamedTuple):
    values: np.ndarray  #: (rows, cols) dequantized copy
    eff: np.ndarray  #: (1 or rows, nblocks) effective scale per block, float64
    block: int  #: elements per block along cols
    under: int  #: blocks whose raw scale underflows the scale format
    over: int  #: blocks whose raw scale overflows it
    nblocks: int  #: scales stored


def _rand(mode: RoundMode, rbits: int, seed: int) -> dict[str, Any]:
    if mode not in STOCHASTIC_MODES:
        return {}
    return {"seed": seed, **({"rbits": rbits} if mode in FEW_BIT_MODES else {})}


def _pad(x: np.ndarray, block: int) -> np.ndarray:
    cols = x.shape[1]
    nb = -(-cols // block)
    return x if nb * block == cols else np.pad(x, ((0, 0), (0, nb * block - cols)))


def _amax(xb: np.ndarray, cache: dict[int, np.ndarray] | None) -> np.ndarray:
    """Block amax of a (rows, nblocks, b) view, shared by the recipes of one report."""
    b = xb.shape[2]
    if cache is None:
        return np.asarray(np.abs(xb).max(axis=2))
    if b not in cache:
        cache[b] = np.abs(xb).max(axis=2)
    return cache[b]


def quantize_recipe(x: np.ndarray, recipe: Recipe | str, mode: RoundMode | str = "rne",
                    rbits: int = 8, seed: int = 0,
                    amax_cache: dict[int, np.ndarray] | None = None) -> Quantized:
    """Quantize-dequantize a (rows, cols) float array with one recipe and rounding mode.

    ``amax_cache`` (block size -> block amax of this ``x``) lets the recipes of one report
    share the amax pass.

    Raises:
        ValueError: unknown recipe or mode, bad rbits or seed.
    """
    r, m = get_recipe(recipe), check_mode(mode)
    rows, cols = x.shape
    kw = _rand(m, rbits, seed)
    if r.kind == "cast":
        return Quantized(quantize(x, r.fmt, m, saturate=True, **kw), np.ones((1, 1)), cols,
                         0, 0, 0)
    if r.kind == "int":
        f = get_format(r.fmt)
        b = INT_BLOCK if r.group == "block" else cols
        xp = _pad(x, b) if r.group == "block" else x
        xb = xp.reshape(rows, -1, b)  # (rows, nblocks, b)
        amax = _amax(xb, amax_cache)
        if r.group == "tensor":
            amax = np.full((1, 1), amax.max(), dtype=x.dtype)
        s = (amax / x.dtype.type(f.max)).astype(x.dtype)
        s[s == 0] = 1
        sb = s[:, :, None] if s.shape[0] > 1 or r.group != "tensor" else s.reshape(1, 1, 1)
        y = quantize(xb / sb, f, m, saturate=True, **kw)
        v = (y * sb).reshape(rows, -1)[:, :cols]
        return Quantized(np.ascontiguousarray(v), s.astype(np.float64), b, 0, 0, s.size)
    assert r.spec is not None
    spec, b = r.spec, r.spec.block
    xp = _pad(x, b)
    res = quantize_blocks(xp, spec, axis=-1, mode=m, **kw)
    nb = xp.shape[1] // b
    ts = res.tensor_scale or 1.0
    eff = res.scales.astype(np.float64).reshape(rows, nb) / ts
    under, over = _scale_range(_amax(xp.reshape(rows, nb, b), amax_cache), spec, ts)
    return Quantized(np.ascontiguousarray(res.values[:, :cols]), eff, b, under, over, rows * nb)


def _scale_range(amax: np.ndarray, spec: BlockSpec, s_enc: float) -> tuple[int, int]:
    """Blocks (amax > 0) whose raw scale is below the scale format's smallest positive value or
    above its largest (as :mod:`lowbit_core.blocks` computes it before rounding)."""
    wd = amax.dtype.type
    sf, ef = spec.scale_format, spec.elem_format
    if spec.scale_rule is ScaleRule.AMAX:
        raw = _raw_scale(amax, spec, float(wd(s_enc) * (wd(1) / wd(ef.max))))
    else:
        with np.errstate(over="ignore"):
            raw = _raw_scale(np.minimum(amax * wd(s_enc), np.finfo(amax.dtype).max), spec, 1.0)
    live = amax > 0
    return (int(np.count_nonzero(live & (raw < sf.min_subnormal))),
            int(np.count_nonzero(live & (raw > sf.max))))


def _thresholds(f: Format) -> tuple[float, float, float, float]:
    """(t_pos, t_neg, flush_t, normal_t) in units of the scale (see _tensor_kernels)."""
    if isinstance(f, FloatFormat):
        half = math.ldexp(1.0, f.emax - f.mbits - 1)
        flush_t = f.min_subnormal / 2 if f.has_zero else 0.0
        normal_t = f.min_normal if f.subnormals else flush_t
        if not f.subnormals and f.has_zero:
            flush_t = normal_t = f.min_normal / 2
    else:
        half, flush_t, normal_t = 0.5, 0.5, 0.5
    t_neg = f.max_neg + half if f.signed else math.inf
    return f.max + half, t_neg, flush_t, normal_t


def bits_per_element(recipe: Recipe | str, shape: tuple[int, int]) -> float:
    """Stored bits per element including scales: ``(n b_elem + n_scales b_scale + 32 ts) / n``.

    ``shape`` is the (rows, cols) view; a block that does not divide cols still costs a whole
    scale per row.
    """
    r = get_recipe(recipe)
    rows, cols = shape
    n = rows * cols
    eb = get_format(r.fmt).bits
    if r.kind == "cast":
        return float(eb)
    if r.kind == "int":
        ns = {"tensor": 1, "channel": rows, "block": rows * -(-cols // INT_BLOCK)}[r.group]
        return (n * eb + 32 * ns) / n
    assert r.spec is not None
    ns = rows * -(-cols // r.spec.block)
    return (n * eb + ns * r.spec.scale_format.bits + 32 * int(r.spec.tensor_scale)) / n


def _probe(cols: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(cols)


def _as_view(x: np.ndarray | View2D, axis: int) -> View2D:
    return x if isinstance(x, View2D) else view2d(check_tensor(x), axis)


def _metrics(v: View2D, r: Recipe, mode: RoundMode, rbits: int, seed: int,
             probe: np.ndarray, y_rms: float, zones: list[dict[str, Any]] | None = None,
             amax_cache: dict[int, np.ndarray] | None = None) -> dict[str, Any]:
    x = v.x
    qz = quantize_recipe(x, r, mode, rbits, seed, amax_cache)
    if zones is not None:
        zones.append(_zone_row(r, qz))
    st = error_stats(x, qz.values, qz.eff, qz.block, _thresholds(get_format(r.fmt)), probe)
    n = x.size
    with np.errstate(divide="ignore"):
        sqnr = 10 * math.log10(st["sum_x2"] / st["sum_e2"]) if st["sum_e2"] > 0 else math.inf
    fl, sat = 100 * st["n_flushed"] / n, 100 * st["n_saturated"] / n
    mv = float(np.sqrt(np.mean(st["row_err"] ** 2))) / y_rms if y_rms > 0 else math.nan
    return {
        "recipe": r.name, "label": r.label, "kind": r.kind, "mode": mode.value,
        "bits_per_element": bits_per_element(r, x.shape), "mse": st["sum_e2"] / n,
        "sqnr_db": sqnr, "max_abs_err": st["max_abs"], "max_rel_err": st["max_rel"],
        "sum_err": st["sum_e"], "sum_rel_err": st["sum_e"] / max(st["sum_abs_x"], 1e-300),
        "mean_err": st["sum_e"] / n, "matvec_rel_err": mv, "flushed_pct": fl,
        "saturated_pct": sat, "subnormal_pct": 100 * st["n_sub_zone"] / n,
        "in_range_pct": max(0.0, 100.0 - fl - sat),
        "scale_underflow_pct": 100 * qz.under / qz.nblocks if qz.nblocks else math.nan,
        "scale_overflow_pct": 100 * qz.over / qz.nblocks if qz.nblocks else math.nan,
        "n": n,
    }


def tensor_report(x: np.ndarray | View2D, recipes: Iterable[Recipe | str] = DEFAULT_RECIPES,
                  modes: Sequence[RoundMode | str] = ("rne",), *, axis: int = -1,
                  rbits: int = 8, seed: int = 0) -> pd.DataFrame:
    """One row per recipe and rounding mode with every metric (module docstring).

    Args:
        x: the tensor (any shape, bf16/fp16/fp32/fp64 as numpy) or a prepared :class:`View2D`.
        recipes: recipe ids or :class:`Recipe` objects.
        modes: element rounding modes (scales are always rounded to nearest).
        axis: the axis blocks and channels run along (ignored for a View2D).
        rbits: random bits of the few-bit SR modes (``sr`` is exact and takes none).
        seed: stream of the counter RNG for stochastic modes, and of the probe vector.

    Returns:
        DataFrame with the columns :data:`COLUMNS`.

    Raises:
        ValueError: a tensor :func:`check_tensor` refuses, an unknown recipe or mode, a bad
            axis, rbits or seed.
    """
    return report_and_zones(x, recipes, modes, axis=axis, rbits=rbits, seed=seed)[0]


def report_and_zones(x: np.ndarray | View2D, recipes: Iterable[Recipe | str] = DEFAULT_RECIPES,
                     modes: Sequence[RoundMode | str] = ("rne",), *, axis: int = -1,
                     rbits: int = 8, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`tensor_report` and, from the same quantized copies (first mode), the zones of
    each recipe on the log2|x| axis (:func:`_zone_row`): ``(report, zones)``.

    Raises:
        ValueError: as :func:`tensor_report`.
    """
    v = _as_view(x, axis)
    rs = [get_recipe(r) for r in recipes]
    ms = [check_mode(m) for m in modes]
    if not ms:
        raise ValueError("modes is empty: give at least one rounding mode")
    probe = _probe(v.x.shape[1], seed)
    y = v.x.astype(np.float64) @ probe
    y_rms = float(np.sqrt(np.mean(y * y)))
    zones: list[dict[str, Any]] = []
    cache: dict[int, np.ndarray] = {}
    rows = [_metrics(v, r, m, rbits, seed, probe, y_rms, zones if i == 0 else None, cache)
            for r in rs for i, m in enumerate(ms)]
    return pd.DataFrame(rows, columns=list(COLUMNS)), pd.DataFrame(zones)


def _zone_row(r: Recipe, qz: Quantized) -> dict[str, Any]:
    """Zone edges (log2 of |x|) at the recipe's median scale, and where the scales put each
    block's largest value (quantiles of log2(max * scale) over the blocks)."""
    f = get_format(r.fmt)
    t_pos, _, flush_t, normal_t = _thresholds(f)
    eff = qz.eff[qz.eff > 0]
    s = float(np.median(eff)) if eff.size else 1.0

    def lg(t: float) -> float:
        return math.log2(t * s) if t > 0 else -math.inf

    tops = np.log2(f.max * eff) if eff.size else np.array([math.log2(f.max)])
    q = np.quantile(tops, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    return {
        "recipe": r.name, "label": r.label, "kind": r.kind, "scales": int(qz.nblocks),
        "flush_edge": lg(flush_t), "normal_edge": lg(normal_t), "top": math.log2(f.max * s),
        "saturate_edge": lg(t_pos), **{f"top_q{k}": float(v) for k, v in zip(
            (0, 5, 25, 50, 75, 95, 100), q, strict=True)},
    }


def rank(report: pd.DataFrame, max_bits: float) -> pd.DataFrame:
    """Rows with ``bits_per_element <= max_bits``, best SQNR first (ties: fewer bits first)."""
    d = report[report["bits_per_element"] <= max_bits + 1e-12]
    d = d.sort_values(["sqnr_db", "bits_per_element"], ascending=[False, True])
    return d.reset_index(drop=True).assign(rank=lambda t: np.arange(1, len(t) + 1))


def reading(report: pd.DataFrame, max_bits: float) -> str:
    """The report in one or two sentences (best recipe within the bit budget, worst losses)."""
    rne = report[report["mode"] == report["mode"].iloc[0]]
    best = rank(rne, max_bits)
    parts = []
    if len(best):
        b = best.iloc[0]
        parts.append(f"Best SQNR at ≤ {max_bits:g} bits per element: {b['label']} "
                     f"({b['sqnr_db']:.1f} dB at {b['bits_per_element']:.2f} bits); it keeps "
                     f"{b['in_range_pct']:.1f}% of values in range.")
    else:
        parts.append(f"No chosen recipe fits in {max_bits:g} bits per element.")
    fl = rne.sort_values("flushed_pct", ascending=False).iloc[0]
    if fl["flushed_pct"] >= 1:
        parts.append(f"{fl['label']} flushes {fl['flushed_pct']:.1f}% to zero.")
    sat = rne.sort_values("saturated_pct", ascending=False).iloc[0]
    if sat["saturated_pct"] >= 0.1:
        parts.append(f"{sat['label']} saturates {sat['saturated_pct']:.2f}%.")
    return " ".join(parts)


def block_sweep(x: np.ndarray | View2D, elem: str = "float4_e2m1fn",
                blocks: Sequence[int] = BLOCK_SIZES,
                scales: Sequence[str] = tuple(SWEEP_SCALES), *, axis: int = -1) -> pd.DataFrame:
    """SQNR against bits per element for each scale format and block size (RNE).

    Returns:
        DataFrame: scale, block, bits_per_element, sqnr_db, mse, flushed_pct, saturated_pct,
        scale_underflow_pct.

    Raises:
        ValueError: an unknown scale name, element format or block size.
    """
    v = _as_view(x, axis)
    rows = []
    for sc in scales:
        if sc not in SWEEP_SCALES:
            raise ValueError(f"unknown sweep scale {sc!r}: use one of {', '.join(SWEEP_SCALES)}")
        fmt, rule, ts = SWEEP_SCALES[sc]
        for b in blocks:
            r = custom_recipe(elem, int(b), fmt, rule.value, ts, name=f"{sc} {b}")
            rep = tensor_report(v, [r])
            rows.append({"scale": sc, "block": int(b), **{
                k: rep[k].iloc[0] for k in ("bits_per_element", "sqnr_db", "mse", "flushed_pct",
                                            "saturated_pct", "scale_underflow_pct")}})
    return pd.DataFrame(rows)


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis ``E[(x - mean)^4] / var^2`` (3 for a Gaussian)."""
    d = x.astype(np.float64).reshape(-1)
    d = d - d.mean()
    var = float(np.mean(d * d))
    return float(np.mean(d**4) / var**2) if var > 0 else math.nan


def _shape_stats(x: np.ndarray) -> dict[str, float]:
    a = x.astype(np.float64)
    rms = float(np.sqrt(np.mean(a * a)))
    return {"kurtosis": kurtosis(a), "max_over_rms": float(np.abs(a).max()) / rms if rms else
            math.nan}


def rht_report(x: np.ndarray | View2D, recipes: Iterable[Recipe | str], size: int = 16,
               seed: int = 0, *, axis: int = -1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The random Hadamard transform (blocks of ``size`` along the rows) on and off.

    The rotated tensor is quantized (RNE) and rotated back; the error is measured against the
    original tensor.

    Returns:
        ``(shape, gain)``: ``shape`` has rows "before"/"after" with kurtosis and max/RMS;
        ``gain`` one row per recipe: sqnr_off_db, sqnr_on_db, gain_db.

    Raises:
        ValueError: ``size`` not a power of two in 2..256 or not dividing the row length.
    """
    v = _as_view(x, axis)
    cols = v.x.shape[1]
    if cols % size:
        raise ValueError(f"the RHT needs rows whose length is a multiple of {size}; this view's "
                         f"rows have {cols} elements (choose another axis or size)")
    rot = rht(v.x, size, axis=-1, seed=seed)
    shape = pd.DataFrame([{"when": "before", **_shape_stats(v.x)},
                          {"when": "after RHT", **_shape_stats(rot)}])
    x2 = float(np.sum(v.x.astype(np.float64) ** 2))
    rows = []
    for r in (get_recipe(r) for r in recipes):
        off = quantize_recipe(v.x, r).values
        on = rht(quantize_recipe(rot, r).values, size, axis=-1, seed=seed, inverse=True)
        s = [10 * math.log10(x2 / e2) if e2 > 0 else math.inf for e2 in (
            float(np.sum((q.astype(np.float64) - v.x) ** 2)) for q in (off, on))]
        rows.append({"recipe": r.name, "label": r.label, "sqnr_off_db": s[0],
                     "sqnr_on_db": s[1], "gain_db": s[1] - s[0]})
    return shape, pd.DataFrame(rows)


def bias_report(x: np.ndarray | View2D, recipe: Recipe | str,
                modes: Sequence[RoundMode | str] = ("rne", "sr"), draws: int = 16, *,
                rbits: int = 8, seed: int = 0, axis: int = -1) -> pd.DataFrame:
    """Bias of the tensor's sum and of ``x @ v`` (a Gaussian probe), averaged over draws.

    For draw ``k`` (seed ``seed + k``) let ``E_k = sum(q_k - x)`` and ``e_k = (q_k - x) @ v``.
    After ``K`` draws: ``sum_bias = |mean_k E_k| / sum |x|`` and ``matvec_bias =
    rms(mean_k e_k) / rms(x @ v)``. A deterministic mode gives the same ``q`` every draw, so its
    bias stays; an unbiased SR mode's falls like ``1 / sqrt(K)``.

    Returns:
        DataFrame: mode, draws, sum_bias, matvec_bias.
    """
    v = _as_view(x, axis)
    r = get_recipe(recipe)
    if not 1 <= int(draws) <= 1024:
        raise ValueError(f"draws={draws!r} out of range 1..1024")
    probe = _probe(v.x.shape[1], seed)
    y = v.x.astype(np.float64) @ probe
    y_rms = float(np.sqrt(np.mean(y * y))) or 1.0
    sabs = float(np.abs(v.x).astype(np.float64).sum()) or 1.0
    th = _thresholds(get_format(r.fmt))
    rows = []
    for m in (check_mode(m) for m in modes):
        tot_e, tot_row, n_avg = 0.0, np.zeros(v.x.shape[0]), 1
        st: dict[str, Any] = {}
        for k in range(int(draws)):
            if k == 0 or m in STOCHASTIC_MODES:
                qz = quantize_recipe(v.x, r, m, rbits, seed + k)
                st = error_stats(v.x, qz.values, qz.eff, qz.block, th, probe)
            if m in STOCHASTIC_MODES or k == 0:  # a deterministic mode's mean is its one draw
                tot_e += st["sum_e"]
                tot_row += st["row_err"]
                n_avg = k + 1
            rows.append({"mode": m.value, "draws": k + 1,
                         "sum_bias": abs(tot_e / n_avg) / sabs,
                         "matvec_bias": float(np.sqrt(np.mean((tot_row / n_avg) ** 2))) / y_rms})
    return pd.DataFrame(rows)


def value_histogram(x: np.ndarray | View2D, bins_per_binade: int = 4,
                    max_points: int = 2_000_000, *, axis: int = -1) -> pd.DataFrame:
    """Histogram of log2|x| over the non-zero elements (a seeded sample of ``max_points`` when
    larger): columns lo, hi, count; ``attrs["zeros"]`` counts exact zeros."""
    v = _as_view(x, axis)
    a = np.abs(v.x.reshape(-1))
    if a.size > max_points:
        a = a[np.random.default_rng(0).choice(a.size, max_points, replace=False)]
    nz = a[a > 0]
    lg = np.log2(nz.astype(np.float64))
    lo = math.floor(float(lg.min()) if lg.size else -1.0)
    hi = math.ceil(float(lg.max()) if lg.size else 1.0) + 1
    edges = np.arange(lo, hi + 1e-9, 1 / bins_per_binade)
    cnt, _ = np.histogram(lg, bins=edges)
    out = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": cnt})
    out.attrs["zeros"] = int(a.size - nz.size)
    out.attrs["sampled"] = bool(np.abs(v.x).size > max_points)
    return out
