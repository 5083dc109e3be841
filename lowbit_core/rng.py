"""Counter-based random bits: the same (seed, element index, word) always gives the same 32 bits.

Every backend (numpy here, numba in ``_numba.py``, torch in ``lowbit_core.torch``) evaluates
exactly this function, so stochastic results never depend on thread count, chunking or device.

    z_j    = mix64(mix64(seed) + (j + 1) * 0x9E3779B97F4A7C15)      (mod 2^64)
    a, b   = low and high 32 bits of z_j                              (the round keys)
    word   = mix32(mix32(i_lo ^ a) ^ i_hi ^ b)

where ``i_lo, i_hi`` are the low and high 32 bits of the flat (C-order) element index, ``mix64``
is the SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014) and ``mix32`` the "lowbias32" integer hash (C. Wellons); both are
bijections with strong avalanche. The word function is a two-round keyed permutation of the
index (an Even-Mansour construction over mix32): both keys depend on all 64 bits of the seed, and
the non-linear mix32 between the two key additions means no re-indexing of one seed's stream
gives another's (``words(s2, i) == words(s1, i ^ c)`` would need ``mix32(u ^ d) ^ mix32(u)`` to be
constant in ``u``). Since ``mix64`` is a bijection, distinct seeds get distinct 64-bit keys.

Word ``j = 0`` gives the few-bit modes their ``N`` bits (its top ``N`` bits); exact SR reads
words ``0, 1, 2, ...`` as the binary fraction of a uniform ``U`` only as far as needed to compare
it with the rounding fraction.

History: until 2026-12 the keys were ``mix32(k0 ^ mix32(j c1 + c2))`` and ``mix32(k1 + ...)``
from the seed halves ``k0, k1`` separately, so seeds below 2^32 (equal ``k1``) differed only by an
XOR on the index: one stream, re-indexed. Every stochastic result of the lab changed with the fix.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SEED", "check_seed", "key", "mix32", "mix64", "words"]

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


M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment: 2^64 / golden ratio, odd


def mix64(z: int) -> int:
    """SplitMix64 finaliser on a Python int (a bijection on 64-bit words)."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def key(seed: int, j: int = 0) -> tuple[int, int]:
    """The two 32-bit round keys ``(a, b)`` for word ``j`` of stream ``seed`` (module docstring).

    Raises:
        ValueError: the seed is not an integer in 0..2^63-1, or ``j`` is negative.
    """
    s = check_seed(seed)
    if isinstance(j, bool) or not isinstance(j, int | np.integer) or j < 0:
        raise ValueError(f"word index j={j!r} must be a non-negative integer")
    z = mix64((mix64(s) + (int(j) + 1) * GAMMA) & M64)
    return z & 0xFFFFFFFF, z >> 32


def words(seed: int, index: np.ndarray, j: int = 0) -> np.ndarray:
    """32-bit random words (as uint64) for element indices ``index`` (int64/uint64), word ``j``."""
    a, b = key(seed, j)
    i = np.asarray(index).astype(np.uint64)
    lo, hi = i & M32, i >> np.uint64(32)
    return mix32(mix32(lo ^ np.uint64(a)) ^ hi ^ np.uint64(b))
