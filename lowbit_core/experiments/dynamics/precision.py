"""Emulated precision for the dynamics experiments: which grid, which rounding, which stream.

A :class:`Precision` names one arithmetic: float64 itself, ``sbits`` stored significand bits with
float64's exponent range (the "reduced-precision emulator" of the SPEEDY studies: every result
rounded to p bits, exponent untouched), or a format of the lab's catalogue / any ``eXmY`` with its
exponent range, subnormals and overflow rule. Rounding is any mode of
:class:`lowbit_core.rounding.RoundMode` the kernels support here (nearest-even, exact SR and the
few-bit SR variants), seeded by the lab's counter RNG.

Spec: ../shared/spec/wave2_spec.md section E (lab settings), papers_spec.md (e).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lowbit_core._numba import MODE_CODE, grid_args
from lowbit_core.formats import FloatFormat, get_format
from lowbit_core.rng import check_seed, key
from lowbit_core.rounding import FEW_BIT_MODES, RoundMode, check_mode, quantize

from . import _kernels as K

__all__ = ["FLOAT64", "MODES", "Precision", "sbits_format"]

FLOAT64 = "float64"  #: the ``fmt`` of unrounded float64 runs
#: rounding modes the dynamics kernels take: nearest-even, exact SR, the four N-bit SR variants
MODES: tuple[str, ...] = ("rne", "sr", "srff", "srf", "src", "sro")
MAX_SBITS = 52


def sbits_format(p: int) -> FloatFormat:
    """The lab format whose grid is "p stored bits, float64's exponent range": IEEE-like
    e11m``p``, bias 1023 (float64 itself for p = 52). Used for the starts, the constants and as
    the tests' oracle grid (rounded without saturation, so overflow gives inf as in float64)."""
    return FloatFormat(
        name=f"e11m{p}", ebits=11, mbits=p, bias=1023, label=f"{p} sbits (float64 exponent range)"
    )


