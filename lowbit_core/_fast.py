"""Dispatch from :func:`lowbit_core.quantize` / ``round_distribution`` to the numba kernels.

Validation is the reference's own (same helpers, same order, same messages). ``numba`` and
:mod:`lowbit_core._numba` are imported on first use only; when numba is not importable the
functions return None and the numpy reference runs (``required=True`` raises instead).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .formats import Format, get_format
from .rounding import (
    STOCHASTIC_MODES,
    RoundDistribution,
    RoundMode,
    _check_input_bits,
    _check_rbits,
    _check_x,
    check_mode,
    check_random,
)

__all__ = ["available", "quantize", "round_distribution"]

_MOD: ModuleType | None = None
_TRIED = False


def _backend() -> ModuleType | None:
    global _MOD, _TRIED
    if not _TRIED:
        _TRIED = True
        try:
            from . import _numba
        except ImportError:
            _MOD = None
        else:
            _MOD = _numba
    return _MOD


def available() -> bool:
    """Whether the numba backend can run (numba importable)."""
    return _backend() is not None


def _need(required: bool) -> ModuleType | None:
    mod = _backend()
    if mod is None and required:
        raise ValueError("the numba backend is not available (numba is not importable)")
    return mod


def quantize(
    x: Any,
    fmt: Format | str,
    mode: RoundMode | str = "rne",
    *,
    saturate: bool = True,
    rbits: int | None = None,
    seed: int | None = None,
    srbits: Any = None,
    required: bool = False,
) -> np.ndarray | None:
    """The numba result of :func:`lowbit_core.quantize`, or None to fall back to numpy.

    Raises:
        ValueError: as :func:`lowbit_core.quantize`; also when ``required`` and numba is missing.
    """
    mod = _need(required)
    if mod is None:
        return None
    f = get_format(fmt)
    m = check_mode(mode)
    arr = _check_x(x)
    nb, seed, r_flat = check_random(m, rbits, seed, srbits, arr.shape)
    out: np.ndarray = mod.quantize_array(arr, f, m, bool(saturate), nb, seed, r_flat)
    return out


def round_distribution(
    x: Any,
    fmt: Format | str,
    mode: RoundMode | str = "sr",
    rbits: int | None = None,
    *,
    input_bits: int | None = None,
    saturate: bool = True,
    required: bool = False,
) -> RoundDistribution | None:
    """The numba result of :func:`lowbit_core.round_distribution`, or None to fall back.

    Raises:
        ValueError: as :func:`lowbit_core.round_distribution`; also when ``required`` and numba
            is missing.
    """
    mod = _need(required)
    if mod is None:
        return None
    f = get_format(fmt)
    m = check_mode(mode)
    arr = _check_x(x)
    nb = _check_rbits(rbits, m) if m in STOCHASTIC_MODES else None
    _check_input_bits(input_bits)
    res = mod.distribution_arrays(arr, f, m, nb, input_bits, bool(saturate))
    if res is None:  # a grid outside the kernel's power-of-two table: numpy handles it
        return None
    return RoundDistribution(*res)
