"""Format names that say what they are (issue 15): ``e1mYieee`` is refused, a bare ``e1mY`` is
the no-specials format (checked code by code by hand), and a custom ``eXmYfnuz`` without a bias
gets the catalogue's fnuz bias 2^(X-1) (checked against ml_dtypes bit casts)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from gfloat import FormatInfo, decode_float
from gfloat.types import Domain, FloatClass

from lowbit_core.formats import (
    FORMATS,
    FloatFormat,
    Specials,
    _custom,
    all_values,
    default_bias,
    get_format,
)


def bit_cast(dtype: type, n: int) -> np.ndarray:
    """Every code of an 8-bit ml_dtypes dtype, decoded by a bit cast (the oracle)."""
    with np.errstate(invalid="ignore"):
        return np.arange(n, dtype=np.uint8).view(dtype).astype(np.float64)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit as float64 (-0 differs from +0), every NaN equal to every NaN."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.isnan(a), np.isnan(b)
    return bool(a.shape == b.shape and np.array_equal(na, nb)
                and np.array_equal(a[~na].view(np.uint64), b[~nb].view(np.uint64)))


# --- one exponent bit ---


@pytest.mark.parametrize("name", ["e1m0ieee", "e1m2ieee", "E1M3IEEE", "e1m2ieee_b1", "ue1m4ieee"])
def test_e1_ieee_names_are_refused_with_the_reason(name: str) -> None:
    with pytest.raises(ValueError) as ei:
        get_format(name)
    msg = str(ei.value)
    assert repr(name) in msg and "inf/NaN" in msg and "no normal numbers" in msg
    assert "none" in msg  # says what to use instead


def test_the_dataclass_refuses_one_exponent_bit_ieee_too() -> None:
    with pytest.raises(ValueError, match="at least 2 exponent bits"):
        FloatFormat(name="x", ebits=1, mbits=2, bias=0, specials=Specials.IEEE)


def test_ieee_rules_leave_e1m2_without_normal_numbers() -> None:
    """Why the name is refused: IEEE's rules, generalised as gfloat does (bias 2^(e-1)-1 = 0,
    the top field inf/NaN), decode every E1M2 code as zero, subnormal, inf or NaN."""
    fi = FormatInfo(name="e1m2ieee", k=4, precision=3, bias=0, has_nz=True,
                    domain=Domain.Extended, num_high_nans=3, has_subnormals=True,
                    is_signed=True, is_twos_complement=False)
    classes = {decode_float(fi, c).fclass for c in range(16)}
    assert FloatClass.NORMAL not in classes
    finite = sorted(decode_float(fi, c).fval for c in range(8)
                    if decode_float(fi, c).fclass in (FloatClass.ZERO, FloatClass.SUBNORMAL))
    assert finite == [0.0, 0.5, 1.0, 1.5]


@pytest.mark.parametrize("name", ["e1m2", "e1m2none", "e1m2_b0"])
def test_bare_e1m2_is_the_no_specials_format_by_hand(name: str) -> None:
    # sign | e | mm, bias 0: e = 0 -> 0.mm * 2^1 (subnormal), e = 1 -> 1.mm * 2^(1-0)
    hand = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    f = get_format(name)
    assert isinstance(f, FloatFormat) and f.specials is Specials.NONE and f.bias == 0
    assert same(all_values(f), np.array(hand + [-v for v in hand]))
    assert (f.max, f.has_inf, f.has_nan) == (3.5, False, False)
    assert "none" in f.describe()  # the label says it has no specials


# --- fnuz bias ---


def test_default_bias_rule() -> None:
    assert [default_bias(e, Specials.FNUZ) for e in (2, 4, 5, 8)] == [2, 8, 16, 128]
    for spec in (Specials.IEEE, Specials.FN, Specials.NONE):
        assert [default_bias(e, spec) for e in (2, 4, 5, 8)] == [1, 7, 15, 127]


@pytest.mark.parametrize(
    ("key", "dtype"),
    [("e4m3fnuz", ml_dtypes.float8_e4m3fnuz), ("e5m2fnuz", ml_dtypes.float8_e5m2fnuz),
     ("e4m3fnuz_b11", ml_dtypes.float8_e4m3b11fnuz)],
)
def test_custom_fnuz_matches_ml_dtypes(key: str, dtype: type) -> None:
    f = _custom(key, key)  # the custom path itself, not the catalogue alias of the same name
    assert f is not None and f.name == key
    assert same(all_values(f), bit_cast(dtype, 256))
    assert f.max == float(ml_dtypes.finfo(dtype).max)


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items()
                                  if isinstance(f, FloatFormat) and f.specials is Specials.FNUZ])
def test_custom_fnuz_agrees_with_the_catalogue(name: str) -> None:
    cat = FORMATS[name]
    assert isinstance(cat, FloatFormat)
    custom = _custom(f"e{cat.ebits}m{cat.mbits}fnuz", "x")
    assert custom is not None and custom.bias == cat.bias
    assert same(all_values(custom), all_values(cat))


def test_other_fnuz_names_get_the_same_rule() -> None:
    f = get_format("e3m4fnuz")
    assert isinstance(f, FloatFormat) and f.bias == 4
    assert f.max == (2 - 2**-4) * 2 ** (7 - 4)  # the whole top field is finite under fnuz
