"""The fast path of the dynamics kernels keeps its contract with the per-operation rounding.

A step on the fast path rounds every result with ``_r_rne`` / ``_r_sr`` / ``_r_few`` and redoes
the whole step with the per-operation code (:func:`_kernels.rnd`, held equal to the lab's numpy
reference by tests/test_dynamics.py) when any rounding is flagged. So the results are right if,
for every value, a rounding that is *not* flagged equals ``rnd`` bit for bit, and the values the
fast path cannot round (outside the format's normal range, non-finite, overflow, exact-SR ties of
the first random word) are flagged. Both are checked here, value by value, on the hand-made
values of the bit-identity test, for sbits and formats and every mode.
"""

from __future__ import annotations

import numpy as np
import pytest

from lowbit_core.experiments.dynamics import Precision
from lowbit_core.experiments.dynamics import _kernels as K
from lowbit_core.rng import words
from tests.test_dynamics_bits import _tricky, _with_sr_ties

CONFIGS = [
    {"sbits": 7},
    {"sbits": 1},
    {"sbits": 7, "mode": "sr", "seed": 3},
    {"sbits": 23, "mode": "sr", "seed": (1 << 40) + 3},
    {"sbits": 19, "mode": "sr", "seed": 2},
    {"sbits": 40, "mode": "sr", "seed": 2},
    {"sbits": 1, "mode": "sr", "seed": 2},
    {"sbits": 5, "mode": "src", "rbits": 8, "seed": 1},
    {"sbits": 7, "mode": "srf", "rbits": 3, "seed": 1},
    {"sbits": 7, "mode": "sro", "rbits": 2, "seed": 1},
    {"sbits": 12, "mode": "srff", "rbits": 5, "seed": 1},
    {"sbits": 3, "mode": "src", "rbits": 32, "seed": 1},
    {"sbits": 30, "mode": "srf", "rbits": 32, "seed": 1},
    {"fmt": "bfloat16"},
    {"fmt": "float16", "mode": "sr", "seed": 4},
    {"fmt": "float8_e4m3fn", "mode": "src", "rbits": 4, "seed": 4, "saturate": False},
    {"fmt": "float8_e5m2", "mode": "sr", "seed": 4},
]


def _id(kw: dict[str, object]) -> str:
    return ",".join(f"{k}={v}" for k, v in kw.items())


def _fast(pr: Precision, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, flag = np.empty_like(x), np.empty(x.size, dtype=np.bool_)
    K.round_values_fast(x, out, flag, *pr.rows())
    return out, flag


def _out_of_range(pr: Precision, x: np.ndarray) -> np.ndarray:
    """Values the fast grid cannot round: non-finite, outside [lo, hi], or whose result is."""
    _, cf = pr.rows()
    a, r = np.abs(x), np.abs(pr.round(x))
    with np.errstate(invalid="ignore"):
        return np.asarray(~((a >= cf[3]) & (a <= cf[4]) & (r <= cf[4])))


@pytest.mark.parametrize("kw", CONFIGS, ids=_id)
def test_unflagged_fast_roundings_equal_the_per_operation_rounding(kw: dict[str, object]) -> None:
    pr = Precision(**kw)  # type: ignore[arg-type]
    p = pr.stored_bits
    x = _with_sr_ties(_tricky(p), p, pr.seed)
    out, flag = _fast(pr, x)
    ref = pr.round(x)  # rnd(x[i], i, P): the per-operation code
    ok = ~flag
    assert np.array_equal(out[ok].view(np.uint64), ref[ok].view(np.uint64))
    # every value outside the fast range is flagged, and only those (plus exact-SR ties)
    outside = _out_of_range(pr, x)
    assert np.array_equal(flag & ~outside, _sr_ties(pr, x) & ~outside)
    assert np.all(flag[outside])
    assert outside.sum() >= 3  # inf, -inf, NaN at least: the check can fail


def _sr_ties(pr: Precision, x: np.ndarray) -> np.ndarray:
    """Exact SR: the first random word equals the first 32 dropped bits (the slow path's case)."""
    sh = 52 - pr.stored_bits
    if pr.mode != "sr" or sh <= 32:  # d has at most 32 bits: the first word decides
        return np.zeros(x.size, dtype=bool)
    u = x.view(np.uint64) & np.uint64((1 << sh) - 1)
    h = u >> np.uint64(sh - 32)
    return np.asarray(h == words(pr.seed, np.arange(x.size), 0))


def test_the_tie_values_are_there() -> None:
    """The hand-made ties reach the fast path: some are flagged as ties, none decided fast."""
    pr = Precision(sbits=7, mode="sr", seed=3)
    x = _with_sr_ties(_tricky(7), 7, 3)
    ties = _sr_ties(pr, x)
    assert ties.sum() >= 5
    _, flag = _fast(pr, x)
    assert np.all(flag[ties])
