"""Load bench: clients that speak Streamlit's websocket protocol against a running lab.

Not browsers (which would eat the server's CPU): each client opens the websocket
``/_stcore/stream`` as the browser does, sends a ``BackMsg.rerun_script`` with the page name
and a query string, and reads ``ForwardMsg``s until ``script_finished``.

* **fresh** mode: N = 1, 10, 30 concurrent clients (``--ns``), each opening fresh sessions in a
  loop, one view each, on random deep links of the light pages (``/``, ``/formats``,
  ``/rounding``, ``/scaling_laws``: a few settings drawn at random per view);
* **slider** mode: N clients each keep one session on ``/rounding`` and move its "random bits"
  slider (a widget state in the ``rerun_script``, as the browser sends it);
* ``--train 2``: first clicks Run on the FP4 training page in two sessions (two live runs, with
  their same-seed baselines), so the bench runs while the pool trains.

Prints per N: views, errors, p50/p90 latency to ``script_finished`` and views/s, each as a ratio
to N = 1 measured in the same run, then the server's RSS (every process: Streamlit, the pool
server and its workers, HAProxy) per phase. An error is a view that failed to connect, timed
out (``--timeout``), drew an exception element, a "page not found", or did not finish.

The server is started by the bench (``--start serve`` runs ``python -m ui.serve`` on a free
port, ``--start run`` one ``streamlit run`` process) or given (``--url``, with ``--pid`` for
the RSS). Run ``python bench/load.py --start serve --procs 2`` and ``--start run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python bench/load.py` from anywhere: ui.serve's settings
FORMATS = ["float8_e4m3fn", "float8_e5m2", "bfloat16", "float16", "float6_e2m3fn",
           "float4_e2m1fn"]


def random_link(rng: random.Random) -> tuple[str, str]:
    """``(page_name, query_string)`` of a random deep link of a light page."""
    page = rng.choice(["", "formats", "rounding", "scaling_laws"])
    if page == "formats":
        q = {"fmt": rng.choice(FORMATS), "x": repr(round(rng.uniform(-5, 5), 3)),
             "seed": str(rng.randrange(100))}
    elif page == "rounding":
        q = {"fmt": rng.choice(FORMATS[:4]), "x": repr(round(rng.uniform(0.5, 4), 4)),
             "rbits": str(rng.randrange(1, 9)), "seed": str(rng.randrange(100))}
    elif page == "scaling_laws":
        q = {"n_params": f"{rng.choice([1, 3, 10, 30])}e8",
             "tokens": f"{rng.choice([1, 3, 10])}e10", "mbits": str(rng.randrange(1, 6))}
    else:
        q = {}
    return page, urlencode(q)


@dataclass
class View:
    ok: bool
    latency: float
    why: str = ""
    page: str = ""


@dataclass
class Session:
    """One Streamlit session over a websocket."""

    ws: object
    widgets: dict[str, object] = field(default_factory=dict)  #: id -> slider proto
    buttons: dict[str, str] = field(default_factory=dict)  #: label -> widget id

    @classmethod
    async def open(cls, ws_url: str, headers: dict[str, str]) -> Session:
        ws = await connect(ws_url, subprotocols=["streamlit"], max_size=2**26,  # type: ignore[list-item]
                           additional_headers=headers, open_timeout=30)
        return cls(ws)

    async def rerun(self, page: str, query: str, timeout: float,
                    widget: tuple[str, float] | None = None) -> View:
        t0 = time.perf_counter()
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_name = query, page
        if widget is not None:
            w = cs.widget_states.widgets.add()
            w.id = widget[0]
            w.double_array_value.data.append(widget[1])
        await self.ws.send(msg.SerializeToString())  # type: ignore[attr-defined]
        v = await self.rerun_reply(timeout)
        return View(v.ok, time.perf_counter() - t0, v.why)

    async def rerun_reply(self, timeout: float) -> View:
        """Read ForwardMsgs until the script run finishes."""
        t0 = time.perf_counter()
        ws = self.ws
        why = ""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    fm = ForwardMsg()
                    fm.ParseFromString(await ws.recv())  # type: ignore[attr-defined]
                    kind = fm.WhichOneof("type")
                    if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
                        el = fm.delta.new_element
                        t = el.WhichOneof("type")
                        if t == "exception":
                            why = why or f"exception: {el.exception.type}"
                        elif t == "slider":
                            self.widgets[el.slider.id] = el.slider
                        elif t == "button":
                            self.buttons[el.button.label] = el.button.id
                    elif kind == "page_not_found":
                        why = why or "page not found"
                    elif kind == "script_finished":
                        if fm.script_finished == fm.FINISHED_EARLY_FOR_RERUN:
                            continue
                        if fm.script_finished != fm.FINISHED_SUCCESSFULLY:
                            why = why or f"script_finished={fm.script_finished}"
                        break
        except TimeoutError:
            why = f"no script_finished in {timeout:.0f} s"
        return View(not why, time.perf_counter() - t0, why)

    async def close(self) -> None:
        await self.ws.close()  # type: ignore[attr-defined]


async def _fresh_client(ws_url: str, headers: dict[str, str], rng: random.Random,
                        end: float, timeout: float, out: list[View]) -> None:
    while time.perf_counter() < end:
        page, q = random_link(rng)
        t0 = time.perf_counter()
        try:
            s = await Session.open(ws_url, headers)
        except Exception as exc:  # connection refused, handshake failed: an error view
            out.append(View(False, time.perf_counter() - t0, f"connect: {exc!r}"))
            await asyncio.sleep(0.5)
            continue
        v = await s.rerun(page, q, timeout)
        out.append(View(v.ok, time.perf_counter() - t0, v.why, page or "home"))  # + connect
        await s.close()


async def _slider_client(ws_url: str, headers: dict[str, str], rng: random.Random,
                         end: float, timeout: float, out: list[View]) -> None:
    s = await Session.open(ws_url, headers)
    first = await s.rerun("rounding", "", timeout)
    slider = next((w for w in s.widgets.values()
                   if "random bits" in getattr(w, "label", "").lower()), None)
    if not first.ok or slider is None:
        out.append(View(False, first.latency, first.why or "no 'random bits' slider found"))
        await s.close()
        return
    lo, hi = int(slider.min), int(slider.max)  # type: ignore[attr-defined]
    while time.perf_counter() < end:
        value = float(rng.randint(lo, min(hi, 12)))
        out.append(await s.rerun("rounding", "", timeout, (slider.id, value)))  # type: ignore[attr-defined]
    await s.close()


async def _phase(mode: str, n: int, ws_url: str, headers: dict[str, str], seconds: float,
                 timeout: float, seed: int) -> tuple[list[View], float]:
    out: list[View] = []
    t0 = time.perf_counter()
    end = t0 + seconds
    fn = _fresh_client if mode == "fresh" else _slider_client
    await asyncio.gather(*(fn(ws_url, headers, random.Random(seed * 1000 + i), end, timeout,
                              out) for i in range(n)))
    return out, time.perf_counter() - t0


async def _click_run(ws_url: str, headers: dict[str, str], seed: int, timeout: float) -> str:
    """Open /fp4_training with run seed ``seed`` and press its Run button (a trigger)."""
    s = await Session.open(ws_url, headers)
    q = urlencode({"run_seed": seed})
    v = await s.rerun("fp4_training", q, timeout)
    bid = s.buttons.get("Run")
    if not v.ok or bid is None:
        await s.close()
        return f"page failed: {v.why or 'no Run button'}"
    msg = BackMsg()
    cs = msg.rerun_script
    cs.query_string, cs.page_name = q, "fp4_training"
    w = cs.widget_states.widgets.add()
    w.id, w.trigger_value = bid, True
    await s.ws.send(msg.SerializeToString())  # type: ignore[attr-defined]
    v = await s.rerun_reply(timeout)
    await s.close()  # the run goes on: the session's interest stays until it cancels
    return "started" if v.ok else f"failed: {v.why}"


# --- the server and its memory -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


@contextmanager
def started(kind: str, procs: int) -> Iterator[tuple[str, list[int]]]:
    """Start ``make serve``'s script or one ``streamlit run``; yield (base URL, root pids)."""
    port = _free_port()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache")}
    log = open(ROOT / ".run" / f"bench-load-{kind}-{port}.log", "wb")
    if kind == "serve":
        argv = [sys.executable, "-m", "ui.serve", "--host", "127.0.0.1", "--port", str(port),
                "--procs", str(procs), "--run-dir", str(ROOT / ".run" / f"bench-{port}")]
        health = f"http://127.0.0.1:{port}/healthz"
    else:
        from ui.serve import STREAMLIT_FLAGS

        argv = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                "--server.address", "127.0.0.1", "--server.port", str(port), *STREAMLIT_FLAGS]
        env["LOWBIT_WARM_POOL"] = "1"
        health = f"http://127.0.0.1:{port}/_stcore/health"
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(health, proc)
        yield f"http://127.0.0.1:{port}", [proc.pid]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _tree(roots: list[int]) -> list[int]:
    """``roots`` and all their descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], list(roots)
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_s(roots: list[int]) -> float:
    """CPU seconds (user + system) used so far by ``roots`` and their live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(roots):
        if p == os.getpid():
            continue
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime, stime
    return total / tick


