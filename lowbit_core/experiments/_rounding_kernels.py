"""The Rounding page's accumulation kernel: a whole seeded sum in one GIL-free call, built from
the scalar rounding core of :mod:`lowbit_core._numba` (the same words and core as its
``_k_general64``, so the bits equal one ``quantize`` call per step)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._numba import _U32, _U64, MODE_SR, _key, _round_core_tab, _scalar, rng_word


@_scalar
def _acc_word(
    v: Any, lane: Any, k0: Any, k1: Any, mbits: Any, emin: Any, bias: Any, max_pos: Any,
    max_neg: Any, min_pos: Any, flags: Any, mode: Any, nb: Any, p2: Any,
) -> Any:
    """``quantize(np.array([.., v, ..]), fmt, mode, rbits=nb, seed=s)[lane]`` for float64 ``v``,
    the seed given by its halves ``k0, k1``: the word and the table-driven core of
    :func:`_k_general64` (grids with ``emin - mbits >= -1023``, i.e. every format here)."""
    exact = mode == MODE_SR
    w = _U32(0)
    if mode > MODE_SR:
        a0, b0 = _key(k0, k1, 0)
        w = rng_word(_U64(lane), a0, b0)
    vb = np.empty(1, np.float64)
    vb[0] = v
    return _round_core_tab(
        v, vb.view(np.uint64)[0], w, mbits, emin, bias, max_pos, max_neg, min_pos, flags,
        mode, nb, True, exact, k0, k1, _U64(lane), p2,
    )


@_scalar
def accumulate_paths(
    s0: Any, a: Any, n: Any, lanes: Any, seed: Any, mbits: Any, emin: Any, bias: Any,
    max_pos: Any, max_neg: Any, min_pos: Any, flags: Any, mode: Any, nb: Any, p2: Any,
) -> Any:
    """(n + 1, lanes) partial sums ``s_i = round(s_{i-1} + a)`` (saturating), step ``i``
    rounded with the stream ``(seed << 16) + i`` and lane ``j`` as the element index: bit for
    bit the loop of one :func:`quantize_array` call per step, without its per-call cost.
    A deterministic mode runs one lane and stops at a fixed point (the rest repeats it)."""
    det = mode < MODE_SR
    out = np.empty((n + 1, lanes))
    out[0, :] = s0
    for i in range(1, n + 1):
        s = _U64((_U64(seed) << _U64(16)) + _U64(i))
        k0 = _U32(s & _U64(0xFFFFFFFF))
        k1 = _U32(s >> _U64(32))
        for j in range(lanes):
            out[i, j] = _acc_word(
                out[i - 1, j] + a, j, k0, k1, mbits, emin, bias, max_pos, max_neg, min_pos,
                flags, mode, nb, p2,
            )
        if det and out[i, 0] == out[i - 1, 0]:
            for r in range(i + 1, n + 1):
                out[r, :] = out[i, :]
            break
    return out
