"""The counter-based generator (lowbit_core.rng): independent streams per seed, one definition
on numpy, numba and torch.

Oracle: the formula of the ``lowbit_core.rng`` docstring, re-implemented here from scratch with
Python integers (SplitMix64 finaliser for the keys, lowbias32 for the words). Statistical
thresholds are 5 to 6 standard deviations of the statistic under the null hypothesis of i.i.d.
uniform words (false-alarm probability per assertion below 1e-6); the seeds are fixed, so a run
is deterministic.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
import torch

from lowbit_core import _numba as nbk
from lowbit_core import rng
from lowbit_core import torch as lt
from lowbit_core.rounding import quantize

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


# --- oracle: the documented formula with Python integers ---------------------------------------


def _splitmix_fin(z: int) -> int:
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _lowbias32(x: int) -> int:
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    return x ^ (x >> 16)


def oracle_key(seed: int, j: int) -> tuple[int, int]:
    z = _splitmix_fin((_splitmix_fin(seed) + (j + 1) * 0x9E3779B97F4A7C15) & M64)
    return z & M32, z >> 32


def oracle_word(seed: int, i: int, j: int = 0) -> int:
    a, b = oracle_key(seed, j)
    return _lowbias32(_lowbias32((i & M32) ^ a) ^ (i >> 32) ^ b)


SEEDS = [0, 1, 2, 41505, 2**32 - 1, 2**32, 2**32 + 1, 12345678901234, 2**63 - 1]
INDICES = [0, 1, 2, 3, 4487, 2**20 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**40 + 3, 2**63 - 1]


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_and_words_equal_the_documented_formula(seed: int) -> None:
    for j in (0, 1, 2, 7):
        assert rng.key(seed, j) == oracle_key(seed, j)
    idx = np.array(INDICES, dtype=np.uint64)
    for j in (0, 1, 3):
        want = [oracle_word(seed, int(i), j) for i in INDICES]
        assert rng.words(seed, idx, j).tolist() == want


def test_lowbias32_matches_oracle() -> None:
    x = np.random.default_rng(0).integers(0, 2**32, 2000, dtype=np.uint64)
    assert rng.mix32(x.copy()).tolist() == [_lowbias32(int(v)) for v in x]


# --- numpy == numba == torch, bit for bit --------------------------------------------------------


@numba.njit(cache=False)
def _numba_words(idx: np.ndarray, k0: np.uint32, k1: np.uint32, j: int) -> np.ndarray:
    out = np.empty(idx.size, np.uint32)
    for n in range(idx.size):
        a, b = nbk._key(k0, k1, np.uint64(j))
        out[n] = nbk.rng_word(idx[n], a, b)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_numba_and_torch_words_equal_numpy(seed: int) -> None:
    r = np.random.default_rng(seed % 1000)
    idx = np.concatenate(
        [
            np.array(INDICES, dtype=np.uint64),
            r.integers(0, 2**63, 500, dtype=np.int64).astype(np.uint64),
            np.arange(1000, dtype=np.uint64),
        ]
    )
    k0, k1 = np.uint32(seed & M32), np.uint32(seed >> 32)
    for j in (0, 1, 5):
        want = rng.words(seed, idx, j)
        got_nb = _numba_words(idx, k0, k1, j)
        assert np.array_equal(want.astype(np.uint32), got_nb), f"numba seed={seed} j={j}"
        got_t = lt.words(seed, torch.from_numpy(idx.astype(np.int64)), j)
        assert np.array_equal(want, got_t.numpy().astype(np.uint64)), f"torch seed={seed} j={j}"
        rng_t = lt._words_range(seed, 1000, j, torch.device("cpu"))
        assert np.array_equal(rng.words(seed, np.arange(1000), j), rng_t.numpy().astype(np.uint64))


def test_numba_key_equals_numpy_key() -> None:
    r = np.random.default_rng(4)
    seeds = [*SEEDS, *(int(s) for s in r.integers(0, 2**63, 50, dtype=np.int64))]
    for s in seeds:
        for j in (0, 1, 2, 31):
            a, b = nbk._key(np.uint32(s & M32), np.uint32(s >> 32), np.uint64(j))
            assert (int(a), int(b)) == rng.key(s, j)


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "3", None, True])
def test_key_rejects_bad_seeds(bad: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        rng.key(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, 1.0, "0", True])
def test_key_rejects_bad_word_index(bad: object) -> None:
    with pytest.raises(ValueError, match="word index"):
        rng.key(0, bad)  # type: ignore[arg-type]


# --- independence of streams ----------------------------------------------------------------------


def test_reported_reindexing_identity_is_gone() -> None:
    """The reproduction of the report: seeds 0 and 41505 were one stream XOR-reindexed by 4487."""
    i = np.arange(1 << 16, dtype=np.uint64)
    assert not np.array_equal(rng.words(41505, i), rng.words(0, i ^ np.uint64(4487)))
    x = np.full(1 << 16, 0.3, np.float32)
    ups = [int((quantize(x, "int8", "sr", seed=s) == 1).sum()) for s in (0, 41505)]
    assert ups[0] != ups[1]
    # each count is Binomial(2^16, 0.3): both within 6 sd of the mean
    sd = math.sqrt((1 << 16) * 0.3 * 0.7)
    assert all(abs(u - 0.3 * (1 << 16)) < 6 * sd for u in ups)


def test_xor_reindexing_fails_for_random_seed_pairs() -> None:
    """words(s2, i) == words(s1, i ^ c) with c from the first keys, the old identity, is false
    for every pair (with the old generator it held for all pairs below 2^32)."""
    r = np.random.default_rng(17)
    i = np.arange(4096, dtype=np.uint64)
    pairs = [(int(a), int(b)) for a, b in r.integers(0, 2**32, (100, 2))]
    pairs += [(int(a), int(b)) for a, b in r.integers(0, 2**63, (100, 2), dtype=np.int64)]
    for s1, s2 in pairs:
        c = np.uint64(rng.key(s1)[0] ^ rng.key(s2)[0])
        w2 = rng.words(s2, i)
        assert not np.array_equal(w2, rng.words(s1, i ^ c)), (s1, s2)
        # and no single XOR offset explains more than a chance share of the words
        assert np.mean(w2 == rng.words(s1, i ^ c)) < 0.01


@numba.njit(parallel=True, cache=False)
def _fingerprints(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Per seed, two order-independent sums over words(seed, 0..n-1): sum w, sum w^2 (mod 2^64)."""
    out = np.empty((a.size, 2), np.uint64)
    for s in numba.prange(a.size):
        s1 = np.uint64(0)
        s2 = np.uint64(0)
        for i in range(n):
            w = np.uint64(nbk.rng_word(np.uint64(i), a[s], b[s]))
            s1 += w
            s2 += w * w
        out[s, 0] = s1
        out[s, 1] = s2
    return out


