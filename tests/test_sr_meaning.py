"""``mode="sr"`` has one meaning everywhere: exact stochastic rounding from the seed's stream.

It refuses ``rbits`` and ``srbits`` on every entry point (numpy, numba, torch, block scaling,
exact distributions) with a message naming the few-bit modes; explicit N-bit randomness is
``srff`` (U = r / 2^N), whose distribution is checked against the exact one here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from lowbit_core import torch as lt
from lowbit_core.blocks import quantize_blocks, quantize_blocks_reference
from lowbit_core.rounding import quantize, quantize_reference, round_distribution

X = np.linspace(-3, 3, 64, dtype=np.float32).reshape(2, 32)
SRB = np.zeros(X.shape, np.int64)

CALLS: dict[str, Callable[..., Any]] = {
    "quantize numpy": lambda **kw: quantize_reference(X, "e4m3", "sr", **kw),
    "quantize numba": lambda **kw: quantize(X, "e4m3", "sr", backend="numba", **kw),
    "quantize torch": lambda **kw: lt.quantize(torch.from_numpy(X), "e4m3", "sr", **kw),
    "blocks numpy": lambda **kw: quantize_blocks_reference(X, "mxfp4", mode="sr", **kw),
    "blocks numba": lambda **kw: quantize_blocks(X, "mxfp4", mode="sr", backend="numba", **kw),
    "blocks torch": lambda **kw: lt.quantize_blocks(torch.from_numpy(X), "mxfp4", mode="sr", **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(
    "kw",
    [
        {"rbits": 3, "seed": 1},
        {"rbits": 32, "seed": 1},
        {"rbits": 3, "srbits": SRB},
        {"srbits": SRB},
    ],
)
def test_sr_refuses_random_bit_counts(name: str, kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="srff"):
        CALLS[name](**kw)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_round_distribution_sr_refuses_rbits(backend: str) -> None:
    with pytest.raises(ValueError, match="srff"):
        round_distribution(np.array([0.3]), "e4m3", "sr", 3, backend=backend)


@pytest.mark.parametrize("name", list(CALLS))
def test_sr_with_a_seed_still_works(name: str) -> None:
    out = CALLS[name](seed=5)
    v = out.values if hasattr(out, "scales") else out  # a BlockResult, or the array itself
    v = v.numpy() if isinstance(v, torch.Tensor) else v
    assert np.isfinite(v).all()


def test_srff_is_what_sr_with_n_bits_used_to_mean() -> None:
    """srff with N bits rounds up with probability floor(d 2^N) / 2^N: enumerate all 2^N random
    values for inputs with a known fraction d and compare with the exact SR probability d."""
    n = 3
    base, ulp = 1.0, 2.0**-3  # e4m3 spacing at 1
    for k in range(64):
        d = k / 64
        x = np.full(2**n, base + d * ulp)
        up = quantize_reference(x, "e4m3", "srff", rbits=n, srbits=np.arange(2**n)) > base
        assert up.mean() == np.floor(d * 2**n) / 2**n
        # the exact distribution of sr gives P(up) = d
        assert round_distribution(x[:1], "e4m3", "sr").p_hi[0] == pytest.approx(d, abs=0)
