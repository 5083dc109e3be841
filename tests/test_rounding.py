"""Rounding (``quantize``/``round_distribution``) against independent oracles.

* RNE vs ml_dtypes casts (float32 in): every code point, every midpoint, +-1 float32 ulp around
  each midpoint, and 10^6 random float32 values per format (normal at several scales and random
  bit patterns with NaN/inf/subnormals).
* Every mode vs gfloat 0.5.2 ``round_ndarray`` (float64 in, explicit srbits), the primary oracle.
* Integer formats vs numpy (deterministic) and a Fraction oracle written from the spec table.
* Known differences to the libraries are pinned as their own tests.
* Properties: idempotence, monotonicity, output on the grid, signed zeros, seeds, errors.
"""

from __future__ import annotations

import math
import zlib
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
import pytest
from gfloat import RoundMode as GMode
from gfloat import round_float, round_ndarray
from gfloat.types import Domain, FormatInfo

from lowbit_core.formats import FloatFormat, IntFormat, Specials, get_format, grid
from lowbit_core.rng import words
from lowbit_core.rounding import RoundMode, quantize, round_distribution
from tests.conftest import HALF_FLOATS, INTS, ML_DTYPES, SMALL_FLOATS

# widening float32 signalling NaNs (random bit patterns) to float64 warns; harmless here
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")

DET_MODES = ["rne", "rna", "rtz", "rup", "rdn"]
FEW_BIT_MODES = ["srff", "srf", "src", "sro"]
RBITS = [1, 2, 3, 4, 8]
GMODES = {
    "rne": GMode.TiesToEven,
    "rna": GMode.TiesToAway,
    "rtz": GMode.TowardZero,
    "rup": GMode.TowardPositive,
    "rdn": GMode.TowardNegative,
    "srff": GMode.StochasticFastest,
    "srf": GMode.StochasticFast,
    "src": GMode.Stochastic,
    "sro": GMode.StochasticOdd,
}
ML = {k: v for k, v in ML_DTYPES.items() if not k.startswith(("int", "uint"))}
NO_NAN = ["float4_e2m1fn", "float6_e3m2fn", "float6_e2m3fn"]
GFLOAT_FORMATS = [
    *SMALL_FLOATS,
    *HALF_FLOATS,
    "e3m4",
    "e4m3_b5",
    "e2m0",
    "ue3m1",
    "e3m2_b-2",
    "e5m2fn_b20",
    "e4m3fnuz_b3",
]


def ref(x, fmt, mode="rne", **kw):
    """The numpy reference."""
    return quantize(x, fmt, mode, backend="numpy", **kw)


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise: equal bit patterns (so -0 != +0), every NaN equal to every NaN."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both_nan = np.isnan(a64) & np.isnan(b64)
    return np.asarray(both_nan | (a64.view(np.uint64) == b64.view(np.uint64)))


def assert_same(a, b, x=None, msg=""):
    ok = same(a, b)
    if not ok.all():
        i = np.flatnonzero(~ok.reshape(-1))[:8]
        xs = "" if x is None else f" x={np.asarray(x).reshape(-1)[i]!r}"
        raise AssertionError(
            f"{msg}: {(~ok).sum()} mismatches{xs} got={np.asarray(a).reshape(-1)[i]!r} "
            f"want={np.asarray(b).reshape(-1)[i]!r}"
        )


def next_above_max(f) -> float:
    """The first value of the unbounded grid above the largest finite value."""
    if isinstance(f, IntFormat):
        return f.max + 1.0
    return float(f.max + 2.0 ** (math.floor(math.log2(f.max)) - f.mbits))


@cache
def edge_inputs(name: str) -> np.ndarray:
    """float32: every grid value, every midpoint (incl. above max), +-1 float32 ulp around both,
    zeros, infinities, NaN, values below the smallest magnitude; both signs. Read-only."""
    f = get_format(name)
    g = grid(f)
    g = np.unique(np.concatenate([g, -g, [next_above_max(f), 2 * next_above_max(f)]]))
    mids = (g[:-1] + g[1:]) / 2
    with np.errstate(over="ignore"):
        base = np.concatenate([g, mids]).astype(np.float32)
        assert np.array_equal(
            base.astype(np.float64)[np.isfinite(base)], np.concatenate([g, mids])[np.isfinite(base)]
        )  # exact in float32
    tiny = f.min_subnormal * np.array([0.25, 0.5, 0.75, 1.5])
    specials = np.array([0.0, np.inf, np.nan, 1e-45, 3.4e38, *tiny], dtype=np.float32)
    up = np.nextafter(base, np.float32(np.inf))
    dn = np.nextafter(base, np.float32(-np.inf))
    x = np.concatenate([base, up, dn, specials, -specials])
    x.flags.writeable = False
    return x


