"""``make serve``: limits shared by every server process, the shared pool server, and the
server script itself (HAProxy in front of two Streamlit processes, a clean SIGTERM).

The cross-process tests use real processes (subprocesses of this test), since the point is
that a limit holds between processes that share nothing but a directory or a socket.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lowbit_core.procsync import FileSemaphore
from lowbit_core.training.pool import JobState, PoolBusy, TrainPool
from lowbit_core.training.pool_server import RemotePool, serve
from lowbit_core.training.train import TrainParams

ROOT = Path(__file__).resolve().parents[1]


def _holder(code: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """A Python child that runs ``code`` (which prints ``held``), then waits on its stdin."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code + "\nimport sys\nprint('held', flush=True)\nsys.stdin.read()"],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the child holds its slot (or dies)
    assert line.strip() == "held", f"child failed: {line!r}, exit {proc.poll()}"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(timeout=30)


# --- the file semaphore ----------------------------------------------------------------------


def test_file_semaphore_holds_across_processes_and_frees_a_dead_holders_slot(
        tmp_path: Path) -> None:
    take = (f"from lowbit_core.procsync import FileSemaphore\n"
            f"s = FileSemaphore({str(tmp_path)!r}, 'heavy', 2)\nassert s.acquire(timeout=30)")
    a, b = _holder(take), _holder(take)
    try:
        sem = FileSemaphore(tmp_path, "heavy", 2)
        assert sem.holders() == 2
        assert not sem.acquire(blocking=False)  # both slots are held by the two children
        assert not sem.acquire(timeout=0.2)
        a.kill()  # killed while holding: the kernel drops its lock
        a.wait(timeout=30)
        assert sem.acquire(timeout=30)
        assert sem.holders() == 2  # this process and b
        sem.release()
        assert sem.holders() == 1
    finally:
        _stop(a)
        _stop(b)


def test_file_semaphore_threads_of_one_process_contend(tmp_path: Path) -> None:
    sem = FileSemaphore(tmp_path, "one", 1)
    got: list[bool] = []
    with sem:
        t = threading.Thread(target=lambda: got.append(sem.acquire(blocking=False)))
        t.start()
        t.join()
    assert got == [False]
    def take_and_free() -> None:
        got.append(sem.acquire(blocking=False))
        sem.release()

    t = threading.Thread(target=take_and_free)
    t.start()
    t.join()
    assert got == [False, True]


@pytest.mark.parametrize("kw, match", [({"n": 0}, "n=0"), ({"name": "a/b"}, "name='a/b'")])
def test_file_semaphore_rejects_bad_arguments(tmp_path: Path, kw: dict[str, object],
                                              match: str) -> None:
    args: dict[str, object] = {"name": "x", "n": 1, **kw}
    with pytest.raises(ValueError, match=match):
        FileSemaphore(tmp_path, **args)  # type: ignore[arg-type]


def test_release_without_acquire_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not hold"):
        FileSemaphore(tmp_path, "x", 1).release()


