"""The tensor report against independent computations: numpy on the quantized arrays from
lowbit_core, ml_dtypes casts, a hand-worked FP4 example, exact bits per element, the fused
kernel against its numpy reference (and across thread counts), and the shipped tensors."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import ml_dtypes
import numba
import numpy as np
import pytest

from lowbit_core import quantize, quantize_blocks
from lowbit_core.experiments import _tensor_kernels as K
from lowbit_core.experiments.tensor_capture import (
    SHIPPED_NAMES,
    SHIPPED_PATH,
    SHIPPED_SHA256,
    tensor_sha256,
)
from lowbit_core.experiments.tensor_io import view2d
from lowbit_core.experiments.tensor_page import load_shipped
from lowbit_core.experiments.tensor_report import (
    COLUMNS,
    DEFAULT_RECIPES,
    RECIPES,
    SWEEP_SCALES,
    bias_report,
    bits_per_element,
    block_sweep,
    custom_recipe,
    kurtosis,
    quantize_recipe,
    rank,
    reading,
    rht_report,
    tensor_report,
)


def _x(shape: tuple[int, ...] = (24, 96), seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp(rng.standard_normal(shape))  # heavy-ish tails
    x[rng.random(shape) < 0.05] = 0.0
    return x.astype(np.float32)


def _direct(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """The metrics straight from their definitions, in float64 numpy."""
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    e = q64 - x64
    nz = x64 != 0
    return {
        "mse": float(np.mean(e**2)),
        "sqnr_db": float(10 * np.log10(np.sum(x64**2) / np.sum(e**2))),
        "max_abs_err": float(np.max(np.abs(e))),
        "max_rel_err": float(np.max(np.abs(e[nz]) / np.abs(x64[nz]))),
        "sum_err": float(q64.sum() - x64.sum()),
        "mean_err": float(e.mean()),
        "flushed_pct": 100 * float(np.count_nonzero(nz & (q64 == 0))) / x.size,
    }


def _int_q(x: np.ndarray, width: int, group: str, mode: str, **kw: Any) -> Any:
    """Symmetric INT with an FP32 amax / qmax scale, written out by hand."""
    qmax = np.float32(2 ** (width - 1) - 1)
    if group == "tensor":
        s = np.float32(np.abs(x).max()) / qmax
        return quantize(x / s, f"int{width}_sym", mode, **kw) * s
    s = (np.abs(x).max(axis=1, keepdims=True) / qmax).astype(np.float32)
    return quantize(x / s, f"int{width}_sym", mode, **kw) * s


CASES = [
    ("float8_e4m3fn", "rne", lambda x: quantize(x, "float8_e4m3fn", "rne")),
    ("bfloat16", "sr", lambda x: quantize(x, "bfloat16", "sr", seed=5)),
    ("mxfp4", "rne", lambda x: quantize_blocks(x, "mxfp4").values),
    ("nvfp4", "src", lambda x: quantize_blocks(x, "nvfp4", mode="src", rbits=8, seed=5).values),
    ("mxfp6_e2m3", "sr", lambda x: quantize_blocks(x, "mxfp6_e2m3", mode="sr", seed=5).values),
    ("int4_tensor", "rne", lambda x: _int_q(x, 4, "tensor", "rne")),
    ("int8_channel", "srff", lambda x: _int_q(x, 8, "channel", "srff", rbits=8, seed=5)),
]


@pytest.mark.parametrize(("recipe", "mode", "oracle"), CASES, ids=[c[0] for c in CASES])
def test_metrics_equal_numpy_on_lowbit_core_arrays(recipe, mode, oracle) -> None:
    x = _x()
    row = tensor_report(x, [recipe], (mode,), rbits=8, seed=5).iloc[0]
    q = oracle(x)
    assert np.array_equal(quantize_recipe(x, recipe, mode, 8, 5).values, q)
    for k, v in _direct(x, q).items():
        assert row[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
    assert row["sum_rel_err"] == pytest.approx(row["sum_err"] / np.abs(x.astype(float)).sum())


def test_report_columns_and_rows() -> None:
    df = tensor_report(_x(), DEFAULT_RECIPES, ("rne", "sr", "src"))
    assert tuple(df.columns) == COLUMNS
    assert len(df) == 3 * len(DEFAULT_RECIPES)
    assert set(df["mode"]) == {"rne", "sr", "src"}
    assert df["in_range_pct"].between(0, 100).all()


@pytest.mark.parametrize(
    ("fmt", "dtype"),
    [("float8_e4m3fn", ml_dtypes.float8_e4m3fn), ("float8_e5m2", ml_dtypes.float8_e5m2),
     ("float4_e2m1fn", ml_dtypes.float4_e2m1fn), ("float6_e3m2fn", ml_dtypes.float6_e3m2fn),
     ("bfloat16", ml_dtypes.bfloat16), ("float16", np.float16)],
)
def test_cast_rows_match_ml_dtypes(fmt, dtype) -> None:
    x = _x((16, 64), seed=7)
    if fmt.startswith("float8_e4m3"):
        x = np.clip(x, -448, 448)  # ml_dtypes gives NaN past the top; the lab saturates
    q = x.astype(dtype).astype(np.float32)
    row = tensor_report(x, [fmt]).iloc[0]
    d = _direct(x, q)
    assert row["mse"] == pytest.approx(d["mse"], rel=1e-12)
    assert row["sqnr_db"] == pytest.approx(d["sqnr_db"], rel=1e-12)
    assert row["flushed_pct"] == pytest.approx(d["flushed_pct"])


def test_hand_worked_fp4_example() -> None:
    # FP4 E2M1 values: 0, 0.5, 1, 1.5, 2, 3, 4, 6. 4.5 is a tie -> 4 (even); 0.1 < 0.25 -> 0;
    # -8 is past 6 + 1 (half the top spacing) -> saturates to -6; 6.9 rounds to 6 unclamped.
    x = np.array([[1, 2, 3, 4.5, 0.1, -8, 6.9, 0]], dtype=np.float32)
    row = tensor_report(x, ["float4_e2m1fn"]).iloc[0]
    e = np.array([0, 0, 0, -0.5, -np.float32(0.1), 2, 6 - np.float32(6.9), 0], dtype=np.float64)
    assert row["mse"] == pytest.approx(np.mean(e**2), rel=1e-12)
    sx2 = float(np.sum(x.astype(np.float64) ** 2))
    assert row["sqnr_db"] == pytest.approx(10 * math.log10(sx2 / np.sum(e**2)), rel=1e-12)
    assert row["max_abs_err"] == 2.0 and row["max_rel_err"] == 1.0
    assert row["flushed_pct"] == pytest.approx(100 / 8)
    assert row["saturated_pct"] == pytest.approx(100 / 8)
    assert row["bits_per_element"] == 4.0
    assert row["sum_err"] == pytest.approx(e.sum(), rel=1e-6)


def test_bits_per_element_exact() -> None:
    shape = (4, 64)  # n = 256
    assert bits_per_element("mxfp4", shape) == 4.25
    assert bits_per_element("mxfp8_e4m3", shape) == 8.25
    assert bits_per_element("mxfp6_e3m2", shape) == 6.25
    assert bits_per_element("nvfp4", shape) == 4.5 + 32 / 256
    assert bits_per_element("float8_e4m3fn", shape) == 8
    assert bits_per_element("int8_tensor", shape) == 8 + 32 / 256
    assert bits_per_element("int4_channel", shape) == 4 + 32 / 64
    assert bits_per_element("int4_block32", shape) == 5
    assert bits_per_element(custom_recipe("float4_e2m1fn", 16, "ue5m3", "amax", False),
                            shape) == 4.5
    # a block that does not divide the row still costs a whole scale: 40 = 32 + 8
    assert bits_per_element("mxfp4", (3, 40)) == 4 + 2 * 8 / 40
    df = tensor_report(np.ones((3, 40), np.float32), ["mxfp4"])
    assert df["bits_per_element"].iloc[0] == 4 + 2 * 8 / 40


def test_padding_is_exact_and_dropped() -> None:
    x = _x((5, 40))
    q = quantize_recipe(x, "mxfp4").values
    padded = np.pad(x, ((0, 0), (0, 24)))
    assert np.array_equal(q, quantize_blocks(padded, "mxfp4").values[:, :40])


def test_scale_underflow_and_overflow_counted() -> None:
    x = _x((8, 64)) * np.float32(1e-7)  # amax / 6 far below E4M3's 2^-9
    e4m3 = custom_recipe("float4_e2m1fn", 16, "float8_e4m3fn", "amax", False)
    ts = custom_recipe("float4_e2m1fn", 16, "float8_e4m3fn", "amax", True)
    df = tensor_report(x, [e4m3, ts, "mxfp4"])
    live_blocks = np.mean(np.abs(x.reshape(8, 4, 16)).max(axis=2) > 0) * 100
    assert df["scale_underflow_pct"].iloc[0] == pytest.approx(live_blocks)
    assert df["flushed_pct"].iloc[0] > 90
    assert df["scale_underflow_pct"].iloc[1] == 0 and df["scale_underflow_pct"].iloc[2] == 0
    big = _x((8, 64)) * np.float32(1e6)
    e5 = custom_recipe("float4_e2m1fn", 16, "ue4m3", "amax", False)
    assert tensor_report(big, [e5])["scale_overflow_pct"].iloc[0] > 50
    assert math.isnan(tensor_report(big, ["bfloat16"])["scale_overflow_pct"].iloc[0])


def _kernel_case(seed: int) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((37, 300)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = 0
    q = (x * rng.uniform(0.8, 1.2, x.shape)).astype(np.float32)
    q[rng.random(x.shape) < 0.1] = 0
    eff = np.abs(rng.standard_normal((37, 10)))
    eff[rng.random(eff.shape) < 0.1] = 0.0  # zero-scale blocks flush
    return x, q, eff, 32, (1.5, math.inf, 0.25, 0.5), rng.standard_normal(300)


@pytest.mark.parametrize("seed", [0, 1])
def test_fused_kernel_equals_reference_and_thread_count(seed) -> None:
    args = _kernel_case(seed)
    ref = K.error_stats_reference(*args)
    got = K.error_stats(*args)
    for k in K.STATS:
        assert got[k] == pytest.approx(ref[k], rel=1e-12), k
    assert np.allclose(got["row_err"], ref["row_err"], rtol=1e-12, atol=1e-12)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = K.error_stats(*args)
    finally:
        numba.set_num_threads(old)
    assert all(one[k] == got[k] for k in K.STATS)
    assert np.array_equal(one["row_err"], got["row_err"])


def test_fused_kernel_sums_do_not_depend_on_where_memory_lands() -> None:
    """The kernel's sums were once a few ulp apart between calls on the same input (a loop that
    stored and reduced had LLVM's runtime alias check, whose scalar fallback sums in another
    order): shift the heap between calls and require the same bits every time."""
    args = _kernel_case(1)
    first = K.error_stats(*args)
    keep = []
    for k in range(40):
        keep.append(np.empty(97 * k + 13))  # different heap layouts for the scratch rows
        got = K.error_stats(*args)
        assert all(got[s] == first[s] for s in K.STATS), k
        assert np.array_equal(got["row_err"], first["row_err"])


def test_fused_kernel_long_rows_split_in_segments() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3 * K.CHUNK + 17)).astype(np.float32)
    q = quantize(x, "float8_e4m3fn")
    args: tuple[Any, ...] = (x, q, np.ones((1, 1)), x.shape[1], (464.0, 464.0, 2.0**-10, 2.0**-6),
            rng.standard_normal(x.shape[1]))
    got, ref = K.error_stats(*args), K.error_stats_reference(*args)
    assert got["sum_e2"] == pytest.approx(ref["sum_e2"], rel=1e-12)
    assert np.allclose(got["row_err"], ref["row_err"], rtol=1e-10)


def test_rank_and_reading() -> None:
    df = tensor_report(_x(), DEFAULT_RECIPES)
    r = rank(df, 4.5)
    assert (r["bits_per_element"] <= 4.5).all() and list(r["rank"]) == list(range(1, len(r) + 1))
    assert r["sqnr_db"].is_monotonic_decreasing
    text = reading(df, 4.5)
    assert text.startswith("Best SQNR at ≤ 4.5 bits per element: " + r["label"].iloc[0])
    assert "No chosen recipe fits" in reading(df, 1.0)


def test_block_sweep_grid() -> None:
    df = block_sweep(_x((8, 256)), "float4_e2m1fn")
    assert len(df) == len(SWEEP_SCALES) * 6
    e8 = df[df["scale"] == "UE8M0 (floor)"].sort_values("block")
    assert list(e8["bits_per_element"]) == [4 + 8 / b for b in (8, 16, 32, 64, 128, 256)]
    mx = tensor_report(_x((8, 256)), ["mxfp4"])["sqnr_db"].iloc[0]
    assert e8[e8["block"] == 32]["sqnr_db"].iloc[0] == pytest.approx(mx)


def test_rht_tames_an_outlier() -> None:
    x = _x((16, 64), seed=9)
    x[3, 5] = 400.0  # one outlier channel entry
    shape, gain = rht_report(x, ["int4_tensor", "mxfp4"], size=16, seed=1)
    before, after = shape.iloc[0], shape.iloc[1]
    assert after["kurtosis"] < before["kurtosis"]
    assert after["max_over_rms"] < before["max_over_rms"]
    assert (gain["gain_db"] > 0).all()
    assert gain["gain_db"].iloc[0] == pytest.approx(
        gain["sqnr_on_db"].iloc[0] - gain["sqnr_off_db"].iloc[0])
    with pytest.raises(ValueError, match="multiple of 16"):
        rht_report(np.ones((4, 40), np.float32), ["mxfp4"], size=16)
    assert kurtosis(np.random.default_rng(0).standard_normal(200_000)) == pytest.approx(3, abs=0.05)


def test_bias_rne_constant_sr_shrinks() -> None:
    x = np.abs(_x((32, 128), seed=11)) + np.float32(0.3)  # one-signed: RNE errors do not cancel
    df = bias_report(x, "nvfp4", ("rne", "sr"), draws=32, seed=2)  # no saturation bias
    rne, sr = df[df["mode"] == "rne"], df[df["mode"] == "sr"]
    assert rne["sum_bias"].nunique() == 1 and rne["matvec_bias"].nunique() == 1
    assert sr["matvec_bias"].iloc[-1] < sr["matvec_bias"].iloc[0] / 3  # ~1/sqrt(32)
    assert sr["matvec_bias"].iloc[-1] < rne["matvec_bias"].iloc[-1]


def test_view2d_any_rank_and_sampling() -> None:
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    v = view2d(x, 1)
    assert v.x.shape == (8, 3) and np.array_equal(v.x, np.moveaxis(x, 1, -1).reshape(8, 3))
    assert v.axis == 1 and not v.sampled and view2d(np.array(2.0, np.float32)).x.shape == (1, 1)
    big = np.arange(100 * 64, dtype=np.float32).reshape(100, 64)
    s1, s2 = view2d(big, -1, max_elements=640, seed=3), view2d(big, -1, max_elements=640, seed=3)
    assert s1.x.shape == (10, 64) and s1.sampled and "seed 3" in s1.note
    assert np.array_equal(s1.x, s2.x)
    rows = s1.x[:, 0] // 64
    assert np.all(np.diff(rows) > 0) and np.array_equal(s1.x, big[rows.astype(int)])
    row = np.arange(5 * 4096, dtype=np.float32)
    seg = view2d(row, 0, max_elements=2 * 4096, seed=0)
    assert seg.x.shape == (2, 4096) and np.all(seg.x[:, 0] % 4096 == 0)
    with pytest.raises(ValueError, match="out of range"):
        view2d(x, 3)


def test_every_recipe_runs_on_a_shipped_tensor() -> None:
    x = load_shipped()["digits.layers.2.grad_out"]  # (64, 10): 10 is no multiple of a block
    df = tensor_report(x, list(RECIPES), ("rne",))
    assert len(df) == len(RECIPES) and df["mse"].notna().all()


def test_shipped_tensors_match_their_checksums() -> None:
    blob = SHIPPED_PATH.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == SHIPPED_SHA256
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    manifest = json.loads(header["__metadata__"]["manifest"])
    arrays = load_shipped()
    assert tuple(sorted(arrays)) == tuple(sorted(SHIPPED_NAMES)) == tuple(
        sorted(manifest["tensors"]))
    for name, a in arrays.items():
        m = manifest["tensors"][name]
        assert list(a.shape) == m["shape"] and a.dtype == np.float32
        assert tensor_sha256(a) == m["sha256"], name
        assert np.isfinite(a).all()
    for task, r in manifest["runs"].items():
        assert r["recipe"] == "fp32" and r["seed"] == 0
        assert r["final_val_loss"] == pytest.approx(r["library_val_loss"], rel=1e-6), task
    assert len(blob) < 4 * 2**20