@cache
def random_inputs(name: str, n: int = 1_000_000) -> np.ndarray:
    """float32: a quarter random bit patterns (NaN, inf, subnormals included), the rest normal
    samples at five scales from the smallest subnormal to the largest value. Read-only."""
    f = get_format(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # the same inputs in every process
    k = n // 4
    bits = rng.integers(0, 2**32, size=k, dtype=np.uint64).astype(np.uint32).view(np.float32)
    scales = [f.min_subnormal, f.min_normal, 1.0, math.sqrt(f.max), f.max]
    per = (n - k) // len(scales)
    with np.errstate(over="ignore"):  # the largest scale overflows float32 for wide formats
        parts = [bits] + [(rng.standard_normal(per) * s).astype(np.float32) for s in scales]
    x = np.concatenate(parts)
    x.flags.writeable = False
    return x


def ml_cast(x: np.ndarray, name: str) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        return x.astype(np.dtype(ML[name])).astype(np.float32)  # type: ignore[call-overload]


def e8m0_ties(x: np.ndarray) -> np.ndarray:
    """x == 1.5 * 2^k exactly, between two E8M0 values."""
    a = np.abs(np.asarray(x, np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        m, _ = np.frexp(a)
    return np.asarray(np.isfinite(a) & (m == 0.75) & (a >= 1.5 * 2.0**-127) & (a <= 1.5 * 2.0**127))


# --- RNE vs ml_dtypes ---


def check_vs_ml_dtypes(x: np.ndarray, name: str, saturate: bool) -> None:
    f = get_format(name)
    ours = ref(x, name, saturate=saturate)
    ml = ml_cast(x, name)
    assert ours.dtype == np.float32
    skip = np.zeros(x.shape, dtype=bool)
    if not f.has_nan:  # pinned in test_nan_into_formats_without_nan
        skip |= np.isnan(x)
    if name == "float8_e8m0fnu":  # pinned in test_e8m0_ties_follow_gfloat_not_ml_dtypes
        skip |= e8m0_ties(x)  # and in test_e8m0_float32_subnormal_inputs_ml_dtypes_rounds_up
        skip |= (x > 2.0**-127) & (x < 1.5 * 2.0**-127)
    if saturate:
        # pinned in test_saturate_differs_from_ml_dtypes_only_on_overflow
        skip |= ~np.isfinite(ml) & ~np.isnan(x)
    assert_same(ours[~skip], ml[~skip], x[~skip], f"{name} sat={saturate}")


ML_NAMES = list(ML)


@pytest.mark.parametrize("name", ML_NAMES)
@pytest.mark.parametrize("saturate", [False, True])
def test_rne_vs_ml_dtypes_edges(name, saturate):
    check_vs_ml_dtypes(edge_inputs(name), name, saturate)


@pytest.mark.parametrize("name", ML_NAMES)
@pytest.mark.parametrize("saturate", [False, True])
def test_rne_vs_ml_dtypes_random(name, saturate):
    check_vs_ml_dtypes(random_inputs(name), name, saturate)


@pytest.mark.parametrize("name", NO_NAN)
def test_nan_into_formats_without_nan(name):
    """Known difference: we return NaN (as gfloat does), ml_dtypes returns +-0."""
    x = np.array([np.nan, -np.nan], dtype=np.float32)
    for sat in (False, True):
        assert np.isnan(ref(x, name, saturate=sat)).all()
        for mode, kw in [("rtz", {}), ("sr", {"seed": 1}), ("srf", {"seed": 1, "rbits": 3})]:
            assert np.isnan(ref(x, name, mode, saturate=sat, **kw)).all()
    ml = ml_cast(x, name)
    assert (ml == 0).all()  # +-0 (ml_dtypes 0.6 gives -0 for +NaN and +0 for -NaN)


def test_e8m0_ties_follow_gfloat_not_ml_dtypes():
    """Known difference: E8M0 ties (1.5 * 2^k) go to the even *code* (gfloat: tie parity from the
    exponent field when the significand has one bit); ml_dtypes rounds every tie up."""
    k = np.arange(-127, 127)
    x = 1.5 * 2.0**k  # between 2^k (code k+127) and 2^(k+1)
    even_code = np.where((k + 127) % 2 == 0, 2.0**k, 2.0 ** (k + 1))
    ours = ref(x, "float8_e8m0fnu", saturate=False)
    assert_same(ours, even_code, x, "ours")
    from gfloat.formats import format_info_ocp_e8m0

    assert_same(round_ndarray(format_info_ocp_e8m0, x, GMode.TiesToEven), even_code, x, "gfloat")
    assert [round_float(format_info_ocp_e8m0, float(v)) for v in x[:4]] == even_code[:4].tolist()
    ml = ml_cast(x.astype(np.float32), "float8_e8m0fnu")
    assert_same(ml, 2.0 ** (k + 1), x, "ml_dtypes rounds ties up")
    # the top tie: ours stays at 2^127 (code 254 is even), ml_dtypes overflows to NaN
    top = np.array([1.5 * 2.0**127])
    assert ref(top, "float8_e8m0fnu", saturate=False)[0] == 2.0**127
    assert np.isnan(ml_cast(top.astype(np.float32), "float8_e8m0fnu")).all()


def test_e8m0_float32_subnormal_inputs_ml_dtypes_rounds_up():
    """Known difference (an ml_dtypes 0.6 quirk): float32 inputs strictly between 2^-127 and
    1.5 * 2^-127 (float32 subnormals) go *up* to 2^-126 in ml_dtypes; the nearest E8M0 value is
    2^-127, which is what we and gfloat return. Just above 2^-126 (float32 normals) ml_dtypes is
    nearest again."""
    m = 2.0**-127
    x = np.array([1.0001, 1.25, 1.49]) * m
    ml = ml_cast(x.astype(np.float32), "float8_e8m0fnu")
    assert (ml == 2 * m).all()
    assert (ref(x, "e8m0", saturate=False) == m).all()
    from gfloat.formats import format_info_ocp_e8m0

    assert (round_ndarray(format_info_ocp_e8m0, x) == m).all()
    y = np.array([1.2, 1.49]) * 2 * m
    assert_same(ml_cast(y.astype(np.float32), "float8_e8m0fnu"), np.full(2, 2 * m, np.float32))


@pytest.mark.parametrize("name", ML_NAMES)
def test_saturate_differs_from_ml_dtypes_only_on_overflow(name):
    """saturate=True clamps what ml_dtypes sends to inf/NaN (overflow, +-inf); E8M0 also clamps
    zero and negative values (ml_dtypes NaN) to its smallest value 2^-127."""
    f = get_format(name)
    x = np.concatenate([edge_inputs(name), random_inputs(name)[:100_000]])
    ours = ref(x, name, saturate=True)
    ml = ml_cast(x, name)
    diff = ~same(ours, ml) & ~np.isnan(x)
    if name == "float8_e8m0fnu":  # pinned in the two E8M0 tests above
        diff &= ~e8m0_ties(x) & ~((x > 2.0**-127) & (x < 1.5 * 2.0**-127))
    assert diff.any() == (f.has_inf or f.has_nan)
    assert (~np.isfinite(ml[diff])).all()
    xd, od = x[diff].astype(np.float64), ours[diff].astype(np.float64)
    if f.signed:
        assert_same(od, np.where(np.signbit(xd), -f.max_neg, f.max), xd, "clamped")
    else:
        assert_same(od, np.where(xd > 0, f.max, f.min_pos), xd, "clamped")


# --- every mode vs gfloat ---


def gfloat_info(f: FloatFormat) -> FormatInfo:
    """gfloat's description of one of our formats (checked against its OCP objects below)."""
    nans = {
        Specials.IEEE: (1 << f.mbits) - 1,
        Specials.FN: 1,
        Specials.FNUZ: 0,
        Specials.NONE: 0,
    }[f.specials]
    return FormatInfo(
        name=f.name,
        k=f.bits,
        precision=f.precision,
        bias=f.bias,
        is_signed=f.signed,
        domain=Domain.Extended if f.has_inf else Domain.Finite,
        has_nz=f.has_neg_zero,
        num_high_nans=nans,
        has_subnormals=f.subnormals,
        is_twos_complement=False,
    )


@pytest.mark.parametrize("name", GFLOAT_FORMATS)
def test_gfloat_info_matches_format(name):
    f = get_format(name)
    assert isinstance(f, FloatFormat)
    fi = gfloat_info(f)
    assert (fi.max, fi.smallest, fi.num_nans > 0) == (f.max, f.min_subnormal, f.has_nan)
    assert fi.min == (-f.max_neg if f.signed else f.min_pos)


@cache
def gfloat_inputs(name: str) -> np.ndarray:
    """float64 inputs where gfloat is defined for every mode: edges (subsampled for 16-bit
    formats), float32 random and float64 random (53-bit fractions)."""
    f = get_format(name)
    assert isinstance(f, FloatFormat)
    rng = np.random.default_rng(7)
    e = edge_inputs(name).astype(np.float64)
    if e.size > 12_000:
        e = rng.choice(e, 12_000, replace=False)
    r32 = rng.choice(random_inputs(name), 4000, replace=False).astype(np.float64)
    lo, hi = math.log2(f.min_subnormal) - 2, math.log2(f.max) + 1
    r64 = np.exp2(rng.uniform(lo, hi, 4000)) * rng.choice([-1.0, 1.0], 4000)
    x = np.concatenate([e, r32, r64])
    if not f.signed:  # gfloat does not handle negative input for unsigned formats
        x = x[~(x < 0)]
    if not f.has_zero:  # gfloat returns 0 / values below the grid for E8M0
        x = x[~(np.abs(x) < f.min_pos) & (x != 0)]
    if f.specials is Specials.NONE:  # gfloat raises on NaN/overflow without sat (pinned below)
        x = x[np.isfinite(x) & (np.abs(x) <= f.max)]
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("name", GFLOAT_FORMATS)
@pytest.mark.parametrize("mode", DET_MODES)
def test_deterministic_modes_vs_gfloat(name, mode):
    f = get_format(name)
    fi = gfloat_info(f)  # type: ignore[arg-type]
    x = gfloat_inputs(name)
    for sat in (True, False):
        want = round_ndarray(fi, x, GMODES[mode], sat)
        assert_same(ref(x, name, mode, saturate=sat), want, x, f"{name} {mode} sat={sat}")


@pytest.mark.parametrize("name", GFLOAT_FORMATS)
@pytest.mark.parametrize("mode", FEW_BIT_MODES)
def test_stochastic_modes_vs_gfloat(name, mode):
    f = get_format(name)
    fi = gfloat_info(f)  # type: ignore[arg-type]
    x = gfloat_inputs(name)
    rng = np.random.default_rng(11)
    for nb in RBITS:
        r = rng.integers(0, 2**nb, size=x.shape, dtype=np.int64)
        for sat in (True, False) if nb == 3 else (True,):
            want = round_ndarray(fi, x, GMODES[mode], sat, srbits=r, srnumbits=nb)
            got = ref(x, name, mode, saturate=sat, rbits=nb, srbits=r)
            assert_same(got, want, x, f"{name} {mode} N={nb} sat={sat}")


def test_gfloat_ocp_objects_agree():
    """The same comparisons through gfloat's own OCP FormatInfo objects."""
    from gfloat import formats as gf

    rng = np.random.default_rng(3)
    for name, fi in [
        ("float8_e4m3fn", gf.format_info_ocp_e4m3),
        ("float8_e5m2", gf.format_info_ocp_e5m2),
        ("float4_e2m1fn", gf.format_info_ocp_e2m1),
        ("bfloat16", gf.format_info_bfloat16),
    ]:
        x = gfloat_inputs(name)[:5000]
        r = rng.integers(0, 8, size=x.shape)
        for mode in ["rne", "rtz", "src", "sro", "srf", "srff"]:
            kw: dict[str, Any] = {"srbits": r, "srnumbits": 3} if mode.startswith("sr") else {}
            want = round_ndarray(fi, x, GMODES[mode], True, **kw)
            kw2: dict[str, Any] = {"srbits": r, "rbits": 3} if mode.startswith("sr") else {}
            assert_same(ref(x, name, mode, **kw2), want, x, f"{name} {mode}")


def test_sro_is_gfloat_stochastic_odd_ties_to_odd():
    """gfloat StochasticOdd rounds delta*2^N to nearest with ties to *odd* (round.py: a tie goes
    up when floor is even); so does our 'sro'. At d*2^N = k + 1/2 the threshold is the odd one of
    k, k+1: with N=2, d=0.375 (1.5) -> T=1, d=0.625 (2.5) -> T=3; SRC (ties to even) gives 2, 2."""
    x = np.array([8 + 0.375, 8 + 0.625])  # E4M3 ulp 1 on [8, 16)
    assert round_distribution(x, "float8_e4m3fn", "sro", 2).p_hi.tolist() == [0.25, 0.75]
    assert round_distribution(x, "float8_e4m3fn", "src", 2).p_hi.tolist() == [0.5, 0.5]
    from gfloat.formats import format_info_ocp_e4m3

    for r in range(4):
        rr = np.full(2, r)
        g = round_ndarray(
            format_info_ocp_e4m3, x, GMode.StochasticOdd, True, srbits=rr, srnumbits=2
        )
        assert_same(ref(x, "e4m3", "sro", rbits=2, srbits=rr), g)
        assert [
            round_float(format_info_ocp_e4m3, v, GMode.StochasticOdd, True, r, 2) for v in x
        ] == g.tolist()


# --- pinned behaviour where gfloat raises or is undefined ---


@pytest.mark.parametrize("name", NO_NAN)
def test_no_nan_no_inf_formats_clamp_without_saturate(name):
    """gfloat raises 'No Infs or NaNs in format, and sat=False'; we clamp to +-max (as
    ml_dtypes does)."""
    f = get_format(name)
    x = np.array([np.inf, -np.inf, 2 * f.max, -2 * f.max, 1e30])
    from gfloat import formats as gf

    gi = {
        "float4_e2m1fn": gf.format_info_ocp_e2m1,
        "float6_e3m2fn": gf.format_info_ocp_e3m2,
        "float6_e2m3fn": gf.format_info_ocp_e2m3,
    }[name]
    with pytest.raises(ValueError, match="No Infs or NaNs"):
        round_ndarray(gi, x, GMode.TiesToEven, False)
    with pytest.raises(ValueError, match="No NaN"):
        round_float(gi, math.nan)
    want = np.array([f.max, -f.max, f.max, -f.max, f.max])
    for mode, kw in [
        ("rne", {}),
        ("rup", {}),
        ("sr", {"seed": 3}),
        ("src", {"seed": 3, "rbits": 2}),
    ]:
        assert_same(ref(x, name, mode, saturate=False, **kw), want, x, mode)


@pytest.mark.parametrize("name", ["ue4m3", "ue5m3", "ue5m3_ieee", "float8_e8m0fnu"])
def test_negative_into_unsigned(name):
    """Negative values into unsigned formats: the bottom of the grid when saturating, NaN when
    not (all these formats have a NaN); -0.0 gives +0 (or E8M0's 2^-127 / NaN)."""
    f = get_format(name)
    x = np.array([-1.0, -1e-30, -np.inf, -2 * f.max])
    assert_same(ref(x, name, saturate=True), np.full(4, f.min_pos))
    assert np.isnan(ref(x, name, saturate=False)).all()
    z = ref(np.array([-0.0]), name)
    assert_same(z, np.array([f.min_pos]))
    assert ref(np.array([-0.0]), name, "sr", seed=1)[0] == f.min_pos


def test_e8m0_zero_and_underflow():
    """E8M0 has no zero: 0 and everything below 2^-127 go to 2^-127 (saturate) ; exact 0 -> NaN
    without saturate (as ml_dtypes); ml_dtypes also sends tiny positives to 2^-127."""
    x = np.array([0.0, 2.0**-140, 2.0**-128, 0.75 * 2.0**-127], dtype=np.float32)
    m = 2.0**-127
    assert_same(ref(x, "e8m0"), np.full(4, m, np.float32))
    assert_same(ref(x, "e8m0", saturate=False), np.array([np.nan, m, m, m], np.float32))
    assert_same(ml_cast(x, "float8_e8m0fnu"), np.array([np.nan, m, m, m], np.float32))
    for mode in DET_MODES:
        assert (ref(x[1:], "e8m0", mode) == m).all()
    # gfloat (not an oracle here): 0 -> 0.0 and 2^-130 -> 2^-130, neither an E8M0 value
    from gfloat.formats import format_info_ocp_e8m0

    g = round_ndarray(format_info_ocp_e8m0, np.array([0.0, 2.0**-130]))
    assert g.tolist() == [0.0, 2.0**-130]


# --- integer formats ---


def int_oracle_det(x: np.ndarray, f: IntFormat, mode: str) -> np.ndarray:
    fn: Any = {
        "rne": np.rint,
        "rna": lambda v: np.sign(v) * np.floor(np.abs(v) + 0.5),
        "rtz": np.trunc,
        "rup": np.ceil,
        "rdn": np.floor,
    }[mode]
    return np.asarray(np.clip(fn(x), -f.max_neg, f.max) + 0.0)


@pytest.mark.parametrize("name", INTS)
@pytest.mark.parametrize("mode", DET_MODES)
def test_int_deterministic_vs_numpy(name, mode, rng):
    f = get_format(name)
    assert isinstance(f, IntFormat)
    k = np.arange(-f.max_neg - 2, f.max + 3)
    x = np.concatenate(
        [
            k,
            k + 0.5,
            k + 0.25,
            k - 1e-9,
            rng.uniform(-f.max_neg - 3, f.max + 3, 3000),
            [np.inf, -np.inf],
        ]
    )
    if not f.signed:
        x = x[x >= 0]
    want = int_oracle_det(x, f, mode)
    for sat in (True, False):  # no inf/NaN: the two agree
        got = ref(x, name, mode, saturate=sat)
        assert_same(got + 0.0, want, x, f"{name} {mode}")  # + 0.0: integers have no -0


def spec_away(mode: str, d: Fraction, r: int, n: int) -> bool:
    """The few-bit rules, straight from papers_spec (b) / numerics_notes section 2 tables."""
    s = d * 2**n
    fl = math.floor(s)
    if mode == "srff":
        return bool(fl + r >= 2**n)
    if mode == "srf":
        return bool(math.floor(d * 2 ** (n + 1)) + 2 * r + 1 >= 2 ** (n + 1))
    t = fl + (
        s - fl > Fraction(1, 2)
        or (s - fl == Fraction(1, 2) and (fl % 2 == (1 if mode == "src" else 0)))
    )
    return bool(t + r >= 2**n)


def fraction_oracle(x: np.ndarray, f: IntFormat, mode: str, r: np.ndarray, n: int) -> np.ndarray:
    out = []
    for v, ri in zip(x.tolist(), r.tolist(), strict=True):
        a = Fraction(abs(v))
        i = math.floor(a)
        m = i + spec_away(mode, a - i, ri, n)
        m = min(m, int(f.max_neg if v < 0 else f.max))
        out.append(-float(m) if v < 0 else float(m))
    return np.array(out) + 0.0


@pytest.mark.parametrize("name", ["int2", "int4", "int8", "uint4", "int8_sym"])
@pytest.mark.parametrize("mode", FEW_BIT_MODES)
def test_int_few_bit_vs_fraction_oracle(name, mode, rng):
    f = get_format(name)
    assert isinstance(f, IntFormat)
    x = rng.uniform(0 if not f.signed else -f.max_neg - 2, f.max + 2, 600)
    x = np.concatenate([x, np.round(x * 16) / 16])  # few-bit fractions exercise the ties
    for n in RBITS:
        r = rng.integers(0, 2**n, size=x.shape)
        got = ref(x, name, mode, rbits=n, srbits=r) + 0.0
        assert_same(got, fraction_oracle(x, f, mode, r, n), x, f"{name} {mode} N={n}")


def test_fraction_oracle_agrees_with_gfloat_scalar():
    """The spec-table oracle and gfloat's scalar round_float agree (so either can be trusted)."""
    from gfloat.formats import format_info_ocp_e4m3

    rng = np.random.default_rng(5)
    x = np.concatenate([8 + rng.integers(0, 256, 300) / 256, 8 + rng.random(300)])
    for mode in FEW_BIT_MODES:
        for n in (1, 3, 4):
            for v in x[::7]:
                r = int(rng.integers(0, 2**n))
                g = round_float(format_info_ocp_e4m3, float(v), GMODES[mode], True, r, n)
                assert g == 8 + math.floor(v - 8) + spec_away(
                    mode, Fraction(v - 8) - math.floor(v - 8), r, n
                )


# --- properties ---

PROP_FORMATS = [*SMALL_FLOATS, "bfloat16", "int4", "uint4", "int8_sym", "e3m4"]
ALL_MODES: list[tuple[str, dict[str, Any]]] = [(m, {}) for m in DET_MODES] + [
    ("sr", {"seed": 5}),
    ("srff", {"seed": 5, "rbits": 2}),
    ("srf", {"seed": 5, "rbits": 3}),
    ("src", {"seed": 5, "rbits": 4}),
    ("sro", {"seed": 5, "rbits": 1}),
]


def prop_inputs(name: str) -> np.ndarray:
    e = edge_inputs(name)
    r = random_inputs(name)[::50]
    return np.concatenate([e[:20000], r]).astype(np.float32)


@pytest.mark.parametrize("name", PROP_FORMATS)
def test_output_on_grid_and_idempotent(name):
    f = get_format(name)
    g = grid(f)
    x = prop_inputs(name)
    for mode, kw in ALL_MODES:
        for sat in (True, False):
            q = ref(x, name, mode, saturate=sat, **kw)
            fin = np.isfinite(q)
            assert np.isin(q[fin].astype(np.float64), g).all(), (mode, sat)
            if not f.has_inf:
                assert not np.isinf(q).any()
            if sat:
                assert np.array_equal(np.isnan(q), np.isnan(x)), (mode, "sat: NaN only from NaN")
            q2 = ref(q, name, mode, saturate=sat, **kw)
            assert_same(q2, q, x, f"{name} {mode} idempotent")


@pytest.mark.parametrize("name", PROP_FORMATS)
def test_deterministic_modes_monotonic(name):
    x = np.sort(prop_inputs(name)[~np.isnan(prop_inputs(name))])
    for mode in DET_MODES:
        q = ref(x, name, mode).astype(np.float64)
        assert (np.diff(q) >= 0).all(), mode


@pytest.mark.parametrize("name", PROP_FORMATS)
def test_directed_modes_bracket_x(name):
    f = get_format(name)
    x = prop_inputs(name).astype(np.float64)
    x = x[np.isfinite(x) & (x >= -f.max_neg) & (x <= f.max) & (np.abs(x) >= f.min_pos)]
    dn, up = ref(x, name, "rdn"), ref(x, name, "rup")
    assert (dn <= x).all() and (up >= x).all()
    rn = ref(x, name, "rne")
    assert (np.abs(rn - x) <= np.minimum(x - dn, up - x)).all()  # nearest


@pytest.mark.parametrize("name", [*SMALL_FLOATS, *HALF_FLOATS, *INTS])
def test_signed_zero(name):
    f = get_format(name)
    x = np.array([-0.0, -f.min_subnormal / 4, 0.0, f.min_subnormal / 4])
    for mode, kw in ALL_MODES:
        if mode in ("rdn", "rup", "sr") or mode.startswith("sr"):
            continue  # these may move tiny values away from zero
        q = ref(x, name, mode, **kw)
        if not f.has_zero:
            assert (q == f.min_pos).all()
            continue
        assert (q == 0).all()
        assert np.signbit(q).tolist() == [f.has_neg_zero, f.has_neg_zero, False, False], mode
    # RUP on a negative tiny value gives -0 where there is one; RDN on +tiny gives +0
    if f.has_zero and f.signed:
        assert np.signbit(ref(np.array([-f.min_subnormal / 4]), name, "rup"))[0] == f.has_neg_zero
        assert not np.signbit(ref(np.array([f.min_subnormal / 4]), name, "rdn"))[0]


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float4_e2m1fn", "bfloat16", "int8"])
def test_float32_and_float64_inputs_agree(name):
    x = prop_inputs(name)
    for mode, kw in ALL_MODES:
        q32 = ref(x, name, mode, **kw)
        q64 = ref(x.astype(np.float64), name, mode, **kw)
        assert q32.dtype == np.float32 and q64.dtype == np.float64
        assert_same(q32, q64.astype(np.float32), x, mode)


@pytest.mark.parametrize("mode", ["sr", *FEW_BIT_MODES])
def test_seeds(mode):
    kw: dict[str, Any] = {} if mode == "sr" else {"rbits": 8}
    x = (8 + np.arange(1, 2000) / 2000).astype(np.float64)  # E4M3: ulp 1, 0 < d < 1
    a = ref(x, "e4m3", mode, seed=42, **kw)
    assert_same(ref(x, "e4m3", mode, seed=42, **kw), a)
    b = ref(x, "e4m3", mode, seed=43, **kw)
    # two independent draws differ with probability 2 d (1 - d): expect ~ 2/3 of 1999 to differ
    n_diff = int((a != b).sum())
    p = float(np.mean(2 * (x - 8) * (1 - (x - 8))))
    sd = math.sqrt(x.size * p * (1 - p))
    assert abs(n_diff - x.size * p) < 5 * sd
    # the stream is indexed by flat C-order position: shape does not matter
    assert_same(ref(x[:1998].reshape(2, 999), "e4m3", mode, seed=42, **kw).reshape(-1), a[:1998])


@pytest.mark.parametrize("mode", FEW_BIT_MODES)
@pytest.mark.parametrize("nb", [1, 3, 8, 32])
def test_seeded_few_bit_equals_srbits_from_rng_words(mode, nb, seed):
    """quantize(seed) uses the top N bits of rng.words(seed, flat index, 0) as srbits."""
    x = np.random.default_rng(seed % 2**32).uniform(-400, 400, (7, 33))
    r = (words(seed, np.arange(x.size)) >> np.uint64(32 - nb)).astype(np.int64).reshape(x.shape)
    assert_same(ref(x, "e4m3", mode, rbits=nb, seed=seed), ref(x, "e4m3", mode, rbits=nb, srbits=r))
    # a slice is a new array whose indices restart at 0: feed it the matching words instead
    s = x[2:5, 3:20]
    rs = r[2:5, 3:20]
    assert_same(
        ref(s, "e4m3", mode, rbits=nb, srbits=rs),
        ref(x, "e4m3", mode, rbits=nb, seed=seed)[2:5, 3:20],
    )


@pytest.mark.parametrize(
    "name", ["float8_e4m3fn", "float4_e2m1fn", "float8_e8m0fnu", "bfloat16", "int8", "ue5m3"]
)
def test_public_quantize_matches_reference(name):
    """The default backend (numba once dispatched) must equal the numpy reference bit for bit."""
    x = prop_inputs(name)
    for mode, kw in ALL_MODES:
        for sat in (True, False):
            assert_same(
                quantize(x, name, mode, saturate=sat, **kw),
                ref(x, name, mode, saturate=sat, **kw),
                x,
                f"{name} {mode} {sat}",
            )


def test_empty_and_zero_d():
    for dt in (np.float32, np.float64):
        e = quantize(np.zeros((0, 3), dt), "e4m3")
        assert e.shape == (0, 3) and e.dtype == dt
        e = quantize(np.zeros((0,), dt), "e4m3", "sr", seed=1)
        assert e.shape == (0,)
        s = quantize(np.array(1.3, dt), "e4m3")
        assert s.shape == () and s.dtype == dt and float(s) == 1.25
        s = quantize(np.asarray(dt(1.3)), "e4m3", "srff", rbits=4, seed=2)
        assert s.shape == () and float(s) in (1.25, 1.375)
    rd = round_distribution(np.zeros(0), "e4m3")
    assert rd.p_hi.shape == (0,)


def test_e2m1_table_spec_check_9():
    """papers_spec check 9 (TE reference): E2M1 RNE casts."""
    x = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0], dtype=np.float32)
    assert ref(x, "fp4").tolist() == [0, 1, 1, 2, 2, 4, 4, 6]


# --- errors ---


def err(match: str):
    return pytest.raises(ValueError, match=match)


def test_error_unknown_format_and_mode():
    x = np.ones(3)
    with err("'float9'"):
        quantize(x, "float9")
    with err("'nearest'"):
        quantize(x, "e4m3", "nearest")
    with err("'gpu'"):
        quantize(x, "e4m3", backend="gpu")
    with err("'nearest'"):
        round_distribution(x, "e4m3", "nearest")


@pytest.mark.parametrize("bad", [0, 33, -1, 2.5, True])
def test_error_rbits(bad):
    with err(f"rbits={bad!r}"):
        quantize(np.ones(3), "e4m3", "srff", rbits=bad, seed=1)
    with err(f"rbits={bad!r}"):
        round_distribution(np.ones(3), "e4m3", "src", bad)


def test_error_srbits():
    x = np.ones((2, 3))
    with err(r"\[0, 2\*\*3\).*\[8, 8\]"):
        quantize(x, "e4m3", "srff", rbits=3, srbits=np.full((2, 3), 8))
    with err(r"\[0, 2\*\*3\).*\[-1, -1\]"):
        quantize(x, "e4m3", "srff", rbits=3, srbits=np.full((2, 3), -1))
    with err(r"shape \(4,\)"):
        quantize(x, "e4m3", "srff", rbits=3, srbits=np.zeros(4, np.int64))
    with err("float64"):
        quantize(x, "e4m3", "srff", rbits=3, srbits=np.zeros((2, 3)))
    with err("rbits"):
        quantize(x, "e4m3", "sr", srbits=np.zeros((2, 3), np.int64))
    # broadcasting is allowed
    q = quantize(x * 1.3, "e4m3", "srff", rbits=3, srbits=np.array([0, 7, 7]))
    assert q.tolist() == [[1.25, 1.375, 1.375]] * 2


@pytest.mark.parametrize(
    "bad",
    [
        np.arange(3),
        np.array([True, False]),
        np.array([1.0], dtype=object),
        np.ones(2, np.float16),
        [1, 2],
        np.array(["1.0"]),
    ],
)
def test_error_non_float_input(bad):
    with err("dtype"):
        quantize(bad, "e4m3")
    with err("dtype"):
        round_distribution(bad, "e4m3")


@pytest.mark.parametrize("mode", ["sr", *FEW_BIT_MODES])
def test_error_missing_seed(mode):
    kw: dict[str, Any] = {} if mode == "sr" else {"rbits": 3}
    with err(f"'{mode}'.*seed"):
        quantize(np.ones(3), "e4m3", mode, **kw)


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "1", True])
def test_error_bad_seed(bad):
    with err(repr(bad) if not isinstance(bad, int) or isinstance(bad, bool) else str(bad)):
        quantize(np.ones(3), "e4m3", "sr", seed=bad)


