"""The fused numba fake_quant (lowbit_core/training/_fused.py) against the torch path.

Oracles: the torch-ops path of :func:`qlinear.fake_quant` (itself tested against the numpy
block-scaling reference in test_training.py), compared bit for bit through ``.view(int32)``
(signs of zero included); the counter RNG :func:`lowbit_core.rng.words` for the random bits;
the exact two-point SR distribution (:func:`lowbit_core.rounding.round_distribution`) with a
Bernstein bound for the unbiasedness check.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
import torch

from lowbit_core import rng
from lowbit_core.blocks import ScaleRule
from lowbit_core.rounding import RoundMode, round_distribution
from lowbit_core.training import _fused
from lowbit_core.training import qlinear as ql
from lowbit_core.training.qlinear import HIGH_PRECISION, QuantContext, TensorQuant, fake_quant
from lowbit_core.training.recipes import RECIPES
from lowbit_core.training.train import TrainParams, run

ROLES = ("x", "w", "dy", "dy_wgrad", "x_wgrad")
SHAPES = [(5, 37), (64, 128), (33, 16), (1, 1)]
KINDS = ["normal", "zeros", "tiny", "huge"]


@contextmanager
def backend(name: str) -> Iterator[None]:
    prev = ql.set_backend(name)
    try:
        yield
    finally:
        ql.set_backend(prev)


def _recipe_quants() -> list[TensorQuant]:
    seen: dict[TensorQuant, None] = {}
    for r in RECIPES.values():
        for lq in (r.layer, r.high):
            for role in ROLES:
                seen[getattr(lq, role)] = None
    return list(seen)


RECIPE_QUANTS = _recipe_quants()
LOW_BIT_QUANTS = [q for q in RECIPE_QUANTS if q.elem not in HIGH_PRECISION]


def _data(shape: tuple[int, int], kind: str, seed: int = 0) -> torch.Tensor:
    """Rows of different magnitudes, with exact zeros, a -0.0 and (for R > 2) a zero row."""
    g = torch.Generator().manual_seed(seed)
    r, k = shape
    x = torch.randn(r, k, generator=g) * torch.exp2(
        torch.randint(-10, 10, (r, 1), generator=g).float()
    )
    x[torch.rand(r, k, generator=g) < 0.1] = 0.0
    x.view(-1)[-1] = -0.0
    if r > 2:
        x[1] = 0.0
    if kind == "zeros":
        x.zero_()
    elif kind == "tiny":  # block maxima near and below float32's normal range
        x = x * 1e-36
    elif kind == "huge":  # saturating scales; one element per row at 1e30
        x = x * 1e20
        x[:, 0] = 1e30
    return x


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().view(torch.int32)


def _check(x: torch.Tensor, q: TensorQuant, seed: int = 7, offset: int = 0) -> torch.Tensor:
    """Fused == torch path bit for bit, and the contexts' offsets advance alike (by the
    padded element count for a stochastic role, not at all otherwise)."""
    c_fused = QuantContext(seed=seed, offset=offset)
    c_torch = QuantContext(seed=seed, offset=offset)
    got = _fused.fake_quant(x, q, c_fused)
    assert got is not None, f"the kernel does not cover {q.describe()} on finite input"
    with backend("torch"):
        want = fake_quant(x, q, c_torch)
    assert torch.equal(_bits(got), _bits(want)), q.describe()
    assert got.stride() == want.stride()  # same layout: GEMMs downstream sum alike
    assert c_fused.offset == c_torch.offset
    assert (c_fused.offset > offset) is q.stochastic
    return got


# --- bit identity: every preset role ------------------------------------------------------------


@pytest.mark.parametrize("q", LOW_BIT_QUANTS, ids=lambda q: q.describe())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_recipe_roles_fused_equals_torch(q: TensorQuant, shape: tuple[int, int], kind: str) -> None:
    x = _data(shape, kind)
    _check(x, q)
    _check(x.T.contiguous(), q)


def test_every_low_bit_recipe_role_is_covered() -> None:
    """The recipes' FP4/FP8 roles all take the fused path; FP32/BF16/FP16 roles never do."""
    assert LOW_BIT_QUANTS
    assert all(_fused.covers(q) for q in LOW_BIT_QUANTS)
    assert not any(_fused.covers(q) for q in RECIPE_QUANTS if q.elem in HIGH_PRECISION)


