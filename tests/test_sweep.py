"""FP4 design-space sweeps (lowbit_core.training.sweep): grids, the store, local and Dask
executors (bit-identical), a worker killed mid-sweep, a driver killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lowbit_core.training.sweep import (
    COLUMNS,
    RunConfig,
    done,
    failures,
    load_grid,
    parse_grid,
    read,
    run_config,
    run_sweep,
    store,
)

ROOT = Path(__file__).resolve().parent.parent
RESULT = [c for c in COLUMNS if c != "run_wall_s"]  # everything but the timing
#: 8 runs long enough (~1 s) for a kill to land mid-sweep
SLOW = {"tasks": ["regression"], "seeds": [0, 1], "steps": 120, "baselines": ["bf16"],
        "fixed": {"rht": 0}, "axes": {"scale_fmt": ["float8_e4m3fn", "float8_e8m0fnu", "ue5m3"]}}


def _table(out: Path) -> pd.DataFrame:
    return read(out).sort_values(["run_id", "step"]).reset_index(drop=True)[RESULT]


# --- grids ---------------------------------------------------------------------------------------

def test_shipped_grids_have_the_sizes_their_descriptions_state() -> None:
    tiny, room = load_grid("tiny"), load_grid("classroom")
    assert tiny.size == 8 and sum(bool(r.recipe) for r in tiny.runs) == 2
    # 4 scales x 2 blocks x 2 RHT x 2 grad modes x 2 tensor scale = 64, of which the 8 with an
    # FP32 scale and a tensor scale are the same runs as without: 56 + 1 baseline, 2 tasks, 3 seeds
    assert room.size == 2 * 3 * (1 + 56) == 342
    assert "342 runs" in room.description


def test_run_ids_depend_on_every_switch_and_only_on_what_changes_the_run() -> None:
    a = RunConfig("regression", 0, 20, techniques=(("block", 16),))
    same = RunConfig("regression", 0, 20, techniques=(("block", 16), ("rht", 16)))  # default rht
    assert a.run_id == same.run_id
    assert RunConfig("regression", 0, 0, techniques=(("block", 16),)).run_id == \
        RunConfig("regression", 0, 400, techniques=(("block", 16),)).run_id  # 0: the default 400
    others = {RunConfig("regression", 1, 20, techniques=(("block", 16),)).run_id,
              RunConfig("regression", 0, 21, techniques=(("block", 16),)).run_id,
              RunConfig("digits", 0, 20, techniques=(("block", 16),)).run_id,
              RunConfig("regression", 0, 20, techniques=(("block", 32),)).run_id,
              RunConfig("regression", 0, 20, recipe="bf16").run_id}
    assert a.run_id not in others and len(others) == 5
    g = parse_grid({"tasks": ["regression"], "axes": {"scale_fmt": ["float32"],
                                                      "tensor_scale": [False, True]}})
    assert g.size == 1  # an FP32 block scale takes no tensor scale: one run, not two


@pytest.mark.parametrize(("doc", "msg"), [
    ({"tasks": ["regression"], "axes": {"blok": [16]}}, "blok"),
    ({"tasks": ["nope"], "baselines": ["bf16"]}, "nope"),
    ({"tasks": ["regression"], "baselines": ["bf17"]}, "bf17"),
    ({"tasks": ["regression"], "axes": {"block": [12]}}, "block=12"),
    ({"tasks": ["regression"], "axes": {"block": []}}, "non-empty"),
    ({"tasks": ["regression"], "seeds": [-1], "baselines": ["bf16"]}, "seeds"),
    ({"tasks": ["regression"]}, "no runs"),
    ({"tasks": [], "baselines": ["bf16"]}, "tasks"),
    ({"tasks": ["regression"], "baselines": ["bf16"], "colour": 1}, "colour"),
    ({"tasks": ["regression"], "axes": {"block": [16]}, "points": [{"block": 32}]}, "not both"),
])
def test_a_bad_grid_is_refused_naming_what_is_wrong(doc: dict[str, Any], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_grid(doc)


def test_an_unknown_grid_name_or_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="classroom"):  # lists the shipped grids
        load_grid("nosuch")
    with pytest.raises(ValueError, match="does not exist"):
        load_grid(tmp_path / "x.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("tasks = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_grid(bad)


# --- the store -----------------------------------------------------------------------------------

def test_the_store_reads_as_one_table_and_ignores_half_written_files(tmp_path: Path) -> None:
    g = load_grid("tiny")
    base, custom = g.runs[0], g.runs[1]
    for c in (base, custom):
        store.write_run(tmp_path, c, run_config(c))
    (tmp_path / "runs" / ".tmp-deadbeef.parquet-123").write_bytes(b"PAR1 half a file")
    assert done(tmp_path) == {base.run_id, custom.run_id}
    t = pd.read_parquet(tmp_path / "runs")  # the plain pandas reader, as documented
    assert list(t.columns) == COLUMNS and len(t) == len(read(tmp_path))
    b = t[t["run_id"] == base.run_id]
    assert b["recipe"].iloc[0] == "bf16" and b["block"].isna().all()  # a preset: no switches
    r = t[t["run_id"] == custom.run_id]
    assert (r["block"] == 16).all() and (r["scale_fmt"] == "float8_e4m3fn").all()
    assert r["step"].iloc[0] == 0 and r["step"].iloc[-1] == 20
    with pytest.raises(ValueError, match="other run ids"):
        store.write_run(tmp_path, base, run_config(custom))


# --- executors -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local")
    rep = run_sweep(load_grid("tiny"), out, workers=2, progress=False)
    assert rep.finished == 8 and not rep.failed
    return out


def test_a_rerun_skips_every_finished_run(local_tiny: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in (local_tiny / "runs").iterdir()}
    rep = run_sweep(load_grid("tiny"), local_tiny, workers=2, progress=False)
    assert (rep.skipped, rep.finished) == (8, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (local_tiny / "runs").iterdir()} == before


def test_local_runs_equal_a_run_in_this_process(local_tiny: Path) -> None:
    c = load_grid("tiny").runs[3]
    mine = run_config(c)[RESULT].reset_index(drop=True)
    theirs = read(local_tiny)
    theirs = theirs[theirs["run_id"] == c.run_id].sort_values("step").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, theirs[RESULT], check_exact=True, check_dtype=False)


@pytest.fixture(scope="module")
def dask_cluster() -> Any:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield cluster, client
    client.close()
    cluster.close()


def test_dask_gives_the_local_results_bit_for_bit(local_tiny: Path, dask_cluster: Any,
                                                  tmp_path: Path) -> None:
    _, client = dask_cluster
    rep = run_sweep(load_grid("tiny"), tmp_path, scheduler=client, progress=False)
    assert rep.finished == 8 and not rep.failed
    pd.testing.assert_frame_equal(_table(tmp_path), _table(local_tiny), check_exact=True)


def _kill_when(out: Path, n: int, kill: Any) -> tuple[threading.Thread, list[int]]:
    """Call ``kill`` once ``n`` runs are stored; the list gets the stored count at that moment."""
    at: list[int] = []

    def go() -> None:
        end = time.monotonic() + 300
        while len(done(out)) < n and time.monotonic() < end:
            time.sleep(0.05)
        at.append(len(done(out)))
        kill()
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, at


def _every_run_once(out: Path, grid: Any) -> None:
    assert done(out) == {c.run_id for c in grid.runs} and not failures(out)
    t = read(out)
    per_run = t.groupby("run_id")["step"].apply(list)
    assert all(s == sorted(set(s)) for s in per_run)  # no duplicated rows in any run
    assert per_run.map(len).nunique() == 1


def test_a_local_worker_killed_mid_sweep_loses_no_run(tmp_path: Path) -> None:
    import psutil  # type: ignore[import-untyped]

    grid = parse_grid(SLOW, "slow")

    def kill() -> None:
        me = psutil.Process()
        workers = [p for p in me.children(recursive=True)
                   if p.parent() is not None and p.parent().pid != me.pid]  # the forkserver's
        assert workers, "no worker process to kill"
        workers[0].send_signal(signal.SIGKILL)

    t, at = _kill_when(tmp_path, 2, kill)
    rep = run_sweep(grid, tmp_path, workers=2, progress=False)
    t.join(5)
    assert at and 2 <= at[0] < grid.size, f"killed after {at} runs: not mid-sweep"
    assert rep.resubmitted >= 1  # the killed worker's run (and its pool mate's) went again
    _every_run_once(tmp_path, grid)


def test_a_dask_worker_killed_mid_sweep_loses_no_run(dask_cluster: Any, tmp_path: Path) -> None:
    _, client = dask_cluster
    grid = parse_grid(SLOW, "slow")
    pids = list(client.run(os.getpid).values())
    t, at = _kill_when(tmp_path, 2, lambda: os.kill(pids[0], signal.SIGKILL))
    rep = run_sweep(grid, tmp_path, scheduler=client, progress=False)
    t.join(5)
    assert at and 2 <= at[0] < grid.size, f"killed after {at} runs: not mid-sweep"
    assert pids[0] not in client.run(os.getpid).values()  # that worker is gone (and replaced)
    assert rep.finished == grid.size
    _every_run_once(tmp_path, grid)


def test_a_killed_driver_resumes_where_it_stopped(local_tiny: Path, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "lowbit_core.training.sweep", "--grid", "tiny", "--out",
            str(tmp_path), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    end = time.monotonic() + 300
    while len(done(tmp_path)) < 3 and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-sweep
    proc.wait()
    got = len(done(tmp_path))
    assert 3 <= got < 8, f"{got} runs before the kill: the test did not interrupt the sweep"
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{8 - got} runs stored, {got} already there, 0 failed" in r.stderr
    pd.testing.assert_frame_equal(_table(tmp_path), _table(local_tiny), check_exact=True)


def test_the_cli_refuses_a_bad_grid_with_a_message(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "lowbit_core.training.sweep", "--grid", "nosuch",
                        "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "error: grid 'nosuch'" in r.stderr and "Traceback" not in r.stderr