def test_error_few_bit_without_rbits():
    with err("'srf'.*rbits"):
        quantize(np.ones(3), "e4m3", "srf", seed=1)


def test_round_mode_enum():
    assert {m.value for m in RoundMode} == {*DET_MODES, *FEW_BIT_MODES, "sr"}
    assert quantize(np.array([1.3]), "e4m3", RoundMode.RTZ)[0] == 1.25
    assert quantize(np.array([1.3]), "e4m3", " RUP ")[0] == 1.375


@pytest.mark.parametrize("name", [*SMALL_FLOATS, "bfloat16", "int4", "uint4", "e2m0"])
@pytest.mark.parametrize("saturate", [True, False])
def test_round_distribution_support_matches_quantize(name, saturate):
    """For every mode, quantize's outcomes are round_distribution's lo/hi: deterministic modes give
    hi exactly where p_hi == 1, and few-bit modes over all 2^N srbits hit hi with frequency p_hi."""
    x = prop_inputs(name).astype(np.float64)[::3]
    for mode in DET_MODES:
        rd = round_distribution(x, name, mode, saturate=saturate, backend="numpy")
        want = np.where(rd.p_hi == 1.0, rd.hi, rd.lo)
        assert_same(ref(x, name, mode, saturate=saturate), want, x, f"{name} {mode}")
    nb = 2
    r = np.arange(2**nb)[:, None]
    xs = np.broadcast_to(x, (r.size, x.size))
    for mode in FEW_BIT_MODES:
        rd = round_distribution(x, name, mode, nb, saturate=saturate, backend="numpy")
        q = ref(xs, name, mode, rbits=nb, srbits=r, saturate=saturate)
        is_lo, is_hi = same(q, rd.lo[None, :]), same(q, rd.hi[None, :])
        assert (is_lo | is_hi).all(), mode
        both = same(rd.lo, rd.hi)
        freq = np.where(both, 0.0, is_hi.mean(axis=0))
        ok = np.isnan(x) | same(freq, rd.p_hi)
        assert ok.all(), (mode, x[~ok][:5], freq[~ok][:5], rd.p_hi[~ok][:5])


