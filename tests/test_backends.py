"""The numba backend equals the numpy reference bit for bit (lowbit_core._numba, _fast).

Oracle: ``quantize_reference`` / ``round_distribution(backend="numpy")`` (the normative
semantics), plus ml_dtypes casts as an independent RNE check. Inputs: every code point of every
catalogue format up to 16 bits, the midpoints between neighbours and the float32/float64 values
one ulp either side of them, values beyond the range and below the smallest subnormal, and
random float32 bit patterns (NaN, inf, subnormals). NaN compares equal to NaN (any payload).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

numba = pytest.importorskip("numba")

import lowbit_core as lb  # noqa: E402
from lowbit_core import _fast  # noqa: E402
from lowbit_core import _numba as nbk  # noqa: E402
from lowbit_core.formats import FORMATS, get_format, grid  # noqa: E402
from lowbit_core.rng import key, words  # noqa: E402
from lowbit_core.rounding import quantize_reference  # noqa: E402

SMALL_FORMATS = [name for name, f in FORMATS.items() if f.bits <= 16]
EXTRA_FORMATS = ["e3m4", "e5m7_b3", "int4", "int8_sym", "uint8", "e2m0", "ue3m2fn_b1"]
DET_MODES = ["rne", "rna", "rtz", "rup", "rdn"]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def assert_same(ref: np.ndarray, got: np.ndarray, what: str = "") -> None:
    assert got.dtype == ref.dtype and got.shape == ref.shape, what
    ok = (_bits(ref) == _bits(got)) | (np.isnan(ref) & np.isnan(got))
    if not ok.all():
        i = np.flatnonzero(~ok.reshape(-1))[0]
        raise AssertionError(
            f"{what}: {(~ok).sum()} of {ok.size} differ; first at flat {i}: "
            f"ref={ref.reshape(-1)[i]!r} numba={got.reshape(-1)[i]!r}"
        )


def edge_values(fmt_name: str, dtype: type) -> np.ndarray:
    """Code points, midpoints and +-1 ulp (of dtype) around them, out-of-range values, specials."""
    g = grid(fmt_name).astype(np.float64)
    mids = (g[:-1] + g[1:]) / 2
    f = get_format(fmt_name)
    pos = g[g > 0]
    extra = [
        f.max * 1.5, f.max * 2, f.max + (f.max - g[-2]) / 2, 1e300 if dtype == np.float64 else 3e38,
        pos[0] / 2, pos[0] / 4, pos[0] * 0.75, pos[0] / 3, 1e-300 if dtype == np.float64 else 1e-44,
        0.0, -0.0, np.inf, -np.inf, np.nan,
    ]
    with np.errstate(over="ignore"):  # 1e300 etc. overflow to inf in float32 on purpose
        base: np.ndarray = np.concatenate([g, mids, np.array(extra)]).astype(dtype)
    up = np.nextafter(base, np.array(np.inf, dtype=dtype))
    dn = np.nextafter(base, np.array(-np.inf, dtype=dtype))
    x = np.concatenate([base, up, dn, -base, -up, -dn])
    return x.astype(dtype)


Config = tuple[str, dict[str, Any]]


def mode_configs(
    n: int, rng: np.random.Generator, rbits_list: tuple[int, ...] = (1, 3, 8, 32)
) -> Iterator[tuple[str, list[Config]]]:
    yield "det", [(m, {}) for m in DET_MODES]
    sr: list[Config] = [
        ("sr", {"seed": 12345}),
        ("sr", {"seed": (1 << 63) - 1}),
        ("sr", {"seed": 0}),
    ]
    yield "sr", sr
    few: list[Config] = []
    for nb in rbits_list:
        for m in ("srff", "srf", "src", "sro"):
            few.append((m, {"rbits": nb, "seed": 7 + nb}))
            few.append((m, {"rbits": nb, "srbits": rng.integers(0, 1 << nb, n, dtype=np.uint64)}))
    yield "few", few


FULL_CONFIGS = {("rne", None), ("rtz", None), ("rup", None), ("sr", None), ("src", 8)}


def check_all_modes(
    x: np.ndarray, fmt: str, rbits_list: tuple[int, ...] = (1, 3, 8, 32), full_max: int = 30_000
) -> None:
    """Every mode config on ``x``; above ``full_max`` values only FULL_CONFIGS see all of ``x``
    and the others a random subset of ``full_max`` (keeps the 16-bit formats fast)."""
    rng = np.random.default_rng(0)
    sub = x if x.size <= full_max else rng.choice(x, full_max, replace=False)
    for _, configs in mode_configs(x.size, rng, rbits_list):
        for mode, kw0 in configs:
            full = (mode, kw0.get("rbits")) in FULL_CONFIGS and "srbits" not in kw0
            xx = x if full else sub
            kw = dict(kw0)
            if "srbits" in kw:
                kw["srbits"] = kw["srbits"][: xx.size]
            for sat in (True, False):
                with np.errstate(over="ignore"):
                    ref = quantize_reference(xx, fmt, mode, saturate=sat, **kw)
                got = lb.quantize(xx, fmt, mode, saturate=sat, backend="numba", **kw)
                what = f"{fmt} {mode} sat={sat} {xx.dtype} " + ",".join(
                    f"{k}={v}" for k, v in kw.items() if k != "srbits"
                )
                assert_same(ref, got, what)


@pytest.mark.parametrize("fmt", SMALL_FORMATS + EXTRA_FORMATS)
def test_edge_values_float32(fmt: str) -> None:
    check_all_modes(edge_values(fmt, np.float32), fmt)


@pytest.mark.parametrize("fmt", SMALL_FORMATS + EXTRA_FORMATS)
def test_edge_values_float64(fmt: str) -> None:
    check_all_modes(edge_values(fmt, np.float64), fmt, rbits_list=(3, 32))


def random_float32_bits(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    # a quarter with small exponents (subnormal targets, float32 subnormals) and all specials
    k = n // 4
    u[:k] = (u[:k] & np.uint32(0x807FFFFF)) | (rng.integers(0, 40, k).astype(np.uint32) << 23)
    u[k : k + 8] = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 1]
    return u.view(np.float32)


def widen(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # signalling NaNs warn when widened
        return x.astype(np.float64)


@pytest.mark.parametrize(
    "fmt", ["bfloat16", "float8_e4m3fn", "float4_e2m1fn", "float8_e5m2fnuz", "ue4m3",
            "float8_e8m0fnu", "float32", "e3m4", "e5m7_b3", "int8_sym", "uint8"],
)
def test_random_bit_patterns(fmt: str) -> None:
    x = random_float32_bits(100_000)
    check_all_modes(x, fmt, rbits_list=(3, 32))


def test_random_float64_inputs() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([
        rng.standard_normal(20_000) * np.exp2(rng.integers(-160, 160, 20_000)),
        rng.standard_normal(1000) * 1e-310,
        [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.7e308, 5e-324],
    ])
    for fmt in ("bfloat16", "float8_e4m3fn", "float8_e8m0fnu", "int4"):
        check_all_modes(x, fmt, rbits_list=(8,))


def test_exact_sr_beyond_the_first_word() -> None:
    """Inputs whose fraction d starts with the first random word: the comparison reads word 1."""
    seed = 99
    idx = np.arange(200_000)
    w0 = words(seed, idx, 0)
    # float32 into int8: d = x in (0, 1); x = (w0 + 1/2) / 2^32 needs w0 < 2^23 (24-bit significand)
    sel = idx[w0 < (1 << 23)]
    assert sel.size > 100
    x = np.full(idx.size, 0.3, dtype=np.float32)
    x[sel] = ((w0[sel].astype(np.float64) + 0.5) / 2.0**32).astype(np.float32)
    x[sel[::2]] *= -1
    ref = quantize_reference(x, "int8", "sr", seed=seed)
    assert_same(ref, lb.quantize(x, "int8", "sr", seed=seed, backend="numba"), "f32 word 1")
    # float64: d = (w0 + t) / 2^32 with t a 21-bit fraction, so word 1 decides (both ways)
    w1 = words(seed, idx, 1).astype(np.float64)
    t = np.where(idx % 2 == 0, np.floor(w1 / 2**11) / 2**21, 0.999)
    x64 = (w0.astype(np.float64) + t) / 2.0**32
    ref = quantize_reference(x64, "int8", "sr", seed=seed)
    assert_same(ref, lb.quantize(x64, "int8", "sr", seed=seed, backend="numba"), "f64 word 1")
    assert 0 < (ref == 1).sum() < idx.size  # both outcomes occur


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "bfloat16", "float8_e8m0fnu"])
def test_thread_count_and_seed_reproducibility(fmt: str) -> None:
    x = random_float32_bits(50_001, seed=5)
    x64 = widen(x)
    runs = []
    old = numba.get_num_threads()
    try:
        for nt in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(nt)
            runs.append([
                lb.quantize(x, fmt, "sr", seed=3),
                lb.quantize(x, fmt, "src", rbits=4, seed=3),
                lb.quantize(x, fmt, "rne"),
                lb.quantize(x64, fmt, "srf", rbits=2, seed=3),
            ])
    finally:
        numba.set_num_threads(old)
    for a, b in zip(*runs, strict=True):
        assert_same(a, b, "1 vs 2 threads")
    assert_same(runs[0][0], lb.quantize(x, fmt, "sr", seed=3), "same seed")
    assert not np.array_equal(
        lb.quantize(x, fmt, "sr", seed=3), lb.quantize(x, fmt, "sr", seed=4), equal_nan=True
    )


def test_matches_ml_dtypes_rne() -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = random_float32_bits(100_000, seed=11)
    x = x[np.isfinite(x)]
    for fmt, dt in (("bfloat16", ml_dtypes.bfloat16), ("float8_e4m3fn", ml_dtypes.float8_e4m3fn),
                    ("float8_e5m2", ml_dtypes.float8_e5m2)):
        want = x.astype(dt).astype(np.float32)  # ml_dtypes: IEEE non-saturating overflow
        got = lb.quantize(x, fmt, "rne", saturate=False, backend="numba")
        assert_same(want, got, f"ml_dtypes {fmt}")
    y = x[np.abs(x) <= 6.0]  # E2M1 has no inf/NaN: ml_dtypes saturates, so stay in range
    assert_same(y.astype(ml_dtypes.float4_e2m1fn).astype(np.float32),
                lb.quantize(y, "float4_e2m1fn", "rne", backend="numba"), "ml_dtypes e2m1")


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "bfloat16", "float4_e2m1fn", "float8_e8m0fnu",
                                 "ue4m3", "int4", "e5m7_b3"])
def test_round_distribution_matches_numpy(fmt: str) -> None:
    e = edge_values(fmt, np.float32).astype(np.float64)
    if e.size > 30_000:  # 16-bit formats: a random subset of the edge values
        e = np.random.default_rng(1).choice(e, 30_000, replace=False)
    x = np.concatenate([e, widen(random_float32_bits(20_000, seed=2))])
    for mode, nb in [("sr", None), ("rne", None), ("rdn", None), ("rup", None), ("rtz", None),
                     ("rna", None), ("srff", 3), ("srf", 2), ("src", 8), ("sro", 32)]:
        for sat in (True, False):
            for ib in (None, 3) if sat else (0,):
                a = lb.round_distribution(x, fmt, mode, nb, saturate=sat, input_bits=ib,
                                          backend="numpy")
                b = lb.round_distribution(x, fmt, mode, nb, saturate=sat, input_bits=ib,
                                          backend="numba")
                for name, u, v in zip(("lo", "hi", "p_hi"), a, b, strict=True):
                    assert_same(u, v, f"distribution {name} {fmt} {mode} sat={sat} ib={ib}")


def test_round_distribution_float32_and_shapes() -> None:
    x = random_float32_bits(600, seed=4).reshape(20, 30)
    a = lb.round_distribution(x, "float8_e5m2", "src", 4, backend="numpy")
    b = lb.round_distribution(x, "float8_e5m2", "src", 4, backend="numba")
    for u, v in zip(a, b, strict=True):
        assert v.shape == (20, 30)
        assert_same(u, v, "float32 2-D")


@nbk._jit()
def _apply_round_one(x: Any, words0: Any, args: Any, mode: Any, nb: Any, saturate: Any) -> Any:
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = nbk.round_one(
            x[i], words0[i], args[0], args[1], args[2], args[3], args[4], args[5], args[6],
            mode, nb, saturate,
        )
    return out


@nbk._jit()
def _apply_round_one_sr(x: Any, k0: Any, k1: Any, args: Any, saturate: Any) -> Any:
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = nbk.round_one_sr(
            x[i], np.uint64(i), k0, k1, args[0], args[1], args[2], args[3], args[4], args[5],
            args[6], saturate,
        )
    return out


@pytest.mark.parametrize("fmt", ["float8_e4m3fn", "float8_e8m0fnu", "ue4m3", "int4", "e2m0"])
def test_round_one_building_block(fmt: str) -> None:
    """The documented scalar API (for the block-scaling kernels) equals the reference."""
    x = edge_values(fmt, np.float64)
    args = nbk.grid_args(get_format(fmt))
    rng = np.random.default_rng(8)
    for sat in (True, False):
        for mode in DET_MODES:
            code = nbk.MODE_CODE[lb.RoundMode(mode)]
            got = _apply_round_one(x, np.zeros(x.size, np.uint32), args, code, 1, sat)
            assert_same(quantize_reference(x, fmt, mode, saturate=sat), got, f"round_one {mode}")
        for mode, nb in (("srff", 3), ("src", 8), ("sro", 1), ("srf", 32), ("sr", 5)):
            r = rng.integers(0, 1 << nb, x.size, dtype=np.uint64)
            w = (r << np.uint64(32 - nb)).astype(np.uint32)
            got = _apply_round_one(x, w, args, nbk.MODE_CODE[lb.RoundMode(mode)], nb, sat)
            # the kernel's MODE_SR with an N-bit word is U = r / 2^N: the public API calls
            # that srff (sr itself refuses rbits)
            pub = "srff" if mode == "sr" else mode
            ref = quantize_reference(x, fmt, pub, saturate=sat, rbits=nb, srbits=r)
            assert_same(ref, got, f"round_one {mode} {nb}")
        seed = (5 << 32) + 17
        got = _apply_round_one_sr(x, np.uint32(17), np.uint32(5), args, sat)
        assert_same(quantize_reference(x, fmt, "sr", saturate=sat, seed=seed), got, "round_one_sr")
        # the few-bit modes with the counter RNG: word0 = rng_word(idx, *key(seed, 0))
        a0, b0 = key(seed, 0)
        w = words(seed, np.arange(x.size), 0).astype(np.uint32)
        assert w[3] == nbk.rng_word(np.uint64(3), np.uint32(a0), np.uint32(b0))
        got = _apply_round_one(x, w, args, nbk.MODE_CODE[lb.RoundMode.SRC], 4, sat)
        assert_same(quantize_reference(x, fmt, "src", saturate=sat, rbits=4, seed=seed), got, "rng")


def test_layouts_and_dtypes() -> None:
    x = np.random.default_rng(6).standard_normal((40, 50)).astype(np.float32)
    cases: list[Any] = [x, x[::2, ::3], x.T, np.float32(1.3), np.float64(-2.7), x[:0]]
    for arr in cases:
        a = np.asarray(arr)
        got = lb.quantize(arr, "float8_e4m3fn", "src", rbits=3, seed=1, backend="numba")
        ref = quantize_reference(arr, "float8_e4m3fn", "src", rbits=3, seed=1)
        assert got.shape == a.shape and got.dtype == a.dtype
        assert_same(ref, got, f"layout {a.shape}")
    srb = np.arange(50, dtype=np.int64) % 8  # broadcasts along the rows
    assert_same(quantize_reference(x, "e3m4", "srff", rbits=3, srbits=srb),
                lb.quantize(x, "e3m4", "srff", rbits=3, srbits=srb, backend="numba"), "broadcast")


@pytest.mark.parametrize("kw", [
    {"mode": "bogus"},
    {"mode": "srff", "seed": 1},
    {"mode": "src", "rbits": 0, "seed": 1},
    {"mode": "src", "rbits": 33, "seed": 1},
    {"mode": "sr"},
    {"mode": "sr", "seed": -1},
    {"mode": "sr", "srbits": np.zeros(3, np.int64)},
    {"mode": "sr", "rbits": 3, "seed": 1},
    {"mode": "sr", "rbits": 3, "srbits": np.zeros(4, np.int64)},
    {"mode": "srff", "rbits": 2, "srbits": np.array([0, 4])},
    {"mode": "srff", "rbits": 2, "srbits": np.zeros(3)},
    {"mode": "srff", "rbits": 2, "srbits": np.zeros(5, np.int64)},
])
def test_validation_matches_reference(kw: dict[str, Any]) -> None:
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError) as ref_err:
        quantize_reference(x, "e4m3", **kw)
    with pytest.raises(ValueError) as got_err:
        lb.quantize(x, "e4m3", backend="numba", **kw)
    assert str(got_err.value) == str(ref_err.value)
    with pytest.raises(ValueError):
        lb.quantize(np.ones(3, np.int32), "e4m3", backend="numba")


def test_fallback_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fast, "_MOD", None)
    monkeypatch.setattr(_fast, "_TRIED", True)
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    assert _fast.quantize(x, "e4m3", "rne") is None
    assert_same(quantize_reference(x, "e4m3"), lb.quantize(x, "e4m3"), "auto -> numpy")
    with pytest.raises(ValueError, match="numba"):
        lb.quantize(x, "e4m3", backend="numba")
    with pytest.raises(ValueError, match="numba"):
        lb.round_distribution(x, "e4m3", backend="numba")
    assert lb.round_distribution(x, "e4m3").p_hi.shape == x.shape
    with pytest.raises(ValueError, match="backend"):
        lb.round_distribution(x, "e4m3", backend="cuda")