# --- bit identity: the configuration space ------------------------------------------------------

ELEMS = ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn", "float8_e4m3fn", "float8_e5m2"]
SCALES = ["float8_e4m3fn", "float8_e8m0fnu", "ue5m3", "float32", "bfloat16", "float16"]
LAYOUTS = [(16, False), (32, False), (16, True), (8, True), (0, False)]
MODES = [
    (RoundMode.RNE, None), (RoundMode.SR, None), (RoundMode.SRFF, 1), (RoundMode.SRFF, 3),
    (RoundMode.SRFF, 32), (RoundMode.SRC, 2), (RoundMode.SRC, 8), (RoundMode.SRC, 32),
]


@pytest.mark.parametrize("sf", SCALES)
@pytest.mark.parametrize("elem", ELEMS)
def test_config_grid_fused_equals_torch(elem: str, sf: str) -> None:
    """Every scale rule, layout, tensor scale on/off and covered mode on a padded (33, 40)
    operand (RNE and SR also on subnormal-range and saturating data), at random-word offsets
    away from 0."""
    data = {k: _data((33, 40), k, seed=3) for k in ("normal", "tiny", "huge")}
    offset = 12345
    for rule in ScaleRule:
        for block, tile in LAYOUTS:
            for ts in (False, True):
                for mode, nb in MODES:
                    q = TensorQuant(elem=elem, block=block, scale_fmt=sf, scale_rule=rule,
                                    tile2d=tile, tensor_scale=ts, mode=mode, rbits=nb)
                    for kind, x in data.items():
                        if kind == "normal" or mode in (RoundMode.RNE, RoundMode.SR):
                            _check(x, q, seed=11, offset=offset)
                    offset += 1000  # the next call reads other words


def test_fused_path_handles_non_contiguous_input() -> None:
    x = _data((48, 40), "normal", seed=4)
    q = replace(LOW_BIT_QUANTS[0], mode=RoundMode.SR)
    got = _check(x.T, q)
    assert torch.equal(_bits(got), _bits(_check(x.T.contiguous(), q)))


def test_bf16_cast_equals_torch_on_every_kind_of_float32() -> None:
    """The fused bfloat16 role == ``t.to(bfloat16).to(float32)``: random bit patterns (all
    finite float32 classes: subnormals, ties, values rounding to inf), -0.0 and +-inf; a NaN
    falls back to torch's cast."""
    g = torch.Generator().manual_seed(14)
    bits = torch.randint(-(2**31), 2**31, (257, 64), generator=g, dtype=torch.int64)
    x = bits.to(torch.int32).view(torch.float32).clone()
    x[torch.isnan(x)] = 1.0
    x[0, :8] = torch.tensor([0.0, -0.0, math.inf, -math.inf, 3.4e38, 0.0,
                             1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8])
    x[0, 5] = torch.tensor([0xFF7F8000 - 2**32], dtype=torch.int32).view(torch.float32)[0]  # tie
    q = TensorQuant(elem="bfloat16")
    want = x.to(torch.bfloat16).to(torch.float32)
    got = _fused.cast_bf16(x)
    assert got is not None and torch.equal(_bits(got), _bits(want))
    got_t = fake_quant(x.T, q)
    assert torch.equal(_bits(got_t), _bits(want.T))
    assert got_t.stride() == x.T.to(torch.bfloat16).to(torch.float32).stride() == (1, 64)
    assert torch.isinf(want[0, 4:6]).all()  # the overflow cases are in the data
    x[3, 3] = math.nan
    assert _fused.cast_bf16(x) is None
    with backend("torch"):
        want_nan = fake_quant(x, q)
    assert torch.equal(_bits(fake_quant(x, q)), _bits(want_nan))


# --- random bits and offsets --------------------------------------------------------------------


