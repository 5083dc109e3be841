"""Tests of lowbit_core.training: the quantized linear layer, recipes, tasks, run loop, overheads.

Oracles: lowbit_core.torch.quantize (element rounding, bit for bit), lowbit_core.blocks'
numpy reference (block scaling, bit for bit), the chain rule written out by hand (STE), exact
FP32 GEMMs (Hadamard invariance, SR expectation with k-sigma bounds from the number of seeds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lowbit_core.torch as lt
from lowbit_core import rng
from lowbit_core.blocks import BlockSpec, ScaleRule, quantize_blocks_reference
from lowbit_core.rounding import RoundMode, round_distribution
from lowbit_core.training import library
from lowbit_core.training.overhead import GemmShape, gemm_overhead, layer_shapes, overhead_table
from lowbit_core.training.qlinear import (
    TE_SIGNS_16,
    LayerQuant,
    QLinear,
    QuantContext,
    TensorQuant,
    fake_quant,
    hadamard_matrix,
    quantize_elements,
)
from lowbit_core.training.recipes import RECIPES, Recipe, get_recipe
from lowbit_core.training.tasks import TASKS, build_task
from lowbit_core.training.train import CURVE_COLUMNS, TrainParams, run

NV = TensorQuant(
    elem="float4_e2m1fn", block=16, scale_fmt="float8_e4m3fn", scale_rule=ScaleRule.AMAX,
    tensor_scale=True,
)
MX = TensorQuant(elem="float4_e2m1fn", block=32, scale_fmt="float8_e8m0fnu",
                 scale_rule=ScaleRule.FLOOR)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _wide(n: int, seed: int = 0) -> torch.Tensor:
    """Gaussian values spread over 2^-12 .. 2^12, plus the special values."""
    g = _gen(seed)
    x = torch.randn(n, generator=g) * torch.exp2(torch.randint(-12, 12, (n,), generator=g).float())
    specials = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-40, -1e-45, 0.25, 0.75, 1.25, 1.75,
                2.5, 3.5, 5.0, 6.0, 7.0, 448.0, 464.0, 1e30]
    return torch.cat([x, torch.tensor(specials)])


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-for-bit equality including NaN positions and signs of zero."""
    nan = torch.isnan(b)
    return bool(
        torch.equal(torch.isnan(a), nan)
        and torch.equal(a[~nan], b[~nan])
        and torch.equal(torch.signbit(a[~nan]), torch.signbit(b[~nan]))
    )


# --- element rounding == lowbit_core.torch.quantize ----------------------------------------------

FAST_FORMATS = ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn", "float8_e4m3fn",
                "float8_e5m2", "ue4m3", "ue5m3"]


@pytest.mark.parametrize("fmt", [*FAST_FORMATS, "float8_e8m0fnu", "int4"])
def test_quantize_elements_rne_matches_backend(fmt: str) -> None:
    x = _wide(4096)
    if fmt.startswith("u") or "e8m0" in fmt:
        x = x.abs()
    assert _same(quantize_elements(x, fmt), lt.quantize(x, fmt, "rne", saturate=True))


@pytest.mark.parametrize("fmt", FAST_FORMATS)
@pytest.mark.parametrize(("mode", "nb"), [("sr", 32), ("srff", 3), ("src", 4), ("srf", 2)])
def test_quantize_elements_sr_matches_backend(fmt: str, mode: str, nb: int) -> None:
    x = _wide(4096, seed=1)
    if fmt.startswith("u"):
        x = x.abs()
    r = torch.randint(0, 2**nb, x.shape, generator=_gen(2))
    got = quantize_elements(x, fmt, RoundMode(mode), r, nb)
    pub = "srff" if mode == "sr" else mode  # training's sr: U = r / 2^32 (sr refuses rbits)
    assert _same(got, lt.quantize(x, fmt, pub, rbits=nb, srbits=r))


# --- block scaling == lowbit_core.blocks reference ------------------------------------------------

