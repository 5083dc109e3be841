"""The FP quantization scaling law (lowbit_core.experiments.scaling_law and its page tables).

Check values are wave2_spec §F's, each held to half a unit in its last printed digit (the
tolerance is read off the printed string, so it is exactly the precision the spec states);
papers_spec checks 14–16 with their own, looser tolerances. The closed-form optima are checked
against brute-force minimisation over fine grids; the identities (N_eff, D_crit as the minimum)
to float rounding.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from lowbit_core.experiments import scaling_law as law
from lowbit_core.experiments import scaling_law_page as slp
from lowbit_core.formats import FORMATS

C = law.CONSTANTS


def printed(s: str) -> tuple[float, float]:
    """A value as printed in the spec and half a unit in its last digit."""
    d = Decimal(s)
    exp = d.as_tuple().exponent
    assert isinstance(exp, int)
    return float(d), 0.5 * 10.0**exp


def approx_printed(s: str, rel_slack: float = 1e-12) -> object:
    v, half = printed(s)
    return pytest.approx(v, abs=half + rel_slack * abs(v))


# --- wave2_spec §F check values ------------------------------------------------------------------

D_CRIT = [((8, 7), "1.730e15"), ((4, 3), "2.733e13"), ((2, 1), "3.928e11")]
LOSS = [((8, 7), "2.5626"), ((4, 3), "2.5631"), ((2, 1), "2.5979")]


@pytest.mark.parametrize(("em", "want"), D_CRIT, ids=["e8m7", "e4m3", "e2m1"])
def test_spec_d_crit(em: tuple[int, int], want: str) -> None:
    assert law.critical_data(1e9, *em, B=128) == approx_printed(want)


@pytest.mark.parametrize(("em", "want"), LOSS, ids=["e8m7", "e4m3", "e2m1"])
def test_spec_loss(em: tuple[int, int], want: str) -> None:
    assert law.capybara_loss(1e9, 1e11, *em, B=128) == approx_printed(want)


def test_spec_optimal_layout() -> None:
    lay = law.optimal_layout(np.array([4.0, 6.0, 8.0, 16.0]))
    for m, want in zip(lay.m, ["1.422", "2.384", "3.345", "7.190"], strict=True):
        assert m == approx_printed(want)
    assert [(int(e), int(m)) for e, m in zip(lay.e_int, lay.m_int, strict=True)] == [
        (2, 1), (3, 2), (4, 3), (8, 7)
    ]


def test_spec_gamma_rho() -> None:
    assert C.gamma_rho == approx_printed("160.697")


def test_spec_optimal_precision_data() -> None:
    d = np.array([1e10, 1e11, 1e12, 1e13, 1e14])
    got = law.optimal_precision_data(d, 128)
    for g, want in zip(got, ["3.52", "4.27", "5.18", "6.28", "7.62"], strict=True):
        assert g == approx_printed(want)


def test_spec_optimal_precision_compute() -> None:
    """The spec's P_opt(C) all end in 0: a search on a 0.1-bit grid, so the continuous optimum
    lies within half that step of each; N* ≈ 7.9e9 at 1e21 is printed to two digits."""
    c = np.array([1e21, 1e23, 1e25, 1e27, 1e31])
    p, n, d = law.optimal_precision_compute(c, 128, 6 / 16)
    for g, want in zip(p, [4.2, 4.7, 5.3, 6.0, 7.6], strict=True):
        assert abs(g - want) <= 0.05 + 1e-12
    assert n[0] == approx_printed("7.9e9")
    np.testing.assert_allclose(6 / 16 * p * n * d, c, rtol=1e-12)  # the budget is spent exactly
    assert (p > 4).all() and (p < 8).all()  # paper, Fig. 7: "4–8 bits" over 1e21…1e31


# --- papers_spec checks 14–16 (their stated tolerances) ------------------------------------------


def test_papers_spec_14_15_16() -> None:
    dc = law.critical_data(1e9, np.array([8, 4, 2]), np.array([7, 3, 1]), 128)
    assert dc[0] == pytest.approx(1.73e15, rel=0.01)
    assert dc[1] == pytest.approx(2.73e13, rel=0.01)
    assert dc[2] == pytest.approx(3.9e11, rel=0.02)
    # the paper's own rounding: 1730T / 27T / 0.4T
    assert [round(dc[0] / 1e12), round(dc[1] / 1e12), round(dc[2] / 1e12, 1)] == [1730, 27, 0.4]
    lay = law.optimal_layout(np.array([4.0, 8.0, 16.0]))
    np.testing.assert_allclose(lay.m, [1.42, 3.34, 7.19], atol=0.01)
    np.testing.assert_allclose(
        law.capybara_loss(1e9, 1e11, np.array([8, 4, 2]), np.array([7, 3, 1]), 128),
        [2.5626, 2.5631, 2.5979], atol=1e-4,
    )


# --- optima against brute force ------------------------------------------------------------------


def _loss_opt_layout(n: np.ndarray, d: np.ndarray, p: np.ndarray, b: float | str) -> np.ndarray:
    lay = law.optimal_layout(p)
    return np.asarray(law.capybara_loss(n, d, lay.e, lay.m, b))


@pytest.mark.parametrize("budget", [1e21, 1e25, 1e31])
@pytest.mark.parametrize("block", [128, 32, "channel"])
def test_compute_optimum_beats_a_fine_grid(budget: float, block: float | str) -> None:
    """Brute force over (log N, P) with D = C/(kPN): the closed form is never beaten by a grid
    point, and the grid's best point lies within two grid steps of it."""
    k = 6 / 16
    p0, n0, _ = law.optimal_precision_compute(budget, block, k)
    ln = np.linspace(math.log(n0) - 2.0, math.log(n0) + 2.0, 1601)  # step 2.5e-3 in log N
    pp = np.arange(max(2.0, p0 - 2), p0 + 2, 0.0025)
    nn, pg = np.exp(ln)[:, None], pp[None, :]
    grid = _loss_opt_layout(nn, budget / (k * pg * nn), pg, block)
    i, j = np.unravel_index(np.argmin(grid), grid.shape)
    best = _loss_opt_layout(np.array(n0), np.array(budget / (k * p0 * n0)), np.array(p0), block)
    assert best <= grid.min() * (1 + 1e-14)
    assert abs(pp[j] - p0) <= 2 * 0.0025 and abs(ln[i] - math.log(n0)) <= 2 * 2.5e-3