def test_random_bits_are_the_counter_words_in_padded_block_order() -> None:
    """SR, 1x16 blocks, K = 20 padded to 32: element (r, c) reads word offset + 32 r + c.

    Every block's amax is 6, so with an FP32 scale (AMAX rule) the block scale is
    f32(6 * f32(1/6)) = 1 exactly and the elements are rounded as they are: the expected values
    are the element rounding with the counter words as explicit bits."""
    x = torch.rand(3, 20, generator=torch.Generator().manual_seed(5)) * 6
    x[:, 0] = x[:, 16] = 6.0
    assert float(torch.tensor(6.0) * torch.tensor(1 / 6, dtype=torch.float32)) == 1.0
    q = TensorQuant(elem="float4_e2m1fn", block=16, scale_fmt="float32", mode=RoundMode.SR)
    off = 1000
    idx = off + 32 * np.arange(3)[:, None] + np.arange(20)[None, :]
    w = torch.from_numpy(rng.words(7, idx).astype(np.int64))
    want = ql.quantize_elements(x, "float4_e2m1fn", RoundMode.SR, w, 32)
    assert not torch.equal(want, ql.quantize_elements(x, "float4_e2m1fn"))  # SR moved some
    for name in ("torch", "auto"):
        c = QuantContext(seed=7, offset=off)
        with backend(name):
            got = fake_quant(x, q, c)
        assert torch.equal(_bits(got), _bits(want)), name
        assert c.offset == off + 3 * 32


def test_same_seed_and_offset_give_the_same_values() -> None:
    x = _data((64, 128), "normal", seed=6)
    q = RECIPES["nvfp4"].layer.dy
    a = fake_quant(x, q, QuantContext(seed=3, offset=77))
    b = fake_quant(x, q, QuantContext(seed=3, offset=77))
    c = fake_quant(x, q, QuantContext(seed=3, offset=78))
    d = fake_quant(x, q, QuantContext(seed=4, offset=77))
    assert torch.equal(_bits(a), _bits(b))
    assert not torch.equal(a, c) and not torch.equal(a, d)


def test_stream_continues_across_calls_and_backends() -> None:
    """Alternating backends on one context gives the same values as either backend alone."""
    xs = [_data(s, "normal", seed=i) for i, s in enumerate([(64, 128), (5, 37), (33, 16)])]
    qs = [RECIPES["nvfp4"].layer.dy, RECIPES["mxfp4_recipe"].layer.dy, RECIPES["nvfp4"].layer.x]
    outs = {}
    for name in ("torch", "numba", "mixed"):
        c = QuantContext(seed=21)
        vals = []
        for i, (x, q) in enumerate(zip(xs * 2, qs * 2, strict=True)):
            which = name if name != "mixed" else ("torch" if i % 2 else "numba")
            with backend(which):
                vals.append(fake_quant(x, q, c))
        outs[name] = (vals, c.offset)
    for name in ("numba", "mixed"):
        assert outs[name][1] == outs["torch"][1] > 0
        for a, b in zip(outs[name][0], outs["torch"][0], strict=True):
            assert torch.equal(_bits(a), _bits(b))


# --- fallbacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_inputs_fall_back_to_torch(bad: float) -> None:
    x = _data((8, 40), "normal", seed=8)
    x[2, 5] = bad
    for q in LOW_BIT_QUANTS:
        assert _fused.fake_quant(x, q, QuantContext()) is None
        c1, c2 = QuantContext(seed=1), QuantContext(seed=1)
        got = fake_quant(x, q, c1)
        with backend("torch"):
            want = fake_quant(x, q, c2)
        assert torch.equal(_bits(got), _bits(want)) and c1.offset == c2.offset


def test_uncovered_configs_use_the_torch_path() -> None:
    x = _data((8, 40), "normal", seed=9)
    for q in [
        TensorQuant(elem="int4", block=16, scale_fmt="float32"),
        TensorQuant(elem="float4_e2m1fn", block=16, mode=RoundMode.SRF, rbits=3),
        TensorQuant(elem="float4_e2m1fn", block=16, mode=RoundMode.SRO, rbits=3),
    ]:
        assert not _fused.covers(q)
        c1, c2 = QuantContext(seed=2), QuantContext(seed=2)
        got = fake_quant(x, q, c1)
        with backend("torch"):
            want = fake_quant(x, q, c2)
        assert torch.equal(_bits(got), _bits(want)) and c1.offset == c2.offset


def test_without_numba_the_torch_path_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ql, "_fused_module", lambda: None)
    x = _data((16, 32), "normal", seed=10)
    q = RECIPES["nvfp4"].layer.dy
    with backend("torch"):
        want = fake_quant(x, q, QuantContext(seed=5))
    assert torch.equal(_bits(fake_quant(x, q, QuantContext(seed=5))), _bits(want))
    with pytest.raises(ValueError, match="numba"):
        ql.set_backend("numba")