def rss_mb(roots: list[int], skip_self: bool = True) -> float:
    """Total resident memory (MB) of ``roots`` and their descendants."""
    total = 0
    for p in _tree(roots):
        if skip_self and p == os.getpid():
            continue
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def rss_by_process(roots: list[int]) -> list[tuple[str, float]]:
    """``(role, RSS MB)`` of each process of the server's tree, by its command line."""
    out = []
    for p in _tree(roots):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            rss = next(int(x.split()[1]) for x in Path(f"/proc/{p}/status").read_text()
                       .splitlines() if x.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
        role = ("haproxy" if "haproxy" in cmd else "pool server" if "pool_server" in cmd
                else "forkserver (torch)" if "forkserver" in cmd else "streamlit"
                if "streamlit" in cmd else "ui.serve" if "ui.serve" in cmd else "train worker")
        out.append((role, rss / 1024))
    return out


class RssSampler(threading.Thread):
    def __init__(self, roots: list[int], every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots, self.every = roots, every
        self.samples: list[tuple[float, str, float]] = []
        self.phase = "start"
        self._stop_evt = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while not self._stop_evt.is_set():
            if self.roots:
                self.samples.append((time.perf_counter() - self.t0, self.phase,
                                     rss_mb(self.roots)))
            self._stop_evt.wait(self.every)

    def stop(self) -> None:
        self._stop_evt.set()


# --- the bench ----------------------------------------------------------------------------------


def _stats(views: list[View], wall: float) -> dict[str, float]:
    ok = [v.latency for v in views if v.ok]
    q = statistics.quantiles(ok, n=10) if len(ok) >= 2 else [ok[0]] * 9 if ok else [0.0] * 9
    return {"views": len(views), "errors": sum(not v.ok for v in views),
            "p50": statistics.median(ok) if ok else float("nan"), "p90": q[8],
            "vps": len(ok) / wall}


def bench(base: str, roots: list[int], a: argparse.Namespace) -> dict[str, object]:
    u = urlparse(base)
    ws_url = f"{'wss' if u.scheme == 'https' else 'ws'}://{u.netloc}/_stcore/stream"
    headers = {"Origin": f"{u.scheme}://{u.netloc}"}
    sampler = RssSampler(roots)
    sampler.start()
    result: dict[str, object] = {"url": base, "cores": os.cpu_count(),
                                 "load_before": os.getloadavg()}
    try:
        if a.train:
            sampler.phase = "train"
            got = [asyncio.run(_click_run(ws_url, headers, 900 + i, 120)) for i in range(a.train)]
            print(f"live runs: {got}", flush=True)
            result["train"] = got
        sampler.phase = "warm-up"
        views, wall = asyncio.run(_phase("fresh", 2, ws_url, headers, a.warmup, a.timeout, 7))
        print(f"warm-up: {len(views)} views, {sum(not v.ok for v in views)} errors", flush=True)
        rows = {}
        for mode in a.modes:
            for n in a.ns:
                sampler.phase = f"{mode} N={n}"
                c0, b0 = cpu_s(roots), time.process_time()
                views, wall = asyncio.run(_phase(mode, n, ws_url, headers, a.seconds,
                                                 a.timeout, n))
                s = _stats(views, wall)
                ok = max(1.0, s["views"] - s["errors"])
                s["server_cpu_ms"] = 1000 * (cpu_s(roots) - c0) / ok if roots else math.nan
                s["bench_cpu_ms"] = 1000 * (time.process_time() - b0) / ok
                whys = sorted({v.why for v in views if not v.ok})[:3]
                rows[(mode, n)] = s
                by_page: dict[str, list[float]] = {}
                for v in views:
                    if v.ok and v.page:
                        by_page.setdefault(v.page, []).append(v.latency)
                if by_page:
                    print("        by page (p50/p90 s): " + "; ".join(
                        f"{pg} {_stats([View(True, x) for x in xs], 1)['p50']:.2f}/"
                        f"{_stats([View(True, x) for x in xs], 1)['p90']:.2f} ({len(xs)})"
                        for pg, xs in sorted(by_page.items())), flush=True)
                print(f"{mode:6} N={n:3}: {s['views']:5.0f} views, {s['errors']:3.0f} errors, "
                      f"p50 {s['p50']:.3f} s, p90 {s['p90']:.3f} s, {s['vps']:.2f} views/s, "
                      f"server CPU {s['server_cpu_ms']:.0f} ms/view, bench's own CPU "
                      f"{s['bench_cpu_ms']:.0f} ms/view, load {os.getloadavg()[0]:.1f}"
                      + (f"  ({'; '.join(whys)})" if whys else ""), flush=True)
        sampler.phase = "end"
        time.sleep(1.5)
    finally:
        sampler.stop()
    print("\n| mode | N | views | errors | p50 (s) | p90 (s) | views/s | p50 / N=1 | "
          "p90 / N=1 | views/s / N=1 | server CPU ms/view |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")
    for (mode, n), s in rows.items():
        r = rows.get((mode, a.ns[0]), s)
        print(f"| {mode} | {n} | {s['views']:.0f} | {s['errors']:.0f} | {s['p50']:.3f} | "
              f"{s['p90']:.3f} | {s['vps']:.2f} | {s['p50'] / r['p50']:.2f} | "
              f"{s['p90'] / r['p90']:.2f} | {s['vps'] / r['vps']:.2f} | "
              f"{s['server_cpu_ms']:.0f} |")
    phases: dict[str, list[float]] = {}
    for _, ph, mb in sampler.samples:
        phases.setdefault(ph, []).append(mb)
    if phases:
        print("\nserver RSS (MB, all its processes) per phase: "
              + "; ".join(f"{ph}: {min(v):.0f}-{max(v):.0f}" for ph, v in phases.items()))
    if roots:
        procs = rss_by_process(roots)
        print("RSS by process (MB): " + ", ".join(f"{r} {mb:.0f}" for r, mb in procs))
        result["rss_by_process"] = procs
    result.update(rows={f"{m} N={n}": s for (m, n), s in rows.items()},
                  rss={ph: (min(v), max(v)) for ph, v in phases.items()},
                  rss_series=[(round(t, 1), ph, round(mb)) for t, ph, mb in sampler.samples],
                  load_after=os.getloadavg())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="a running lab, e.g. http://127.0.0.1:8501")
    g.add_argument("--start", choices=["serve", "run"], help="start the server here")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="with --url: a server process whose tree's RSS is sampled")
    ap.add_argument("--procs", type=int, default=2, help="--start serve: Streamlit processes")
    ap.add_argument("--ns", default="1,10,30", help="concurrent clients per phase")
    ap.add_argument("--modes", default="fresh,slider", help="fresh and/or slider")
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--warmup", type=float, default=10.0, help="warm-up phase (not counted)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per view")
    ap.add_argument("--train", type=int, default=0, help="live runs to start first (0 or 2)")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    a.ns = [int(x) for x in a.ns.split(",")]
    a.modes = [m for m in a.modes.split(",") if m]
    if any(m not in ("fresh", "slider") for m in a.modes) or min(a.ns) < 1:
        ap.error(f"bad --modes {a.modes} or --ns {a.ns}")
    (ROOT / ".run").mkdir(exist_ok=True)
    if a.url:
        res = bench(a.url, a.pid, a)
    else:
        with started(a.start, a.procs) as (base, roots):
            print(f"server: {a.start} ({a.procs} processes)" if a.start == "serve" else
                  "server: one streamlit run process", flush=True)
            res = bench(base, roots, a)
    res["argv"] = sys.argv[1:]
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
