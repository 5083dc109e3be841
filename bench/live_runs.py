"""Do live training runs stall other visitors? Rerun time of another page while a run trains.

    .venv/bin/python bench/live_runs.py [--reps 20] [--steps 4000]

Streamlit serves every session from one process, so a training loop on a script thread would
hold the GIL against everyone. The FP4 page trains in the worker pool's processes instead. This
measures the median rerun time of the Rounding page after a slider change (AppTest, in this
process, as the server would run it) in three conditions, in the same run:

* ``idle``: nothing else running (the reference);
* ``pool``: a digits NVFP4 live run training in the pool (what the page does);
* ``thread``: the same run on a thread of this process (what the page avoids).

Prints each median and its ratio to idle, and the warm pool's start latency (submit -> first
curve row). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamlit.testing.v1 import AppTest  # noqa: E402

from lowbit_core.training import TrainParams, run  # noqa: E402
from lowbit_core.training.pool import TrainPool, warm_up  # noqa: E402

APP = str(ROOT / "app.py")


def reruns(at: AppTest, reps: int) -> float:
    """Median rerun time, the slider alternating between two cached positions (so every
    condition times the same work: the script and its cached charts, no new computation)."""
    times = []
    for i in range(reps):
        t = time.perf_counter()
        at.slider(key="rounding.pos").set_value((2 + i % 2) / 64).run()
        times.append(time.perf_counter() - t)
    return statistics.median(times[2:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=4000)
    a = ap.parse_args()
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/rounding.py").run()
    reruns(at, 5)  # warm caches
    warm_up()
    pool = TrainPool(warm=False)
    p = TrainParams(task="digits", recipe="nvfp4", steps=a.steps, device="cpu")

    idle = reruns(at, a.reps)

    t0 = time.perf_counter()
    key = pool.submit(p, "bench")
    while not (s := pool.job(key)) or not s.rows:
        time.sleep(0.005)
    start = time.perf_counter() - t0
    in_pool = reruns(at, a.reps)
    busy_pool = pool.job(key).state.value == "running"  # type: ignore[union-attr]
    pool.cancel(key, "bench")
    pool.wait(key)

    stop = threading.Event()

    def train_in_thread() -> None:
        while not stop.is_set():
            run(TrainParams(task="digits", recipe="nvfp4", steps=200, device="cpu"))

    th = threading.Thread(target=train_in_thread, daemon=True)
    th.start()
    time.sleep(1.0)
    in_thread = reruns(at, a.reps)
    stop.set()
    th.join()

    print(f"Rounding page rerun after a slider change, median of {a.reps - 2} (os.cpu_count()="
          f"{os.cpu_count()}, pool: {pool.workers} worker x {pool.threads} thread)")
    print(f"{'condition':<44} {'ms':>8} {'x idle':>8}")
    for name, v in (("idle", idle),
                    ("live run training in the pool" + ("" if busy_pool else " (finished!)"),
                     in_pool),
                    ("same training on a server thread", in_thread)):
        print(f"{name:<44} {1e3 * v:8.1f} {v / idle:8.2f}")
    print(f"warm pool: submit -> first curve row {1e3 * start:.0f} ms")


if __name__ == "__main__":
    main()
