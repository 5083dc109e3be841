"""Low-Bit Lab numerics: number formats, rounding modes and block scaling (no Streamlit).

    from lowbit_core import get_format, quantize, round_distribution, quantize_blocks

torch code lives in ``lowbit_core.torch`` (imported only on demand).
"""

from .blocks import PRESETS, BlockResult, BlockSpec, ScaleRule, quantize_blocks
from .formats import (
    FORMATS,
    FloatFormat,
    IntFormat,
    Specials,
    all_values,
    decode,
    encode,
    get_format,
    grid,
)
from .hadamard import hadamard_matrix, rht
from .rounding import RoundDistribution, RoundMode, quantize, round_distribution

__all__ = [
    "FORMATS",
    "PRESETS",
    "BlockResult",
    "BlockSpec",
    "FloatFormat",
    "IntFormat",
    "RoundDistribution",
    "RoundMode",
    "ScaleRule",
    "Specials",
    "all_values",
    "decode",
    "encode",
    "get_format",
    "grid",
    "hadamard_matrix",
    "quantize",
    "quantize_blocks",
    "rht",
    "round_distribution",
]