@pytest.mark.parametrize(
    "name", ["float8_e4m3fn", "float4_e2m1fn", "float8_e8m0fnu", "ue5m3", "int4"]
)
def test_public_round_distribution_matches_reference(name):
    """round_distribution's default backend must equal the numpy reference exactly."""
    x = prop_inputs(name).astype(np.float64)[::2]
    for mode in [*DET_MODES, "sr", *FEW_BIT_MODES]:
        nb = 3 if mode in FEW_BIT_MODES else None
        for sat in (True, False):
            for ib in (None, 4):
                a = round_distribution(x, name, mode, nb, saturate=sat, input_bits=ib)
                b = round_distribution(
                    x, name, mode, nb, saturate=sat, input_bits=ib, backend="numpy"
                )
                for u, v in zip(a, b, strict=True):
                    assert_same(u, v, x, f"{name} {mode} sat={sat} input_bits={ib}")


# --- wide formats, memory order, exact SR beyond the first word ---


@pytest.mark.parametrize(("name", "dtype"), [("float32", np.float32), ("float16", np.float16)])
def test_float64_to_ieee_matches_numpy_cast(name, dtype):
    """float64 -> binary32 / binary16: numpy's casts are correctly rounded (RNE, overflow to inf),
    so saturate=False must agree bit for bit, subnormals and overflow included."""
    rng = np.random.default_rng(17)
    info = np.finfo(dtype)
    lo, hi = math.log2(float(info.smallest_subnormal)) - 3, math.log2(float(info.max)) + 1
    x = np.exp2(rng.uniform(lo, hi, 300_000)) * rng.choice([-1.0, 1.0], 300_000)
    g = np.asarray(info.max, np.float64)
    x = np.concatenate(
        [x, [0.0, -0.0, np.inf, -np.inf, np.nan, float(g), float(g) * (1 + 2.0**-12)]]
    )
    with np.errstate(over="ignore"):
        want = x.astype(dtype).astype(np.float64)
    got = ref(x, name, saturate=False)
    assert_same(got, want, x, name)
    assert_same(quantize(x, name, saturate=False), want, x, name + " public")