def test_no_two_of_the_first_10k_seeds_share_a_multiset_of_words() -> None:
    """Seeds 0..9999 on 2^20 elements: equal multisets of words would give equal fingerprints
    (sum and sum of squares are invariant under reordering); fingerprints that collide are then
    compared in full. The old generator had ~10^4 such pairs among these seeds."""
    n_seeds, n = 10_000, 1 << 20
    keys = [rng.key(s, 0) for s in range(n_seeds)]
    a = np.array([k[0] for k in keys], np.uint32)
    b = np.array([k[1] for k in keys], np.uint32)
    fp = _fingerprints(a, b, n)
    _, first, counts = np.unique(fp, axis=0, return_index=True, return_counts=True)
    idx = np.arange(n, dtype=np.uint64)
    for k in np.nonzero(counts > 1)[0]:
        group = np.nonzero((fp == fp[first[k]]).all(axis=1))[0]
        ref = np.sort(rng.words(int(group[0]), idx))
        for s in group[1:]:
            assert not np.array_equal(ref, np.sort(rng.words(int(s), idx))), (group[0], s)
    # the fingerprints themselves behave like random sums: almost all distinct
    assert (counts > 1).sum() <= 2
    # the first round keys of these seeds are distinct too (mix64 is a bijection)
    assert len(set(keys)) == n_seeds


# --- uniformity and correlation ---------------------------------------------------------------


