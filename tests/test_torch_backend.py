"""lowbit_core.torch against the numpy references, bit for bit (NaN == NaN, -0 != +0).

The oracle for every test here is the readable numpy code (rounding.quantize_reference, rng,
hadamard, blocks), which is itself tested against ml_dtypes / gfloat elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
import torch

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

import lowbit_core.torch as lt  # noqa: E402
from lowbit_core import rng as nrng  # noqa: E402
from lowbit_core.formats import (  # noqa: E402
    FORMATS,
    FloatFormat,
    Format,
    Specials,
    all_values,
    get_format,
)
from lowbit_core.rounding import RoundMode, quantize_reference  # noqa: E402

DETERMINISTIC = ["rne", "rna", "rtz", "rup", "rdn"]
FEW_BIT = ["srff", "srf", "src", "sro"]
#: Catalogue plus custom formats that exercise the other grid paths: a p=1 float (tie parity
#: from the exponent field), an unsigned fn p=1 float, a large bias, integers.
FORMAT_IDS = [
    *FORMATS, "e3m4", "e3m0", "ue4m0fn", "e5m2_b300", "e4m3_b-20", "int8", "uint4", "int4_sym",
]
CUDA = torch.cuda.is_available()
#: Formats only reachable as objects: flush-to-zero (no subnormals, with zero) and a float64-like
#: grid, whose 2^-qe leaves the float64 range (the backends' two-step power-of-two paths).
OBJECTS = {
    "e4m3_nosub": FloatFormat("e4m3_nosub", 4, 3, 7, subnormals=False),
    "e2m1_nosub": FloatFormat("e2m1_nosub", 2, 1, 1, specials=Specials.NONE, subnormals=False),
    "binary64": FloatFormat("binary64", 11, 52, 1023),
}
FORMAT_IDS += list(OBJECTS)


def F(fmt_id: str) -> Format:
    """The format object for a test id."""
    return OBJECTS.get(fmt_id) or get_format(fmt_id)


def same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: identical bit patterns, or both NaN."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    ui = np.uint64 if a.dtype == np.float64 else np.uint32
    return np.asarray((a.view(ui) == b.view(ui)) | (np.isnan(a) & np.isnan(b)))


def assert_same(ref: np.ndarray, got: torch.Tensor, x: np.ndarray, what: str) -> None:
    g = got.detach().cpu().numpy()
    ok = same_bits(ref, g)
    if not ok.all():
        i = int(np.flatnonzero(~ok.reshape(-1))[0])
        pytest.fail(
            f"{what}: {int((~ok).sum())} of {ok.size} differ; first x={x.reshape(-1)[i]!r} "
            f"ref={ref.reshape(-1)[i]!r} torch={g.reshape(-1)[i]!r}"
        )


@np.errstate(over="ignore", invalid="ignore")
def edge_values(fmt_id: str, rng: np.random.Generator) -> np.ndarray:
    """Float64 inputs that stress every path: codes, midpoints, +-1 ulp (float32 and float64
    steps), overflow, subnormals, specials and random bit patterns (NaN/inf/subnormal incl.)."""
    f = F(fmt_id)
    if f.bits <= 16:
        v = all_values(f)
        g = np.unique(np.abs(v[np.isfinite(v)]))
        if g.size > 1500:  # 16-bit formats: every binade's ends plus a random sample
            keep = rng.random(g.size) < 1500 / g.size
            keep[:64] = keep[-64:] = True
            keep |= np.log2(np.maximum(g, 1e-300)) % 1 == 0
            g = g[keep]
    else:  # float32: a sample of grid points
        g = np.unique(np.abs(rng.standard_normal(512) * 2.0 ** rng.integers(-140, 120, 512)))
        g = g.astype(np.float32).astype(np.float64)
    mids = (g[:-1] + g[1:]) / 2
    pts = np.concatenate([g, mids, [f.max * 1.5, f.max * 2, f.max + f.max * 2.0**-12]])
    pts = np.concatenate(
        [pts, np.nextafter(pts, np.inf), np.nextafter(pts, -np.inf),
         np.nextafter(pts.astype(np.float32), np.float32(np.inf)).astype(np.float64),
         np.nextafter(pts.astype(np.float32), np.float32(-np.inf)).astype(np.float64)]
    )
    bits32 = rng.integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    bits64 = rng.integers(0, 2**63, 1000, dtype=np.int64).view(np.float64)
    sub = np.ldexp(rng.random(200), rng.integers(-1074, -1000, 200).astype(np.int32))
    spec = np.array([0.0, np.inf, np.nan, 1e-300, 1e300, 2.0**-149, 2.0**-126, 3e38, 1.0])
    normal = rng.standard_normal(1000) * 2.0 ** rng.integers(-20, 20, 1000)
    x = np.concatenate([pts, bits32.astype(np.float64), bits64, sub, spec, normal])
    x = x[~np.isnan(x) | (np.arange(x.size) % 50 == 0)]  # keep a few NaN of each kind
    return np.concatenate([x, -x])


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Many small tensors: one intra-op thread avoids OpenMP hand-offs (70x slower on a loaded
    2-core machine); results do not depend on the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def edges() -> dict[str, np.ndarray]:
    r = np.random.default_rng(20261125)
    return {f: edge_values(f, r) for f in FORMAT_IDS}


# --- random bits ---------------------------------------------------------------------------------


def test_mix32_matches_numpy(rng: np.random.Generator) -> None:
    x = np.concatenate([
        rng.integers(0, 2**32, 20000, dtype=np.uint64),
        np.array([0, 1, 2**31, 2**32 - 1, 2**16 - 1, 2**16], dtype=np.uint64),
    ])
    want = nrng.mix32(x.copy()).astype(np.int64)
    got = lt.mix32(torch.from_numpy(x.astype(np.int64))).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 - 1, 2**32, 2**40 + 7, 2**63 - 1])
def test_words_match_numpy(seed: int, rng: np.random.Generator) -> None:
    idx = np.concatenate([
        np.arange(100, dtype=np.int64),
        rng.integers(0, 2**63 - 1, 3000, dtype=np.int64),
        rng.integers(2**32 - 50, 2**32 + 50, 200, dtype=np.int64),
        np.array([2**32, 2**33 + 1, 2**63 - 1], dtype=np.int64),
    ])
    for j in (0, 1, 2, 17):
        want = nrng.words(seed, idx, j).astype(np.int64)
        got = lt.words(seed, torch.from_numpy(idx), j)
        assert got.dtype == torch.int64
        np.testing.assert_array_equal(got.numpy(), want)


def test_words_negative_index_wraps_like_numpy() -> None:
    idx = np.array([-1, -(2**40), -(2**63)], dtype=np.int64)
    np.testing.assert_array_equal(
        lt.words(7, torch.from_numpy(idx)).numpy(), nrng.words(7, idx).astype(np.int64)
    )


def test_words_bad_seed() -> None:
    with pytest.raises(ValueError, match="seed"):
        lt.words(-1, torch.arange(3))


# --- quantize: deterministic modes ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_deterministic_modes_match_reference(fmt: str, edges: dict[str, np.ndarray]) -> None:
    x64 = edges[fmt]
    for dtype in (np.float64, np.float32):
        x = x64.astype(dtype)
        xt = torch.from_numpy(x)
        for mode in DETERMINISTIC:
            for sat in (True, False):
                ref = quantize_reference(x, F(fmt), mode, saturate=sat)
                got = lt.quantize(xt, F(fmt), mode, saturate=sat)
                assert got.dtype == xt.dtype and got.shape == xt.shape
                assert_same(ref, got, x, f"{fmt} {mode} sat={sat} {np.dtype(dtype).name}")


# --- quantize: stochastic modes ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_stochastic_modes_with_srbits_match_reference(
    fmt: str, edges: dict[str, np.ndarray], rng: np.random.Generator
) -> None:
    x64 = edges[fmt]
    for dtype in (np.float64, np.float32):
        x = x64.astype(dtype)
        xt = torch.from_numpy(x)
        for mode in FEW_BIT:
            for nb in (1, 3, 8, 32):
                r = rng.integers(0, 2**nb, x.size, dtype=np.int64)
                for sat in (True, False):
                    ref = quantize_reference(x, F(fmt), mode, saturate=sat, rbits=nb, srbits=r)
                    got = lt.quantize(
                        xt, F(fmt), mode, saturate=sat, rbits=nb, srbits=torch.from_numpy(r)
                    )
                    assert_same(ref, got, x, f"{fmt} {mode} N={nb} sat={sat} {x.dtype}")


@pytest.mark.parametrize("fmt", FORMAT_IDS)
def test_stochastic_modes_with_seed_match_reference(fmt: str, edges: dict[str, np.ndarray]) -> None:
    x64 = edges[fmt]
    for dtype, seed in ((np.float64, 2**40 + 7), (np.float32, 3)):
        x = x64.astype(dtype)
        xt = torch.from_numpy(x)
        for mode in ["sr", *FEW_BIT]:
            nb = None if mode == "sr" else 5
            for sat in (True, False):
                ref = quantize_reference(x, F(fmt), mode, saturate=sat, rbits=nb, seed=seed)
                got = lt.quantize(xt, F(fmt), mode, saturate=sat, rbits=nb, seed=seed)
                assert_same(ref, got, x, f"{fmt} {mode} seed={seed} sat={sat} {x.dtype}")


@pytest.mark.parametrize("seed", [0, 2**40 + 7, 2**63 - 1])
def test_exact_sr_reads_further_words_like_reference(seed: int, rng: np.random.Generator) -> None:
    """Fractions whose first 32 bits equal word 0 force the lazy comparison onto word 1."""
    n = 4000
    idx = np.arange(n, dtype=np.int64)
    w0 = nrng.words(seed, idx, 0).astype(np.float64)
    w1 = nrng.words(seed, idx, 1).astype(np.float64)
    # e4m3 in [1, 2): ulp 2^-3, |x| = (8 + d) 2^-3 with d = w0/2^32 + tail; the tail straddles
    # w1 (one bit below, equal, one bit above at 2^-48 resolution), or is zero.
    k = rng.integers(0, 4, n)
    w1_top = np.floor(w1 / 2**16)  # the 16 bits of word 1 that fit in float64 here
    tail = np.select(
        [k == 0, k == 1, k == 2],
        [0.0 * w1_top, (w1_top - 1) * 2.0**-48, w1_top * 2.0**-48],
        (w1_top + 1) * 2.0**-48,
    )
    tail = np.maximum(tail, 0.0)
    d = w0 * 2.0**-32 + tail
    x = (8 + d) * 2.0**-3
    x = np.where(rng.random(n) < 0.5, -x, x)
    assert np.all((np.abs(x) * 8 - 8) == d)  # exact
    ref = quantize_reference(x, "float8_e4m3fn", "sr", seed=seed)
    got = lt.quantize(torch.from_numpy(x), "float8_e4m3fn", "sr", seed=seed)
    assert_same(ref, got, x, "sr word 1")
    # both outcomes occur, so the test can tell word 1 apart from ignoring it
    away = np.abs(ref) > np.abs(x)
    assert 0 < away.sum() < n


def test_seed_stream_uses_flat_c_order_index(rng: np.random.Generator) -> None:
    x = rng.standard_normal((17, 33))
    xt = torch.from_numpy(x).t()  # non-contiguous view
    ref = quantize_reference(np.ascontiguousarray(x.T), "float4_e2m1fn", "src", rbits=4, seed=9)
    got = lt.quantize(xt, "float4_e2m1fn", "src", rbits=4, seed=9)
    assert got.shape == (33, 17)
    assert_same(ref, got, x.T, "non-contiguous")


def test_srbits_broadcast(rng: np.random.Generator) -> None:
    x = rng.standard_normal((8, 5))
    r = rng.integers(0, 16, (1, 5))
    ref = quantize_reference(x, "float8_e5m2", "srff", rbits=4, srbits=r)
    got = lt.quantize(torch.from_numpy(x), "float8_e5m2", "srff", rbits=4, srbits=r)
    assert_same(ref, got, x, "broadcast srbits")


# --- shapes, dtypes, grads -----------------------------------------------------------------------


def test_scalar_and_empty() -> None:
    for x in (np.array(1.3), np.zeros((0, 3)), np.array(-0.0)):
        ref = quantize_reference(x, "float8_e4m3fn")
        got = lt.quantize(torch.as_tensor(x), "float8_e4m3fn")
        assert tuple(got.shape) == np.shape(ref)
        assert_same(np.asarray(ref), got, np.asarray(x), "scalar/empty")


def test_array_like_input_like_reference() -> None:
    got = lt.quantize([0.3, -1.7], "float4_e2m1fn")  # type: ignore[arg-type]
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), quantize_reference([0.3, -1.7], "float4_e2m1fn"))  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_inputs_computed_in_float32(dtype: str, rng: np.random.Generator) -> None:
    tdt = getattr(torch, dtype)
    xt = torch.from_numpy(rng.standard_normal(5000) * 30).to(tdt)
    x32 = xt.to(torch.float32).numpy()
    for fmt in ("float8_e4m3fn", "float4_e2m1fn", "float8_e5m2"):
        got = lt.quantize(xt, fmt, "src", rbits=3, seed=1)
        assert got.dtype == tdt
        ref = quantize_reference(x32, fmt, "src", rbits=3, seed=1)
        # these grids fit the input dtype, so the cast back is exact
        assert_same(ref, got.to(torch.float32), x32, f"{dtype} -> {fmt}")


def test_round_ste_forward_and_identity_gradient(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.standard_normal(1000) * 500).requires_grad_(True)
    w = torch.from_numpy(rng.standard_normal(1000))
    y = lt.round_ste(x, "float8_e4m3fn", "sr", seed=5, saturate=True)
    assert y.requires_grad
    assert_same(
        quantize_reference(x.detach().numpy(), "float8_e4m3fn", "sr", seed=5), y,
        x.detach().numpy(), "ste forward",
    )
    (y * w).sum().backward()  # type: ignore[no-untyped-call]
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.numpy(), w.numpy())  # saturated elements included


def test_quantize_has_no_autograd_history() -> None:
    x = torch.ones(3, requires_grad=True)
    assert not lt.quantize(x, "float4_e2m1fn").requires_grad


# --- validation ----------------------------------------------------------------------------------


def _message(fn: Callable[..., Any], *a: Any, **kw: Any) -> str:
    with pytest.raises(ValueError) as ei:
        fn(*a, **kw)
    return str(ei.value)


@pytest.mark.parametrize(
    ("x", "fmt", "kw"),
    [
        (np.arange(4), "float8_e4m3fn", {}),
        (np.ones(4), "float9_e9m9", {}),
        (np.ones(4), "float8_e4m3fn", {"mode": "nearest"}),
        (np.ones(4), "float8_e4m3fn", {"mode": "srff", "seed": 1}),
        (np.ones(4), "float8_e4m3fn", {"mode": "srff", "rbits": 33, "seed": 1}),
        (np.ones(4), "float8_e4m3fn", {"mode": "srff", "rbits": True, "seed": 1}),
        (np.ones(4), "float8_e4m3fn", {"mode": "sr"}),
        (np.ones(4), "float8_e4m3fn", {"mode": "sr", "seed": -3}),
        (np.ones(4), "float8_e4m3fn", {"mode": "sr", "seed": 1.5}),
        (np.ones(4), "float8_e4m3fn", {"mode": "sr", "srbits": np.zeros(4, dtype=np.int64)}),
        (np.ones(4), "float8_e4m3fn", {"mode": "src", "rbits": 2, "srbits": np.full(4, 4)}),
        (np.ones(4), "float8_e4m3fn", {"mode": "src", "rbits": 2, "srbits": np.full(4, -1)}),
        (np.ones(4), "float8_e4m3fn", {"mode": "src", "rbits": 2, "srbits": np.zeros(3, int)}),
        (np.ones(4), "float8_e4m3fn", {"mode": "src", "rbits": 2, "srbits": np.zeros(4)}),
    ],
)
def test_errors_equal_reference(x: np.ndarray, fmt: str, kw: dict[str, Any]) -> None:
    want = _message(quantize_reference, x, fmt, **kw)
    kw_t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    assert _message(lt.quantize, torch.from_numpy(x), fmt, **kw_t) == want


def test_int_tensor_is_rejected() -> None:
    with pytest.raises(ValueError, match="int32"):
        lt.quantize(torch.arange(3, dtype=torch.int32), "float8_e4m3fn")


def test_modes_enum_accepted() -> None:
    x = torch.tensor([0.3, 2.5])
    assert torch.equal(lt.quantize(x, "e2m1", RoundMode.RNE), lt.quantize(x, "e2m1", "RNE"))


# --- CUDA ----------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize(
    "fmt", ["float8_e4m3fn", "float4_e2m1fn", "float8_e8m0fnu", "int8", "e3m0"]
)
def test_cuda_matches_reference(fmt: str, edges: dict[str, np.ndarray]) -> None:
    x = edges[fmt]
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        xc = torch.from_numpy(xd).cuda()
        for mode in [*DETERMINISTIC, "sr", *FEW_BIT]:
            nb = None if mode in DETERMINISTIC or mode == "sr" else 8
            seed = None if mode in DETERMINISTIC else 2**40 + 1
            for sat in (True, False):
                ref = quantize_reference(xd, fmt, mode, saturate=sat, rbits=nb, seed=seed)
                got = lt.quantize(xc, fmt, mode, saturate=sat, rbits=nb, seed=seed)
                assert got.device.type == "cuda"
                assert_same(ref, got, xd, f"cuda {fmt} {mode} sat={sat}")


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_cuda_words() -> None:
    idx = torch.randint(0, 2**62, (10000,), generator=torch.Generator().manual_seed(0))
    for seed in (0, 2**40 + 7):
        want = nrng.words(seed, idx.numpy(), 3).astype(np.int64)
        np.testing.assert_array_equal(lt.words(seed, idx.cuda(), 3).cpu().numpy(), want)


# --- random Hadamard transform -------------------------------------------------------------------

from lowbit_core import hadamard as nh  # noqa: E402
from lowbit_core.blocks import (  # noqa: E402
    PRESETS,
    BlockSpec,
    ScaleRule,
    quantize_blocks_reference,
)

SIZES = [2, 4, 8, 16, 32, 64, 128, 256]


@pytest.mark.parametrize("size", SIZES)
def test_hadamard_matrix_same_bits(size: int) -> None:
    kws: list[dict[str, Any]] = [{}, {"seed": 0}, {"seed": 2**40 + 7}, {"seed": 2**63 - 1}]
    for kw in kws:
        for tdt, ndt in ((torch.float32, np.float32), (torch.float64, np.float64)):
            want = nh.hadamard_matrix(size, dtype=ndt, **kw)
            got = lt.hadamard_matrix(size, dtype=tdt, **kw)
            assert got.dtype == tdt
            assert_same(want, got, want, f"H{size} {kw}")
    te = lt.hadamard_matrix(16, signs=torch.from_numpy(nh.TE_SIGN_VECTOR.copy()))
    assert_same(nh.hadamard_matrix(16, signs=nh.TE_SIGN_VECTOR), te, nh.TE_SIGN_VECTOR, "TE")


@pytest.mark.parametrize("size", [4, 16, 64, 256])
def test_rht_bit_exact_when_sums_are_exact(size: int, rng: np.random.Generator) -> None:
    """For size = 4^k the entries are +-2^-k, so integer inputs give exact sums in any order."""
    for dtype in (np.float32, np.float64):
        x = rng.integers(-1000, 1000, (3, 2 * size, 5)).astype(dtype)
        for axis, inverse in ((1, False), (1, True), (-2, False)):
            want = nh.rht(x, size, axis=axis, seed=11, inverse=inverse)
            got = lt.rht(torch.from_numpy(x), size, axis=axis, seed=11, inverse=inverse)
            assert got.shape == x.shape and got.dtype == torch.from_numpy(x).dtype
            assert_same(want, got, x, f"rht {size} axis={axis} inverse={inverse}")


@pytest.mark.parametrize("size", SIZES)
def test_rht_matches_within_summation_error(size: int, rng: np.random.Generator) -> None:
    """Two sums of the same `size` products, in different orders: each is within
    gamma_size * sum|x_i h_ij| of the exact value (Higham, Thm 3.1), so they differ by at most
    twice that."""
    for dtype in (np.float32, np.float64):
        x = (rng.standard_normal((7, 2 * size)) * 10).astype(dtype)
        want = nh.rht(x, size, seed=5)
        got = lt.rht(torch.from_numpy(x), size, seed=5).numpy()
        u = np.finfo(dtype).eps / 2
        blocks = np.abs(x.astype(np.float64)).reshape(7, 2, size).sum(-1) / np.sqrt(size)
        bound = 2 * (size * u / (1 - size * u)) * np.repeat(blocks, size, axis=-1)
        assert np.all(np.abs(got.astype(np.float64) - want) <= bound)


def test_rht_inverse_round_trip(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.standard_normal((4, 64)))
    y = lt.rht(lt.rht(x, 32, seed=1), 32, seed=1, inverse=True)
    torch.testing.assert_close(y, x, rtol=0, atol=1e-13)


def test_rht_half_input() -> None:
    x = torch.arange(32, dtype=torch.bfloat16).reshape(2, 16)
    got = lt.rht(x, 16)
    assert got.dtype == torch.bfloat16
    want = nh.rht(x.to(torch.float32).numpy(), 16)
    assert_same(want, got.to(torch.float32), want, "bf16 rht")


@pytest.mark.parametrize(
    ("x", "kw"),
    [
        (np.arange(16), {}),
        (np.ones(16), {"size": 3}),
        (np.ones(16), {"size": 512}),
        (np.ones(24), {"size": 16}),
        (np.ones(16), {"axis": 1}),
        (np.ones(16), {"axis": 1.0}),
        (np.ones(16), {"seed": -1}),
        (np.ones(16), {"signs": np.ones(8)}),
        (np.ones(16), {"signs": np.ones(16), "seed": 1}),
    ],
)
def test_rht_errors_equal_reference(x: np.ndarray, kw: dict[str, Any]) -> None:
    want = _message(nh.rht, x, **kw)
    assert _message(lt.rht, torch.from_numpy(x), **kw) == want


# --- block scaling -------------------------------------------------------------------------------


def block_data(
    rng: np.random.Generator, shape: tuple[int, ...], block: int, dtype: type[np.floating[Any]]
) -> np.ndarray:
    """Gaussian blocks with per-block scales 2^U{-40..40} (float32-safe), some all-zero, tiny,
    huge, NaN and inf blocks, and exact E2M1 ties after scaling."""
    x = rng.standard_normal(shape)
    mag = 2.0 ** rng.integers(-40, 40, (*shape[:-1], shape[-1] // block))
    x = x * np.repeat(mag, block, axis=-1)
    flat = x.reshape(-1, shape[-1])
    flat[0, :block] = 0.0
    flat[1, :block] = rng.choice([-3.0, -0.25, 0.75, 2.5, 5.0, 6.0], block)  # ties, amax 6
    flat[1, block:2 * block] = rng.standard_normal(block) * 1e-30
    flat[2, :block] *= 1e30
    flat[2, block] = np.nan
    flat[3, 0] = np.inf
    flat[3, block] = -np.inf
    flat[3, -1] = -0.0
    return x.astype(dtype)


def assert_blocks_same(ref: Any, got: Any, x: np.ndarray, what: str) -> None:
    assert_same(ref.values, got.values, x, what + " values")
    assert_same(ref.scales, got.scales, ref.scales, what + " scales")
    np.testing.assert_array_equal(got.codes.numpy(), ref.codes, err_msg=what + " codes")
    assert got.codes.dtype == torch.from_numpy(ref.codes).dtype
    np.testing.assert_array_equal(got.scale_codes.numpy(), ref.scale_codes, err_msg=what)
    assert got.tensor_scale == ref.tensor_scale and got.axis == ref.axis and got.spec == ref.spec


BLOCK_MODES: list[dict[str, Any]] = [
    {"mode": "rne"},
    {"mode": "rtz"},
    {"mode": "sr", "seed": 2**40 + 3},
    {"mode": "src", "rbits": 8, "seed": 7},
    {"mode": "srff", "rbits": 3, "srbits": "random"},
]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_blocks_match_reference(preset: str, rng: np.random.Generator) -> None:
    for dtype in (np.float32, np.float64):
        x = block_data(rng, (2, 32, 64), 32, dtype)
        for kw in BLOCK_MODES:
            kw = dict(kw)
            if kw.get("srbits") == "random":
                kw["srbits"] = rng.integers(0, 8, x.shape)
            extras: list[dict[str, Any]] = [
                {}, {"axis": 1}, {"tile2d": True, "block": 16}, {"tile2d": True}
            ]
            for extra in extras:
                ref = quantize_blocks_reference(x, preset, **kw, **extra)
                got = lt.quantize_blocks(torch.from_numpy(x), preset, **kw, **extra)
                assert_blocks_same(ref, got, x, f"{preset} {kw.get('mode')} {extra} {x.dtype}")


@pytest.mark.parametrize(
    "spec",
    [
        BlockSpec(elem="float4_e2m1fn", block=16, scale_fmt="ue5m3", scale_rule=ScaleRule.AMAX,
                  tensor_scale=True),
        BlockSpec(
            elem="float4_e2m1fn", block=32, scale_fmt="float8_e8m0fnu", scale_rule=ScaleRule.CEIL
        ),
        BlockSpec(elem="float8_e4m3fn", block=8, scale_fmt="ue4m3", scale_rule=ScaleRule.FLOOR,
                  tensor_scale=True),
        BlockSpec(elem="int8", block=32, scale_fmt="float8_e8m0fnu"),
        BlockSpec(elem="float4_e2m1fn", block=32, tensor_scale=True),
        BlockSpec(elem="e3m4", block=4, scale_fmt="bfloat16", scale_rule=ScaleRule.AMAX),
        BlockSpec(
            elem="float4_e2m1fn", block=16, scale_fmt="float8_e4m3fn", scale_rule=ScaleRule.AMAX
        ),
    ],
)
def test_blocks_other_specs_match_reference(spec: BlockSpec, rng: np.random.Generator) -> None:
    for dtype in (np.float32, np.float64):
        x = block_data(rng, (16, 64), 32, dtype)
        for kw in BLOCK_MODES[:4]:
            ref = quantize_blocks_reference(x, spec, **kw)
            got = lt.quantize_blocks(torch.from_numpy(x), spec, **kw)
            assert_blocks_same(ref, got, x, f"{spec.describe()} {kw}")


def test_blocks_edge_inputs() -> None:
    for x in (np.zeros((2, 32), np.float32), np.zeros((0, 32), np.float32),
              np.full((1, 32), 6 * 2.0**-12, np.float32), np.full((1, 32), 1e38, np.float32)):
        for preset in ("mxfp4", "nvfp4"):
            ref = quantize_blocks_reference(x, preset)
            got = lt.quantize_blocks(torch.from_numpy(x), preset)
            assert_blocks_same(ref, got, x, f"{preset} edge")


def test_blocks_without_codes_and_half_input(rng: np.random.Generator) -> None:
    x = torch.from_numpy(block_data(rng, (4, 64), 16, np.float32))
    res = lt.quantize_blocks(x, "nvfp4", codes=False)
    assert res.codes is None and res.scale_codes is None
    full = lt.quantize_blocks(x, "nvfp4")
    assert torch.equal(res.values.nan_to_num(), full.values.nan_to_num())
    xb = x.nan_to_num(posinf=0.0, neginf=0.0).clamp(-1e30, 1e30).to(torch.bfloat16)
    hb = lt.quantize_blocks(xb, "mxfp4")
    assert hb.values.dtype == torch.bfloat16
    ref = quantize_blocks_reference(xb.to(torch.float32).numpy(), "mxfp4")
    assert_same(ref.values, hb.values.to(torch.float32), ref.values, "bf16 blocks")  # exact
    eff = full.effective_scales
    assert eff.dtype == torch.float32
    np.testing.assert_array_equal(
        eff.numpy(), quantize_blocks_reference(x.numpy(), "nvfp4").effective_scales
    )


@pytest.mark.parametrize(
    ("x", "kw"),
    [
        (np.arange(32), {}),
        (np.ones(32, np.float32), {"spec": "mxfp5"}),
        (np.ones(32, np.float32), {"blokc": 3}),
        (np.ones(24, np.float32), {}),
        (np.ones(32, np.float32), {"axis": 2}),
        (np.ones(32, np.float32), {"tile2d": True, "block": 16}),
        (np.ones((3, 16, 16), np.float32), {"tile2d": True, "block": 16, "axis": 0}),
        (np.ones((16, 24), np.float32), {"tile2d": True, "block": 16}),
        (np.ones(32, np.float32), {"mode": "sr"}),
        (np.ones(32, np.float32), {"mode": "srf", "seed": 1}),
        (np.ones(32, np.float32), {"mode": "srf", "rbits": 2, "srbits": np.full(32, 9)}),
        (np.ones(32, np.float32), {"mode": "sr", "srbits": np.zeros(32, np.int64)}),
    ],
)
def test_blocks_errors_equal_reference(x: np.ndarray, kw: dict[str, Any]) -> None:
    want = _message(quantize_blocks_reference, x, **kw)
    kw_t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    assert _message(lt.quantize_blocks, torch.from_numpy(x), **kw_t) == want


# --- CUDA: rht and blocks ------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("preset", list(PRESETS))
def test_cuda_blocks_match_reference(preset: str, rng: np.random.Generator) -> None:
    x = block_data(rng, (2, 32, 64), 32, np.float32)
    for kw in BLOCK_MODES[:4]:
        extras: list[dict[str, Any]] = [{}, {"tile2d": True, "block": 16}]
        for extra in extras:
            ref = quantize_blocks_reference(x, preset, **kw, **extra)
            got = lt.quantize_blocks(torch.from_numpy(x).cuda(), preset, **kw, **extra)
            assert got.values.device.type == "cuda"
            assert got.codes is not None and got.scale_codes is not None
            got_cpu = lt.BlockResult(
                values=got.values.cpu(), codes=got.codes.cpu(), scales=got.scales.cpu(),
                scale_codes=got.scale_codes.cpu(), tensor_scale=got.tensor_scale,
                spec=got.spec, axis=got.axis,
            )
            assert_blocks_same(ref, got_cpu, x, f"cuda {preset} {kw} {extra}")


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_cuda_rht_exact_cases(rng: np.random.Generator) -> None:
    x = rng.integers(-1000, 1000, (8, 64)).astype(np.float32)
    for size in (4, 16, 64):
        want = nh.rht(x, size, seed=3)
        got = lt.rht(torch.from_numpy(x).cuda(), size, seed=3)
        assert got.device.type == "cuda"
        assert_same(want, got, x, f"cuda rht {size}")


def test_lowbit_core_does_not_import_torch() -> None:
    """Only training code pays torch's import time: the numpy core must not pull it in."""
    import subprocess
    import sys

    code = (
        "import sys, lowbit_core, lowbit_core.rounding, lowbit_core.blocks, lowbit_core.hadamard;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
