"""Number formats: a frozen dataclass per format, a catalogue keyed by ml_dtypes names.

A :class:`FloatFormat` describes a binary floating-point code ``[sign] exponent mantissa``:

* normal codes (exponent field ``E >= 1``) are ``(-1)^s * 2^(E - bias) * 1.m``;
* subnormal codes (``E == 0``) are ``(-1)^s * 2^(1 - bias) * 0.m`` when ``subnormals`` is true;
  when it is false the ``E == 0`` codes decode to zero (flush) unless the format has no zero at
  all (``float8_e8m0fnu``, where ``E == 0`` is the normal value ``2^-bias``);
* special values follow :class:`Specials` (IEEE-like, finite "fn", unsigned-zero "fnuz", none).

An :class:`IntFormat` is a two's complement (or unsigned) integer, optionally symmetric.

Both expose the same grid parameters (``grid_mbits``, ``grid_emin``, ``max``, ``max_neg``) that the
rounding kernels use: the representable magnitudes in ``[2^e, 2^(e+1))`` are spaced by
``2^(max(e, grid_emin) - grid_mbits)``.

Sources: OCP 8-bit Floating Point spec v1.0 (E4M3/E5M2), OCP MX spec v1.0 (E2M1, E3M2, E2M3,
E8M0), ml_dtypes (names, fnuz conventions), papers_spec.md addendum (UE5M3).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np

__all__ = [
    "FORMATS",
    "FloatFormat",
    "Format",
    "IntFormat",
    "Specials",
    "all_values",
    "default_bias",
    "format_names",
    "get_format",
    "grid",
]


class Specials(StrEnum):
    """How a float format spends codes on infinities and NaNs."""

    IEEE = "ieee"
    """Top exponent field reserved: mantissa 0 is +-inf, any other mantissa is NaN (FP32, FP16,
    E5M2). With no mantissa bits (custom ``e5m0``) the field holds only +-inf: no NaN code."""
    FN = "fn"
    """Finite: no inf; only the all-ones exponent *and* mantissa code is NaN (E4M3FN, E8M0FNU)."""
    FNUZ = "fnuz"
    """Finite, unsigned zero: no inf, no -0; the code 1000...0 (negative zero) is the single NaN."""
    NONE = "none"
    """Every code is a finite number (FP4 E2M1, FP6 E3M2/E2M3)."""


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format ``EeMm``.

    Derived quantities are properties; see the module docstring for the decoding rules.
    """

    name: str  #: catalogue id (ml_dtypes spelling where one exists)
    ebits: int  #: exponent field width, 1..8
    mbits: int  #: stored mantissa (fraction) bits, 0..23 (52 for float64)
    bias: int  #: exponent bias; IEEE-like default is 2^(ebits-1) - 1
    signed: bool = True  #: False for the scale formats UE8M0, UE4M3, UE5M3
    specials: Specials = Specials.IEEE  #: how inf / NaN are encoded
    subnormals: bool = True  #: exponent field 0 encodes 0.m * 2^(1-bias)
    has_zero: bool = True  #: False only for E8M0, whose field 0 is the normal value 2^-bias
    label: str = ""  #: human label for the UI ("FP8 E4M3 (OCP)")

    def __post_init__(self) -> None:
        if not 1 <= self.ebits <= 11:
            raise ValueError(f"ebits={self.ebits!r} out of range 1..11")
        if not 0 <= self.mbits <= 52:
            raise ValueError(f"mbits={self.mbits!r} out of range 0..52")
        if self.specials is Specials.FN and self.mbits == 0 and self.ebits == 1:
            raise ValueError("an fn format needs more than one exponent code")
        if self.specials is Specials.IEEE and self.ebits == 1:
            # IEEE 754's rules, generalised: the all-ones exponent field is reserved for inf/NaN
            # and field 0 holds the subnormals. With one exponent bit those are the only two
            # fields, so there is no normal binade at all (E1M2 would be 0, 0.5, 1, 1.5, inf,
            # NaN): not a format the grid parameters below describe, so it is refused.
            raise ValueError(
                f"format {self.name!r}: an IEEE-like format needs at least 2 exponent bits (with "
                "1 bit the only nonzero exponent field is reserved for inf/NaN, leaving no normal "
                "numbers); use specials 'none' (every code finite) or 'fn'"
            )
        if self.specials is Specials.FNUZ and not self.signed:
            raise ValueError("fnuz formats are signed (their NaN is the negative-zero code)")
        if self.max <= 0 or not math.isfinite(self.max):
            raise ValueError(f"format {self.name!r} has no positive finite value")

    # --- sizes -------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return "float"

    @property
    def bits(self) -> int:
        """Total code width in bits."""
        return int(self.signed) + self.ebits + self.mbits

    @property
    def num_codes(self) -> int:
        return 1 << self.bits

    @property
    def precision(self) -> int:
        """Significand precision p = mbits + 1."""
        return self.mbits + 1

    # --- special values ----------------------------------------------------------------------
    @property
    def has_inf(self) -> bool:
        return self.specials is Specials.IEEE

    @property
    def has_nan(self) -> bool:
        # An IEEE-like format without mantissa bits (custom 'e5m0', 'e2m0') spends its reserved
        # exponent field on +-inf only: no NaN code. (Semantic fix: this used to say True, so
        # encode(NaN) returned the inf code and non-saturating overflow was described wrongly.)
        if self.specials is Specials.IEEE and self.mbits == 0:
            return False
        return self.specials is not Specials.NONE

    @property
    def has_neg_zero(self) -> bool:
        return self.signed and self.has_zero and self.specials is not Specials.FNUZ

    # --- range -------------------------------------------------------------------------------
    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value."""
        return (1 if (self.subnormals or self.has_zero) else 0) - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite value."""
        top = (1 << self.ebits) - 1  # all-ones exponent field
        if self.specials is Specials.IEEE:
            return top - 1 - self.bias
        if self.specials is Specials.FN and self.mbits == 0:
            return top - 1 - self.bias  # the whole top field is the NaN code
        return top - self.bias

    @property
    def max(self) -> float:
        """Largest finite value."""
        frac = 2.0 - 2.0 ** (-self.mbits)
        if self.specials is Specials.FN and self.mbits > 0:
            frac = 2.0 - 2.0 ** (1 - self.mbits)  # all-ones mantissa is NaN
        return math.ldexp(frac, self.emax)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value (the min normal when there are no subnormals)."""
        if self.subnormals and self.mbits > 0:
            return math.ldexp(1.0, self.emin - self.mbits)
        return self.min_normal

    @property
    def eps(self) -> float:
        """Spacing of values in [1, 2): 2^-mbits."""
        return math.ldexp(1.0, -self.mbits)

    @property
    def binades(self) -> float:
        """Dynamic range log2(max / min_subnormal)."""
        return math.log2(self.max / self.min_subnormal)

    # --- grid parameters used by the rounding kernels ------------------------------------------
    @property
    def grid_mbits(self) -> int:
        return self.mbits

    @property
    def grid_emin(self) -> int:
        return self.emin

    @property
    def max_neg(self) -> float:
        """Largest finite magnitude of a negative value (0 for unsigned formats)."""
        return self.max if self.signed else 0.0

    @property
    def min_pos(self) -> float:
        """Smallest positive magnitude the grid reaches without zero (0 when zero exists)."""
        return 0.0 if self.has_zero else self.min_normal

    @property
    def flush(self) -> bool:
        """Magnitudes below min_normal round between 0 and min_normal (no subnormals)."""
        return not self.subnormals and self.has_zero

    def describe(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class IntFormat:
    """A ``bits``-wide integer: two's complement, unsigned, or symmetric (no -2^(bits-1))."""

    name: str
    nbits: int  #: 2..16
    signed: bool = True
    symmetric: bool = False  #: drop the most negative code so the range is +-(2^(n-1)-1)
    label: str = ""

    def __post_init__(self) -> None:
        if not 2 <= self.nbits <= 16:
            raise ValueError(f"integer width {self.nbits!r} out of range 2..16")
        if self.symmetric and not self.signed:
            raise ValueError("symmetric applies to signed integers only")

    @property
    def kind(self) -> str:
        return "int"

    @property
    def bits(self) -> int:
        return self.nbits

    @property
    def num_codes(self) -> int:
        return 1 << self.nbits

    @property
    def has_inf(self) -> bool:
        return False

    @property
    def has_nan(self) -> bool:
        return False

    @property
    def has_zero(self) -> bool:
        return True

    @property
    def has_neg_zero(self) -> bool:
        return False

    @property
    def subnormals(self) -> bool:
        return False

    @property
    def max(self) -> float:
        return float((1 << (self.nbits - 1)) - 1 if self.signed else (1 << self.nbits) - 1)

    @property
    def max_neg(self) -> float:
        if not self.signed:
            return 0.0
        return float((1 << (self.nbits - 1)) - (1 if self.symmetric else 0))

    @property
    def min_normal(self) -> float:
        return 1.0

    @property
    def min_subnormal(self) -> float:
        return 1.0

    @property
    def eps(self) -> float:
        return 1.0

    @property
    def binades(self) -> float:
        return math.log2(max(self.max, self.max_neg))

    @property
    def precision(self) -> int:
        return self.nbits - int(self.signed)

    @property
    def grid_mbits(self) -> int:
        return 16  # spacing 2^(max(e, 16) - 16) = 1 for every |x| < 2^16

    @property
    def grid_emin(self) -> int:
        return 16

    @property
    def min_pos(self) -> float:
        return 0.0

    @property
    def flush(self) -> bool:
        return False

    def describe(self) -> str:
        return self.label or self.name