def _chi2_limit(df: int, z: float = 5.0) -> float:
    """Upper z-sigma point of chi^2(df), Wilson-Hilferty (accurate to <1% for df >= 100)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


STAT_SEEDS = [0, 1, 7, 2**32, 2**63 - 1]
N_STAT = 1 << 20


@pytest.mark.parametrize("seed", STAT_SEEDS)
@pytest.mark.parametrize("j", [0, 1])
def test_words_are_uniform(seed: int, j: int) -> None:
    w = rng.words(seed, np.arange(N_STAT), j)
    # top 10 bits: chi-square over 1024 cells
    counts = np.bincount((w >> np.uint64(22)).astype(np.int64), minlength=1024)
    e = N_STAT / 1024
    assert ((counts - e) ** 2 / e).sum() < _chi2_limit(1023)
    # low 10 bits as well (a weak hash shows up in the low bits first)
    counts = np.bincount((w & np.uint64(1023)).astype(np.int64), minlength=1024)
    assert ((counts - e) ** 2 / e).sum() < _chi2_limit(1023)
    # every bit is one with probability 1/2
    bits = (w[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)
    ones = bits.sum(axis=0).astype(np.float64)
    assert np.all(np.abs(ones - N_STAT / 2) < 6 * math.sqrt(N_STAT / 4))


def _corr(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.corrcoef(u, v)[0, 1])


@pytest.mark.parametrize("seed", STAT_SEEDS)
def test_no_lag_or_seed_or_word_correlation(seed: int) -> None:
    """Pearson correlations of U = w / 2^32 (sd 1/sqrt(n) under independence): neighbouring
    indices (lags 1, 2, 32, 1024), neighbouring seeds (s + 1, s xor 2^32), and words j = 0, 1 of
    one element. And the XOR of two streams is balanced bit by bit (catches linear relations)."""
    i = np.arange(N_STAT + 1024)
    u = rng.words(seed, i).astype(np.float64) / 2**32
    lim = 6 / math.sqrt(N_STAT)
    for lag in (1, 2, 32, 1024):
        assert abs(_corr(u[:N_STAT], u[lag : lag + N_STAT])) < lim, lag
    w0 = rng.words(seed, i[:N_STAT])
    for other in ((seed + 1) % 2**63, seed ^ (1 << 32)):
        w1 = rng.words(other, i[:N_STAT])
        assert abs(_corr(w0.astype(np.float64), w1.astype(np.float64))) < lim, other
        x = w0 ^ w1
        ones = ((x[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)).sum(axis=0)
        assert np.all(np.abs(ones - N_STAT / 2) < 6 * math.sqrt(N_STAT / 4)), other
    wj = rng.words(seed, i[:N_STAT], 1)
    assert abs(_corr(w0.astype(np.float64), wj.astype(np.float64))) < lim


def test_seed_bits_avalanche_into_the_keys() -> None:
    """Flipping any one of the 64 seed bits flips each of the 64 key bits with probability 1/2
    (mean over 200 seeds: sd of the mean flip count per key bit is sqrt(200/4))."""
    r = np.random.default_rng(23)
    seeds = [int(s) for s in r.integers(0, 2**62, 200, dtype=np.int64)]
    for bit in range(63):  # bit 63 would leave the seed range
        flips = np.zeros(64)
        for s in seeds:
            a, b = rng.key(s)
            a2, b2 = rng.key(s ^ (1 << bit))
            d = (a ^ a2) | ((b ^ b2) << 32)
            flips += [(d >> k) & 1 for k in range(64)]
        assert np.all(np.abs(flips - 100) < 6 * math.sqrt(50)), bit


def test_stochastic_rounding_of_two_seeds_is_independent() -> None:
    """End to end: the rounding decisions of seeds s and s + 1 on 2^18 equal inputs agree as
    often as independent coins do (P(agree) = p^2 + (1 - p)^2 for P(up) = p = 0.3)."""
    x = np.full(1 << 18, 0.3, np.float32)
    n = x.size
    for s in (0, 1, 1000, 2**32 - 1):
        u1 = quantize(x, "int8", "sr", seed=s) == 1
        u2 = quantize(x, "int8", "sr", seed=s + 1) == 1
        p = 0.3
        agree = float(np.mean(u1 == u2))
        pa = p * p + (1 - p) ** 2
        assert abs(agree - pa) < 6 * math.sqrt(pa * (1 - pa) / n), s
