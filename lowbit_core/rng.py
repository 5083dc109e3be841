"""Counter-based random bits: the same (seed, element index, word) always gives the same 32 bits.

Every backend (numpy here, numba in ``_numba.py``, torch in ``lowbit_core.torch``) evaluates
exactly this function, so stochastic results never depend on thread count, chunking or device.

    key_j  = (mix32(k0 ^ mix32(j * 0x9E3779B9 + 0x632BE5AB)),
              mix32(k1 + j * 0x85EBCA6B + 0x1B873593))
    word   = mix32(mix32(i_lo ^ key_j[0]) ^ i_hi ^ key_j[1])

where ``k0, k1`` are the low and high 32 bits of the seed, ``i_lo, i_hi`` those of the flat
(C-order) element index, and ``mix32`` is the "lowbias32" integer hash (C. Wellons), a bijection
on 32-bit words with strong avalanche. Word ``j = 0`` gives the few-bit modes their ``N`` bits
(its top ``N`` bits); exact SR reads words ``0, 1, 2, ...`` as the binary fraction of a uniform
``U`` only as far as needed to compare it with the rounding fraction.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SEED", "check_seed", "key", "mix32", "words"]

MAX_SEED = (1 << 63) - 1  # torch int64 must hold it
M32 = np.uint64(0xFFFFFFFF)


def check_seed(seed: object) -> int:
    """Validate a seed (an int in 0 .. 2^63-1) and return it as int.

    Raises:
        ValueError: the seed is not an integer in range.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    s = int(seed)
    if not 0 <= s <= MAX_SEED:
        raise ValueError(f"seed {s} out of range 0..2^63-1")
    return s


def mix32(x: np.ndarray) -> np.ndarray:
    """lowbias32 hash on uint32 values held in uint64 (any shape)."""
    x = x & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


def _mix32_int(x: int) -> int:
    return int(mix32(np.array([x & 0xFFFFFFFF], dtype=np.uint64))[0])


def key(seed: int, j: int = 0) -> tuple[int, int]:
    """The two 32-bit round keys for word ``j`` of stream ``seed``."""
    k0, k1 = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    a = _mix32_int(k0 ^ _mix32_int((j * 0x9E3779B9 + 0x632BE5AB) & 0xFFFFFFFF))
    b = _mix32_int((k1 + j * 0x85EBCA6B + 0x1B873593) & 0xFFFFFFFF)
    return a, b


def words(seed: int, index: np.ndarray, j: int = 0) -> np.ndarray:
    """32-bit random words (as uint64) for element indices ``index`` (int64/uint64), word ``j``."""
    a, b = key(seed, j)
    i = np.asarray(index).astype(np.uint64)
    lo, hi = i & M32, i >> np.uint64(32)
    return mix32(mix32(lo ^ np.uint64(a)) ^ hi ^ np.uint64(b))
