"""``python -m ui.precompile`` (started by make run / make serve) fills numba's disk cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_precompile_writes_the_rounding_pages_kernels_to_an_empty_cache(tmp_path: Path) -> None:
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    r = subprocess.run([sys.executable, "-m", "ui.precompile", "--nice", "0", "--pages",
                        "rounding"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "precompile: rounding" in r.stdout and "exception" not in r.stdout, r.stdout
    index = {p.name.split(".")[0] for p in cache.rglob("*.nbi")}  # one index per kernel
    # the accumulation page's one-call kernel and the rounding kernels it inlines
    assert any("_rounding_kernels" in p.name for p in cache.rglob("*.nbi")), sorted(index)
    assert list(cache.rglob("*.nbc")), "no compiled kernel was written"


def test_precompile_refuses_an_unknown_page() -> None:
    r = subprocess.run([sys.executable, "-m", "ui.precompile", "--pages", "nope"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "nope" in r.stderr
