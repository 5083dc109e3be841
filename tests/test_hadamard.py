"""Random Hadamard transform (lowbit_core.hadamard): spec check 12 and properties.

Oracle for H16: TE's construction written out here (Sylvester by np.kron, signs from TE's
``get_wgrad_sign_vector``, scale 1/4), independent of the module's own builder.
"""

from __future__ import annotations

import numpy as np
import pytest

from lowbit_core.hadamard import (
    SIZES,
    TE_SIGN_VECTOR,
    hadamard_matrix,
    random_signs,
    rht,
    sylvester,
)

TE_SIGNS = [1, 1, 1, -1, 1, -1, -1, -1, -1, -1, -1, 1, -1, 1, -1, -1]  # TE, copied by hand


def test_check12_h16_te():
    """Check 12: H16 = S·Sylvester/4, max|HHᵀ−I| < 1e-6 in fp32, (AH)(HᵀB) = AB."""
    h2 = np.array([[1.0, 1.0], [1.0, -1.0]])
    syl = h2
    for _ in range(3):
        syl = np.kron(syl, h2)
    want = (np.diag(TE_SIGNS) @ syl / 4).astype(np.float32)
    h = hadamard_matrix(16, signs=TE_SIGN_VECTOR)
    assert h.dtype == np.float32
    assert np.array_equal(h, want)
    assert np.abs(h @ h.T - np.eye(16, dtype=np.float32)).max() < 1e-6
    rng = np.random.default_rng(12)
    a = rng.standard_normal((8, 16)).astype(np.float32)
    b = rng.standard_normal((16, 5)).astype(np.float32)
    ab = (a.astype(np.float64) @ b).astype(np.float32)
    got = (a @ h) @ (h.T @ b)
    # fp32 tolerance: two extra length-16 dot products, |err| <~ 16 * eps * sum|a||b|
    tol = 16 * np.finfo(np.float32).eps * (np.abs(a) @ np.abs(b)) * 4
    assert np.all(np.abs(got - ab) <= tol)
    assert TE_SIGN_VECTOR.tolist() == TE_SIGNS


@pytest.mark.parametrize("size", SIZES)
def test_orthonormal_every_size(size):
    s = sylvester(size)
    assert set(np.unique(s)) == {-1.0, 1.0}
    assert np.array_equal(s @ s.T, size * np.eye(size))
    # fl(1/sqrt(n)) has relative error <= u, so diagonal entries are off by <= 2u (u = 2^-24 in
    # fp32, 2^-53 in fp64); off-diagonal terms cancel exactly (equal magnitudes)
    cases: list[tuple[type[np.floating], float]] = [(np.float32, 1e-6), (np.float64, 1e-15)]
    for dtype, tol in cases:
        h = hadamard_matrix(size, seed=size, dtype=dtype)
        assert h.dtype == dtype
        assert np.abs(h.astype(np.float64) @ h.T.astype(np.float64) - np.eye(size)).max() < tol


def test_seed_gives_same_signs():
    a, b = random_signs(64, 5), random_signs(64, 5)
    assert np.array_equal(a, b) and set(np.unique(a)) == {-1.0, 1.0}
    assert not np.array_equal(a, random_signs(64, 6))
    assert np.array_equal(random_signs(16, 5), a[:16])  # counter-based: prefix-stable
    h = hadamard_matrix(64, seed=5, dtype=np.float64)
    assert np.array_equal(h, a[:, None] * sylvester(64) / 8)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("size", [2, 16, 32])
def test_inverse_round_trip_any_axis(axis, size):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 64, 96)).astype(np.float32)
    y = rht(x, size, axis=axis, seed=11)
    z = rht(y, size, axis=axis, seed=11, inverse=True)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.abs(z - x).max() < 1e-5
    # each block along the axis is multiplied by H: compare against an explicit matmul
    h = hadamard_matrix(size, seed=11, dtype=np.float64)
    xm = np.moveaxis(x.astype(np.float64), axis, -1)
    want = (xm.reshape(*xm.shape[:-1], -1, size) @ h).reshape(xm.shape)
    assert np.abs(np.moveaxis(want, -1, axis) - y).max() < 1e-5
    # orthonormal: the norm of each block is kept
    assert np.allclose(np.linalg.norm(y), np.linalg.norm(x), rtol=1e-5)


def test_te_signs_and_plain():
    x = np.eye(16, dtype=np.float64)
    h = hadamard_matrix(16, signs=TE_SIGN_VECTOR, dtype=np.float64)
    assert np.array_equal(rht(x, 16, signs=TE_SIGN_VECTOR), h)
    assert np.array_equal(rht(x, 16), sylvester(16) / 4)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"size": 12}, "Hadamard size 12"),
        ({"size": 512}, "Hadamard size 512"),
        ({"size": 1}, "Hadamard size 1"),
        ({"size": 64}, "does not divide axis 1 of length 48"),
        ({"axis": 3}, "axis=3 out of range"),
        ({"seed": -1}, "seed -1"),
        ({"signs": np.ones(8)}, "signs must be 16"),
        ({"signs": np.full(16, 2.0)}, "signs must be 16"),
        ({"signs": TE_SIGN_VECTOR, "seed": 1}, "either seed= or signs="),
    ],
)
def test_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        rht(np.zeros((4, 48), np.float32), **kw)


def test_non_float_input():
    with pytest.raises(ValueError, match="dtype int64"):
        rht(np.zeros((4, 16), np.int64))