@pytest.mark.parametrize("tokens", [1e10, 1e12, 1e14])
def test_data_optimum_is_the_minimum_over_p_at_fixed_compute(tokens: float) -> None:
    """Eq. 46/47: with C and D fixed, N = C/(kPD); a grid over P finds the same P."""
    k, budget = 6 / 16, 1e24
    pp = np.arange(2.0, 16.0, 0.0005)
    loss = _loss_opt_layout(budget / (k * pp * tokens), np.full_like(pp, tokens), pp, 128)
    assert abs(pp[np.argmin(loss)] - law.optimal_precision_data(tokens, 128)) <= 0.001
    # and the compute optimum lies on this curve
    p, _, d = law.optimal_precision_compute(np.array([1e21, 1e27]), 128, k)
    np.testing.assert_allclose(law.optimal_precision_data(d, 128), p, rtol=1e-12)


@pytest.mark.parametrize(("n", "e", "m", "b"), [(1e9, 4, 3, 128), (1e8, 2, 1, 32),
                                                (5e7, 5, 2, "channel"), (1e6, 0, 7, 512)])
def test_loss_over_d_is_smallest_at_d_crit(n: float, e: int, m: int, b: float | str) -> None:
    dc = law.critical_data(n, e, m, b)
    ld = np.linspace(math.log(dc) - 3, math.log(dc) + 3, 60_001)  # step 1e-4
    loss = law.capybara_loss(n, np.exp(ld), e, m, b)
    assert abs(ld[np.argmin(loss)] - math.log(dc)) <= 1e-4
    assert law.capybara_loss(n, dc, e, m, b) <= loss.min() * (1 + 1e-15)
    # the slope changes sign there: below it more data helps, past it more data hurts
    assert law.capybara_loss(n, dc * 0.9, e, m, b) > law.capybara_loss(n, dc, e, m, b)
    assert law.capybara_loss(n, dc * 1.1, e, m, b) > law.capybara_loss(n, dc, e, m, b)


