"""One fused pass over a tensor and its quantized copy: every error statistic of the report.

:func:`error_stats` reads ``x`` and ``q`` (a (rows, cols) matrix, blocks along cols) once and
returns the sums the metrics are made of. Work is split into fixed tasks (groups of whole rows,
or segments of one long row) whose partial results are added in task order afterwards, so the
numbers do not depend on the thread count. :func:`error_stats_reference` is the readable numpy
definition; the tests hold the two equal.

Per element, with ``s`` its block's effective scale (1 for a plain cast) and ``a = |x| / s``:

* flushed: ``x != 0`` and ``q == 0``;
* saturated: ``|x| > t_pos s`` (``t_neg`` for negative x): its nearest value lies beyond the
  largest finite one, so saturation clamps it (``t = max + ulp_top / 2``);
* in the subnormal zone: ``flush_t <= a < normal_t``; in the flush zone: ``0 < a < flush_t``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

__all__ = ["STATS", "error_stats", "error_stats_reference", "tasks"]

#: names of the columns of the partial-sum table, in kernel order
STATS = ("sum_e", "sum_e2", "sum_x2", "max_abs", "max_rel", "n_flushed", "n_saturated",
         "n_sub_zone", "n_flush_zone", "n_nonzero", "sum_abs_x")
CHUNK = 32768  #: elements per task
#: stands in for +inf inside the kernel: fastmath (needed to vectorize the maxima) assumes no
#: infinities; x and q are finite (the report refuses anything else)
_BIG = 1e308


def tasks(rows: int, cols: int, chunk: int = CHUNK) -> tuple[np.ndarray, int]:
    """Task table (r0, r1, c0, c1, seg) as int64 (ntask, 5) and the segments per row."""
    if cols >= chunk:
        nseg = -(-cols // chunk)
        r, s = np.divmod(np.arange(rows * nseg, dtype=np.int64), nseg)
        c0 = s * chunk
        return np.stack([r, r + 1, c0, np.minimum(c0 + chunk, cols), s], axis=1), nseg
    per = max(1, chunk // cols)
    r0 = np.arange(0, rows, per, dtype=np.int64)
    z = np.zeros_like(r0)
    return np.stack([r0, np.minimum(r0 + per, rows), z, z + cols, z], axis=1), 1


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _limits(s: Any, t_pos: Any, t_neg: Any, flush_t: Any, normal_t: Any) -> Any:
    """A block's thresholds in units of x; a zero scale flushes every element (flush limit inf)."""
    if s > 0.0:
        return t_pos * s, t_neg * s, flush_t * s, normal_t * s
    return _BIG, _BIG, _BIG, _BIG


@numba.njit(nogil=True, cache=True, inline="always")
def _as_float(bits: Any) -> Any:
    """The float64 whose bit pattern is ``bits``."""
    a = np.empty(1, np.int64)
    a[0] = bits
    return a.view(np.float64)[0]


@numba.njit(parallel=True, nogil=True, cache=True, error_model="numpy", fastmath=True)
def _k_stats(x: Any, q: Any, eff: Any, block: Any, th: Any, probe: Any, tab: Any,
             nseg: Any) -> Any:  # pragma: no cover - compiled
    # Four branch-free loops over each row segment, so that LLVM vectorizes them (one loop
    # with every accumulator did not: 10-20x slower, measured): the sums (no stores, see
    # below); |e| and |e|/|x| written to a scratch row; their maxima as integers (the bit
    # patterns of non-negative floats order like the floats, and an integer max reduction
    # vectorizes where a float one did not); then, block by block from cache, the counts.
    # fastmath: x and q are finite, _BIG stands in for inf.
    ntask = tab.shape[0]
    rows = x.shape[0]
    out = np.zeros((ntask, 11))
    epart = np.zeros((rows, nseg))
    t_pos, t_neg, flush_t, normal_t = th[0], th[1], th[2], th[3]
    per_row = eff.shape[0] > 1
    width = 0
    for t in range(ntask):
        width = max(width, tab[t, 3] - tab[t, 2])
    for t in prange(ntask):
        r0, r1, c0, c1, seg = tab[t, 0], tab[t, 1], tab[t, 2], tab[t, 3], tab[t, 4]
        abuf = np.empty(width)
        rbuf = np.empty(width)
        ai = abuf.view(np.int64)
        ri = rbuf.view(np.int64)
        mab = np.int64(0)
        mrb = np.int64(0)
        se = 0.0
        se2 = 0.0
        sx2 = 0.0
        sax = 0.0
        nnz = 0.0
        nfl = 0.0
        nsat = 0.0
        nfz = 0.0
        nlow = 0.0  # below the normal range (flush zone + subnormal zone)
        for r in range(r0, r1):
            em = 0.0
            for c in range(c0, c1):
                xv = np.float64(x[r, c])
                qv = np.float64(q[r, c])
                e = qv - xv
                se += e
                se2 += e * e
                sx2 += xv * xv
                em += e * probe[c]
                ax = abs(xv)
                sax += ax
                nz = 1.0 if ax > 0.0 else 0.0
                nnz += nz
                nfl += nz if qv == 0.0 else 0.0
            epart[r, seg] = em
            # The stores in their own loop: a loop that both stores and reduces gets LLVM's
            # runtime alias check, whose scalar fallback sums in another order, so the sums
            # depended on where the scratch rows were allocated (seen as last-bit differences
            # between calls); a store-free reduction loop has one vector path.
            for c in range(c0, c1):
                xv = np.float64(x[r, c])
                ae = abs(np.float64(q[r, c]) - xv)
                ax = abs(xv)
                abuf[c - c0] = ae
                rel = ae / (ax if ax > 0.0 else 1.0)
                rbuf[c - c0] = rel if ax > 0.0 else 0.0
            for i in range(c1 - c0):
                mab = ai[i] if ai[i] > mab else mab
                mrb = ri[i] if ri[i] > mrb else mrb
            er = r if per_row else 0
            b0 = c0
            while b0 < c1:
                bc = b0 // block
                b1 = min((bc + 1) * block, c1)
                lp, ln, lf, lnorm = _limits(eff[er, bc], t_pos, t_neg, flush_t, normal_t)
                for c in range(b0, b1):
                    xv = np.float64(x[r, c])
                    ax = abs(xv)
                    nz = 1.0 if ax > 0.0 else 0.0
                    nsat += 1.0 if ax > (lp if xv > 0.0 else ln) else 0.0
                    nfz += nz if ax < lf else 0.0
                    nlow += nz if ax < lnorm else 0.0
                b0 = b1
        out[t, 0] = se
        out[t, 1] = se2
        out[t, 2] = sx2
        out[t, 3] = _as_float(mab)
        out[t, 4] = _as_float(mrb)
        out[t, 5] = nfl
        out[t, 6] = nsat
        out[t, 7] = nlow - nfz
        out[t, 8] = nfz
        out[t, 9] = nnz
        out[t, 10] = sax
    return out, epart