def test_heavy_slot_is_shared_by_the_server_processes(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two Streamlit processes of ``make serve`` see one limit of 2 heavy runs at a time."""
    from ui import cached

    env = {cached.RUN_DIR_ENV: str(tmp_path)}
    take = ("from ui.cached import heavy_slot\nassert heavy_slot().acquire(timeout=30)\n"
            "assert heavy_slot().acquire(timeout=30)")  # this process takes both slots
    other = _holder(take, env)
    monkeypatch.setenv(cached.RUN_DIR_ENV, str(tmp_path))
    cached.heavy_slot.clear()
    try:
        slot = cached.heavy_slot()
        assert isinstance(slot, FileSemaphore) and slot.n == cached.HEAVY_SLOTS == 2
        assert not slot.acquire(blocking=False)
        other.kill()
        other.wait(timeout=30)
        assert slot.acquire(timeout=30) and slot.acquire(timeout=30)
        assert not slot.acquire(blocking=False)  # and the limit still holds: 2 here now
        slot.release()
        slot.release()
    finally:
        _stop(other)
        cached.heavy_slot.clear()


def test_heavy_slot_of_a_single_process_is_a_plain_semaphore(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ui import cached

    monkeypatch.delenv(cached.RUN_DIR_ENV, raising=False)
    cached.heavy_slot.clear()
    try:
        slot = cached.heavy_slot()
        assert not isinstance(slot, FileSemaphore)
        assert slot.acquire(blocking=False) and slot.acquire(blocking=False)
        assert not slot.acquire(blocking=False)
        slot.release()
        slot.release()
    finally:
        cached.heavy_slot.clear()


# --- the pool server --------------------------------------------------------------------------


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[tuple[str, bytes, threading.Event]]:
    """A pool server on a thread of this process, over a pool that never trains."""
    address, key, stop = str(tmp_path / "pool.sock"), b"secret", threading.Event()
    ready = threading.Event()
    pool = TrainPool(workers=1, threads=1, max_queue=0, warm=False)  # every submit: "full"
    t = threading.Thread(target=serve, args=(address, key, pool, ready.set, stop), daemon=True)
    t.start()
    assert ready.wait(30)
    yield address, key, stop
    stop.set()
    t.join(timeout=30)


def test_remote_pool_relays_the_pools_answers_and_errors(
        local_server: tuple[str, bytes, threading.Event]) -> None:
    address, key, _ = local_server
    rp = RemotePool(address, key)
    assert (rp.workers, rp.max_queue) == (1, 0)
    assert rp.counts() == {"running": 0, "queued": 0}
    assert rp.job("nope") is None and rp.warming() is None
    with pytest.raises(PoolBusy, match="queue is full"):  # the pool's own PoolBusy, relayed
        rp.submit(TrainParams(task="regression", recipe="fp32", steps=2), "alice")
    with pytest.raises(Exception, match=r"authentication|digest"):
        RemotePool(address, b"wrong key")
    assert rp.counts() == {"running": 0, "queued": 0}  # the server still answers
    assert RemotePool(address, key).workers == 1  # and accepts new clients


def test_remote_pool_says_when_the_server_is_gone(
        local_server: tuple[str, bytes, threading.Event]) -> None:
    address, key, stop = local_server
    rp = RemotePool(address, key)
    stop.set()
    time.sleep(0.2)  # (not a timed assertion: lets the listener close)
    rp.close()  # drop the idle connections: new calls must connect again
    Path(address).unlink(missing_ok=True)
    with pytest.raises(PoolBusy, match="not reachable"):
        rp.submit(TrainParams(task="regression", recipe="fp32", steps=2), "alice")
    assert rp.job("k") is None and rp.counts() == {"running": 0, "queued": 0}


_CLIENT_B = """
import json, sys
from pathlib import Path
from lowbit_core.training.pool_server import connect
from lowbit_core.training.train import TrainParams
rp = connect(sys.argv[1], Path(sys.argv[2]).read_bytes().strip())
def p(seed, steps):
    return TrainParams(task="regression", recipe="nvfp4", seed=seed, steps=steps, eval_every=4,
                       device="cpu")
k0 = rp.submit(p(0, 8), "bob")  # the run process A already trained
k2 = rp.submit(p(2, 8), "bob")  # a new one: the bound is full (A's long run)
s0, s2 = rp.job(k0), rp.job(k2)
print(json.dumps({"k0": k0, "s0": s0.state.value, "rows0": len(s0.rows), "k2": k2,
                  "s2": s2.state.value, "pos2": s2.position, "workers": rp.workers}))
"""


def _p(seed: int, steps: int) -> TrainParams:
    return TrainParams(task="regression", recipe="nvfp4", seed=seed, steps=steps, eval_every=4,
                       device="cpu")


@pytest.mark.slow
def test_pool_server_bounds_queues_and_shares_runs_across_processes(tmp_path: Path) -> None:
    """Process A and process B (two Streamlit processes) talk to one pool server with one
    worker: B reuses A's finished run, B's new run waits behind A's, and its place is the
    same seen from A; A's cancel frees the slot for B's run."""
    address, keyfile = str(tmp_path / "pool.sock"), tmp_path / "pool.key"
    keyfile.write_text("k" * 64)
    server = subprocess.Popen(
        [sys.executable, "-m", "lowbit_core.training.pool_server", "--address", address,
         "--authkey-file", str(keyfile), "--workers", "1"], cwd=ROOT)
    try:
        end = time.monotonic() + 60
        while True:
            try:
                a = RemotePool(address, b"k" * 64)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < end, "no pool server"
                time.sleep(0.2)
        assert a.workers == 1
        k0 = a.submit(_p(0, 8), "alice")
        t_end = time.monotonic() + 240
        while (s := a.job(k0)) is not None and s.state.active and time.monotonic() < t_end:
            time.sleep(0.1)
        assert s is not None and s.state is JobState.DONE, s and s.error
        assert a.warming() is None  # a run started: the workers have loaded torch
        k1 = a.submit(_p(1, 5000), "alice")
        while (s := a.job(k1)) is not None and s.step == 0 and time.monotonic() < t_end:
            time.sleep(0.1)
        assert s is not None and s.state is JobState.RUNNING and s.step > 0
        out = subprocess.run([sys.executable, "-c", _CLIENT_B, address, str(keyfile)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        b = json.loads(out.stdout)
        assert b["k0"] == k0 and b["s0"] == "done" and b["rows0"] == 3  # trained once
        assert b["s2"] == "queued" and b["pos2"] == 1 and b["workers"] == 1
        s2 = a.job(b["k2"])
        assert s2 is not None and s2.state is JobState.QUEUED and s2.position == 1
        assert a.counts() == {"running": 1, "queued": 1}
        a.cancel(k1, "alice")
        while (s2 := a.job(b["k2"])) is not None and s2.state.active \
                and time.monotonic() < t_end:
            time.sleep(0.1)
        assert s2 is not None and s2.state is JobState.DONE, s2 and s2.error
        s1 = a.job(k1)
        assert s1 is not None and s1.state is JobState.CANCELLED and s1.step < 5000
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0


# --- the server script ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out: set[int] = set()
    todo = list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.add(p)
        todo.extend(kids.get(p, []))
    return out


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting for its (new) parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def _view(ws_url: str, page: str, query: str) -> list[str]:
    """Open a session on ``page`` and return the heading texts drawn until script_finished."""
    import asyncio

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect

    async with connect(ws_url, subprotocols=["streamlit"], max_size=2**26) as ws:  # type: ignore[list-item]
        msg = BackMsg()
        msg.rerun_script.page_name, msg.rerun_script.query_string = page, query
        await ws.send(msg.SerializeToString())
        heads: list[str] = []
        async with asyncio.timeout(120):
            while True:
                fm = ForwardMsg()
                fm.ParseFromString(await ws.recv())  # type: ignore[arg-type]
                kind = fm.WhichOneof("type")
                if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                    el = fm.delta.new_element
                    assert el.WhichOneof("type") != "exception", el.exception.message
                    if el.WhichOneof("type") == "heading":
                        heads.append(el.heading.body)
                elif kind == "script_finished":
                    assert fm.script_finished == fm.FINISHED_SUCCESSFULLY
                    return heads


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
                    reason="haproxy is not installed (make test installs it)")
def test_serve_two_processes_behind_haproxy_and_a_clean_sigterm(tmp_path: Path) -> None:
    import asyncio

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.serve", "--host", "127.0.0.1", "--port", str(port),
         "--procs", "2", "--run-dir", str(tmp_path / "run")],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except (OSError, urllib.error.HTTPError):
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < end, "the server did not become healthy"
                time.sleep(0.3)
        pids_file = tmp_path / "run" / "pids.json"  # written when HAProxy starts
        assert pids_file.exists()
        pids = json.loads(pids_file.read_text())
        assert len(pids["streamlit"]) == 2 and len(set(pids["backends"])) == 2
        # the page through the proxy: the HAProxy cookie pins this browser to one process
        def pins(r: object) -> list[str]:
            got = r.headers.get_all("Set-Cookie") or []  # type: ignore[attr-defined]
            return [c for c in got if c.startswith("lowbit_srv=")]

        with urllib.request.urlopen(base + "/rounding", timeout=30) as r:
            cookie = pins(r)
            assert r.status == 200 and b"<html" in r.read().lower()
        assert len(cookie) == 1 and cookie[0].startswith("lowbit_srv=s"), cookie
        req = urllib.request.Request(base + "/_stcore/health",
                                     headers={"Cookie": cookie[0].split(";")[0]})
        with urllib.request.urlopen(req, timeout=30) as r:  # a pinned request: no new pin
            assert r.read() == b"ok" and pins(r) == []
        # in a thread of its own: a worker that also ran the browser tests has playwright's
        # event loop running in this thread, where asyncio.run refuses to start another
        with ThreadPoolExecutor(1) as ex:
            heads = ex.submit(asyncio.run, _view(f"ws://127.0.0.1:{port}/_stcore/stream",
                                                 "rounding", "fmt=float8_e5m2&x=1.3")).result()
        assert any("Rounding" in h for h in heads), heads
        tree = _descendants(proc.pid)
        assert set(pids["streamlit"]) | {pids["pool_server"], pids["haproxy"]} <= tree
        assert len(tree) >= 5  # + the pool server's forkserver
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        left = {p for p in tree if _running(p)}
        assert not left, f"orphans after SIGTERM: {left}"
        with pytest.raises(OSError):
            urllib.request.urlopen(base + "/healthz", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_haproxy_config_pins_sessions_by_cookie_not_address() -> None:
    from ui.serve import haproxy_config

    cfg = haproxy_config("0.0.0.0", 8501, [40001, 40002])
    assert "bind 0.0.0.0:8501" in cfg
    assert "cookie lowbit_srv insert" in cfg and "balance source" not in cfg
    assert cfg.count("server s") == 2 and "127.0.0.1:40002" in cfg and "cookie s1" in cfg
    assert "monitor fail if { nbsrv(streamlit) lt 2 }" in cfg
    assert "timeout tunnel" in cfg  # websockets outlive the HTTP timeouts


def test_serve_production_flags() -> None:
    from ui.serve import STREAMLIT_FLAGS

    flags = dict(zip(STREAMLIT_FLAGS[::2], STREAMLIT_FLAGS[1::2], strict=True))
    assert flags["--server.fileWatcherType"] == "none"
    assert flags["--server.runOnSave"] == "false"
    assert flags["--server.enableXsrfProtection"] == "true"
    assert flags["--server.maxUploadSize"] == "64"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert flags["--server.headless"] == "true"




def test_pool_warming_is_reported_until_torch_is_loaded() -> None:
    from ui.live_fp4_training import warming_note

    cold = TrainPool(workers=1, threads=1, warm=False)
    assert cold.warming() is None  # not warming: nothing asked it to load torch yet
    assert warming_note(cold) == ""

    class Warming:
        def warming(self) -> float:
            return 12.4

    note = warming_note(Warming())  # type: ignore[arg-type]
    assert "loading torch (12 s so far" in note