def test_continuous_layout_maximises_the_penalty_denominator() -> None:
    for p in (3.0, 4.0, 8.0, 12.5, 16.0):
        mg = np.linspace(0.0, p - 1, 200_001)
        f = (p - 1 - mg + 0.5) ** C.delta * (mg + 0.5) ** C.nu
        assert abs(mg[np.argmax(f)] - law.optimal_layout(p).m) <= (p - 1) / 200_000


def test_integer_layout_is_the_best_integer_split() -> None:
    for p in range(2, 33):
        m = np.arange(p)
        loss = law.capybara_loss(1e9, 1e11, p - 1 - m, m, 128)
        lay = law.optimal_layout(p)
        assert int(lay.m_int) == int(m[np.argmin(loss)]) and int(lay.e_int) == p - 1 - lay.m_int


# --- identities ----------------------------------------------------------------------------------


def test_effective_params_is_the_penalty_free_model_with_the_same_loss() -> None:
    rng = np.random.default_rng(0)
    n = 10 ** rng.uniform(6, 11, 200)
    d = 10 ** rng.uniform(8, 14, 200)
    e, m = rng.integers(0, 9, 200), rng.integers(0, 11, 200)
    neff = law.effective_params_layout(n, d, e, m, 128)
    np.testing.assert_allclose(law.capybara_loss(neff, d, 0, 0, 1), law.capybara_loss(n, d, e, m,
                                                                                       128),
                               rtol=1e-13)
    assert (neff <= n).all()
    # the spec's P form: N [1 + D^β log2 B / (γ_ρ n P^(δ+ν))]^(−1/α)
    p = 8.0
    spec = n * (1 + d**C.beta * 7 / (C.gamma_rho * C.n * p ** (C.delta + C.nu))) ** (-1 / C.alpha)
    np.testing.assert_allclose(law.effective_params(n, d, p, 128), spec, rtol=1e-12)


def test_terms_add_up_and_b1_has_no_penalty() -> None:
    t = law.loss_terms(1e9, 1e11, 4, 3, 128)
    assert t.total == law.capybara_loss(1e9, 1e11, 4, 3, 128)
    assert t.model == pytest.approx(C.n / 1e9**C.alpha, rel=1e-15)
    assert t.irreducible == C.eps
    t1 = law.loss_terms(1e9, 1e11, 4, 3, 1)
    assert t1.precision == 0 and math.isinf(law.critical_data(1e9, 4, 3, 1))
    assert float(law.log2_block("channel")) == C.log2_channel == 13.1567


def test_monotone_in_b_e_m() -> None:
    b = np.array([1, 2, 16, 32, 64, 128, 256, 512, 4096, 2**C.log2_channel + 1])
    loss = law.capybara_loss(1e9, 1e11, 4, 3, b)
    assert (np.diff(loss) > 0).all()
    assert law.capybara_loss(1e9, 1e11, 4, 3, "channel") < loss[-1]
    assert law.capybara_loss(1e9, 1e11, 4, 3, "channel") > loss[-2]
    e = np.arange(0, 12)
    assert (np.diff(law.capybara_loss(1e9, 1e11, e, 3, 128)) < 0).all()
    m = np.arange(0, 24)
    assert (np.diff(law.capybara_loss(1e9, 1e11, 4, m, 128)) < 0).all()


def test_vectorised_equals_scalar() -> None:
    rng = np.random.default_rng(1)
    n = 10 ** rng.uniform(3, 14, 64)
    d = 10 ** rng.uniform(3, 17, 64)
    e, m = rng.integers(0, 9, 64), rng.integers(0, 24, 64)
    b = rng.choice([32, 64, 128, 256, 512], 64)
    vec = {
        "loss": law.capybara_loss(n, d, e, m, b),
        "dcrit": law.critical_data(n, e, m, b),
        "neff": law.effective_params_layout(n, d, e, m, b),
        "pd": law.optimal_precision_data(d, b),
        "pc": law.optimal_precision_compute(n * d, b)[0],
        "m_opt": law.optimal_layout(e + m + 1.0).m,
    }
    for i in range(64):
        one = {
            "loss": law.capybara_loss(float(n[i]), float(d[i]), int(e[i]), int(m[i]), int(b[i])),
            "dcrit": law.critical_data(float(n[i]), int(e[i]), int(m[i]), int(b[i])),
            "neff": law.effective_params_layout(float(n[i]), float(d[i]), int(e[i]), int(m[i]),
                                                int(b[i])),
            "pd": law.optimal_precision_data(float(d[i]), int(b[i])),
            "pc": law.optimal_precision_compute(float(n[i] * d[i]), int(b[i]))[0],
            "m_opt": law.optimal_layout(float(e[i] + m[i] + 1)).m,
        }
        for k, v in one.items():
            assert np.ndim(v) == 0 and v == pytest.approx(vec[k][i], rel=1e-15, abs=0), k