Format = FloatFormat | IntFormat


def _f(name: str, e: int, m: int, label: str, **kw: object) -> FloatFormat:
    bias = kw.pop("bias", (1 << (e - 1)) - 1)
    return FloatFormat(name=name, ebits=e, mbits=m, bias=bias, label=label, **kw)  # type: ignore[arg-type]


_FN, _FNUZ, _NONE = Specials.FN, Specials.FNUZ, Specials.NONE

#: The catalogue, keyed by ml_dtypes names where one exists.
FORMATS: dict[str, FloatFormat] = {
    f.name: f
    for f in [
        _f("float32", 8, 23, "FP32 (IEEE binary32)"),
        _f("bfloat16", 8, 7, "BF16 (bfloat16)"),
        _f("float16", 5, 10, "FP16 (IEEE binary16)"),
        _f("float8_e5m2", 5, 2, "FP8 E5M2 (OCP)"),
        _f("float8_e4m3fn", 4, 3, "FP8 E4M3 (OCP, finite)", specials=_FN),
        _f("float8_e4m3fnuz", 4, 3, "FP8 E4M3 FNUZ (AMD/Graphcore)", bias=8, specials=_FNUZ),
        _f("float8_e5m2fnuz", 5, 2, "FP8 E5M2 FNUZ (AMD/Graphcore)", bias=16, specials=_FNUZ),
        _f("float6_e3m2fn", 3, 2, "FP6 E3M2 (OCP MX)", specials=_NONE),
        _f("float6_e2m3fn", 2, 3, "FP6 E2M3 (OCP MX)", specials=_NONE),
        _f("float4_e2m1fn", 2, 1, "FP4 E2M1 (OCP MX, NVFP4)", specials=_NONE),
        _f(
            "float8_e8m0fnu", 8, 0, "UE8M0 (MX scale)",
            signed=False, specials=_FN, subnormals=False, has_zero=False,
        ),
        _f("ue4m3", 4, 3, "UE4M3 (NVFP4 block scale)", signed=False, specials=_FN),
        # UE5M3: the FP4 design-space paper's codebook is not public; we follow the later public
        # definition (LLVM/CUTLASS "E5M3FNU"): unsigned, bias 15, no inf, NaN only at 0xFF, so the
        # whole top binade stays finite (max 114688). The IEEE-like variant is ue5m3_ieee.
        _f("ue5m3", 5, 3, "UE5M3 (FNU: NaN at 0xFF only)", signed=False, specials=_FN),
        _f("ue5m3_ieee", 5, 3, "UE5M3 (IEEE-like top binade)", signed=False),
    ]
}