BLOCK_CASES = [
    (BlockSpec("float4_e2m1fn", 16, "float8_e4m3fn", ScaleRule.AMAX, True), NV),
    (BlockSpec("float4_e2m1fn", 16, "float8_e4m3fn", ScaleRule.AMAX, True, True),
     replace(NV, tile2d=True)),
    (BlockSpec(), MX),
    (BlockSpec(scale_rule=ScaleRule.CEIL), replace(MX, scale_rule=ScaleRule.CEIL)),
    (BlockSpec("float4_e2m1fn", 16, "ue5m3", ScaleRule.AMAX),
     replace(NV, scale_fmt="ue5m3", tensor_scale=False)),
    (BlockSpec("float4_e2m1fn", 16, "float8_e8m0fnu", ScaleRule.AMAX),
     replace(NV, scale_fmt="float8_e8m0fnu", tensor_scale=False)),
    (BlockSpec("float8_e4m3fn", 32), replace(MX, elem="float8_e4m3fn")),
    # UE8M0 max * elem max overflows float32: the tensor scale keeps amax * s_enc finite
    (BlockSpec(tensor_scale=True), replace(MX, tensor_scale=True)),
    (BlockSpec(scale_rule=ScaleRule.CEIL, tensor_scale=True),
     replace(MX, scale_rule=ScaleRule.CEIL, tensor_scale=True)),
]


@pytest.mark.parametrize("which", ["torch", "numba"])
def test_ue8m0_tensor_scale_gives_ordinary_values(which: str) -> None:
    """Was 2e-39 for -3.0 (s_enc = FLT_MAX): now within MXFP4's relative step of x, on both
    training backends, and equal to the block reference."""
    from lowbit_core.training import qlinear as ql

    x = torch.linspace(-3, 3, 64).reshape(2, 32)
    tq = replace(MX, tensor_scale=True)
    prev = ql.set_backend(which)
    try:
        got = fake_quant(x, tq)
    finally:
        ql.set_backend(prev)
    ref = quantize_blocks_reference(x.numpy(), BlockSpec(tensor_scale=True)).values
    np.testing.assert_array_equal(got.numpy(), ref)
    # E2M1 steps are at most 1/3 of the value above 1 ulp; FLOOR saturation costs <= 25 %
    err = (got - x).abs()
    assert bool((err <= 0.25 * x.abs() + 0.25).all()), err.max()


def _operand(seed: int = 3, rows: int = 64, cols: int = 128) -> torch.Tensor:
    g = _gen(seed)
    spread = torch.exp2(torch.randint(-8, 8, (rows, 1), generator=g).float())
    return torch.randn(rows, cols, generator=g) * spread  # (rows, cols), rows of varied scale


@pytest.mark.parametrize(("spec", "tq"), BLOCK_CASES, ids=lambda c: getattr(c, "describe", str)())
def test_fake_quant_rne_matches_blocks_reference(spec: BlockSpec, tq: TensorQuant) -> None:
    x = _operand()
    ref = quantize_blocks_reference(x.numpy(), spec).values
    np.testing.assert_array_equal(fake_quant(x, tq).numpy(), ref)


@pytest.mark.parametrize(("spec", "tq"), [c for c in BLOCK_CASES if not c[1].tile2d],
                         ids=lambda c: getattr(c, "describe", str)())
def test_fake_quant_sr_matches_blocks_reference(spec: BlockSpec, tq: TensorQuant) -> None:
    """Same random bits (the context's counter words 0.., C order) -> the same values as numpy."""
    x = _operand(4)
    got = fake_quant(x, replace(tq, mode=RoundMode.SR), QuantContext(seed=9)).numpy()
    r = rng.words(9, np.arange(x.numel())).reshape(x.shape)
    ref = quantize_blocks_reference(x.numpy(), spec, mode="srff", rbits=32, srbits=r).values
    np.testing.assert_array_equal(got, ref)


