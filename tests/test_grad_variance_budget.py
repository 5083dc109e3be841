"""The CPU budget of one Gradient-variance view (issue 15): the cost model's units follow the
loops they count, the greedy reducer lowers the costliest setting first and stops inside the
budget, every link (the worst one too) is lowered into it, and a deadline or a raising progress
callback stops a run between chunks without changing the numbers of a run that finishes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields, replace

import pytest

from lowbit_core.experiments import grad_variance as gv
from lowbit_core.experiments import grad_variance_budget as gvb
from ui.params_grad_variance import GradVarianceParams, seconds, within_budget

ALL_MODES = ("rne", "sr", "srff", "src", "srf")
#: every control of the page at its URL maximum
WORST = GradVarianceParams(
    model="mlp", b_min=0, b_max=11, repeats=1024, modes=ALL_MODES, targets=("w", "a", "g"),
    xr_bits=8, steps=2000, train_seeds=8, train_batch=10, rbits=16, mbits=10)


# --- the cost model's units ---


def test_units_count_the_loops() -> None:
    p = gv.GradVarianceParams(model="logistic", modes=("rne", "sr"), targets=("a", "g"),
                              batch_sizes=(1, 2, 4), repeats=10)
    width = 64 + 10
    assert gvb.variance_units(p) == 10 * 4 * width * 3  # repeats × B_max × width × (modes + 1)
    assert gvb.exchange_units(p, 3) == 10 * 4 * width * (2 * 3 + 1)
    assert gvb.floor_units(p, 2) == 0.0  # W not quantized: no weight floor
    pw = replace(p, targets=("w",))
    assert gvb.floor_units(pw, 2) == 2 * p.floor_draws * 1797 * width  # full-data gradients
    s = gv.SGDParams(model="linear", modes=("sr",), batch=8, steps=30, seeds=2)
    assert gvb.training_units(s) == 30 * 2 * 2 * 8 * 17
    with pytest.raises(ValueError, match="n_bits=0"):
        gvb.exchange_units(p, 0)


def test_seconds_grow_with_each_setting() -> None:
    base = seconds(GradVarianceParams())
    for change, part in (({"repeats": 512}, "variance"), ({"b_max": 10}, "exchange"),
                         ({"xr_bits": 8}, "exchange"), ({"steps": 1000}, "training"),
                         ({"model": "mlp"}, "variance")):
        more = seconds(replace(GradVarianceParams(), **change))
        assert more[part] > base[part], change


# --- the reducer ---


@dataclass(frozen=True)
class Toy:
    a: int = 64  #: a count (halved)
    b: int = 3  #: a log2 setting (one less halves it)


def toy_seconds(t: Toy) -> float:
    return float(t.a * 2**t.b) / 100.0


TOY_KNOBS = (gvb.Knob("a", "A", gvb.halve("a", 1), gvb.log2),
             gvb.Knob("b", "B", gvb.minus_one("b", 0)))


def test_nothing_lowered_inside_the_budget() -> None:
    r = gvb.fit_budget(Toy(), toy_seconds, TOY_KNOBS, budget=6.0)
    assert r.params == Toy() and r.changes == () and r.message == ""
    assert r.asked_s == r.used_s == 5.12


def test_raised_knobs_give_back_first_then_the_largest_saving() -> None:
    # the link raised a to 1024 (default 64) and b to 4 (default 3); together 164 s
    r = gvb.fit_budget(Toy(a=1024, b=4), toy_seconds, TOY_KNOBS, budget=1.0)
    assert toy_seconds(r.params) == r.used_s <= 1.0 < 2 * r.used_s  # stops at the first fit
    # phase 1 brings both raised knobs back to their defaults (64 * 2^3 / 100 = 5.12 s); in
    # phase 2 halving a and lowering b always save the same, so the first knob, a, gives alone
    assert r.params == Toy(a=8, b=3)
    assert r.changes == (("a", "A", "1024", "8"), ("b", "B", "4", "3"))
    assert "A 1024 → 8, B 4 → 3" in r.message and "164 s of CPU" in r.message
    assert gvb.fit_budget(Toy(a=1024, b=4), toy_seconds, TOY_KNOBS, budget=1.0) == r
    # a raised knob that is cheap still gives back before a costly knob at its default
    slow = gvb.fit_budget(Toy(a=64, b=4), toy_seconds, TOY_KNOBS, budget=6.0)
    assert slow.params == Toy(a=64, b=3)


def test_refused_when_the_floors_are_over_the_budget() -> None:
    with pytest.raises(ValueError, match="A, B at their lowest"):
        gvb.fit_budget(Toy(), toy_seconds, TOY_KNOBS, budget=0.001)


def test_knob_steps_respect_their_floors() -> None:
    @dataclass(frozen=True)
    class S:
        v: int = 0

    h = gvb.halve("v", 10, 10)
    assert [h(S(v)) for v in (2000, 250, 30, 10)] == [{"v": 1000}, {"v": 120}, {"v": 10}, {}]
    m = gvb.minus_one("v", 3)
    assert [m(S(v)) for v in (5, 4, 3)] == [{"v": 4}, {"v": 3}, {}]


# --- the page's settings ---


def test_the_defaults_are_not_lowered() -> None:
    r = within_budget(GradVarianceParams())
    assert r.changes == () and r.params == GradVarianceParams()


def test_the_worst_link_is_lowered_into_the_budget_within_the_url_bounds() -> None:
    asked = sum(seconds(WORST).values())
    assert asked > 100 * gvb.BUDGET_S  # the "thousands of times the defaults"
    r = within_budget(WORST)
    assert r.used_s == pytest.approx(sum(seconds(r.params).values())) and r.used_s <= gvb.BUDGET_S
    for f in fields(GradVarianceParams):
        v, md = getattr(r.params, f.name), f.metadata
        if "min" in md:
            assert md["min"] <= v <= md["max"], f.name
    assert r.params.b_min <= r.params.b_max
    # what the user chose and the budget does not own stays as chosen
    for name in ("model", "modes", "targets", "mbits", "rbits", "seed"):
        assert getattr(r.params, name) == getattr(WORST, name)
    lowered = {c[0] for c in r.changes}
    assert lowered and all(getattr(r.params, n) < getattr(WORST, n) for n in lowered)
    for _field, label, old, new in r.changes:
        assert f"{label} {old} → {new}" in r.message


def test_the_smallest_batch_moves_along_with_the_largest() -> None:
    r = within_budget(replace(WORST, b_min=11))
    assert r.params.b_min == r.params.b_max < 11 and r.used_s <= gvb.BUDGET_S
    assert ("b_min", "smallest batch", "2,048", f"{2**r.params.b_min:,}") in r.changes


# --- deadline and cancel ---

QUICK = GradVarianceParams(b_max=4, repeats=8, xr_bits=1, steps=20, train_seeds=1)


def past() -> gv.Deadline:
    return gv.Deadline(time.monotonic() - 1.0, 5.0)


@pytest.mark.parametrize("part", ["variance", "exchange", "training"])
def test_a_passed_deadline_stops_every_part(part: str) -> None:
    runs = {
        "variance": lambda d: gv.gradient_variance(QUICK.variance(), deadline=d),
        "exchange": lambda d: gv.bits_sweep(QUICK.exchange(), (0, 1), 5, None, "int", deadline=d),
        "training": lambda d: gv.sgd_curves(QUICK.sgd(), deadline=d),
    }
    with pytest.raises(gv.TimeLimit, match="stopped after 5 s") as ei:
        runs[part](past())
    assert isinstance(ei.value, ValueError)  # the pages show it as an expected error


def test_a_far_deadline_changes_no_number() -> None:
    far = gv.Deadline.after(3600.0)
    a = gv.gradient_variance(QUICK.variance())
    b = gv.gradient_variance(QUICK.variance(), deadline=far)
    assert a.equals(b)
    assert gv.sgd_curves(QUICK.sgd()).equals(gv.sgd_curves(QUICK.sgd(), deadline=far))


def test_time_spent_compiling_kernels_does_not_count_against_a_deadline() -> None:
    import numba
    from numba.core import event

    from lowbit_core.jitclock import compile_seconds

    before = compile_seconds()

    @numba.njit(cache=False)  # a fresh function: compiled on its first call, here
    def kernel(x: float) -> float:
        return math.sin(x) + math.cos(x)

    t0 = time.monotonic()
    kernel(0.5)
    took = time.monotonic() - t0
    spent = compile_seconds() - before
    assert 0 < spent <= took + 1e-3  # a real compile is counted, once (not per nested compile)
    # a compilation longer than the deadline, as numba announces it (the same event)
    d = gv.Deadline.after(0.1)
    with event.trigger_event("numba:compile", data={"dispatcher": None, "args": ()}):
        time.sleep(0.3)
    d.check()  # the 0.3 s compiling do not count: the deadline has not passed
    time.sleep(0.11)
    with pytest.raises(gv.TimeLimit):
        d.check()  # real time past the limit still stops the run


class Cancelled(Exception):
    pass


def test_progress_is_called_within_a_chunk_and_can_cancel() -> None:
    p = replace(QUICK, modes=ALL_MODES).variance()  # one chunk of repeats, six passes
    seen: list[float] = []

    def cancel_at_third(f: float) -> None:
        seen.append(f)
        if len(seen) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        gv.gradient_variance(p, cancel_at_third)
    assert len(seen) == 3 and 0 < seen[0] < seen[1] < seen[2] < 1  # stopped mid-chunk
    steps: list[float] = []
    gv.sgd_curves(QUICK.sgd(), steps.append)
    assert len(steps) == QUICK.steps * (len(QUICK.modes) + 1)  # every step of every mode