_ALIASES: dict[str, str] = {
    "fp32": "float32", "f32": "float32", "single": "float32",
    "bf16": "bfloat16",
    "fp16": "float16", "f16": "float16", "half": "float16",
    "e5m2": "float8_e5m2", "fp8_e5m2": "float8_e5m2",
    "e4m3": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn", "e4m3fn": "float8_e4m3fn",
    "e4m3fnuz": "float8_e4m3fnuz", "e5m2fnuz": "float8_e5m2fnuz",
    "e3m2": "float6_e3m2fn", "fp6_e3m2": "float6_e3m2fn", "fp6": "float6_e3m2fn",
    "e2m3": "float6_e2m3fn", "fp6_e2m3": "float6_e2m3fn",
    "e2m1": "float4_e2m1fn", "fp4": "float4_e2m1fn", "fp4_e2m1": "float4_e2m1fn",
    "e8m0": "float8_e8m0fnu", "ue8m0": "float8_e8m0fnu",
    "ue5m3fnu": "ue5m3",  # (bare "e5m3" stays the signed IEEE-like custom format)
}

_CUSTOM = re.compile(r"^(u?)e(\d+)m(\d+)(?:(fnuz|fn|ieee|none))?(?:_?b(?:ias)?(-?\d+))?$")
_INT = re.compile(r"^(u?)int(\d+)(_?sym(?:metric)?)?$")