def _combine(part: np.ndarray, epart: np.ndarray) -> dict[str, Any]:
    sums = part.sum(axis=0)  # fixed task order: independent of the thread count
    res: dict[str, Any] = {k: float(v) for k, v in zip(STATS, sums, strict=True)}
    res["max_abs"] = float(part[:, 3].max(initial=0.0))
    res["max_rel"] = float(part[:, 4].max(initial=0.0))
    res["row_err"] = epart.sum(axis=1)
    return res


def error_stats(x: np.ndarray, q: np.ndarray, eff: np.ndarray, block: int,
                thresholds: tuple[float, float, float, float],
                probe: np.ndarray) -> dict[str, Any]:
    """Sums of the report's metrics for one quantized copy.

    Args:
        x, q: (rows, cols) arrays of one float dtype; ``q`` is the dequantized copy of ``x``.
        eff: (1 or rows, ceil(cols / block)) effective scale of each block, float64.
        block: elements per block along cols (cols for one scale per row).
        thresholds: ``(t_pos, t_neg, flush_t, normal_t)`` in units of the scale.
        probe: (cols,) float64 probe vector of the matrix product.

    Returns:
        ``{name: float}`` for every name in :data:`STATS` (sums and counts; ``max_*`` maxima)
        and ``row_err`` (rows,): ``(q - x) @ probe``.
    """
    tab, nseg = tasks(*x.shape)
    th = np.minimum(np.asarray(thresholds, np.float64), _BIG)
    part, epart = _k_stats(x, q, np.ascontiguousarray(eff, np.float64), np.int64(block), th,
                           probe, tab, np.int64(nseg))
    return _combine(part, epart)


def error_stats_reference(x: np.ndarray, q: np.ndarray, eff: np.ndarray, block: int,
                          thresholds: tuple[float, float, float, float],
                          probe: np.ndarray) -> dict[str, Any]:
    """Readable numpy version of :func:`error_stats` (same results up to summation order)."""
    x64, q64 = x.astype(np.float64), q.astype(np.float64)
    rows, cols = x.shape
    e = q64 - x64
    s = np.repeat(np.broadcast_to(eff, (rows, eff.shape[1])), block, axis=1)[:, :cols]
    t_pos, t_neg, flush_t, normal_t = thresholds
    nz = x64 != 0
    ax = np.abs(x64)
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(x64 > 0, t_pos, t_neg) * s
        a = np.where(s > 0, ax / s, 0.0)
        rel = np.where(nz, np.abs(e) / ax, 0.0)
    live = nz & (s > 0)
    sat = live & (ax > lim)
    fz = (live & ~sat & (a < flush_t)) | (nz & (s <= 0))
    sub = live & ~sat & (a >= flush_t) & (a < normal_t)
    return {
        "sum_e": float(e.sum()), "sum_e2": float((e * e).sum()), "sum_x2": float((x64**2).sum()),
        "max_abs": float(np.abs(e).max()), "max_rel": float(rel.max()),
        "n_flushed": float(np.count_nonzero(nz & (q64 == 0))),
        "n_saturated": float(np.count_nonzero(sat)), "n_sub_zone": float(np.count_nonzero(sub)),
        "n_flush_zone": float(np.count_nonzero(fz)), "n_nonzero": float(np.count_nonzero(nz)),
        "sum_abs_x": float(ax.sum()), "row_err": e @ probe,
    }
