"""The editable recipe, the findings screen and the shared worker pool of live runs."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lowbit_core.training import TrainParams, run
from lowbit_core.training.custom import Techniques, fp4_presets, techniques_of
from lowbit_core.training.findings import (
    FINDINGS,
    final_by_seed,
    final_losses,
    findings,
    gap_uncertainty,
    noise_verdict,
    paired_curve_gap,
    paired_gap,
    paired_gaps,
    typical_spread,
)
from lowbit_core.training.library import library_run, load_curves
from lowbit_core.training.pool import JobState, PoolBusy, TrainPool, default_layout, run_key
from lowbit_core.training.recipes import RECIPES
from lowbit_core.training.tasks import get_task
from lowbit_core.training.train import CURVE_COLUMNS

# --- the editable recipe -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mxfp4", "fp4_naive", "nvfp4", "nvfp4_no_sr", "nvfp4_no_rht",
                                  "nvfp4_no_2d", "nvfp4_no_hp_last", "mxfp4_recipe"])
def test_every_fp4_preset_round_trips_through_the_switches(name: str) -> None:
    r = RECIPES[name]
    t = techniques_of(name)
    built = t.recipe()
    assert built.layer == r.layer  # every role of every GEMM, and the Hadamard sizes
    assert built.keep_last == r.keep_last
    if r.keep_last:
        assert built.high == r.high


def test_fp4_presets_are_exactly_the_block_scaled_ones() -> None:
    assert set(fp4_presets()) == set(RECIPES) - {"fp32", "bf16", "fp8"}
    for name in ("fp32", "bf16", "fp8"):
        with pytest.raises(ValueError, match=name):
            techniques_of(name)


def test_default_switches_are_the_nvfp4_recipe() -> None:
    assert Techniques().layer() == RECIPES["nvfp4"].layer


def test_switches_map_onto_the_gemm_roles() -> None:
    t = Techniques(grad_mode="src", rbits=5, rht=0, tile2d=False, keep_last=0, block=32,
                   scale_fmt="float8_e8m0fnu", scale_rule="floor", tensor_scale=False)  # type: ignore[arg-type]
    lq = t.layer()
    assert lq.x.mode.value == "rne" and lq.w.mode.value == "rne" and lq.x_wgrad.mode.value == "rne"
    assert lq.dy.mode.value == "src" and lq.dy.rbits == 5 and lq.dy_wgrad == lq.dy
    assert lq.rht_wgrad == 0 and lq.rht_fprop == 0 and lq.rht_dgrad == 0
    assert not lq.w.tile2d and lq.x.block == 32 and lq.x.scale_fmt == "float8_e8m0fnu"
    # an FP32 scale needs no tensor scale, so the switch is ignored rather than failing
    assert not Techniques(scale_fmt="float32", tensor_scale=True).layer().x.tensor_scale


def test_switch_keys_identify_the_configuration() -> None:
    assert Techniques().key == Techniques().key
    assert Techniques(rht=0).key != Techniques().key
    assert Techniques(rht=0).recipe().name == f"custom-{Techniques(rht=0).key}"


@pytest.mark.parametrize("kw, match", [
    ({"elem": "float32"}, "elem"), ({"block": 24}, "block"), ({"rht": 8}, "rht"),
    ({"grad_mode": "rtz"}, "grad_mode"), ({"rbits": 0}, "rbits"), ({"keep_last": 9}, "keep_last"),
    ({"scale_fmt": "int8"}, "scale_fmt"), ({"scale_rule": "median"}, "median"),
])
def test_bad_switches_raise_value_error(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Techniques(**kw)  # type: ignore[arg-type]


# --- findings -------------------------------------------------------------------------------------


def _finals(values: dict[str, list[float]], task: str = "t") -> pd.DataFrame:
    rows = []
    for r, vs in values.items():
        for seed, v in enumerate(vs):
            for step, loss in ((0, 9.0), (10, v)):
                rows.append({"recipe": r, "task": task, "seed": seed, "step": step,
                             "train_loss": math.nan, "val_loss": loss, "val_metric": loss,
                             "wall_time": float(step), "steps": 10, "diverged": False})
    return pd.DataFrame(rows)


def test_paired_gap_by_hand() -> None:
    c = _finals({"fp32": [1.0, 2.0, 4.0], "a": [1.1, 2.1, 4.1], "b": [1.0, 2.0, 4.0]})
    mean, se, n = paired_gap(final_losses(c), "t", "a", "b")
    d = np.array([10.0, 5.0, 2.5])  # 100 * 0.1 / ref, seed by seed
    assert n == 3
    assert mean == pytest.approx(d.mean())
    assert se == pytest.approx(d.std(ddof=1) / math.sqrt(3))


def test_findings_verdicts() -> None:
    base = [1.0, 1.2, 0.9]
    c = _finals({
        "fp32": base, "bf16": [b * 1.001 for b in base],
        "fp4_naive": [b * 1.10 for b in base],  # +10% every seed: reproduces
        "nvfp4": [b * 1.01 for b in base],  # closes 90% of it
        "nvfp4_no_sr": [b * (1.01 + e) for b, e in zip(base, (0.02, -0.02, 0.001), strict=True)],
        "nvfp4_no_rht": [b * 1.0 for b in base],  # better than nvfp4 every seed: opposite
    })
    f = findings(c).set_index("key")
    assert f.loc["bf16_close", "verdict"] == "reproduces"
    assert f.loc["naive_worse", "verdict"] == "reproduces"
    assert f.loc["naive_worse", "gap_pct"] == pytest.approx(10.0)
    assert f.loc["nvfp4_closes", "verdict"] == "reproduces"
    assert f.loc["sr_helps", "verdict"] == "within seed noise"
    assert f.loc["rht_helps", "verdict"] == "opposite"
    assert f.loc["tiles_help", "verdict"] == "not measured"  # recipe absent
    assert set(f["task"]) == {"t"} and len(f) == len(FINDINGS)


def test_findings_diverged_run_counts_as_infinitely_worse() -> None:
    c = _finals({"fp32": [1.0, 1.0], "fp4_naive": [1.2, 1.3]})
    c.loc[(c["recipe"] == "fp4_naive") & (c["seed"] == 1), "diverged"] = True
    fl = final_losses(c)
    assert fl[(fl["recipe"] == "fp4_naive") & (fl["seed"] == 1)]["val_loss"].iloc[0] == math.inf


def test_findings_on_the_library_report_the_robust_ones() -> None:
    f = findings(load_curves())
    assert set(f["task"]) == {"regression", "digits", "charlm"}
    by = f.set_index(["key", "task"])["verdict"]
    # the two robust findings at this scale (README "what reproduces")
    for task in ("regression", "digits", "charlm"):
        assert by[("bf16_close", task)] == "reproduces"
    assert (f[f["key"] == "naive_worse"]["verdict"] == "reproduces").sum() >= 2
    assert set(f["verdict"]) <= {"reproduces", "within seed noise", "opposite",
                                 "does not reproduce", "not measured", "diverged",
                                 "partly (less than half the gap closed)"}


def test_paired_gaps_pooled_spread_and_verdicts_by_hand() -> None:
    c = _finals({"fp32": [1.0, 2.0, 4.0], "a": [1.1, 2.1, 4.1], "b": [1.02, 2.0, 4.0]})
    c = c[c["task"] == "t"]
    g = paired_gaps(final_by_seed(c), "fp32").set_index("recipe")
    da, db = np.array([10.0, 5.0, 2.5]), np.array([2.0, 0.0, 0.0])
    assert g.loc["a", "n"] == 3 and g.loc["a", "gap_mean"] == pytest.approx(da.mean())
    assert g.loc["a", "gap_sd"] == pytest.approx(da.std(ddof=1))
    pooled = math.sqrt((da.std(ddof=1) ** 2 + db.std(ddof=1) ** 2) / 2)
    assert typical_spread(g.reset_index()) == pytest.approx(pooled)
    # two standard errors of three seeds; one seed falls back on the pooled spread
    assert gap_uncertainty(3.0, 3, 99.0) == pytest.approx(2 * 3.0 / math.sqrt(3))
    assert gap_uncertainty(math.nan, 1, 1.5) == pytest.approx(3.0)
    assert noise_verdict(2.9, 3.0) == "within seed noise"
    assert noise_verdict(-3.1, 3.0) == "beyond seed noise"
    assert noise_verdict(1.0, math.nan) == "noise unknown"
    with pytest.raises(ValueError, match="n >= 1"):
        gap_uncertainty(1.0, 0, 1.0)


def test_paired_curve_gap_uses_the_shared_steps() -> None:
    run = pd.DataFrame({"step": [0, 10, 20], "val_loss": [2.0, 1.1, 0.55]})
    base = pd.DataFrame({"step": [0, 10, 20, 30], "val_loss": [2.0, 1.0, 0.5, 0.4]})
    g = paired_curve_gap(run, base)
    assert g["step"].tolist() == [0, 10, 20]
    np.testing.assert_allclose(g["gap_pct"], [0.0, 10.0, 10.0])


def test_library_run_is_found_only_for_the_exact_stored_configuration() -> None:
    lib = load_curves()
    if lib.empty:
        pytest.skip("no curve library")
    steps = get_task("regression").steps
    hit = library_run(lib, TrainParams(task="regression", recipe="fp32", seed=1))
    assert hit is not None and set(hit["seed"]) == {1} and set(hit["recipe"]) == {"fp32"}
    assert library_run(lib, TrainParams(task="regression", recipe="fp32", seed=1,
                                        steps=steps)) is not None
    for p in (TrainParams(task="regression", recipe="fp32", seed=7),  # not a library seed
              TrainParams(task="regression", recipe="fp32", seed=1, steps=steps // 2),
              TrainParams(task="regression", recipe="fp32", seed=1, batch_size=256),
              TrainParams(task="regression", recipe=Techniques().recipe(), seed=1)):
        assert library_run(lib, p) is None


# --- the worker pool ------------------------------------------------------------------------------


def test_default_layout_leaves_a_core_to_the_server() -> None:
    assert default_layout(1) == (1, 1)
    assert default_layout(2) == (1, 1)
    assert default_layout(4) == (2, 1)
    assert default_layout(8) == (2, 3)


def test_run_key_is_the_whole_configuration() -> None:
    a = TrainParams(task="regression", recipe="nvfp4", seed=1, steps=10)
    assert run_key(a) == run_key(TrainParams(task="regression", recipe="nvfp4", seed=1, steps=10))
    assert run_key(a) != run_key(TrainParams(task="regression", recipe="nvfp4", seed=2, steps=10))
    assert run_key(a) != run_key(TrainParams(task="regression", recipe=Techniques().recipe(),
                                             seed=1, steps=10))


@pytest.fixture(scope="module")
def pool() -> Iterator[TrainPool]:
    p = TrainPool(workers=1, threads=1, max_queue=3, max_per_owner=2)
    yield p
    p.shutdown()


def _short(seed: int = 0, steps: int = 12, recipe: str = "nvfp4") -> TrainParams:
    return TrainParams(task="regression", recipe=recipe, seed=seed, steps=steps, eval_every=4,
                       device="cpu")


@pytest.mark.slow
def test_pool_run_streams_the_same_curve_as_run_in_process(pool: TrainPool) -> None:
    import torch

    p = _short()
    key = pool.submit(p, "alice")
    snap = pool.wait(key, timeout=120)
    assert snap is not None and snap.state is JobState.DONE, snap and snap.error
    assert [r["step"] for r in snap.rows] == [0, 4, 8, 12]
    assert snap.step == snap.steps == 12 and snap.fraction == 1.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the worker's thread count, so the run is bit-identical
    try:
        ref = run(p)
    finally:
        torch.set_num_threads(threads)
    got = snap.curve()
    assert list(got.columns) == CURVE_COLUMNS
    np.testing.assert_array_equal(got["val_loss"].to_numpy(), ref.curve["val_loss"].to_numpy())
    assert snap.result["final_val_loss"] == ref.final_val_loss
    # asking again (another visitor, same settings) reuses the finished run
    assert pool.submit(p, "bob") == key and pool.job(key).state is JobState.DONE  # type: ignore[union-attr]


@pytest.mark.slow
def test_pool_queues_cancels_and_limits(pool: TrainPool) -> None:
    long = _short(seed=5, steps=3000)
    k1 = pool.submit(long, "carol")
    k2 = pool.submit(_short(seed=6), "carol")
    assert pool.job(k2).state is JobState.QUEUED and pool.job(k2).position == 1  # type: ignore[union-attr]
    with pytest.raises(PoolBusy, match="at most 2"):
        pool.submit(_short(seed=7), "carol")  # per-visitor limit
    # a second owner joins the queued run: one owner cancelling keeps it queued
    assert pool.submit(_short(seed=6), "dave") == k2
    pool.cancel(k2, "carol")
    assert pool.job(k2).state is JobState.QUEUED  # type: ignore[union-attr]
    pool.cancel(k2, "dave")
    assert pool.job(k2).state is JobState.CANCELLED  # type: ignore[union-attr]
    # the running one: wait until it trains, then cancel it (its process is terminated)
    t_end = time.monotonic() + 60
    while pool.job(k1).step == 0 and time.monotonic() < t_end:  # type: ignore[union-attr]
        time.sleep(0.05)
    assert pool.job(k1).state is JobState.RUNNING  # type: ignore[union-attr]
    pool.cancel(k1, "carol")
    snap = pool.wait(k1, timeout=30)
    assert snap is not None and snap.state is JobState.CANCELLED and snap.step < 3000
    # a run queued as another run's companion (its same-seed baseline) is not counted
    k4 = pool.submit(_short(seed=9, steps=3000), "erin")
    k5 = pool.submit(_short(seed=10), "erin")
    k6 = pool.submit(_short(seed=10, recipe="fp32"), "erin", counted=False)
    assert pool.job(k6).state is JobState.QUEUED  # type: ignore[union-attr]
    with pytest.raises(PoolBusy, match="at most 2"):
        pool.submit(_short(seed=11), "erin")
    for k in (k4, k5, k6):
        pool.cancel(k, "erin")
    pool.wait(k4, timeout=30)
    # the slot is free again: a new run starts and finishes
    k3 = pool.submit(_short(seed=8), "carol")
    assert pool.wait(k3, timeout=120).state is JobState.DONE  # type: ignore[union-attr]
    assert pool.counts() == {"running": 0, "queued": 0}


def _crash(p: TrainParams, threads: int, conn: Connection) -> None:
    raise SystemExit(3)  # dies without reporting


@pytest.mark.slow
def test_a_dying_worker_is_reported_not_hung() -> None:
    pool = TrainPool(workers=1, threads=1, runner=_crash, warm=False)
    key = pool.submit(_short(), "erin")
    snap = pool.wait(key, timeout=60)
    assert snap is not None and snap.state is JobState.FAILED
    assert "exit code 3" in snap.error


def test_a_failing_run_reports_its_error() -> None:
    pool = TrainPool(workers=1, threads=1, warm=False)
    key = pool.submit(TrainParams(task="regression", recipe="fp32", steps=2, device="cuda"),
                      "frank")
    snap = pool.wait(key, timeout=60)
    assert snap is not None
    import torch

    if torch.cuda.is_available():
        assert snap.state is JobState.DONE
    else:
        assert snap.state is JobState.FAILED and snap.error  # torch's "no CUDA" message


@pytest.mark.slow
def test_workers_do_not_rerun_the_parents_main_script(tmp_path: Path) -> None:
    """Inside Streamlit, ``__main__`` is the app script: a worker must not execute it again.

    A stand-in main module whose script leaves a marker file when executed is installed as
    ``__main__`` while a run starts; stock multiprocessing would run it in the worker.
    """
    import sys
    import types

    marker = tmp_path / "main_ran"
    script = tmp_path / "fake_app.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    fake.__spec__ = None
    real = sys.modules["__main__"]
    pool = TrainPool(workers=1, threads=1, warm=False)
    sys.modules["__main__"] = fake
    try:
        snap = pool.wait(pool.submit(_short(steps=4), "gina"), timeout=120)
    finally:
        sys.modules["__main__"] = real
    assert snap is not None and snap.state is JobState.DONE, snap and snap.error
    assert not marker.exists()
