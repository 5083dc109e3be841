"""Gradient variance experiment (paper (a)): spec check 17, 1/B laws, bias, exact oracles.

Oracles are closed forms for the linear teacher-student model, where everything is computable
from the data set: with sampling with replacement the mini-batch gradient's covariance is exactly
Cov_i/B, and SR's variance on each element is round_distribution's exact δ(1−δ)Δ². Tolerances are
k standard errors of a variance estimated from R repeats, SE ≈ sqrt(2/(R−1)) relative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lowbit_core.datasets import DIGITS_SHA256, load_digits
from lowbit_core.experiments import grad_variance as gv
from lowbit_core.formats import get_format
from lowbit_core.rounding import RoundMode, quantize, round_distribution


def rel_se(r: int) -> float:
    """Relative standard error of a sample variance from r Gaussian-like draws."""
    return math.sqrt(2.0 / (r - 1))


# --- data set -------------------------------------------------------------------------------------


def test_load_digits_shapes_and_classes() -> None:
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.all(x * 16 == np.round(x * 16))  # pixel counts 0..16, divided by 16
    # class counts of the UCI test set as documented in scikit-learn's digits.rst / data/README.md
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    x[0, 0] = 5.0  # fresh arrays: mutating one must not change the next call
    assert load_digits()[0][0, 0] == 0.0


def test_load_digits_rejects_a_wrong_file(tmp_path: Path) -> None:
    bad = tmp_path / "digits.csv.gz"
    bad.write_bytes(b"not the digits")
    with pytest.raises(ValueError, match=DIGITS_SHA256[:8]):
        load_digits(bad)


# --- spec check 17, part 1: per-sample SR noise in the batch mean = Δ²/(6B) ----------------------


def test_check17_sr_noise_variance_matches_model() -> None:
    n = 40_000  # ≥ 4000 batches (spec); 5% is then ~7 standard errors
    assert 0.05 > 6 * rel_se(n)
    v1 = gv.sr_noise_variance(1 / 8, 32, n, seed=1)
    v2 = gv.sr_noise_variance(1 / 16, 8, n, seed=2)
    model = (1 / 8) ** 2 / (6 * 32)
    assert model == pytest.approx((1 / 16) ** 2 / (6 * 8))  # the two settings trade 1 bit for 4×B
    assert v1 == pytest.approx(model, rel=0.05)
    assert v2 == pytest.approx(model, rel=0.05)
    assert v1 == pytest.approx(v2, rel=0.05)


# --- closed forms for the linear model ------------------------------------------------------------


def _linear_moments() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    prob = gv.problem("linear")
    x, y, w = prob.x, prob.y, prob.ws[0][0]
    r = x @ w - y  # residual per sample
    sigma = x.T @ x / len(x)  # E[x xᵀ]
    kurt = (x * (x**2).sum(1, keepdims=True)).T @ x / len(x)  # E[‖x‖² x xᵀ]
    return x, r, sigma, kurt


def test_fp32_sampling_variance_is_exact_over_b_and_slope_is_minus_one() -> None:
    p = gv.GradVarianceParams(modes=("fp32",), batch_sizes=tuple(2**k for k in range(3, 10)),
                              repeats=400, seed=3)
    df = gv.gradient_variance(p)
    x, r, _, _ = _linear_moments()
    per_sample = r[:, None] * x  # (N, 16) per-sample gradients
    exact = per_sample.var(0).sum()  # tr Cov_i (population, sampling with replacement)
    b = df["batch"].to_numpy(float)
    v = df["sampling_var"].to_numpy()
    np.testing.assert_allclose(v * b, exact, rtol=5 * rel_se(p.repeats))
    slope = np.polyfit(np.log(b), np.log(v), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert (df["quant_var"] == 0).all() and (df["total_var"] == df["sampling_var"]).all()


def test_check17_weight_floor_vs_per_sample_term() -> None:
    """W rounded once per step (shared) → a constant; G rounded per sample → falls as 1/B."""
    r_rep = 1500
    common = gv.GradVarianceParams(model="linear", fmt="e5m2", modes=("sr",), scaling=False,
                                   batch_sizes=(16, 256, 1024), repeats=r_rep, floor_draws=2000,
                                   seed=5)
    dw = gv.gradient_variance(replace(common, targets=("w",)))
    dg = gv.gradient_variance(replace(common, targets=("g",)))
    x, r, sigma, kurt = _linear_moments()
    w = gv.problem("linear").ws[0][0]
    v_w = round_distribution(w, "e5m2", "sr").var  # exact per-element SR variance of W
    v_g = round_distribution(r, "e5m2", "sr").var  # ... of each sample's residual
    tol = 5 * rel_se(r_rep)
    cases: tuple[tuple[Any, Callable[[int], float]], ...] = (
        (dw, lambda b: float(v_w @ np.diag(sigma @ sigma + (kurt - sigma @ sigma) / b))),
        (dg, lambda b: float((v_g * (x**2).sum(1)).mean() / b)),
    )
    for df, oracle in cases:
        sr: Any = df[df["mode"] == "sr"].set_index("batch")
        for b in (16, 256, 1024):
            assert sr.loc[b, "quant_var"] == pytest.approx(oracle(b), rel=tol)
    qw: Any = dw[dw["mode"] == "sr"].set_index("batch")["quant_var"]
    qg: Any = dg[dg["mode"] == "sr"].set_index("batch")["quant_var"]
    assert qw[256] == pytest.approx(qw[1024], rel=0.10)  # check 17: a floor, not 1/B
    assert qw[1024] > 0
    assert qg[256] / qg[1024] == pytest.approx(4.0, rel=2 * tol)  # keeps falling as 1/B
    # the reported floor (full-data gradient, B → ∞) is the same constant
    assert float(dw["floor_var"].iloc[-1]) == pytest.approx(
        float(v_w @ np.diag(sigma @ sigma)), rel=5 * rel_se(2000)
    )


def test_sr_mean_gradient_is_unbiased() -> None:
    """Linear model, SR on W, A and G with scaling: the gradient is linear in each rounded
    factor and the roundings are independent, so E ĝ = g. The debiased bias2 has mean 0 and
    standard deviation ≤ √2·var/R."""
    p = gv.GradVarianceParams(fmt="e5m1", modes=("sr",), batch_sizes=(1, 8, 64, 512),
                              repeats=400, seed=7)
    df = gv.gradient_variance(p)
    sr: Any = df[df["mode"] == "sr"]
    assert (np.abs(sr["bias2"]) < 5 * math.sqrt(2) * sr["bias2_noise"]).all()
    assert (sr["quant_var"] > 0).all()


def test_rne_bias_does_not_fall_with_batch() -> None:
    """RNE on W: the bias Σ(Q(W) − W) is the same for every B (oracle: the full-data floor)."""
    p = gv.GradVarianceParams(fmt="e5m1", modes=("rne",), targets=("w",),
                              batch_sizes=(8, 64, 512), repeats=400, seed=11)
    df = gv.gradient_variance(p)
    rne: Any = df[df["mode"] == "rne"].set_index("batch")
    _, _, sigma, _ = _linear_moments()
    w = gv.problem("linear").ws[0][0]
    s = 2.0 ** np.floor(np.log2(get_format("e5m1").max / np.abs(w).max()))
    eps = quantize(w * s, "e5m1", "rne") / s - w
    exact = float(((sigma @ eps) ** 2).sum())
    assert rne["floor_bias2"].iloc[0] == pytest.approx(exact, rel=1e-9)
    for b in (8, 64, 512):
        noise_sd = math.sqrt(2) * rne.loc[b, "bias2_noise"] + 2 * math.sqrt(
            exact * rne.loc[b, "bias2_noise"]
        )
        assert abs(rne.loc[b, "bias2"] - exact) < 5 * noise_sd
    assert exact > 20 * rne.loc[512, "bias2_noise"]  # well resolved at the largest batch
    # with every tensor rounded to nearest the bias still does not fall with B
    q = gv.GradVarianceParams(fmt="e5m1", modes=("rne",), batch_sizes=(8, 512), repeats=400)
    allq = gv.gradient_variance(q)
    a: Any = allq[allq["mode"] == "rne"].set_index("batch")
    assert a.loc[512, "bias2"] > 0.5 * a.loc[8, "bias2"] > 10 * a.loc[512, "bias2_noise"]


def test_model_line_matches_measurement_for_per_sample_sr() -> None:
    """The Δ²/(6B) model (uniform fraction) vs the measured rounding term, SR on A and G."""
    p = gv.GradVarianceParams(fmt="e5m1", modes=("sr",), targets=("a", "g"), scaling=False,
                              batch_sizes=(4, 64), repeats=800, seed=13)
    sr = gv.gradient_variance(p).query("mode == 'sr'")
    # the model neglects δ's non-uniformity and the product of the two roundings: within 25%
    np.testing.assert_allclose(sr["quant_var"], sr["model_quant_var"], rtol=0.25)


def test_determinism_and_seed() -> None:
    p = gv.GradVarianceParams(batch_sizes=(1, 4, 16), repeats=8, seed=1)
    a, b = gv.gradient_variance(p), gv.gradient_variance(p)
    assert a.equals(b)
    c = gv.gradient_variance(gv.GradVarianceParams(batch_sizes=(1, 4, 16), repeats=8, seed=2))
    assert not np.allclose(a["total_var"], c["total_var"])


def test_result_columns_and_all_models() -> None:
    cols = {"model", "fmt", "mode", "batch", "repeats", "total_var", "sampling_var", "quant_var",
            "cross", "bias2", "bias2_noise", "bias2_se", "bias2_se0", "mse", "model_var",
            "model_quant_var", "floor_var", "floor_bias2", "grad_norm2"}
    for model in gv.Model:
        p = gv.GradVarianceParams(model=model.value, batch_sizes=(1, 8), repeats=4)
        df = gv.gradient_variance(p)
        assert set(df.columns) == cols
        assert len(df) == 2 * 4  # fp32 + three modes
        assert np.isfinite(df["total_var"]).all() and (df["total_var"] > 0).all()


def test_exchange_rate_needs_more_batch_for_fewer_bits() -> None:
    p = gv.GradVarianceParams(modes=("sr",), targets=("a", "g"),
                              batch_sizes=tuple(2**k for k in range(0, 9)), repeats=64, seed=17)
    xr = gv.exchange_rate(p, mbits=(0, 2, 6), ref_batch=4)
    assert xr["fmt"].tolist() == ["e5m0ieee", "e5m2ieee", "e5m6ieee"]
    need = xr.set_index("mbits")["batch_needed"]
    assert need[6] == pytest.approx(4, rel=0.5)  # 6 bits ≈ full precision
    assert need[0] > need[2] > 4 * 0.9  # fewer bits, more batch
    model = xr.set_index("mbits")["model_batch"]
    assert model[0] > model[2] > model[6] >= 4


@pytest.mark.parametrize(
    ("kw", "word"),
    [({"model": "cnn"}, "cnn"), ({"targets": ("x",)}, "'x'"), ({"modes": ("zz",)}, "zz"),
     ({"batch_sizes": (0,)}, "batch_sizes"), ({"fmt": "e9q"}, "e9q"), ({"repeats": 1}, "repeats"),
     ({"fmt": "ue5m3"}, "unsigned")],
)
def test_bad_params_raise_naming_the_value(kw: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        gv.GradVarianceParams(**kw)


def test_sgd_round_to_nearest_stagnates_and_sr_does_not() -> None:
    p = gv.SGDParams(model="linear", fmt="e5m2", modes=("rne", "sr"), steps=200, batch=16,
                     lr=0.05, seeds=3, seed=0, eval_every=20)
    df = gv.sgd_curves(p)
    final = df[df["step"] == 200].groupby("mode")["loss"].mean()
    start = df[df["step"] == 0].groupby("mode")["loss"].mean()
    assert set(df.columns) == {"mode", "seed", "step", "samples", "loss"}
    assert (df["samples"] == df["step"] * 16).all()
    assert start["rne"] == start["sr"] == start["fp32"]  # same start (zero weights)
    assert final["fp32"] < 0.05 * start["fp32"]  # full precision converges
    assert final["rne"] > 3 * final["sr"]  # RN stalls: updates under half a spacing are lost
    assert final["sr"] < 0.1 * start["sr"]


def test_serial_small_array_path_is_bit_identical_to_quantize() -> None:
    """The experiment's serial kernel for small tensors must equal lowbit_core.quantize."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 16, 17)) * np.exp(3 * rng.standard_normal((3, 16, 17))))
    x = x.astype(np.float32)
    x.flat[:4] = [0.0, -0.0, 1e30, -1e-30]  # zeros and saturation
    for fmt in ("e5m2", "e5m0", "e2m1", "e4m3"):
        for mode in ("rne", "sr", "srff", "src", "srf"):
            spec = gv._Spec(get_format(fmt), RoundMode(mode), 4, False)
            got = gv._quantize_small(x, spec, 12345)
            if got is None:
                pytest.skip("numba not available")
            kw: dict[str, Any] = {} if mode == "rne" else {"seed": 12345}
            if mode not in ("rne", "sr"):
                kw["rbits"] = 4
            want = quantize(x, fmt, mode, backend="numpy", **kw)
            assert got.dtype == want.dtype == np.float32
            np.testing.assert_array_equal(
                got.view(np.uint32), want.view(np.uint32), err_msg=fmt + mode
            )


