"""URL schema of the Rounding page: one frozen dataclass, bounds in the field metadata.

The value ``x`` is kept as the text the user typed (canonicalised), so a link reproduces the exact
value, not a slider position. The slider "position between the neighbours" is derived from ``x``
and the format on every run and is not part of the URL.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lowbit_core.formats import FORMATS
from ui.figures_common import MODE_LABELS as _ALL_LABELS
from ui.figures_common import takes_rbits
from ui.params import choice, frange, irange, multi, validator

__all__ = ["FEW_BIT", "MODES", "MODE_LABELS", "X_MAX", "RoundingParams", "parse_x"]

#: Modes the page compares: nearest-even, truncation, exact SR and the four few-bit variants.
MODES: tuple[str, ...] = ("rne", "rtz", "sr", "srff", "srf", "src", "sro")
FEW_BIT: tuple[str, ...] = tuple(m for m in MODES if takes_rbits(m))
MODE_LABELS: dict[str, str] = {m: _ALL_LABELS[m] for m in MODES}  # the lab's labels
X_MAX = 1e38  # above every catalogue format's max except float32's (3.4e38): the page clamps


def _shown(s: str, n: int = 40) -> str:
    """Typed text quoted for a message: at most ``n`` characters, nothing markdown renders."""
    return "'" + re.sub(r"[^\w.+\-]", "?", s[:n]) + ("..." if len(s) > n else "") + "'"


def parse_x(s: str) -> str:
    """Canonical text of a non-negative finite value (``repr`` of the float).

    Raises:
        ValueError: not a number, not finite, negative or above :data:`X_MAX`.
    """
    q = _shown(s)
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{q} is not a number (write e.g. 1.3 or 0.1e-2)") from None
    if not math.isfinite(v):
        raise ValueError(f"{q} is not a finite number")
    if v < 0 or v > X_MAX:
        raise ValueError(f"{q} is outside 0..{X_MAX:g}")
    return repr(v + 0.0)  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class RoundingParams:
    """Everything the Rounding page shows is a function of these fields (and nothing else)."""

    fmt: str = field(default="bfloat16", metadata=choice(FORMATS))  #: target format
    x: str = field(default="1.3", metadata=validator(parse_x))  #: the value to round, exact text
    #: modes drawn in the outcome and bias charts (at least one)
    modes: tuple[str, ...] = field(default=MODES, metadata=multi(MODES, min_len=1))
    rbits: int = field(default=3, metadata=irange(1, 24))  #: N random bits (paper's SRC uses 3)
    n_draws: int = field(default=1000, metadata=irange(10, 20000))  #: Monte-Carlo draws
    seed: int = field(default=0, metadata=irange(0, 2**31 - 1))  #: fixed, so links reproduce
    #: D extra input bits below the target LSB; 0 means an exact real input (spec (b))
    dbits: int = field(default=0, metadata=irange(0, 16))
    acc_start: float = field(default=1.0, metadata=frange(0.0, 1e6))  #: first term of the sum
    acc_a: float = field(default=0.001, metadata=frange(0.0, 1e4))  #: size of each increment
    acc_n: int = field(default=1000, metadata=irange(1, 5000))  #: number of increments
    acc_mode: str = field(default="srff", metadata=choice(FEW_BIT))  #: the few-bit mode shown
    acc_seeds: int = field(default=16, metadata=irange(1, 64))  #: sample paths in each band

    @property
    def value(self) -> float:
        return float(self.x)