def test_set_backend_validates() -> None:
    with pytest.raises(ValueError, match="cuda"):
        ql.set_backend("cuda")
    assert ql.get_backend() == "auto"


def test_lowbit_core_does_not_import_numba() -> None:
    code = ("import sys, lowbit_core, lowbit_core.training; "
            "assert 'numba' not in sys.modules, 'numba imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_torch_path_matches_cpu() -> None:
    x = _data((64, 128), "normal", seed=11)
    for q in LOW_BIT_QUANTS:
        c1, c2 = QuantContext(seed=4), QuantContext(seed=4, device=torch.device("cuda"))
        cpu = fake_quant(x, q, c1)
        gpu = fake_quant(x.cuda(), q, c2).cpu()
        assert torch.equal(_bits(cpu), _bits(gpu)) and c1.offset == c2.offset


# --- training runs ------------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["nvfp4", "mxfp4", "fp8"])
def test_training_curves_are_identical_on_both_backends(recipe: str) -> None:
    """Same quantized values and the same operand layouts, hence the same GEMMs and curves.

    Layouts matter (BLAS may sum a transposed operand in another order): a BF16 cast that
    returned contiguous results for transposed inputs changed the default 500-step NVFP4 run
    (val loss 0.1132 -> 0.1097) though not these 40 steps; the stride checks in ``_check`` and
    the bf16 test guard that directly."""
    p = TrainParams(task="digits", recipe=recipe, seed=2, steps=40, eval_every=10, device="cpu")
    cols = ["step", "train_loss", "val_loss", "val_metric"]
    with backend("torch"):
        a = run(p)
    with backend("numba"):
        b = run(p)
    assert a.curve[cols].equals(b.curve[cols])


# --- SR is unbiased -----------------------------------------------------------------------------


def test_fused_sr_is_unbiased() -> None:
    """Mean of n SR quantizations (one context, successive offsets) = x within a Bernstein bound.

    MXFP4 with the CEIL rule: power-of-two scales rounded up, so no element saturates and SR is
    unbiased (32 random bits: bias < 2^-32 ulp). For element i the n roundings are i.i.d.
    two-point variables (independent counter words) with range ``b_i = S (hi - lo)`` and
    variance ``S^2 var_i`` from the exact distribution; Bernstein's inequality with
    ``L = ln(2 m / delta)`` (m elements, delta = 1e-6 overall) bounds |mean - x| by
    ``sqrt(2 sigma^2 L / n) + b L / (3 n)``. RNE's deterministic error must exceed the bound
    somewhere (the test can tell a biased rounding apart).
    """
    x = _data((16, 64), "normal", seed=12)
    q = TensorQuant(elem="float4_e2m1fn", block=32, scale_fmt="float8_e8m0fnu",
                    scale_rule=ScaleRule.CEIL, mode=RoundMode.SR)
    n = 400
    c = QuantContext(seed=13)
    with backend("numba"):
        est = torch.stack([fake_quant(x, q, c) for _ in range(n)]).double()
    assert c.offset == n * x.numel()
    # S per element: the RNE result's scale equals the SR one (same amax, same rule)
    xb = x.reshape(16, 2, 32)
    amax = xb.abs().amax(-1, keepdim=True).double()
    k = torch.ceil(torch.log2(amax / 6))  # CEIL rule: smallest 2^k with amax / 2^k <= 6
    k = torch.where(amax > 0, k, torch.full_like(k, -127))
    s = torch.exp2(k).expand(-1, -1, 32).reshape(16, 64)
    assert torch.all((x.double() / s).abs() <= 6)
    dist = round_distribution((x.double() / s).numpy(), "float4_e2m1fn", "sr")
    assert np.allclose(dist.mean, (x.double() / s).numpy(), rtol=0, atol=1e-12)
    sig2 = torch.from_numpy(dist.var) * s**2
    b = torch.from_numpy(dist.hi - dist.lo) * s
    m = x.numel()
    big_l = math.log(2 * m / 1e-6)
    tol = torch.sqrt(2 * sig2 * big_l / n) + b * big_l / (3 * n)
    err = (est.mean(0) - x.double()).abs()
    assert torch.all(err <= tol)
    with backend("numba"):
        rne = fake_quant(x, replace(q, mode=RoundMode.RNE)).double()
    assert torch.any((rne - x.double()).abs() > tol)