def test_one_bit_fewer_quadruples_the_sr_term_on_an_integer_grid() -> None:
    """Fixed spacing per tensor (int(k+2) with power-of-two scaling): Δ doubles per bit fewer,
    so the per-sample SR variance Δ²/(6B) quadruples, at every batch size."""
    r = 800
    p = gv.GradVarianceParams(modes=("sr",), targets=("a", "g"), batch_sizes=(1, 8, 64),
                              repeats=r, seed=23)
    df = gv.bits_sweep(p, (4, 5), family="int")
    assert set(df.loc[df["mode"] == "sr", "fmt"]) == {"int6", "int7"}
    q = df[df["mode"] == "sr"].pivot(index="batch", columns="mbits", values="quant_var")
    m = df[df["mode"] == "sr"].pivot(index="batch", columns="mbits", values="model_quant_var")
    # The model's ratio is 4 up to the scale choice: int(k+2)'s max is 2^(k+1) - 1, not a power
    # of two, so for a few repeats the amax-in-top-binade scale differs by 4x instead of 2x.
    np.testing.assert_allclose(m[4] / m[5], 4.0, rtol=0.10)
    # two variance estimates from r repeats each: 3 SE of their ratio, with the one-variable SE
    # sqrt(2/(r-1)) (conservative: each is a sum over 17 weights and the samples are shared)
    np.testing.assert_allclose(q[4] / q[5], m[4] / m[5], rtol=3 * math.sqrt(2) * rel_se(r))
    with pytest.raises(ValueError, match="family"):
        gv.bits_format(3, family="fixed")