def default_bias(ebits: int, specials: Specials) -> int:
    """Exponent bias of an ``eXmY`` name without ``_bBIAS``: 2^(X-1) for ``fnuz`` (as the
    catalogue's float8_e4m3fnuz / float8_e5m2fnuz and ml_dtypes: their single NaN takes the
    negative-zero code, so the whole top exponent field stays finite and the bias moves up one),
    else IEEE's 2^(X-1) - 1.
    """
    return (1 << (ebits - 1)) - (0 if specials is Specials.FNUZ else 1)


def format_names() -> list[str]:
    """Catalogue ids, in catalogue order."""
    return list(FORMATS)


def _custom(key: str, name: str) -> FloatFormat | None:
    """The custom float an ``eXmY[fn|fnuz|none|ieee][_bBIAS]`` key names (None: not such a key;
    catalogue aliases are not consulted, so ``e4m3fnuz`` here is the custom format with the
    default bias). ``name`` is the caller's string, for messages.

    Raises:
        ValueError: a field out of range, or a combination that is not a format.
    """
    mc = _CUSTOM.match(key)
    if mc is None:
        return None
    unsigned, e, m = mc.group(1) == "u", int(mc.group(2)), int(mc.group(3))
    if not 1 <= e <= 8:
        raise ValueError(f"format {name!r}: exponent bits {e} out of range 1..8")
    if not 0 <= m <= 23:
        raise ValueError(f"format {name!r}: mantissa bits {m} out of range 0..23")
    spec = Specials(mc.group(4)) if mc.group(4) else Specials.IEEE
    if spec is Specials.IEEE and e == 1:
        if mc.group(4):  # the name says IEEE: refuse it rather than build something else
            raise ValueError(
                f"format {name!r}: an IEEE-like format needs at least 2 exponent bits (with "
                "1 bit the only nonzero exponent field is reserved for inf/NaN, leaving no "
                f"normal numbers); use 'e1m{m}none' (every code finite) or 'e1m{m}fn'"
            )
        spec = Specials.NONE  # a bare 'e1mY' has no specials (see default_bias)
    bias = int(mc.group(5)) if mc.group(5) is not None else default_bias(e, spec)
    if not -64 <= bias <= 300:
        raise ValueError(f"format {name!r}: bias {bias} out of range -64..300")
    try:
        return FloatFormat(
            name=key, ebits=e, mbits=m, bias=bias, signed=not unsigned, specials=spec,
            label=f"Custom {'U' if unsigned else ''}E{e}M{m} (bias {bias}, {spec.value})",
        )
    except ValueError as exc:  # e.g. 'ue4m3fnuz', 'e1m0fn': name the caller's string
        raise ValueError(f"format {name!r}: {exc}") from None


