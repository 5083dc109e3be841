"""Imported once by the live-run pool's ``forkserver`` (see :mod:`lowbit_core.training.pool`).

Loads torch (with ``torch._dynamo``, which ``torch.optim`` imports on first use, 2-3 s), the
training code and the fused numba quantizer's compiled kernels (from the on-disk cache, ~1 s),
so that every run forked from the server starts in tens of milliseconds. The warm-up runs with
one torch thread, so no OpenMP thread team exists when the server forks.
"""

from __future__ import annotations

import torch
import torch._dynamo
import torch.optim

from . import pool, tasks, train  # noqa: F401
from .qlinear import QuantContext, fake_quant
from .recipes import RECIPES


def warm_kernels() -> None:
    """Quantize a small tensor (and its transpose) with every role of every preset."""
    ctx = QuantContext(seed=0)
    x = torch.linspace(-3.0, 3.0, 64 * 48).reshape(64, 48)
    for r in RECIPES.values():
        for lq in (r.layer, r.high):
            for q in (lq.x, lq.w, lq.dy, lq.dy_wgrad, lq.x_wgrad):
                fake_quant(x, q, ctx)
                fake_quant(x.T, q, ctx)


torch.set_num_threads(1)
try:
    warm_kernels()
except Exception:
    pass