def test_broadcasting_shapes() -> None:
    loss = law.capybara_loss(np.array([1e8, 1e9])[:, None], np.array([1e10, 1e11, 1e12]), 4, 3)
    assert loss.shape == (2, 3)
    t = law.loss_terms(1e9, np.array([1e10, 1e11]), 4, 3)
    assert np.shape(t.model) == np.shape(t.precision) == (2,)


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"N": 0.0}, r"N=0\.0"),
        ({"N": -1e9}, r"N=-1000000000\.0"),
        ({"N": float("nan")}, r"N=nan"),
        ({"N": float("inf")}, r"N=inf"),
        ({"D": 0}, r"D=0\.0"),
        ({"D": np.array([1e10, -5.0])}, r"D=-5\.0"),
        ({"E": -1}, r"E=-1\.0"),
        ({"M": -0.5}, r"M=-0\.5"),
        ({"M": float("nan")}, r"M=nan"),
        ({"B": 0.5}, r"B=0\.5"),
        ({"B": float("nan")}, r"B=nan"),
        ({"B": "tensor"}, r"B='tensor'.*not publish"),
        ({"B": "block"}, r"B='block'"),
        ({"N": "many"}, r"N='many'"),
    ],
)
def test_bad_inputs_name_the_value(kw: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"N": 1e9, "D": 1e11, "E": 4, "M": 3, "B": 128, **kw}
    with pytest.raises(ValueError, match=match):
        law.capybara_loss(**args)  # type: ignore[arg-type]


def test_bad_inputs_elsewhere() -> None:
    with pytest.raises(ValueError, match=r"B='tensor'"):
        law.critical_data(1e9, 4, 3, "tensor")
    with pytest.raises(ValueError, match=r"P=1\.0"):
        law.optimal_layout(1)
    with pytest.raises(ValueError, match=r"C=-1\.0"):
        law.optimal_precision_compute(-1.0)
    with pytest.raises(ValueError, match=r"k=0\.0"):
        law.optimal_precision_compute(1e21, k=0)
    with pytest.raises(ValueError, match=r"B=1 has no precision penalty"):
        law.optimal_precision_data(1e11, 1)
    with pytest.raises(ValueError, match=r"D=nan"):
        law.optimal_precision_data(float("nan"))
    with pytest.raises(ValueError, match=r"N=0\.0"):
        law.effective_params(0.0, 1e11, 8)


# --- fit envelope --------------------------------------------------------------------------------


def test_envelope() -> None:
    assert law.outside_envelope(1e8, 5e10, 4, 3, 128) == {}
    assert law.outside_envelope(41e6, 10e9, 0, 7, "channel") == {}
    assert law.outside_envelope(B="tensor") == {}  # fitted, even though unusable here
    out = law.outside_envelope(1e9, 1e12, 8, 0, 16)
    assert set(out) == {"N", "D", "E", "M", "B"}
    assert "1B" in out["N"] and "41M–679M" in out["N"] and "70B" in out["N"]
    assert "1T" in out["D"] and "E = 8" in out["E"] and "M = 0" in out["M"]
    assert "B = 16" in out["B"]
    assert law.outside_envelope() == {}
    assert law.ENVELOPE.quantized == ("W (forward)", "W (Dgrad)", "X (Wgrad)")


# --- the page's schema and tables ----------------------------------------------------------------