@dataclass(frozen=True)
class Precision:
    """One emulated arithmetic (validated on construction).

    Raises:
        ValueError: unknown or unsigned format, sbits outside 1..52, unknown mode, rbits missing
            or outside 1..32 for an N-bit mode, a bad seed.
    """

    #: "" for ``sbits`` with float64's exponent range, "float64" for no rounding, else a format
    #: name :func:`lowbit_core.formats.get_format` accepts (float16, bfloat16, e5m2, e4m3, eXmY)
    fmt: str = ""
    sbits: int = 7  #: stored significand bits when ``fmt`` is "" (7 = bfloat16's, 10 = float16's)
    mode: str = "rne"  #: one of :data:`MODES`
    rbits: int | None = None  #: random bits N of the few-bit modes (srff, srf, src, sro)
    seed: int = 0  #: stream of the counter RNG (stochastic modes only)
    #: overflow of a format: clamp to its largest value (True) or its own rule (inf / NaN)
    saturate: bool = True

    def __post_init__(self) -> None:
        m = check_mode(self.mode).value
        if m not in MODES:
            raise ValueError(f"mode={self.mode!r}: the dynamics kernels take {', '.join(MODES)}")
        object.__setattr__(self, "mode", m)
        if self.fmt not in ("", FLOAT64):
            f = get_format(self.fmt)  # raises ValueError naming the bad name
            if not isinstance(f, FloatFormat) or not f.signed or not f.has_zero:
                raise ValueError(f"fmt={self.fmt!r}: the dynamics need a signed float format")
        if self.fmt == "" and (
            isinstance(self.sbits, bool)
            or not isinstance(self.sbits, int)
            or not 1 <= self.sbits <= MAX_SBITS
        ):
            raise ValueError(f"sbits={self.sbits!r} out of range: use an integer 1..52")
        if RoundMode(m) not in FEW_BIT_MODES:
            object.__setattr__(self, "rbits", None)  # only the N-bit modes read random bits
        else:
            rb = self.rbits
            if isinstance(rb, bool) or not isinstance(rb, int) or not 1 <= rb <= 32:
                raise ValueError(f"rbits={rb!r}: mode {m!r} needs an integer 1..32")
        check_seed(self.seed)

    @property
    def stochastic(self) -> bool:
        return self.mode != "rne" and self.kind != K.KIND_F64

    @property
    def kind(self) -> int:
        if self.fmt == FLOAT64 or (self.fmt == "" and self.sbits == MAX_SBITS):
            return K.KIND_F64
        return K.KIND_SBITS if self.fmt == "" else K.KIND_FMT

    @property
    def format(self) -> FloatFormat | None:
        """The grid as a lab format (None for float64)."""
        if self.kind == K.KIND_F64:
            return None
        if self.fmt == "":
            return sbits_format(self.sbits)
        f = get_format(self.fmt)
        assert isinstance(f, FloatFormat)
        return f

    @property
    def stored_bits(self) -> int:
        """Stored significand bits p of the grid (52 for float64)."""
        f = self.format
        return MAX_SBITS if f is None else f.mbits

    @property
    def label(self) -> str:
        if self.kind == K.KIND_F64:
            return "float64"
        name = f"{self.sbits} sbits" if self.fmt == "" else self.fmt
        if self.mode == "rne":
            return f"{name}, RN"
        return f"{name}, {self.mode.upper()}" + (
            f" N={self.rbits}" if self.rbits and self.mode != "sr" else ""
        )

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernels' config rows ``(ci, cf)`` (layout: ``_kernels.CI_FIELDS``/``CF_FIELDS``)."""
        f = self.format
        mb, emin, bias, max_pos, max_neg, min_pos, flags = (
            grid_args(f) if f else (52, -1022, 1023, np.inf, np.inf, 0.0, 0)
        )
        sat = self.saturate and self.fmt != ""  # the sbits grid never saturates (float64's rule)
        a0, b0 = key(self.seed, 0)
        ci = np.array(
            [
                self.kind,
                MODE_CODE[RoundMode(self.mode)],
                self.rbits or 1,
                MAX_SBITS - self.stored_bits,
                mb,
                emin,
                bias,
                flags,
                int(sat),
                a0,
                b0,
                self.seed & 0xFFFFFFFF,
                self.seed >> 32,
                self.variant,
            ],
            dtype=np.int64,
        )
        if self.kind == K.KIND_FMT:  # the fast path covers the normal range
            assert f is not None
            lo, hi = f.min_normal, min(f.max, f.max_neg)
        else:
            lo, hi = 0.0, float(np.finfo(np.float64).max)
        cf = np.array([max_pos, max_neg, min_pos, lo, hi], dtype=np.float64)
        return ci, cf

    @property
    def variant(self) -> int:
        """The kernels' compile-time rounding variant (``_kernels.V_*``)."""
        if self.kind == K.KIND_F64:
            return K.V_F64
        f = self.format
        assert f is not None
        if self.kind == K.KIND_FMT and f.mbits == 0:  # tie parity from the exponent field
            return K.V_ANY
        if self.mode == "rne":
            return K.V_RNE
        return K.V_SR if self.mode == "sr" else K.V_FEW

    def round(self, x: np.ndarray | float) -> np.ndarray:
        """``x`` rounded element by element by the kernels' own rounding (element i is the
        i-th operation of the stream)."""
        xa = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
        out = np.empty_like(xa)
        ci, cf = self.rows()
        K.round_values(xa, out, ci, cf)
        return out.reshape(np.shape(x))

    def nearest(self, x: np.ndarray | float) -> np.ndarray:
        """``x`` rounded to nearest-even on this grid with the lab's :func:`quantize` (model
        constants and starts are rounded this way, whatever the run's mode)."""
        f = self.format
        xa = np.asarray(x, dtype=np.float64)
        if f is None:
            return xa.copy()
        sat = self.saturate and self.fmt != ""
        return quantize(xa, f, "rne", saturate=sat)


def rows_of(precisions: list[Precision]) -> tuple[np.ndarray, np.ndarray]:
    """Stacked config rows of several precisions (one row each)."""
    rows = [p.rows() for p in precisions]
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