def test_fake_quant_pads_partial_blocks() -> None:
    """K = 40 with blocks of 16: the same as quantizing the zero-padded (.., 48) tensor."""
    x = _operand(5, rows=8, cols=40)
    padded = torch.nn.functional.pad(x, (0, 8))
    ref = quantize_blocks_reference(padded.numpy(), "nvfp4").values[:, :40]
    np.testing.assert_array_equal(fake_quant(x, NV).numpy(), ref)


def test_fake_quant_per_tensor_scale() -> None:
    """block=0 (the FP8 recipe): one FP32 scale S = amax * (1/max); values Q(x / S) * S."""
    x = _operand(6)
    tq = TensorQuant(elem="float8_e4m3fn", block=0, scale_fmt="float32")
    s = x.abs().max() * torch.tensor(1 / 448, dtype=torch.float32)
    want = lt.quantize(x * (1 / s), "float8_e4m3fn") * s
    assert torch.equal(fake_quant(x, tq), want)


def test_high_precision_roles() -> None:
    x = _operand(7)
    assert fake_quant(x, TensorQuant()) is x
    assert torch.equal(fake_quant(x, TensorQuant(elem="bfloat16")), x.bfloat16().float())


def test_stochastic_role_needs_context() -> None:
    with pytest.raises(ValueError, match="QuantContext"):
        fake_quant(_operand(), replace(NV, mode=RoundMode.SR))


# --- Hadamard ----------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 4, 16, 32, 128])
def test_hadamard_is_orthogonal(d: int) -> None:
    h = hadamard_matrix(d).double()
    assert torch.allclose(h @ h.T, torch.eye(d, dtype=torch.float64), atol=1e-6)


def test_hadamard_16_uses_te_signs() -> None:
    h = hadamard_matrix(16) * 4  # rows are +-1 Sylvester rows times the sign vector
    assert torch.equal(torch.sign(h[:, 0]), torch.tensor(TE_SIGNS_16, dtype=torch.float32))


@pytest.mark.parametrize("d", [4, 16, 64])
def test_hadamard_matches_the_numpy_module(d: int) -> None:
    from lowbit_core import hadamard

    want = (hadamard.hadamard_matrix(16, signs=hadamard.TE_SIGN_VECTOR) if d == 16
            else hadamard.hadamard_matrix(d, seed=0))
    np.testing.assert_array_equal(hadamard_matrix(d).numpy(), want)


def test_hadamard_rejects_bad_size() -> None:
    with pytest.raises(ValueError, match="12"):
        hadamard_matrix(12)


def test_rht_on_wgrad_leaves_the_fp32_gradient_unchanged() -> None:
    """Unquantized operands: (dy^T H)(x^T H)^T = dy^T x within FP32 rounding (N = 40, padded)."""
    x, w, gy = _operand(1, 40, 24), _operand(2, 16, 24), _operand(3, 40, 16)
    dx, dw = _layer_grads(LayerQuant(rht_wgrad=16), x, w, gy, seed=0)
    assert torch.allclose(dw, gy.T @ x, rtol=1e-4, atol=1e-4 * float((gy.T @ x).abs().max()))
    assert torch.equal(dx, gy @ w)


# --- the layer: STE chain rule, 2D tiles, SR unbiasedness ---------------------------------------


