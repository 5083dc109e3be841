"""The Rounding page's accumulation: ``start + a + a + ...`` with every partial sum rounded.

Each step rounds the exact float64 ``s + a`` to the format (saturating), with RNE, exact SR and a
few-bit mode; the stochastic sums run ``lanes`` independent lanes at once: step ``i`` uses the
generator stream :func:`step_seed` ``(seed, i)`` and lane ``j`` the element index ``j``, so a run
is the loop ``s = quantize(s + a, fmt, mode, rbits=N, seed=step_seed(seed, i))`` over a lane
vector (:func:`accumulation_reference`). :func:`accumulate` computes exactly those bits in one
GIL-free numba call (the loop costs one parallel kernel launch per step: 2,000 launches for a
default view, ~0.2 s of a server's CPU).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import _fast
from ..formats import Format, get_format
from ..rng import check_seed
from ..rounding import FEW_BIT_MODES, STOCHASTIC_MODES, RoundMode, check_mode, quantize

__all__ = ["MAX_LANES", "MAX_TERMS", "accumulate", "accumulation", "accumulation_reference",
           "step_seed"]

MAX_TERMS = 1_000_000  #: longest sum accepted (the page offers far fewer)
MAX_LANES = 4096  #: most independent lanes accepted


def step_seed(seed: int, step: int) -> int:
    """Generator stream for step ``step`` of a seeded loop (lanes are the element index)."""
    return (seed << 16) + step


def _check(fmt: Format | str, mode: RoundMode | str, n: int, lanes: int, seed: int,
           rbits: int | None) -> tuple[Format, RoundMode, int | None]:
    f = get_format(fmt)
    m = check_mode(mode)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 0 <= n <= MAX_TERMS:
        raise ValueError(f"n={n!r} terms must be an integer in 0..{MAX_TERMS}")
    if (isinstance(lanes, bool) or not isinstance(lanes, int | np.integer)
            or not 1 <= lanes <= MAX_LANES):
        raise ValueError(f"lanes={lanes!r} must be an integer in 1..{MAX_LANES}")
    nb = rbits if m.value in FEW_BIT_MODES else None
    if m.value in FEW_BIT_MODES and (
        isinstance(rbits, bool) or not isinstance(rbits, int | np.integer)
        or not 1 <= int(rbits) <= 32
    ):
        raise ValueError(f"rbits={rbits!r} must be an integer in 1..32 for mode {m.value!r}")
    if m.value in STOCHASTIC_MODES:
        check_seed(step_seed(check_seed(seed), max(int(n), 1)))
    return f, m, nb


def accumulation_reference(
    start: float, a: float, n: int, fmt: Format | str, mode: RoundMode | str, *,
    rbits: int | None = None, lanes: int = 1, seed: int = 0,
) -> np.ndarray:
    """(n + 1, lanes) partial sums, one :func:`lowbit_core.quantize` call per step (readable,
    slow); a deterministic mode runs one lane and stops at its fixed point."""
    f, m, nb = _check(fmt, mode, n, lanes, seed, rbits)
    stochastic = m.value in STOCHASTIC_MODES
    width = int(lanes) if stochastic else 1
    out = np.empty((int(n) + 1, width))
    out[0] = quantize(np.array([float(start)]), f, "rne")[0]
    for i in range(1, int(n) + 1):
        out[i] = quantize(out[i - 1] + float(a), f, m, rbits=nb,
                          seed=step_seed(seed, i) if stochastic else None)
        if not stochastic and out[i, 0] == out[i - 1, 0]:  # a fixed point stays one
            out[i:] = out[i]
            break
    return out


def accumulate(
    start: float, a: float, n: int, fmt: Format | str, mode: RoundMode | str, *,
    rbits: int | None = None, lanes: int = 1, seed: int = 0,
) -> np.ndarray:
    """The same bits as :func:`accumulation_reference`, in one numba call (no GIL held).

    Args:
        start: first value (rounded to nearest into ``fmt``).
        a: the term added at every step (exact float64 addition, then one rounding).
        n: number of terms, 0..:data:`MAX_TERMS`.
        fmt, mode: format and rounding mode (deterministic modes run one lane).
        rbits: random bits N of a few-bit mode (1..32); ignored otherwise.
        lanes: independent stochastic lanes, 1..:data:`MAX_LANES`.
        seed: base seed; step ``i`` uses :func:`step_seed`.

    Raises:
        ValueError: unknown format or mode, n, lanes, rbits or seed out of range.
    """
    f, m, nb = _check(fmt, mode, n, lanes, seed, rbits)
    if not _fast.available():
        return accumulation_reference(start, a, n, f, m, rbits=rbits, lanes=lanes, seed=seed)
    from .. import _numba as K

    ga = K.grid_args(f)
    if ga[1] - ga[0] < -1023:  # beyond the kernel's power-of-two table (no such format today)
        return accumulation_reference(start, a, n, f, m, rbits=rbits, lanes=lanes, seed=seed)

    stochastic = m.value in STOCHASTIC_MODES
    s0 = float(quantize(np.array([float(start)]), f, "rne")[0])
    from ._rounding_kernels import accumulate_paths

    out: np.ndarray = accumulate_paths(
        s0, float(a), np.int64(n), np.int64(lanes if stochastic else 1),
        np.uint64(seed if stochastic else 0), *ga, np.int64(K.MODE_CODE[m]),
        np.int64(nb or 1), K._P2,
    )
    return out


def accumulation(
    fmt: str, start: float, a: float, n: int, mode: str, rbits: int, seeds: int, seed: int
) -> pd.DataFrame:
    """The page's frame: RNE (one lane), exact SR and the few-bit ``mode`` (``seeds`` lanes).

    Returns a tidy frame with columns ``term, mode, lane, sum, exact, error``.
    """
    k = np.arange(int(n) + 1)
    exact = start + k * a
    frames = []
    for m in ("rne", "sr", mode):
        paths = accumulate(start, a, n, fmt, m, rbits=rbits if m in FEW_BIT_MODES else None,
                           lanes=seeds, seed=seed)
        w = paths.shape[1]
        frames.append(pd.DataFrame({
            "term": np.repeat(k, w), "mode": m, "lane": np.tile(np.arange(w), int(n) + 1),
            "sum": paths.reshape(-1), "exact": np.repeat(exact, w),
        }))
    df = pd.concat(frames, ignore_index=True)
    df["error"] = df["sum"] - df["exact"]
    return df
