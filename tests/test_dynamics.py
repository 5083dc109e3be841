"""lowbit_core.experiments.dynamics against independent oracles.

Oracles: the lab's numpy reference rounding (``quantize_reference``, onto the IEEE-like e11mP
grid for sbits), numpy float16 and ml_dtypes bfloat16 arithmetic (correctly rounded +, -, ×),
exact rational sums (``fractions``), a CDF-integral W1, and the check values of
../shared/spec/wave2_spec.md section E (harmonic sums; Lorenz behaviour at the lab settings).
No golden values of SR streams: SR is checked for reproducibility, thread independence and
unbiasedness with a tolerance from its variance.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import ml_dtypes
import numba
import numpy as np
import pytest

from lowbit_core.experiments.dynamics import (
    LorenzParams,
    Precision,
    climate_sweep,
    decay_ode,
    harmonic_sum,
    heat_column,
    lorenz,
    periodicity,
    sbits_format,
    w1,
)
from lowbit_core.rounding import quantize_reference

FEW = ("srff", "srf", "src", "sro")


def _values(n: int = 20000) -> np.ndarray:
    rng = np.random.default_rng(20261202)
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-9, 9, n)
    special = [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        65504.0,
        65520.0,
        -65520.0,
        448.0,
        464.0,
        480.0,
        2.0**-14,
        2.0**-24,
        2.0**-25,
        3 * 2.0**-26,
        1e300,
        1.7976931348623157e308,
        5e-324,
        2.2e-308,
        1e-310,
        1.0 + 2.0**-8,
        1.0 + 3 * 2.0**-9,
    ]
    x[: len(special)] = special
    return x


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


# --- the rounding of the kernels ---------------------------------------------------------------


@pytest.mark.parametrize("p", [1, 4, 7, 10, 19, 20, 23, 33, 51])
@pytest.mark.parametrize("mode", ["rne", "sr", *FEW])
def test_sbits_rounding_equals_reference_on_e11m_grid(p: int, mode: str) -> None:
    """The bit-image fast path == the lab's numpy reference on the e11mP grid (no saturation),
    for every mode, random-bit count and value class (subnormal, overflow, ties, NaN, inf)."""
    x = _values()
    for rb in (1, 3, 8, 32) if mode in FEW else (None,):
        got = Precision(sbits=p, mode=mode, rbits=rb, seed=7).round(x)
        ref = quantize_reference(x, sbits_format(p), mode, saturate=False, rbits=rb, seed=7)
        assert _same(got, ref), (p, mode, rb)


@pytest.mark.parametrize(
    "fmt",
    ["float16", "bfloat16", "e5m2", "e4m3", "e3m4", "e5m0", "float8_e4m3fnuz", "float6_e2m3fn"],
)
@pytest.mark.parametrize("mode", ["rne", "sr", "srff", "src"])
@pytest.mark.parametrize("saturate", [True, False])
def test_format_rounding_equals_reference(fmt: str, mode: str, saturate: bool) -> None:
    """Formats: exponent range, subnormals and the overflow rule are the lab's own."""
    x = _values()
    rb = 4 if mode in FEW else None
    got = Precision(fmt=fmt, mode=mode, rbits=rb, seed=3, saturate=saturate).round(x)
    ref = quantize_reference(x, fmt, mode, saturate=saturate, rbits=rb, seed=3)
    assert _same(got, ref)


def test_sr_is_unbiased_within_its_standard_error() -> None:
    """Exact SR of one value 2^16 times (distinct stream indices): the mean lies within 5
    standard errors of the value; sd per draw = ulp·sqrt(d(1 - d))."""
    v, n = 1.0 + 0.3 * 2.0**-7, 1 << 16
    out = Precision(sbits=7, mode="sr", seed=11).round(np.full(n, v))
    ulp, d = 2.0**-7, 0.3
    assert set(np.unique(out)) == {1.0, 1.0 + ulp}
    assert abs(out.mean() - v) < 5 * ulp * np.sqrt(d * (1 - d) / n)


def test_precision_rejects_bad_values_by_name() -> None:
    for kw, word in [
        ({"sbits": 0}, "sbits=0"),
        ({"sbits": 53}, "sbits=53"),
        ({"fmt": "nope"}, "nope"),
        ({"fmt": "uint8"}, "signed float"),
        ({"mode": "rtz"}, "rtz"),
        ({"mode": "srff"}, "rbits=None"),
        ({"mode": "srff", "rbits": 40}, "rbits=40"),
        ({"seed": -1}, "-1"),
    ]:
        with pytest.raises(ValueError, match=word):
            Precision(**kw)  # type: ignore[arg-type]


# --- Euler in float16 / bfloat16 == real low-precision arithmetic ----------------------------


