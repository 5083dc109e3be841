"""Random Hadamard transform (RHT) along one axis, in blocks of ``size`` elements.

    H = S · H_syl / sqrt(size)            S = diag(signs), H_syl the ±1 Sylvester matrix
    rht(x) = x_blocks @ H                  (..., n/size, size) @ (size, size)

H is orthonormal (H Hᵀ = I), so ``rht(rht(x), inverse=True) == x`` up to rounding and
``(A H)(Hᵀ B) = A B``. This is TransformerEngine's ``_apply_rht`` (``x_mat @ (S H_syl / sqrt(d))``)
with its hard-coded 16-element sign vector :data:`TE_SIGN_VECTOR`; the NVFP4 recipe applies it to
the Wgrad operands only (NVFP4 paper App. C; papers_spec.md (d), check 12).

Random signs come from the counter-based generator of :mod:`lowbit_core.rng`: sign ``i`` is
negative iff the top bit of ``words(seed, i)`` is set, so every backend draws the same vector.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from .rng import check_seed, words

__all__ = [
    "TE_SIGN_VECTOR",
    "check_size",
    "hadamard_matrix",
    "random_signs",
    "rht",
    "sylvester",
]

#: TransformerEngine ``get_wgrad_sign_vector()`` (quantization_ref_nvfp4.py), size 16.
TE_SIGN_VECTOR: Final = np.array(
    [1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1], dtype=np.float32
)
TE_SIGN_VECTOR.flags.writeable = False

SIZES: Final = tuple(1 << k for k in range(1, 9))  #: allowed transform sizes 2..256


def check_size(size: object) -> int:
    """Validate a transform size (a power of two in 2..256).

    Raises:
        ValueError: naming the bad size.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or int(size) not in SIZES:
        raise ValueError(f"Hadamard size {size!r} must be a power of two in 2..256")
    return int(size)


def sylvester(size: int) -> np.ndarray:
    """The ±1 Sylvester–Hadamard matrix of order ``size`` (float64): H_2k = [[H, H], [H, -H]]."""
    n = check_size(size)
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def random_signs(size: int, seed: int) -> np.ndarray:
    """A ±1 vector (float32) drawn from ``seed``: sign i is -1 iff bit 31 of words(seed, i) is 1.

    Raises:
        ValueError: bad size or seed.
    """
    n = check_size(size)
    w = words(check_seed(seed), np.arange(n, dtype=np.int64))
    return np.where((w >> np.uint64(31)) == 1, -1.0, 1.0).astype(np.float32)


def _signs(size: int, seed: int | None, signs: np.ndarray | None) -> np.ndarray:
    if signs is not None:
        if seed is not None:
            raise ValueError("give either seed= or signs=, not both")
        s = np.asarray(signs, dtype=np.float64)
        if s.shape != (size,) or not np.all(np.abs(s) == 1):
            raise ValueError(f"signs must be {size} values of +-1, got shape {s.shape}")
        return s
    if seed is not None:
        return random_signs(size, seed).astype(np.float64)
    return np.ones(size)


def hadamard_matrix(
    size: int = 16,
    *,
    seed: int | None = None,
    signs: np.ndarray | None = None,
    dtype: type[np.floating] = np.float32,  # type: ignore[type-arg]
) -> np.ndarray:
    """Orthonormal ``H = diag(s) · H_syl / sqrt(size)``.

    Args:
        size: power of two in 2..256.
        seed: draw the signs with :func:`random_signs` (None and no ``signs``: all +1).
        signs: explicit ±1 vector, e.g. :data:`TE_SIGN_VECTOR`.
        dtype: float32 (default) or float64; built in float64 and rounded once.

    Raises:
        ValueError: bad size, seed or sign vector.
    """
    n = check_size(size)
    s = _signs(n, seed, signs)
    return np.asarray(s[:, None] * sylvester(n) / np.sqrt(n), dtype=dtype)


def rht(
    x: np.ndarray,
    size: int = 16,
    *,
    axis: int = -1,
    seed: int | None = None,
    signs: np.ndarray | None = None,
    inverse: bool = False,
) -> np.ndarray:
    """Apply the (inverse) random Hadamard transform to blocks of ``size`` along ``axis``.

    Each block ``v`` (a row vector) becomes ``v @ H`` (``v @ Hᵀ`` when ``inverse``), computed in
    x's dtype. Returns a new array of x's shape and dtype.

    Raises:
        ValueError: x not float32/float64, bad axis, size not a power of two in 2..256 or not
            dividing the axis length, bad seed or signs.
    """
    arr = np.asarray(x)
    if arr.dtype not in (np.float32, np.float64):
        raise ValueError(f"x must be a float32 or float64 array, got dtype {arr.dtype}")
    n = check_size(size)
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise ValueError(f"axis={axis!r} must be an integer")
    if not -arr.ndim <= int(axis) < arr.ndim:
        raise ValueError(f"axis={axis} out of range for x with {arr.ndim} dimension(s)")
    ax = int(axis) % arr.ndim
    if arr.shape[ax] % n:
        raise ValueError(f"Hadamard size {n} does not divide axis {ax} of length {arr.shape[ax]}")
    h = hadamard_matrix(n, seed=seed, signs=signs, dtype=arr.dtype.type)
    if inverse:
        h = np.ascontiguousarray(h.T)
    xm = np.moveaxis(arr, ax, -1)
    blocks = xm.reshape(*xm.shape[:-1], xm.shape[-1] // n, n)  # (..., nblocks, size)
    out = (blocks @ h).reshape(xm.shape)
    return np.ascontiguousarray(np.moveaxis(out, -1, ax))