@cache
def _parse(name: str) -> Format:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in FORMATS:
        return FORMATS[key]
    if mi := _INT.match(key):
        unsigned, width, sym = mi.group(1) == "u", int(mi.group(2)), bool(mi.group(3))
        if unsigned and sym:
            raise ValueError(f"unknown format {name!r}: unsigned integers cannot be symmetric")
        try:
            return IntFormat(name=key, nbits=width, signed=not unsigned, symmetric=sym)
        except ValueError as exc:  # name the string the caller gave, not only the field
            raise ValueError(f"format {name!r}: {exc}") from None
    if (custom := _custom(key, name)) is not None:
        return custom
    raise ValueError(
        f"unknown format {name!r}: use a catalogue id ({', '.join(FORMATS)}), an alias "
        "(bf16, e4m3, fp4, ...), 'eXmY[fn|fnuz|none|ieee][_bBIAS]' or 'intK'/'uintK'/'intK_sym'"
    )


def get_format(fmt: Format | str) -> Format:
    """Return a format object for a catalogue id, alias, ``eXmY`` string or ``intK`` name.

    Raises:
        ValueError: the name is not recognised, or its fields are out of range.
        TypeError: ``fmt`` is neither a string nor a format object.
    """
    if isinstance(fmt, FloatFormat | IntFormat):
        return fmt
    if not isinstance(fmt, str):
        raise TypeError(f"format must be a name or a format object, got {type(fmt).__name__}")
    return _parse(fmt)


# --- code points --------------------------------------------------------------------------------