def test_params_follow_the_catalogue_format() -> None:
    p = slp.ScalingLawParams(fmt="float4_e2m1fn", ebits=7, mbits=9)
    assert (p.ebits, p.mbits, p.bits) == (2, 1, 4)
    c = slp.ScalingLawParams(fmt="custom", ebits=7, mbits=9)
    assert (c.ebits, c.mbits, c.label) == (7, 9, "E7M9 (custom)")
    assert slp.ScalingLawParams(block="channel").B == "channel"
    assert "ue8m0" not in slp.FORMAT_CHOICES and "float8_e8m0fnu" not in slp.FORMAT_CHOICES
    for bad in ({"n_params": float("nan")}, {"tokens": 0.0}, {"block": "tensor"},
                {"fmt": "int8"}, {"compare": ()}, {"ebits": 9}):
        with pytest.raises(ValueError):
            slp.ScalingLawParams(**bad)  # type: ignore[arg-type]


def test_readout_matches_the_core() -> None:
    p = slp.ScalingLawParams(n_params=2e8, tokens=3e12, fmt="float4_e2m1fn", block="64")
    r = slp.readout(p)
    assert r.loss == law.capybara_loss(2e8, 3e12, 2, 1, 64)
    assert r.d_crit == law.critical_data(2e8, 2, 1, 64) and r.past
    assert sum(r.terms.values()) == pytest.approx(r.loss, rel=1e-15)
    assert r.compute == pytest.approx(6 / 16 * 4 * 2e8 * 3e12)
    assert set(r.envelope) == {"D"}
    assert not slp.readout(slp.ScalingLawParams()).past


def test_loss_vs_data_marks_each_minimum() -> None:
    curves, crit = slp.loss_vs_data(slp.ScalingLawParams(n_params=1e8))
    assert crit["current"].iloc[0] and crit["format"].iloc[0] == "E4M3 (float8_e4m3fn)"
    assert crit["format"].is_unique and len(crit) == 5  # e4m3 itself is not repeated
    for _, row in crit.iterrows():
        g = curves[curves["format"] == row["format"]]
        assert g["loss"].min() >= row["loss_at_crit"] * (1 - 1e-15)
        assert g["D"].min() <= row["d_crit"] <= g["D"].max()


def test_heatmap_and_published_table() -> None:
    grid, marks = slp.loss_heatmap(1e9, 1e11, "128")
    assert len(grid) == slp.HEAT_E * slp.HEAT_M
    row = grid[(grid["E"] == 4) & (grid["M"] == 3)]
    assert float(row["loss"].iloc[0]) == law.capybara_loss(1e9, 1e11, 4, 3, 128)
    assert "float8_e4m3fn / float8_e4m3fnuz" in set(marks["format"])
    assert "float32" not in " ".join(marks["format"])  # M = 23 is off the map
    pub = slp.published_table()
    assert list(pub["the law here"][:4]) == ["1730T tokens", "27.33T tokens", "0.3928T tokens",
                                             "E2M1 / E4M3 / E8M7"]


def test_compute_and_data_tables_add_the_papers_b() -> None:
    t = slp.precision_vs_compute("32")
    assert list(dict.fromkeys(t["block"])) == ["32", "128"]
    assert list(dict.fromkeys(slp.precision_vs_data("128")["block"])) == ["128"]
    c = t[t["block"] == "128"]
    np.testing.assert_allclose(c["P_opt"], law.optimal_precision_compute(c["C"].to_numpy())[0])


def test_lab_fp4_runs_match_the_training_tasks() -> None:
    torch = pytest.importorskip("torch")
    from lowbit_core.training.tasks import TASKS, build_task

    assert torch is not None
    for run in slp.LAB_FP4_RUNS:
        setup = build_task(run.task, seed=0)
        assert run.n_params == sum(p.numel() for p in setup.model.parameters()), run.task
        spec = TASKS[run.task]
        per_sample = setup.val[0].shape[1] if run.unit == "tokens" else 1  # charlm: ctx tokens
        assert run.samples == spec.steps * spec.batch_size * per_sample, run.task
    df = slp.fp4_runs()
    assert (df["D_over_d_crit"] < 1e-4).all() and (df["penalty_share"] < 1e-4).all()
    assert FORMATS["float4_e2m1fn"].ebits == 2
