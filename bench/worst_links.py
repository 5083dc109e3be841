"""Worst-case link of every page (issue 15): CPU time of one view with every control at its URL
maximum, beside the default view of the same page in the same run.

The worst link of a page is built from its params schema: every numeric field at its maximum,
every multi-choice with all its options (up to its length limit), every toggle on, the link's
"run" flag set (so gated computations run); single choices keep their default, plus one
variant per option of the choice fields listed in :data:`CHOICES` (the ones that change the
work: the model, the task, the format), and the worst of those is reported. CPU time is the
process's (every thread: numba's parallel kernels count on every core they use). Each page is
first opened once with its defaults untimed (imports, kernel loads) and the default view is
timed after that.

Run: ``python bench/worst_links.py [--page grad_variance]``. Prints a markdown table; goal:
every page's worst link at most 10 s of CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as app.py sets it

from streamlit.testing.v1 import AppTest  # noqa: E402

from ui import nav  # noqa: E402
from ui.params import to_query  # noqa: E402

APP = str(ROOT / "app.py")
GOAL_S = 10.0
#: choice fields whose options change the work, tried one at a time on top of the worst link
CHOICES: dict[str, tuple[str, ...]] = {
    "formats": ("fmt",), "rounding": ("fmt",), "grad_variance": ("model", "grid"),
    "fp4_training": ("task",), "dynamics": ("fmt", "scheme"), "scaling_laws": ("fmt", "block"),
    "tensor": ("tensor",),
}
MAX_VARIANTS = 6  #: options tried per choice field (the first ones of long lists)


def worst(cls: type[Any]) -> Any:
    """The params with every numeric field at its maximum, every multi full, toggles on."""
    kw: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        md, d = f.metadata, f.default
        if isinstance(d, bool):
            kw[f.name] = True
        elif isinstance(d, int | float) and "max" in md:
            kw[f.name] = type(d)(md["max"])
        elif isinstance(d, tuple) and md.get("choices"):
            opts = tuple(md["choices"])
            kw[f.name] = opts[: md.get("max_len") or len(opts)]
    if "b_min" in kw:  # the smallest batch of a range at its minimum: the widest range
        kw["b_min"] = 0
    return _valid(cls, kw)


def _valid(cls: type[Any], kw: dict[str, Any]) -> Any:
    """Drop fields one by one (back to their defaults) until the params validate."""
    kw = dict(kw)
    while True:
        try:
            return cls(**kw)
        except (ValueError, TypeError) as exc:
            if not kw:
                raise
            dropped = next((k for k in kw if k in str(exc)), next(iter(kw)))
            print(f"  ({cls.__name__}: {dropped} kept at default: {exc})", file=sys.stderr)
            kw.pop(dropped)


def cpu_view(script: str, query: dict[str, Any]) -> tuple[float, float, bool]:
    """CPU and wall seconds of one fresh view of ``script`` with ``query``; whether it raised."""
    at = AppTest.from_file(APP, default_timeout=600)
    at.switch_page(script)
    for k, v in query.items():
        at.query_params[k] = v
    c, w = time.process_time(), time.perf_counter()
    at.run()
    return time.process_time() - c, time.perf_counter() - w, bool(at.exception)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--page", action="append", help="only these pages (repeatable)")
    args = ap.parse_args()
    rows = []
    for page in nav.available():
        if args.page and page.key not in args.page:
            continue
        cls = page.params_class()
        cpu_view(page.script, {})  # warm: imports, kernel loads
        base = cpu_view(page.script, {})
        w = worst(cls)
        variants = [("all at max", w)]
        for name in CHOICES.get(page.key, ()):
            f = next((f for f in dataclasses.fields(cls) if f.name == name), None)
            if f is None:
                continue
            for opt in tuple(f.metadata.get("choices", ()))[:MAX_VARIANTS]:
                if opt != getattr(w, name):
                    try:
                        variants.append((f"{name}={opt}", dataclasses.replace(w, **{name: opt})))
                    except (ValueError, TypeError):
                        pass
        results = []
        for label, p in variants:
            cpu, wall, exc = cpu_view(page.script, to_query(p))
            print(f"  {page.key} {label}: {cpu:.2f} s CPU, {wall:.2f} s wall"
                  f"{' (exception)' if exc else ''}", file=sys.stderr, flush=True)
            results.append((cpu, wall, label, exc))
        cpu, wall, label, exc = max(results)
        rows.append((page.key, base[0], cpu, wall, label, exc))
    print(f"| page | default view CPU (s) | worst link CPU (s) | wall (s) | worst variant | "
          f"≤ {GOAL_S:.0f} s |")
    print("|---|---|---|---|---|---|")
    for key, b, cpu, wall, label, exc in rows:
        ok = "yes" if cpu <= GOAL_S and not exc else "**no**"
        print(f"| {key} | {b:.2f} | {cpu:.2f} | {wall:.2f} | {label} | {ok} |")


if __name__ == "__main__":
    main()