def _euler_lowp(
    s0: np.ndarray, dtype: type, steps: int, sig: float, rho: float, beta: float, dt: float
) -> np.ndarray:
    """The issue's Euler order in a real numpy/ml_dtypes dtype (every op rounded by the dtype)."""
    T = dtype
    s, r, b, h = T(sig), T(rho), T(beta), T(dt)
    x, y, z = T(s0[0]), T(s0[1]), T(s0[2])
    out = np.empty((steps + 1, 3))
    out[0] = (float(x), float(y), float(z))
    for n in range(1, steps + 1):
        dx = s * (y - x)
        dy = x * (r - z) - y
        dz = x * y - b * z
        x = x + h * dx
        y = y + h * dy
        z = z + h * dz
        out[n] = (float(x), float(y), float(z))
    return out


@pytest.mark.parametrize(
    ("fmt", "dtype"), [("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16)]
)
def test_euler_equals_hardware_arithmetic_bit_for_bit(fmt: str, dtype: type) -> None:
    p = LorenzParams(fmt=fmt, scheme="euler", steps=10_000, spinup=0, dt=0.008)
    res = lorenz(p)
    ref = _euler_lowp(res.states[0], dtype, p.steps, p.sigma, p.rho, p.beta, p.dt)
    assert np.array_equal(res.states, ref)
    assert res.constants[0] == float(dtype(p.sigma)) and res.constants[3] == float(dtype(p.dt))


# --- Lorenz at the lab settings (wave2_spec.md E, 1e5 RK4 steps) -----------------------------


@pytest.fixture(scope="module")
def lab() -> dict[str, Any]:
    ref = lorenz(LorenzParams(fmt="float64"))
    settings: dict[str, dict[str, Any]] = {
        "rn5": {"sbits": 5},
        "rn7": {"sbits": 7},
        "sr7": {"sbits": 7, "mode": "sr", "seed": 0},
        "rn23": {"sbits": 23},
    }
    runs = {k: lorenz(LorenzParams(**kw)) for k, kw in settings.items()}
    return {"ref": ref, **runs}


def test_rn5_reaches_a_fixed_point(lab: dict[str, Any]) -> None:
    r = lab["rn5"]
    assert r.period == 1 and np.all(r.states == r.states[-1]) and r.distinct == 1


def test_rn7_is_exactly_periodic(lab: dict[str, Any]) -> None:
    r = lab["rn7"]
    assert r.period is not None and r.period > 1
    j = r.first_repeat - r.period
    # a deterministic map: once state j recurs at j + period, the rest repeats with that period
    assert np.array_equal(r.states[j + r.period :], r.states[j : -r.period])
    assert r.distinct == r.first_repeat


def test_sr7_keeps_the_climate(lab: dict[str, Any]) -> None:
    ref, rn, sr = lab["ref"].states, lab["rn7"].states, lab["sr7"].states
    assert lab["sr7"].period is None  # a repeat of an SR run proves nothing
    assert lab["sr7"].distinct > 0.9 * sr.shape[0]
    assert sr[sr.shape[0] // 2 :, 2].std() > 5  # not collapsed
    assert w1(sr[:, 2], ref[:, 2]) <= w1(rn[:, 2], ref[:, 2]) / 3


def test_float32_like_precision_is_within_the_float64_floor(lab: dict[str, Any]) -> None:
    df = climate_sweep(LorenzParams(), sbits=(23,), modes=("rne",), floor=4)
    floor = df[df["mode"] == "float64"]["w1_z"]
    assert float(df[df["mode"] == "rne"]["w1_z"].iloc[0]) <= floor.max()
    ref = lab["ref"].states
    assert w1(lab["rn23"].states[:, 2], ref[:, 2]) == pytest.approx(
        float(df[df["mode"] == "rne"]["w1_z"].iloc[0]), rel=1e-9
    )


def test_sweep_is_independent_of_the_thread_count_and_reproducible() -> None:
    kw: dict[str, Any] = {
        "sbits": (6, 9),
        "fmts": ("bfloat16",),
        "modes": ("rne", "sr", "src"),
        "seeds": (0, 5),
    }
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = climate_sweep(LorenzParams(steps=3000, spinup=100, rbits=4), **kw)
    finally:
        numba.set_num_threads(n0)
    two = climate_sweep(LorenzParams(steps=3000, spinup=100, rbits=4), **kw)
    assert one.equals(two) and len(one) == 3 * (1 + 2 + 2) + 3
    # the sweep's W1 (order statistics, in the kernel) == w1 of the separately run states
    row = two[(two["fmt"] == "bfloat16") & (two["mode"] == "sr") & (two["seed"] == 5)].iloc[0]
    ref = lorenz(LorenzParams(steps=3000, spinup=100, fmt="float64")).states
    run = lorenz(LorenzParams(steps=3000, spinup=100, fmt="bfloat16", mode="sr", seed=5)).states
    assert row["w1_z"] == pytest.approx(w1(run[:, 2], ref[:, 2]), rel=1e-12)


def test_sr_runs_reproduce_from_their_seed_and_differ_between_seeds() -> None:
    a = lorenz(LorenzParams(steps=2000, mode="sr", seed=3)).states
    b = lorenz(LorenzParams(steps=2000, mode="sr", seed=3)).states
    c = lorenz(LorenzParams(steps=2000, mode="sr", seed=4)).states
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_lorenz_params_reject_bad_values() -> None:
    for kw, word in [
        ({"steps": 0}, "steps=0"),
        ({"dt": -1.0}, "dt=-1.0"),
        ({"scheme": "rk2"}, "rk2"),
        ({"start": (1.0, np.nan, 2.0)}, "start"),
        ({"sbits": 99}, "sbits=99"),
    ]:
        with pytest.raises(ValueError, match=word):
            LorenzParams(**kw)  # type: ignore[arg-type]


# --- W1 and periodicity -----------------------------------------------------------------------


def test_w1_against_closed_forms() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1000)
    assert w1(a, a + 0.25) == pytest.approx(0.25, abs=1e-12)  # a shift moves W1 by the shift
    b = rng.standard_normal(1000)  # equal sizes: mean |order statistics difference|
    assert w1(a, b) == pytest.approx(np.mean(np.abs(np.sort(a) - np.sort(b))), rel=1e-12)
    # unequal sizes: W1({0}, {0, 1}) = 1/2
    assert w1(np.array([0.0]), np.array([0.0, 1.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="finite"):
        w1(np.array([]), a)


def test_periodicity_on_constructed_sequences() -> None:
    s = np.array([[0, 0, 1], [1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 3], [4, 5, 6]], float)
    assert periodicity(s) == (3, 4, 4)
    assert periodicity(s[:4]) == (None, None, 4)
    assert periodicity(np.array([[0.0, 1, 1], [-0.0, 1, 1]])) == (1, 1, 1)  # -0 is 0


# --- stagnation cards -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "dtype", "n_stop", "value"),
    [("float16", np.float16, 513, 7.0859375), ("bfloat16", ml_dtypes.bfloat16, 65, 5.0625)],
)
def test_harmonic_sum_rn_check_values(fmt: str, dtype: type, n_stop: int, value: float) -> None:
    s = harmonic_sum(2000, fmt)
    first_flat = int(np.flatnonzero(np.diff(s) == 0)[0]) + 2  # 1-based n of the first no-op
    assert first_flat == n_stop and s[n_stop - 1] == value and np.all(s[n_stop - 1 :] == value)
    # oracle: the same recursion in the real dtype (terms rounded first)
    acc = dtype(0)
    for i in range(1, 2001):
        acc = acc + dtype(1.0 / i)
        assert float(acc) == s[i - 1]


def test_harmonic_sr_keeps_growing_and_is_reproducible() -> None:
    n = 200_000
    a = harmonic_sum(n, "float16", "sr", seed=1)
    assert np.array_equal(a, harmonic_sum(n, "float16", "sr", seed=1))
    exact = float(sum(Fraction(1, i) for i in range(1, 2001)))  # sanity of the grid near 8
    assert exact == pytest.approx(8.178368, abs=1e-6)
    assert a[-1] > 12 and a[-1] == np.max(a)  # exact H(2e5) = 12.7833; RN is stuck at 7.09


def test_decay_ode_rn_stagnates_and_sr_is_unbiased() -> None:
    """RN: every update h·y/20 < half an ulp of 1, so y stays exactly 1. SR: each rounding is
    unbiased and the recursion is linear, so E[y_n] = the float64 Euler value; the seed mean
    lies within 4 standard errors of it (sd estimated from the seeds)."""
    ns = (100, 1000)
    rn = decay_ode("float16", "rne", ns=ns)
    assert (rn[rn["run"] == "RN"]["y"] == 1.0).all()
    sr = decay_ode("float16", "sr", seeds=range(32), ns=ns)
    for n in ns:
        y = sr[(sr["n"] == n) & sr["run"].str.startswith("SR")]["y"].to_numpy()
        y64 = float(sr[(sr["n"] == n) & (sr["run"] == "float64")]["y"].iloc[0])
        se = y.std(ddof=1) / np.sqrt(y.size)
        assert se > 0 and abs(y.mean() - y64) < 4 * se
        assert abs(y.mean() - y64) < abs(1.0 - y64) / 2  # and far closer than RN's y = 1


def test_heat_column_rn_freezes_in_float16() -> None:
    """ξ·ΔT ≤ 1.26e-3 × 6.85 K < 0.125 K = half an ulp near 273 K: no RN update survives."""
    prof, _mean = heat_column("float16", "rne", years=0.2)
    rn = prof[prof["run"] == "RN"]
    assert (rn["T"].iloc[1:] == 273.25).all() and rn["T"].iloc[0] == 280.0
    f64 = prof[prof["run"] == "float64"]
    assert f64["T"].iloc[1] > 276  # float64 does diffuse into the first cell