def _check_codes(fmt: Format, codes: np.ndarray) -> np.ndarray:
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise ValueError(f"codes must be integers, got dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() >= fmt.num_codes):
        raise ValueError(f"codes out of range 0..{fmt.num_codes - 1} for {fmt.name}")
    return c.astype(np.int64)


def decode(fmt: Format | str, codes: np.ndarray | int) -> np.ndarray:
    """Decode integer code points to float64 values (NaN for NaN codes).

    Raises:
        ValueError: a code is outside ``0 .. num_codes-1`` or not an integer.
    """
    f = get_format(fmt)
    c = _check_codes(f, np.asarray(codes))
    if isinstance(f, IntFormat):
        if not f.signed:
            return c.astype(np.float64)
        v = np.where(c >= (1 << (f.nbits - 1)), c - (1 << f.nbits), c).astype(np.float64)
        if f.symmetric:
            v[c == (1 << (f.nbits - 1))] = np.nan
        return v
    m_mask = (1 << f.mbits) - 1
    e_top = (1 << f.ebits) - 1
    sign_bit = (c >> (f.ebits + f.mbits)) & 1 if f.signed else np.zeros_like(c)
    efield = (c >> f.mbits) & e_top
    mfield = c & m_mask
    frac = mfield.astype(np.float64) / float(1 << f.mbits)
    normal = np.ldexp(1.0 + frac, (efield - f.bias).astype(np.int32))
    if f.subnormals:
        sub = np.ldexp(frac, 1 - f.bias)
    elif f.has_zero:
        sub = np.zeros_like(frac)
    else:
        sub = normal
    mag = np.where(efield == 0, sub, normal)
    if f.specials is Specials.IEEE:
        mag = np.where(efield == e_top, np.where(mfield == 0, np.inf, np.nan), mag)
    elif f.specials is Specials.FN:
        mag = np.where((efield == e_top) & (mfield == m_mask), np.nan, mag)
    val = np.where(sign_bit == 1, -mag, mag)
    if f.specials is Specials.FNUZ:
        val = np.where(c == (1 << (f.bits - 1)), np.nan, val)
    return np.asarray(val, dtype=np.float64)


def encode(fmt: Format | str, values: np.ndarray | float) -> np.ndarray:
    """Encode values that lie on the format's grid to integer code points (int64).

    NaN maps to the format's canonical NaN code (ValueError if it has none); -0.0 maps to the
    negative-zero code where the format has one.

    Raises:
        ValueError: a value is not representable (round it with ``quantize`` first).
    """
    f = get_format(fmt)
    v = np.asarray(values, dtype=np.float64)
    table, codes_sorted = _value_index(f)
    out = np.empty(v.shape, dtype=np.int64)
    flat_v, flat_o = v.reshape(-1), out.reshape(-1)
    nan = np.isnan(flat_v)
    if nan.any():
        if not f.has_nan:
            raise ValueError(f"NaN is not representable in {f.name}")
        flat_o[nan] = _nan_code(f)
    fin = ~nan
    x = flat_v[fin]
    pos = np.searchsorted(table, x)
    posc = np.clip(pos, 0, len(table) - 1)
    ok = table[posc] == x
    if not ok.all():
        bad = x[~ok][0]
        raise ValueError(f"value {bad!r} is not representable in {f.name}")
    codes = codes_sorted[posc]
    if f.has_neg_zero:
        negz = (x == 0) & np.signbit(x)
        codes = np.where(negz, 1 << (f.bits - 1), codes)
    flat_o[fin] = codes
    return out


def _nan_code(f: Format) -> int:
    if isinstance(f, FloatFormat) and f.specials is Specials.FNUZ:
        return 1 << (f.bits - 1)
    return f.num_codes - 1  # all ones (positive for unsigned; sign set for signed)


@cache
def _value_index(f: Format) -> tuple[np.ndarray, np.ndarray]:
    """Sorted non-NaN values and their codes (+0 wins over -0)."""
    if f.bits > 16:
        raise ValueError(f"{f.name} has {f.bits} bits; code tables exist up to 16 bits")
    codes = np.arange(f.num_codes, dtype=np.int64)
    vals = decode(f, codes)
    keep = ~np.isnan(vals)
    # sort by value; for equal values (+0/-0) prefer the smaller code
    order = np.lexsort((codes[keep], vals[keep]))
    v, c = vals[keep][order], codes[keep][order]
    first = np.concatenate([[True], v[1:] != v[:-1]])
    return v[first], c[first]


@cache
def _all_values(f: Format) -> np.ndarray:
    if f.bits > 16:
        raise ValueError(f"{f.name} has {f.bits} bits; all_values exists up to 16 bits")
    out = decode(f, np.arange(f.num_codes, dtype=np.int64))
    out.flags.writeable = False
    return out


def all_values(fmt: Format | str) -> np.ndarray:
    """Decoded value of every code point, in code order (read-only float64, NaN where NaN).

    Raises:
        ValueError: the format is wider than 16 bits.
    """
    return _all_values(get_format(fmt))


@cache
def _grid(f: Format) -> np.ndarray:
    g = _value_index(f)[0]
    g = np.asarray(g[np.isfinite(g)]).copy()
    g.flags.writeable = False
    return g


def grid(fmt: Format | str) -> np.ndarray:
    """Sorted distinct finite values of a format of up to 16 bits (read-only float64)."""
    return _grid(get_format(fmt))
