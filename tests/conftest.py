"""Shared fixtures for the lowbit_core numerics tests: catalogue lists and fixed seeds."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache")
)

#: Every float format of the catalogue with at most 8 bits.
SMALL_FLOATS = [
    "float8_e5m2",
    "float8_e4m3fn",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float6_e3m2fn",
    "float6_e2m3fn",
    "float4_e2m1fn",
    "float8_e8m0fnu",
    "ue4m3",
    "ue5m3",
    "ue5m3_ieee",
]
#: The two 16-bit float formats (small enough for exhaustive tests).
HALF_FLOATS = ["float16", "bfloat16"]
#: Integer formats 2..8 bits, signed, unsigned and symmetric.
INTS = (
    [f"int{k}" for k in range(2, 9)] + [f"uint{k}" for k in range(2, 9)] + ["int4_sym", "int8_sym"]
)
#: Everything with an exhaustive code table tested here.
EXHAUSTIVE = SMALL_FLOATS + HALF_FLOATS + INTS

#: Fixed seeds used by the stochastic tests (never global RNG state).
SEEDS = (0, 1, 12345, 2**40 + 7, 2**63 - 1)


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed, fresh per test."""
    return np.random.default_rng(20261125)


@pytest.fixture(params=SEEDS)
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.param)


#: catalogue id (or custom name) -> ml_dtypes / numpy dtype with the same code layout
ML_DTYPES: dict[str, object] = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float8_e5m2": ml_dtypes.float8_e5m2,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "float6_e3m2fn": ml_dtypes.float6_e3m2fn,
    "float6_e2m3fn": ml_dtypes.float6_e2m3fn,
    "float4_e2m1fn": ml_dtypes.float4_e2m1fn,
    "float8_e8m0fnu": ml_dtypes.float8_e8m0fnu,
    "e3m4": ml_dtypes.float8_e3m4,  # custom eXmY parse, IEEE specials, bias 3
    "e4m3ieee": ml_dtypes.float8_e4m3,  # custom eXmY parse, IEEE specials, bias 7
    "int2": ml_dtypes.int2,
    "int4": ml_dtypes.int4,
    "uint2": ml_dtypes.uint2,
    "uint4": ml_dtypes.uint4,
    "int8": np.int8,
    "uint8": np.uint8,
}
