"""URL schema of the Formats page: one frozen dataclass whose field metadata bounds hostile links.

Field-level bounds clamp in the codec (:mod:`ui.params`); the cross-field rules (the custom bias
range depends on ``ebits``; the bit-view code must fit the chosen format; a custom format must be
constructible) are checked in ``__post_init__``, so a link that breaks them falls back to the
defaults with one warning. The page keeps its widgets inside these rules (callbacks reset the bias
when ``ebits`` changes and carry the code across a format change), so only hand-edited links hit
the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lowbit_core.formats import FORMATS, FloatFormat, Specials, decode, encode
from lowbit_core.rounding import quantize
from ui.params import choice, frange, irange, multi

#: the ``code`` of a link that names none: resolved to the code of 1.0 (:func:`code_of_one`)
AUTO_CODE = -1


def code_of_one(f: FloatFormat) -> int:
    """The code of 1.0 in ``f``, or of the finite value nearest 1.0 where 1.0 is not on its grid
    (RNE, saturating; formats of more than 16 bits without 1.0: code 0)."""
    c = f.bias << f.mbits  # exponent field = bias, fraction 0: 1.0 where that field is a normal
    if 0 <= c < f.num_codes and decode(f, c)[()] == 1.0:
        return c
    if f.bits > 16:
        return 0
    return int(encode(f, quantize(np.array([1.0]), f, saturate=True))[0])

__all__ = [
    "BLOCK_FORMATS",
    "COMPARE_CHOICES",
    "CUSTOM",
    "FMT_CHOICES",
    "LINE_MODES",
    "MODE_LABELS",
    "FormatsParams",
    "bias_range",
    "build_format",
    "format_label",
]

CUSTOM = "custom"  #: the format picker's "build your own" entry
FMT_CHOICES: tuple[str, ...] = (*FORMATS, CUSTOM)
#: Formats the side-by-side table may show: the catalogue, two integer formats, the custom one.
COMPARE_CHOICES: tuple[str, ...] = (*FORMATS, "int8", "int4", CUSTOM)
#: Rounding modes whose rounding bins the number line can draw (deterministic ones plus exact SR).
LINE_MODES: tuple[str, ...] = ("rne", "rna", "rtz", "rup", "rdn", "sr")
MODE_LABELS = {"rne": "nearest, ties to even", "rna": "nearest, ties away", "rtz": "toward zero",
               "rup": "toward +∞", "rdn": "toward −∞", "sr": "stochastic (exact)"}
BLOCK_FORMATS: tuple[str, ...] = ("mxfp4", "nvfp4", "mxfp8_e4m3")
MAX_CODE = 2**32 - 1  # float32 is the widest format on the page


def bias_range(ebits: int) -> tuple[int, int]:
    """Custom-bias slider range for an exponent width: the IEEE bias 2^(e-1)-1 shifted by up to
    2^(e-1) binades down and 2^e up, wide enough to move the whole range across 1.0."""
    half = 1 << (ebits - 1)
    return -half, (1 << ebits) + half - 1


def format_label(name: str) -> str:
    """Menu label of a format-picker entry ("FP8 E4M3 (OCP, finite)")."""
    if name in FORMATS:
        return FORMATS[name].describe()
    return {"custom": "Custom (build your own)", "int8": "INT8", "int4": "INT4"}.get(name, name)


def build_format(
    fmt: str, ebits: int, mbits: int, bias: int, specials: str, signed: bool
) -> FloatFormat:
    """The format a page state names: a catalogue entry, or the custom one from its fields.

    Raises:
        ValueError: the custom fields do not make a format (see :class:`FloatFormat`).
    """
    if fmt != CUSTOM:
        return FORMATS[fmt]
    spec = Specials(specials)
    label = f"Custom {'' if signed else 'U'}E{ebits}M{mbits} (bias {bias}, {spec.value})"
    return FloatFormat(
        name=f"{'' if signed else 'u'}e{ebits}m{mbits}{spec.value}_b{bias}", ebits=ebits,
        mbits=mbits, bias=bias, signed=signed, specials=spec, label=label,
    )


@dataclass(frozen=True)
class FormatsParams:
    """Everything the Formats page shows, as it appears in a shared link."""

    # --- the format under the microscope --------------------------------------------------------
    fmt: str = field(default="float8_e4m3fn", metadata=choice(FMT_CHOICES))
    ebits: int = field(default=4, metadata=irange(1, 8))  #: custom only; 8 = float32's range
    mbits: int = field(default=3, metadata=irange(0, 10))  #: custom only; <= 19 bits in all
    bias: int = field(default=7, metadata=irange(-128, 383))  #: custom only; see bias_range
    specials: str = field(default="ieee", metadata=choice([s.value for s in Specials]))
    signed: bool = True  #: custom only; unsigned formats are the block-scale kind (UE4M3)
    # --- bit view: the code is the state, so a link reproduces the exact bit pattern ------------
    #: AUTO_CODE (a link without ``code``): the code of 1.0 in the chosen format (or of the value
    #: nearest 1.0 where it is not representable), so ``?fmt=float32`` opens at 1.0
    code: int = field(default=AUTO_CODE, metadata=irange(0, MAX_CODE))
    # --- "type a real number" and the number line -----------------------------------------------
    x: float = field(default=0.3, metadata=frange(-1e300, 1e300))  #: 0.3 is inexact everywhere
    mode: str = field(default="rne", metadata=choice(LINE_MODES))
    log_view: bool = False  #: log axis over |x|: equal width per binade
    center: float = field(default=1.0, metadata=frange(-1e300, 1e300))  #: number-line zoom centre
    count: int = field(default=256, metadata=irange(4, 2048))  #: values shown around the centre
    # --- side by side ----------------------------------------------------------------------------
    compare: tuple[str, ...] = field(
        default=("float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "bfloat16"),
        metadata=multi(COMPARE_CHOICES, min_len=1, max_len=4),
    )
    # --- block formats ---------------------------------------------------------------------------
    block_fmt: str = field(default="mxfp4", metadata=choice(BLOCK_FORMATS))
    groups: int = field(default=2, metadata=irange(1, 8))  #: tensor length = 32 * groups
    outlier: float = field(default=20.0, metadata=frange(-1e4, 1e4))  #: outlier value, in sigmas
    outlier_at: int = field(default=5, metadata=irange(0, 255))  #: element index of the outlier
    seed: int = field(default=0, metadata=irange(0, 2**31 - 1))

    def __post_init__(self) -> None:
        lo, hi = bias_range(self.ebits)
        if not lo <= self.bias <= hi:
            raise ValueError(f"bias={self.bias} is outside {lo}..{hi} for ebits={self.ebits}")
        f = self.format()  # raises ValueError for an impossible custom format
        if self.code == AUTO_CODE:
            object.__setattr__(self, "code", code_of_one(f))
        if self.code >= f.num_codes:
            raise ValueError(f"code={self.code} does not fit the {f.bits}-bit format {f.name}")
        if self.outlier_at >= 32 * self.groups:
            n = 32 * self.groups
            raise ValueError(f"outlier_at={self.outlier_at} is past the tensor's {n} elements")

    def format(self) -> FloatFormat:
        """The format under the microscope (catalogue entry or the custom one)."""
        return build_format(
            self.fmt, self.ebits, self.mbits, self.bias, self.specials, self.signed
        )