def test_memory_order_does_not_change_seeded_results():
    """The seed stream is indexed by the logical C-order position, whatever the memory layout."""
    rng = np.random.default_rng(8)
    c = rng.uniform(-400, 400, (37, 53))
    f = np.asfortranarray(c)
    v = c.T.copy().T  # Fortran-ordered copy through a transpose
    for mode, kw in ALL_MODES[5:]:
        want = quantize(c, "e4m3", mode, **kw)
        for arr in (f, v, c[:, :]):
            for backend in ("numpy", "auto"):
                got = quantize(arr, "e4m3", mode, backend=backend, **kw)
                assert got.shape == c.shape
                assert_same(got, want, c, f"{mode} {backend}")
    s = c[::2, 1::3]  # a strided view is numbered as its own C-order copy
    for backend in ("numpy", "auto"):
        assert_same(
            quantize(s, "e4m3", "sr", seed=4, backend=backend),
            quantize(np.ascontiguousarray(s), "e4m3", "sr", seed=4, backend="numpy"),
        )


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_exact_sr_reads_the_second_word(backend):
    """Exact SR compares U = 0.w0 w1 ... (32-bit words of rng.words) with d. Choose d whose first
    32 bits equal w0 for each element: the outcome is then decided by w1 alone (away iff
    w1 < the rest of d), which a one-word implementation gets wrong half the time."""
    seed, n = 99, 4000
    idx = np.arange(n)
    w0 = words(seed, idx, 0).astype(np.float64)
    w1 = words(seed, idx, 1).astype(np.float64)
    rest = np.random.default_rng(1).integers(1, 2**17, n) / 2.0**17  # 17 bits fit in [8, 16)
    d = (w0 + rest) / 2.0**32
    x = 8.0 + d
    assert np.array_equal((x - 8.0) * 2.0**32, w0 + rest)  # exact in float64
    want = np.where(w1 < rest * 2.0**32, 9.0, 8.0)
    assert_same(quantize(x, "e4m3", "sr", seed=seed, backend=backend), want, x)
    # and with d = w0 / 2^32 exactly (rest 0) the answer is never away: U >= d
    x0 = 8.0 + w0 / 2.0**32
    assert (quantize(x0, "e4m3", "sr", seed=seed, backend=backend) == 8.0).all()
    # one ulp above w0 / 2^32 in the first word: always away (U < d since w0 < w0 + 1)
    x1 = 8.0 + np.minimum(w0 + 1, 2.0**32 - 1) / 2.0**32
    assert (quantize(x1, "e4m3", "sr", seed=seed, backend=backend)[w0 < 2**32 - 1] == 9.0).all()
