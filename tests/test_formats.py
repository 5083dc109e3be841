"""Format catalogue: every code point of every format of <= 16 bits against independent oracles.

Oracles: ml_dtypes bit casts and ``finfo``/``iinfo`` (where ml_dtypes has the dtype), a scalar
decoder written here straight from the format definitions (Python ints, no numpy), gfloat's
``FormatInfo`` for the OCP formats, and a table of published values with a source per row.
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from lowbit_core.formats import (
    FORMATS,
    FloatFormat,
    IntFormat,
    Specials,
    all_values,
    decode,
    encode,
    format_names,
    get_format,
    grid,
)
from tests.conftest import EXHAUSTIVE, HALF_FLOATS, INTS, ML_DTYPES, SMALL_FLOATS

FLOAT_ML = [n for n in ML_DTYPES if not n.startswith(("int", "uint"))]
INT_ML = [n for n in ML_DTYPES if n.startswith(("int", "uint"))]


def ml_decode(name: str) -> np.ndarray:
    """Decode every code of ``name`` by a bit cast in ml_dtypes/numpy."""
    fmt = get_format(name)
    dt = np.dtype(ML_DTYPES[name])  # type: ignore[call-overload]
    store = np.uint16 if dt.itemsize == 2 else np.uint8
    with np.errstate(invalid="ignore"):  # NaN payloads
        return np.asarray(np.arange(fmt.num_codes, dtype=store).view(dt).astype(np.float64))


def scalar_decode(f: FloatFormat, code: int) -> float:
    """Independent decoder, one code at a time, from the definitions in the format docstrings."""
    sign = (code >> (f.ebits + f.mbits)) & 1 if f.signed else 0
    e = (code >> f.mbits) & ((1 << f.ebits) - 1)
    m = code & ((1 << f.mbits) - 1)
    top_e, top_m = (1 << f.ebits) - 1, (1 << f.mbits) - 1
    if f.specials is Specials.IEEE and e == top_e:
        return math.copysign(math.inf, -sign) if m == 0 else math.nan
    if f.specials is Specials.FN and e == top_e and m == top_m:
        return math.nan
    if f.specials is Specials.FNUZ and code == 1 << (f.bits - 1):
        return math.nan
    if e == 0 and f.has_zero:
        mag = (
            Fraction(m, 1 << f.mbits) * Fraction(2) ** (1 - f.bias) if f.subnormals else Fraction(0)
        )
    else:
        mag = (1 + Fraction(m, 1 << f.mbits)) * Fraction(2) ** (e - f.bias)
    return -float(mag) if sign else float(mag)


def same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as float64 bit patterns, except that every NaN equals every NaN."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    return bool(np.array_equal(a[~na].view(np.uint64), b[~nb].view(np.uint64)))


# --- decode ---


@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_decode_matches_ml_dtypes_bit_cast(name):
    assert same_values(all_values(name), ml_decode(name))


#: custom eXmY strings: IEEE/fn/fnuz specials, bias overrides (also negative), m = 0, unsigned
CUSTOM = [
    "e3m4",
    "e4m3_b5",
    "e3m2_b-2",
    "e5m2fn_b20",
    "e4m3fnuz_b3",
    "e2m0",
    "e5m0",
    "ue3m1",
    "e3m0fn",
]


@pytest.mark.parametrize("name", [*SMALL_FLOATS, *HALF_FLOATS, *CUSTOM])
def test_decode_matches_scalar_decoder(name):
    f = get_format(name)
    assert isinstance(f, FloatFormat)
    ref = np.array([scalar_decode(f, c) for c in range(f.num_codes)])
    assert same_values(all_values(f), ref)


def test_ue4m3_is_the_positive_half_of_e4m3fn():
    # NVFP4 block scale (papers_spec (d)): E4M3 without its sign bit
    assert same_values(all_values("ue4m3"), all_values("float8_e4m3fn")[:128])


def test_ue5m3_codebooks():
    # papers_spec addendum: FNU variant NaN only at 0xFF; IEEE-like variant reserves exponent 31
    fnu, ieee = all_values("ue5m3"), all_values("ue5m3_ieee")
    assert np.flatnonzero(np.isnan(fnu)).tolist() == [0xFF]
    assert fnu[0xF8:0xFF].tolist() == [2.0**16 * (1 + k / 8) for k in range(7)]
    assert ieee[0xF8] == np.inf and np.isnan(ieee[0xF9:]).all()
    assert same_values(fnu[:0xF8], ieee[:0xF8])


@pytest.mark.parametrize("name", INTS)
def test_int_decode(name):
    f = get_format(name)
    assert isinstance(f, IntFormat)
    codes = np.arange(f.num_codes)
    vals = all_values(f)
    if f.signed:
        ref = np.where(codes >= f.num_codes // 2, codes - f.num_codes, codes).astype(np.float64)
    else:
        ref = codes.astype(np.float64)
    if f.symmetric:  # the most negative code is unused (decodes to NaN)
        assert np.isnan(vals[f.num_codes // 2])
        ref[f.num_codes // 2] = np.nan
    assert same_values(vals, ref)


def test_all_values_is_read_only():
    v = all_values("float8_e4m3fn")
    with pytest.raises(ValueError):
        v[0] = 1.0


# --- encode ---


@pytest.mark.parametrize("name", [*EXHAUSTIVE, *CUSTOM])
def test_encode_decode_round_trip(name):
    f = get_format(name)
    codes = np.arange(f.num_codes)
    vals = decode(f, codes)
    ok = ~np.isnan(vals)
    assert np.array_equal(encode(f, vals[ok]), codes[ok])  # every non-NaN code is its own value
    if f.has_nan:
        assert np.isnan(decode(f, encode(f, np.array([np.nan])))).all()
    else:
        with pytest.raises(ValueError, match="NaN"):
            encode(f, np.array([np.nan]))


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float4_e2m1fn", "int8"])
def test_encode_rejects_off_grid_values(name):
    with pytest.raises(ValueError, match="not representable"):
        encode(name, np.array([0.0, 1.0 + get_format(name).eps / 2]))


@pytest.mark.parametrize("name", EXHAUSTIVE)
def test_grid_is_the_sorted_distinct_finite_values(name):
    v = all_values(name)
    g = grid(name)
    assert not g.flags.writeable
    assert np.array_equal(g, np.unique(v[np.isfinite(v)]))


@pytest.mark.parametrize("name", [*SMALL_FLOATS, *HALF_FLOATS])
def test_decode_out_of_range_codes(name):
    n = get_format(name).num_codes
    for bad in (-1, n):
        with pytest.raises(ValueError, match="out of range"):
            decode(name, np.array([bad]))
    with pytest.raises(ValueError, match="float64"):
        decode(name, np.array([1.0]))


# --- derived properties ---


@pytest.mark.parametrize("name", FLOAT_ML)
def test_properties_vs_ml_dtypes_finfo(name):
    f = get_format(name)
    fi = ml_dtypes.finfo(ML_DTYPES[name])
    assert f.max == float(fi.max)
    assert f.min_normal == float(fi.smallest_normal)
    assert f.min_subnormal == float(fi.smallest_subnormal)
    assert f.eps == float(fi.eps)
    assert f.bits == fi.bits
    assert f.precision == fi.nmant + 1


@pytest.mark.parametrize("name", INT_ML)
def test_int_properties_vs_iinfo(name):
    f = get_format(name)
    ii = ml_dtypes.iinfo(ML_DTYPES[name])
    assert (f.max, -f.max_neg if f.signed else 0.0) == (float(ii.max), float(ii.min))
    assert f.bits == ii.bits


@pytest.mark.parametrize("name", [*SMALL_FLOATS, *HALF_FLOATS, *CUSTOM])
def test_properties_vs_enumeration(name):
    f = get_format(name)
    assert isinstance(f, FloatFormat)
    v = all_values(f)
    fin = v[np.isfinite(v)]
    pos = fin[fin > 0]
    assert f.num_codes == v.size == 2**f.bits
    assert f.has_inf == bool(np.isinf(v).any())
    assert f.has_nan == bool(np.isnan(v).any())
    assert f.has_zero == bool((v == 0).any())
    assert f.has_neg_zero == bool(((v == 0) & np.signbit(v)).any())
    assert f.max == fin.max()
    assert f.max_neg == (-fin.min() if f.signed else 0.0)
    assert f.min_subnormal == pos.min()
    assert f.binades == math.log2(fin.max() / pos.min())
    # smallest normal: the smallest value whose exponent field is not zero (a power of two);
    # without a zero (E8M0) the field 0 is a normal value too
    c = np.arange(f.num_codes)
    efield = (c >> f.mbits) & ((1 << f.ebits) - 1)
    normals = np.abs(v[((efield >= 1) | (not f.has_zero)) & np.isfinite(v)])
    assert f.min_normal == normals.min() == 2.0**f.emin
    assert f.emax == math.floor(math.log2(f.max))
    # eps: spacing just above 1.0
    g = grid(f)
    i1 = int(np.searchsorted(g, 1.0))
    if i1 < g.size and g[i1] == 1.0:
        assert f.eps == g[i1 + 1] - 1.0
    else:  # 1.0 outside the range (bias overrides): eps is still 2^-mbits
        assert f.eps == 2.0**-f.mbits and name.endswith(("_b-2", "_b20"))


@pytest.mark.parametrize("name", INTS)
def test_int_properties_vs_enumeration(name):
    f = get_format(name)
    v = all_values(f)
    fin = v[np.isfinite(v)]
    assert (f.max, f.max_neg) == (fin.max(), -fin.min())
    assert not (f.has_inf or f.has_nan or f.has_neg_zero)
    assert np.array_equal(grid(f), np.arange(fin.min(), fin.max() + 1))


# Published values: (format, property, value, source)
INTERESTING = [
    ("float8_e4m3fn", "max", 448.0, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float8_e4m3fn", "min_normal", 2.0**-6, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float8_e4m3fn", "min_subnormal", 2.0**-9, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float8_e5m2", "max", 57344.0, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float8_e5m2", "min_normal", 2.0**-14, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float8_e5m2", "min_subnormal", 2.0**-16, "OCP 8-bit FP spec v1.0, Table 1"),
    ("float4_e2m1fn", "max", 6.0, "OCP MX spec v1.0, sec. 5.3.3"),
    ("float4_e2m1fn", "min_subnormal", 0.5, "OCP MX spec v1.0, sec. 5.3.3"),
    ("float6_e3m2fn", "max", 28.0, "OCP MX spec v1.0, sec. 5.3.2"),
    ("float6_e3m2fn", "min_subnormal", 0.0625, "OCP MX spec v1.0, sec. 5.3.2"),
    ("float6_e2m3fn", "max", 7.5, "OCP MX spec v1.0, sec. 5.3.2"),
    ("float6_e2m3fn", "min_subnormal", 0.125, "OCP MX spec v1.0, sec. 5.3.2"),
    ("float8_e8m0fnu", "max", 2.0**127, "OCP MX spec v1.0, sec. 5.4.1"),
    ("float8_e8m0fnu", "min_subnormal", 2.0**-127, "OCP MX spec v1.0, sec. 5.4.1"),
    ("ue5m3", "max", 114688.0, "papers_spec.md addendum (UE5M3 FNU)"),
    ("ue5m3", "min_normal", 2.0**-14, "papers_spec.md addendum (UE5M3 FNU)"),
    ("ue5m3", "min_subnormal", 2.0**-17, "papers_spec.md addendum (UE5M3 FNU)"),
    ("ue5m3_ieee", "max", 61440.0, "papers_spec.md addendum (UE5M3 IEEE-like)"),
    ("ue4m3", "max", 448.0, "papers_spec.md addendum (UE4M3)"),
    ("ue4m3", "min_subnormal", 2.0**-9, "papers_spec.md addendum (UE4M3)"),
    ("float16", "max", 65504.0, "IEEE 754-2019 binary16"),
    ("bfloat16", "max", 2.0**127 * (2 - 2.0**-7), "bfloat16 (binary32 exponent, 8-bit precision)"),
]
BINADES = [
    ("ue5m3", 33.81, "papers_spec.md addendum"),
    ("ue5m3_ieee", 32.9, "papers_spec.md addendum"),
    ("ue4m3", 17.81, "papers_spec.md addendum"),
    ("float8_e8m0fnu", 254.0, "OCP MX spec v1.0 (2^-127 .. 2^127)"),
]


@pytest.mark.parametrize(("name", "prop", "value", "source"), INTERESTING)
def test_published_values(name, prop, value, source):
    assert getattr(get_format(name), prop) == value, source


@pytest.mark.parametrize(("name", "value", "source"), BINADES)
def test_published_binades(name, value, source):
    # the sources quote 2 decimals (1 for 32.9)
    assert round(get_format(name).binades, 1 if value == 32.9 else 2) == value, source


def test_e8m0_has_no_zero_and_one_nan():
    v = all_values("float8_e8m0fnu")
    assert not (v == 0).any() and np.flatnonzero(np.isnan(v)).tolist() == [255]
    assert np.array_equal(v[:255], 2.0 ** np.arange(-127, 128))


@pytest.mark.parametrize(
    ("name", "gname"),
    [
        ("float8_e5m2", "format_info_ocp_e5m2"),
        ("float8_e4m3fn", "format_info_ocp_e4m3"),
        ("float6_e3m2fn", "format_info_ocp_e3m2"),
        ("float6_e2m3fn", "format_info_ocp_e2m3"),
        ("float4_e2m1fn", "format_info_ocp_e2m1"),
        ("float8_e8m0fnu", "format_info_ocp_e8m0"),
        ("bfloat16", "format_info_bfloat16"),
        ("float16", "format_info_binary16"),
    ],
)
def test_properties_vs_gfloat_format_info(name, gname):
    import gfloat.formats

    fi = getattr(gfloat.formats, gname)
    f = get_format(name)
    assert isinstance(f, FloatFormat)
    assert f.max == fi.max
    assert f.min_subnormal == fi.smallest
    assert (f.bits, f.precision, f.bias, f.signed) == (fi.k, fi.precision, fi.bias, fi.is_signed)
    assert f.has_neg_zero == fi.has_nz and f.has_inf == (fi.num_infs > 0)
    assert f.has_nan == (fi.num_nans > 0) and f.has_zero == fi.has_zero
    assert f.subnormals == fi.has_subnormals


# --- names and parsing ---


def test_catalogue_names():
    assert format_names() == list(FORMATS)
    for n in format_names():
        assert get_format(n) is FORMATS[n]


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("e4m3", "float8_e4m3fn"),
        ("E4M3", "float8_e4m3fn"),
        ("e5m2", "float8_e5m2"),
        ("bf16", "bfloat16"),
        ("fp4", "float4_e2m1fn"),
        ("e8m0", "float8_e8m0fnu"),
        (" fp16 ", "float16"),
        ("ue5m3", "ue5m3"),
    ],
)
def test_aliases(alias, target):
    assert get_format(alias) is FORMATS[target]


def test_custom_e3m4():
    f = get_format("e3m4")
    assert isinstance(f, FloatFormat)
    assert (f.ebits, f.mbits, f.bias, f.specials, f.signed) == (3, 4, 3, Specials.IEEE, True)
    assert f.max == float(ml_dtypes.finfo(ml_dtypes.float8_e3m4).max) == 15.5


def test_custom_bias_override():
    f = get_format("e4m3_b5")
    assert isinstance(f, FloatFormat)
    assert (f.ebits, f.mbits, f.bias, f.specials) == (4, 3, 5, Specials.IEEE)
    assert f.max == 2.0 ** (14 - 5) * 1.875
    assert f.min_subnormal == 2.0 ** (1 - 5 - 3)
    assert get_format("e4m3fn_b5").max == 2.0 ** (15 - 5) * 1.75


@pytest.mark.parametrize(
    ("name", "nbits", "signed", "symmetric", "lo", "hi"),
    [
        ("int8", 8, True, False, -128, 127),
        ("uint4", 4, False, False, 0, 15),
        ("int8_sym", 8, True, True, -127, 127),
    ],
)
def test_int_names(name, nbits, signed, symmetric, lo, hi):
    f = get_format(name)
    assert isinstance(f, IntFormat)
    assert (f.nbits, f.signed, f.symmetric) == (nbits, signed, symmetric)
    assert (-f.max_neg if signed else 0.0, f.max) == (lo, hi)
    assert grid(f)[0] == lo and grid(f)[-1] == hi


@pytest.mark.parametrize(
    "bad",
    ["e9m2", "e4m24", "e0m3", "int1", "int17", "garbage", "", "uint8_sym", "ue4m3fnuz", "e1m0fn"],
)
def test_bad_format_names(bad):
    with pytest.raises(ValueError) as ei:
        get_format(bad)
    assert repr(bad) in str(ei.value)


def test_format_type_error():
    with pytest.raises(TypeError, match="int"):
        get_format(8)  # type: ignore[arg-type]
