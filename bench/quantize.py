"""Throughput of ``lowbit_core.quantize`` (numba backend) against numpy ``x.copy()``.

Times N float32 N(0,1) values (default 10^7, seed 0), median of R runs (default 5) after one
warm-up, and prints Melem/s and the ratio to numpy ``x.copy()`` measured in the same run, for:

* RNE, exact SR (seeded counter RNG) and SRC with 4 random bits, to bfloat16, float8_e4m3fn and
  float4_e2m1fn (fake-quantised float32 out);
* MXFP4 and NVFP4 quantize-dequantize (``lowbit_core.blocks.quantize_blocks``), when importable;
* the same RNE work done by ml_dtypes casts and torch casts (cast + cast back), where installed;
* the numpy reference backend on a 10^6 slice, for scale;
* ``round_distribution`` of 10^6 float64 points (ms, numba and numpy);
* the first ``import lowbit_core`` + first ``quantize`` in a fresh process with a warm numba
  cache (median of 3 subprocesses).

Each row shows its target (from the backend's brief) and whether it was met. Timings on a small
shared VM are noisy: the load average at start and end is printed; rerun before concluding.

Usage: ``python bench/quantize.py [--n 10000000] [--repeats 5] [--threads K] [--markdown]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

import numpy as np  # noqa: E402

import lowbit_core as lb  # noqa: E402

TARGETS = ("bfloat16", "float8_e4m3fn", "float4_e2m1fn")


@dataclass
class Row:
    case: str
    fmt: str
    impl: str
    n: int
    rate: float  # Melem/s, median
    best: float
    target: float | None  # minimum ratio to copy
    note: str = ""


def timeit(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(median, min) seconds of ``repeats`` calls after one warm-up call."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def _try_import(name: str) -> Any:
    try:
        return __import__(name, fromlist=["_"])
    except Exception:
        return None


def first_import_seconds(reps: int = 3) -> float:
    code = (
        "import time; t = time.perf_counter(); import numpy as np; import lowbit_core as lb; "
        "lb.quantize(np.linspace(-3, 3, 1000, dtype=np.float32), 'float8_e4m3fn'); "
        "print(time.perf_counter() - t)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ts = []
    for _ in range(reps + 1):  # the first run also warms the cache if it is cold
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
            cwd=ROOT,
        )
        ts.append(float(r.stdout.strip().splitlines()[-1]))
    return statistics.median(ts[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="numba/torch threads (0 = default)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    import numba

    torch = _try_import("torch")
    ml_dtypes = _try_import("ml_dtypes")
    if args.threads:
        numba.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    n = (args.n // 32) * 32
    x = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    rows: list[Row] = []
    # load the kernels from the numba cache and get the thread pool going: the first ~0.5 s of
    # parallel work after importing torch ran several times slower here (a one-off transient)
    t_end = time.perf_counter() + 1.0
    while time.perf_counter() < t_end:
        for fmt in TARGETS:
            lb.quantize(x, fmt, "rne")

    def add(case: str, fmt: str, impl: str, fn: Callable[[], Any], target: float | None,
            note: str = "", size: int = n) -> None:
        try:
            t, tmin = timeit(fn, args.repeats)
            rows.append(Row(case, fmt, impl, size, size / t / 1e6, size / tmin / 1e6, target, note))
        except Exception as e:
            rows.append(Row(case, fmt, impl, size, float("nan"), float("nan"), target,
                            f"FAILED: {type(e).__name__}: {e}"))
        r = rows[-1]
        print(f"  .. {case} {fmt} {impl}: {r.rate:.0f} Melem/s", file=sys.stderr, flush=True)

    def q(fmt: str, mode: str, xx: np.ndarray = x, **kw: Any) -> Callable[[], Any]:
        return lambda: lb.quantize(xx, fmt, mode, **kw)

    add("copy", "-", "numpy x.copy()", x.copy, None, "memory-bandwidth reference")
    for fmt in TARGETS:
        add("RNE", fmt, "lowbit_core numba", q(fmt, "rne"), 0.5)
        add("SR exact", fmt, "lowbit_core numba", q(fmt, "sr", seed=1), 0.3,
            "counter RNG, P(away) = d")
        add("SRC 4 bits", fmt, "lowbit_core numba", q(fmt, "src", rbits=4, seed=1), 0.3,
            "counter RNG")
    blocks = _try_import("lowbit_core.blocks")
    if blocks is not None and hasattr(blocks, "quantize_blocks"):
        for spec in ("mxfp4", "nvfp4"):
            add("block qdq", spec, "lowbit_core numba",
                partial(blocks.quantize_blocks, x, spec), None, "RNE, default scale rule")
    else:
        rows.append(Row("block qdq", "mxfp4/nvfp4", "lowbit_core", n, float("nan"),
                        float("nan"), None, "skipped: lowbit_core.blocks.quantize_blocks missing"))

    def cast_back(dt: Any) -> Callable[[], Any]:
        return lambda: x.astype(dt).astype(np.float32)

    if ml_dtypes is not None:
        for fmt in TARGETS:
            add("RNE", fmt, "ml_dtypes cast+back", cast_back(getattr(ml_dtypes, fmt)), None,
                "IEEE overflow, not sat.")
    if torch is not None:
        xt = torch.from_numpy(x)

        def to_back(tdt: Any) -> Callable[[], Any]:
            return lambda: xt.to(tdt).to(torch.float32)

        for fmt, tdt in (("bfloat16", torch.bfloat16), ("float8_e4m3fn", torch.float8_e4m3fn)):
            add("RNE", fmt, "torch .to() and back", to_back(tdt), None,
                f"torch {torch.__version__}")
    xs = x[: min(n, 1_000_000)]
    add("RNE", "float8_e4m3fn", "lowbit_core numpy reference",
        q("float8_e4m3fn", "rne", xs, backend="numpy"), None, size=xs.size)
    add("SRC 4 bits", "float8_e4m3fn", "lowbit_core numpy reference",
        q("float8_e4m3fn", "src", xs, rbits=4, seed=1, backend="numpy"), None, size=xs.size)

    # round_distribution of 10^6 points and first import
    xd = np.random.default_rng(1).standard_normal(1_000_000)
    extra: list[tuple[str, float, str, bool | None]] = []
    for impl in ("numba", "numpy"):
        fn = partial(lb.round_distribution, xd, "float8_e4m3fn", "src", 4, backend=impl)
        t, _ = timeit(fn, args.repeats)
        extra.append((f"round_distribution 10^6, e4m3 src 4 bits ({impl})", t * 1e3, "< 50 ms",
                      t * 1e3 < 50 if impl == "numba" else None))
    ti = first_import_seconds()
    extra.append(("first import + quantize, warm numba cache (subprocess)", ti * 1e3, "< 2000 ms",
                  ti < 2.0))
    load1 = os.getloadavg()

    copy_rate = rows[0].rate
    print(f"# python {platform.python_version()} | {platform.machine()} | cpus={os.cpu_count()} "
          f"| numba threads={numba.get_num_threads()} | numpy {np.__version__} numba "
          f"{numba.__version__}" + (f" torch {torch.__version__}" if torch is not None else "")
          + (f" ml_dtypes {ml_dtypes.__version__}" if ml_dtypes is not None else ""))
    print(f"# n={n:,} float32 N(0,1) seed 0; median of {args.repeats} runs after 1 warm-up; "
          f"load average {load0[0]:.1f} at start, {load1[0]:.1f} at end (other jobs share the CPU)")
    if args.markdown:
        print("| case | format | implementation | n | Melem/s (median) | best | x copy | target "
              "| met | note |")
        print("|---|---|---|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        ratio = r.rate / copy_rate
        tgt = f">= {r.target:g}x copy" if r.target else "-"
        met = "-" if r.target is None else ("yes" if ratio >= r.target else "NO")
        cells = [r.case, r.fmt, r.impl, f"{r.n:,}", f"{r.rate:.0f}", f"{r.best:.0f}",
                 f"{ratio:.3f}", tgt, met, r.note]
        if args.markdown:
            print("| " + " | ".join(cells) + " |")
        else:
            print(f"{cells[0]:11s} {cells[1]:14s} {cells[2]:28s} {cells[3]:>11s} {cells[4]:>7s} "
                  f"{cells[5]:>7s} {cells[6]:>6s}  {tgt:15s} {met:4s} {r.note}")
    print()
    if args.markdown:
        print("| measurement | ms (median) | target | met |")
        print("|---|---:|---|---|")
    for what, ms, tgt, ok in extra:
        met = "-" if ok is None else ("yes" if ok else "NO")
        if args.markdown:
            print(f"| {what} | {ms:.1f} | {tgt} | {met} |")
        else:
            print(f"{what:60s} {ms:9.1f} ms  {tgt:10s} {met}")


if __name__ == "__main__":
    main()
