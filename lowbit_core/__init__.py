"""Low-Bit Lab numerics: number formats, rounding modes and block scaling (no Streamlit)."""

from .formats import FloatFormat, IntFormat, Specials, all_values, decode, encode, get_format
from .rounding import RoundDistribution, RoundMode, quantize, round_distribution

__all__ = [
    "FloatFormat",
    "IntFormat",
    "RoundDistribution",
    "RoundMode",
    "Specials",
    "all_values",
    "decode",
    "encode",
    "get_format",
    "quantize",
    "round_distribution",
]