def _layer_grads(
    lq: LayerQuant, x: torch.Tensor, w: torch.Tensor, gy: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    lin = QLinear(x.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        lin.weight.copy_(w)
    lin.quant, lin.ctx = lq, QuantContext(seed=seed)
    xx = x.clone().requires_grad_(True)
    lin(xx).backward(gy)
    assert xx.grad is not None and lin.weight.grad is not None
    return xx.grad, lin.weight.grad


def test_fp32_layer_is_nn_linear() -> None:
    x = _operand(1, 32, 48)
    lin = QLinear(48, 16, generator=_gen(0))
    ref = torch.nn.functional.linear(x, lin.weight, lin.bias)
    assert torch.equal(lin(x), ref)


def test_layer_follows_the_ste_chain_rule() -> None:
    """NVFP4 layer, RNE gradients: each GEMM uses exactly the documented quantized operands."""
    x, w, gy = _operand(1, 32, 48), _operand(2, 16, 48) * 0.1, _operand(3, 32, 16)
    lq = LayerQuant(x=NV, w=replace(NV, tile2d=True), dy=NV, dy_wgrad=NV, x_wgrad=NV,
                    rht_wgrad=16)
    lin = QLinear(48, 16)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.zero_()  # type: ignore[union-attr]
    lin.quant, lin.ctx = lq, QuantContext()
    xx = x.clone().requires_grad_(True)
    y = lin(xx)
    y.backward(gy)
    wq = fake_quant(w, lq.w)
    assert torch.equal(y, fake_quant(x, NV) @ wq.T)
    assert torch.equal(xx.grad, fake_quant(gy, NV) @ wq)  # type: ignore[arg-type]
    h = hadamard_matrix(16)

    def rot(t: torch.Tensor) -> torch.Tensor:
        return (t.reshape(t.shape[0], -1, 16) @ h).reshape(t.shape[0], -1)

    want_dw = fake_quant(rot(gy.T), NV) @ fake_quant(rot(x.T), NV).T
    assert lin.weight.grad is not None and lin.bias is not None and lin.bias.grad is not None
    assert torch.equal(lin.weight.grad, want_dw)
    assert torch.equal(lin.bias.grad, gy.sum(0))


def test_2d_tiles_give_the_same_weight_forward_and_backward() -> None:
    """16x16 tiles: Q(W)^T == Q(W^T) bit for bit; 1x16 blocks differ (papers_spec check 13)."""
    w = _operand(8, 64, 96)
    t2 = replace(NV, tile2d=True)
    assert torch.equal(fake_quant(w, t2).T, fake_quant(w.T.contiguous(), t2))
    differ = (fake_quant(w, NV).T != fake_quant(w.T.contiguous(), NV)).sum()
    assert differ > 0


def test_2d_tiles_layer_dgrad_uses_the_fprop_weight() -> None:
    x, w, gy = _operand(1, 32, 48), _operand(2, 32, 48), _operand(3, 32, 32)
    for tile2d, same in [(True, True), (False, False)]:
        lq = LayerQuant(w=replace(NV, tile2d=tile2d))
        dx, _ = _layer_grads(lq, x, w, gy, seed=0)
        fprop_w = fake_quant(w, lq.w)
        assert torch.equal(dx, gy @ fprop_w) is same


def _sr_grads(gq: TensorQuant, n: int) -> tuple[torch.Tensor, ...]:
    x, w, gy = _args_for_rne()[:3]
    lq = LayerQuant(dy=gq, dy_wgrad=gq, rht_wgrad=16)
    runs = [_layer_grads(lq, x, w, gy, seed=s) for s in range(n)]
    dxs, dws = torch.stack([r[0] for r in runs]), torch.stack([r[1] for r in runs])
    return dxs, dws, gy @ w, gy.T @ x


@pytest.mark.slow
@pytest.mark.parametrize(
    "gq",
    [replace(MX, scale_rule=ScaleRule.CEIL, mode=RoundMode.SR),
     replace(NV, scale_fmt="float32", tensor_scale=False, mode=RoundMode.SR)],
    ids=["ue8m0-ceil", "fp32-scale"],
)
def test_sr_gradients_are_unbiased(gq: TensorQuant) -> None:
    """Mean of Dgrad and Wgrad over n seeds = the FP32 gradient within 5.5 sigma per element.

    Scales that never saturate (round-up powers of two, exact FP32 scales) make every SR
    element unbiased, so E[dx] = E[Q(dy)] W = dy W and E[dW] = E[Q(dy^T H)] (x^T H)^T = dy^T x.
    With 2 x 512 elements, P(any |z| > 5.5 | unbiased) ~ 1e-4 (the t-statistic over n = 100
    seeds is close to normal); RNE's error is > 5.5 sigma.
    """
    n = 100
    dxs, dws, rdx, rdw = _sr_grads(gq, n)
    for est, ref in [(dxs, rdx), (dws, rdw)]:
        z = (est.mean(0) - ref) / (est.std(0) / math.sqrt(n) + 1e-12)
        assert z.abs().max() < 5.5
    rne_dx, _ = _layer_grads(LayerQuant(dy=replace(gq, mode=RoundMode.RNE)), *_args_for_rne())
    z_rne = (rne_dx - rdx) / (dxs.std(0) / math.sqrt(n) + 1e-12)
    assert z_rne.abs().max() > 5.5  # the test can tell a biased rounding apart


def _args_for_rne() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    return _operand(1, 32, 16), _operand(2, 32, 16) * 0.2, _operand(3, 32, 32), 0


def test_nvfp4_sr_bias_is_confined_to_saturated_block_maxima() -> None:
    """NVFP4's amax/6 scale rounded RNE into E4M3 can fall below amax/6: the block's largest
    elements then exceed 6 after scaling and saturate, which biases SR there (TE does the same).
    Elsewhere SR is unbiased within 5.5 sigma; at saturated elements the mean is pulled in."""
    x = _operand(10, 32, 64)
    n = 300
    qc = QuantContext(seed=1)
    sr = replace(NV, mode=RoundMode.SR)
    est = torch.stack([fake_quant(x, sr, qc) for _ in range(n)])
    res = quantize_blocks_reference(x.numpy(), "nvfp4")
    eff = torch.from_numpy(np.repeat(res.effective_scales, 16, axis=-1))  # dequant scale per elem
    sat = x.abs() > 6 * eff * (1 + 1e-6)
    assert sat.any()
    # sigma of the mean from the exact two-point SR distribution (a sample sd is 0 for rare
    # round-ups), plus 1e-6 relative for the float32 rounding of the dequantization q * S / s_enc
    dist = round_distribution((x / eff).double().numpy(), "float4_e2m1fn", "sr")
    sd = torch.from_numpy(np.sqrt(dist.var / n)).float() * eff
    mean = est.mean(0)
    err = (mean - x).abs()[~sat]
    assert torch.all(err <= 5.5 * sd[~sat] + 1e-6 * x.abs()[~sat])
    assert torch.all(mean[sat].abs() < x[sat].abs())


# --- recipes --------------------------------------------------------------------------------------


def test_nvfp4_recipe_matches_the_paper() -> None:
    r = get_recipe("nvfp4")
    lq = r.layer
    assert (lq.rht_fprop, lq.rht_dgrad, lq.rht_wgrad) == (0, 0, 16)  # RHT on Wgrad inputs only
    assert lq.w.tile2d and not lq.x.tile2d and not lq.dy.tile2d  # 2D weights, 1D otherwise
    assert lq.dy.mode is RoundMode.SR and lq.dy_wgrad.mode is RoundMode.SR  # SR on gradients
    assert {lq.x.mode, lq.w.mode, lq.x_wgrad.mode} == {RoundMode.RNE}
    assert (lq.x.elem, lq.x.block, lq.x.scale_fmt, lq.x.tensor_scale) == (
        "float4_e2m1fn", 16, "float8_e4m3fn", True)
    assert r.keep_last >= 1 and r.high.x.elem == "bfloat16"
    mx = get_recipe("mxfp4").layer.x
    assert (mx.block, mx.scale_fmt, mx.scale_rule, mx.tensor_scale) == (
        32, "float8_e8m0fnu", ScaleRule.FLOOR, False)


@pytest.mark.parametrize(("name", "changed"), [
    ("nvfp4_no_sr", {"dy", "dy_wgrad"}), ("nvfp4_no_rht", {"rht_wgrad"}), ("nvfp4_no_2d", {"w"}),
])
def test_ablations_remove_one_technique(name: str, changed: set[str]) -> None:
    base, abl = get_recipe("nvfp4"), get_recipe(name)
    diff = {f for f in base.layer.__dataclass_fields__
            if getattr(base.layer, f) != getattr(abl.layer, f)}
    assert diff == changed
    assert abl.keep_last == base.keep_last
    assert get_recipe("nvfp4_no_hp_last").layer == base.layer
    assert get_recipe("nvfp4_no_hp_last").keep_last == 0


def test_layer_quants_keep_the_last_layers() -> None:
    r = get_recipe("nvfp4")
    assert r.layer_quants(3) == [r.layer, r.layer, r.high]
    assert get_recipe("fp4_naive").layer_quants(2) == [get_recipe("fp4_naive").layer] * 2


def _tq(**kw: Any) -> TensorQuant:
    return TensorQuant(**kw)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: TensorQuant(elem="float4_e2m1fn", block=-1), "block=-1"),
    (lambda: _tq(elem="float4_e2m1fn", mode="srff"), "rbits"),
    (lambda: _tq(elem="float4_e2m1fn", mode="nope"), "nope"),
    (lambda: TensorQuant(elem="e9m9"), "e9m9"),
    (lambda: _tq(elem="bfloat16", mode="sr"), "sr"),
    (lambda: TensorQuant(elem="float4_e2m1fn", block=0, tile2d=True), "tile2d"),
    (lambda: LayerQuant(rht_wgrad=12), "rht_wgrad=12"),
    (lambda: Recipe("x", "x", LayerQuant(), keep_last=-1), "keep_last=-1"),
    (lambda: get_recipe("fp3"), "fp3"),
    (lambda: TrainParams(task="mnist"), "mnist"),
    (lambda: TrainParams(steps=-5), "steps=-5"),
    (lambda: TrainParams(device="tpu"), "tpu"),
])
def test_bad_values_raise_value_error(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


# --- tasks and the run loop --------------------------------------------------------------------


@pytest.mark.parametrize(
    "task", [pytest.param(t, marks=pytest.mark.slow) if t == "charlm" else t for t in TASKS]
)
def test_tasks_build_and_train_a_few_steps(task: str) -> None:
    res = run(TrainParams(task=task, recipe="nvfp4", seed=0, steps=3, eval_every=1, device="cpu"))
    assert list(res.curve.columns) == CURVE_COLUMNS
    assert list(res.curve["step"]) == [0, 1, 2, 3]
    assert np.isfinite(res.curve["val_loss"]).all() and not res.diverged
    setup = build_task(task, seed=0)
    assert len(setup.linears) >= 3


def test_runs_are_deterministic_per_seed_on_cpu() -> None:
    p = TrainParams(task="digits", recipe="nvfp4", seed=3, steps=12, eval_every=4, device="cpu")
    a, b = run(p), run(p)
    cols = ["step", "train_loss", "val_loss", "val_metric"]
    assert a.curve[cols].equals(b.curve[cols])
    c = run(replace(p, seed=4))
    assert not a.curve[cols].equals(c.curve[cols])


@pytest.mark.slow
def test_short_regression_runs_show_the_expected_ordering() -> None:
    """Regression, 200 steps, seed 0 (the library's setting).

    Asserted: BF16 = FP32 within 0.5%; naive FP4 > 3% worse; MXFP4 worse than NVFP4 (mean
    over seeds); and, as a pinned seed-0 regression check only, NVFP4 without SR ending above
    NVFP4. That last one is one seed: over the curve library's three seeds the SR ablation is
    within seed noise on every task (``findings``, README "What reproduces"), so it is not a
    reproduction of the paper's finding. Not asserted (it does not reproduce on this task): the
    NVFP4 recipe closing the naive-FP4 gap.

    MXFP4 vs NVFP4 is compared on the mean over seeds 0..5 (paired: the same data, init and
    SR stream per seed): at seed 0 alone the two are 6e-5 apart since the SR bits come from the
    counter RNG (they were drawn from torch.randint before), well inside the paired
    seed-to-seed spread (~3e-3), so one seed cannot order them.
    """

    def loss_of(r: str, seed: int = 0) -> float:
        p = TrainParams(task="regression", recipe=r, seed=seed, steps=200, device="cpu")
        return run(p).final_val_loss

    loss = {r: loss_of(r) for r in ["fp32", "bf16", "fp4_naive", "nvfp4", "nvfp4_no_sr"]}
    assert abs(loss["bf16"] / loss["fp32"] - 1) < 0.005
    assert loss["fp4_naive"] > 1.03 * loss["fp32"]
    assert loss["nvfp4_no_sr"] > loss["nvfp4"]
    seeds = range(6)
    mx = [loss_of("mxfp4", s) for s in seeds]
    nv = [loss["nvfp4"]] + [loss_of("nvfp4", s) for s in seeds[1:]]
    assert np.mean(mx) > np.mean(nv)


def test_master_weights_stay_fp32() -> None:
    setup = build_task("digits", seed=0)
    assert all(p.dtype == torch.float32 for p in setup.model.parameters())


# --- overhead model ------------------------------------------------------------------------------


def test_overhead_counts_one_layer_by_hand() -> None:
    """tokens 64, 128 -> 32 under the NVFP4 layer: RHT 2*16 flops per Wgrad element."""
    s = GemmShape(64, 128, 32)
    lq = get_recipe("nvfp4").layer
    g = {r["gemm"]: r for r in gemm_overhead(s, lq)}
    assert g["fprop"]["gemm_flops"] == 2 * 64 * 32 * 128
    assert g["wgrad"]["rht_flops"] == 2 * 16 * (32 * 64 + 128 * 64)
    assert g["fprop"]["rht_flops"] == 0 and g["dgrad"]["rht_flops"] == 0
    assert g["wgrad"]["random_bits"] == 32 * 32 * 64  # dy^T only, exact SR: 32 bits each
    # 2D tiles: Dgrad reuses the Fprop weight, 1D quantizes W again along the other dimension
    g1 = {r["gemm"]: r for r in gemm_overhead(s, get_recipe("nvfp4_no_2d").layer)}
    assert float(g1["dgrad"]["convert_ops"]) - float(g["dgrad"]["convert_ops"]) == 2 * 128 * 32


def test_overhead_table_orders_recipes() -> None:
    t = overhead_table("digits").set_index("recipe")
    assert t.loc["fp32", "extra_ops"] == 0
    rht, bits = t["rht_flops"].astype(float), t["random_bits"].astype(float)
    assert rht["nvfp4_no_rht"] == 0 < rht["nvfp4"]
    assert bits["nvfp4"] > 0 == bits["nvfp4_no_sr"]
    assert (t["overhead"] >= 0).all()
    assert [s.d_in for s in layer_shapes("digits")] == [64, 128, 128]


# --- curve library -------------------------------------------------------------------------------


def test_library_resumes_and_summarises(tmp_path: Path) -> None:
    path = tmp_path / "curves.parquet"
    t1 = library.regenerate(["digits"], ["fp32", "bf16"], [0], steps=4, path=path, device="cpu")
    assert set(t1["recipe"]) == {"fp32", "bf16"} and set(t1["steps"]) == {4}
    t2 = library.regenerate(["digits"], ["fp32", "bf16"], [0], steps=4, path=path, device="cpu")
    assert len(t2) == len(t1)  # nothing re-ran
    s = library.summary(t2)
    assert s.set_index("recipe").loc["fp32", "gap"] == 0
    assert set(library.load_curves(path).columns) >= set(CURVE_COLUMNS)


def test_load_curves_missing_file_is_empty(tmp_path: Path) -> None:
    t = library.load_curves(tmp_path / "none.parquet")
    assert t.empty and list(t.columns) == library.LIBRARY_COLUMNS


def test_recipe_catalogue_is_complete() -> None:
    assert {"fp32", "bf16", "fp8", "mxfp4", "fp4_naive", "nvfp4", "nvfp4_no_sr", "nvfp4_no_rht",
            "nvfp4_no_2d", "nvfp4_no_hp_last"} <= set(RECIPES)
