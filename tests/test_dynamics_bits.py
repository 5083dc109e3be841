"""The dynamics kernels give the same bits as the kernels recorded before their speed-up.

``REFERENCE`` holds SHA-256 digests (first 16 hex digits) of kernel outputs computed at commit
d3e5db7, before the kernels of :mod:`lowbit_core.experiments.dynamics._kernels` were rewritten
for speed (issue 10): Lorenz trajectories for every kind of precision (sbits, catalogue formats
with and without saturation, float64), every mode (RNE, exact SR, the four N-bit modes at several
N), both schemes, seeds whose high half is zero or not, runs that overflow to inf / NaN; the
rounding of hand-made values (subnormals, overflow, ties, zeros, and exact-SR elements whose
first random word equals the first 32 dropped bits, the slow path's case); the W1 sweep; the
three stagnation cards. The shipped library (data/dynamics_*) and the statistical tests depend
on these streams, so a change of any digest is a change of the lab's results.

Regenerate (only for an intended change of the results, and say so in the commit):
``python tests/test_dynamics_bits.py`` prints the table.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lowbit_core.experiments.dynamics import (
    LorenzParams,
    Precision,
    climate_sweep,
    decay_ode,
    harmonic_sum,
    heat_column,
    lorenz,
)
from lowbit_core.rng import words

BIG_SEED = (1 << 40) + 3  #: a seed with a non-zero high half (k1 != 0)


def _digest(a: object) -> str:
    if isinstance(a, pd.DataFrame):
        parts = [np.ascontiguousarray(a[c].to_numpy()) for c in a.columns]
        b = b"".join(
            p.astype(np.float64).tobytes()
            if p.dtype.kind in "fiub"
            else "|".join(map(str, p)).encode()
            for p in parts
        )
    else:
        b = np.ascontiguousarray(np.asarray(a), dtype=np.float64).tobytes()
    return hashlib.sha256(b).hexdigest()[:16]


def _lorenz(**kw: object) -> Callable[[], np.ndarray]:
    kw.setdefault("steps", 1500)
    kw.setdefault("spinup", 100)
    return lambda: lorenz(LorenzParams(**kw)).states  # type: ignore[arg-type]


def _tricky(p: int) -> np.ndarray:
    """Values for the rounding of one op: a wide log-uniform spread, both signs, grid points,
    exact ties of a p-bit grid, zeros, subnormals, overflow, inf, NaN."""
    rng = np.random.default_rng(12345)
    v = np.exp(rng.uniform(-40, 40, 600)) * rng.choice([-1.0, 1.0], 600)
    grid = np.ldexp(rng.integers(1 << p, 1 << (p + 1), 100).astype(np.float64), -p)
    ties = grid + np.ldexp(1.0, -p - 1)
    special = np.array(
        [
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            1e-310,
            2.2250738585072014e-308,
            1e-300,
            65504.0,
            65520.0,
            448.0,
            464.0,
            3.3895313892515355e38,
            3.4e38,
            1e308,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            np.inf,
            -np.inf,
            np.nan,
            1.0,
            -1.0,
            0.5,
            3.0,
        ]
    )
    return np.concatenate([v, grid, -ties, ties, special])


def _with_sr_ties(x: np.ndarray, p: int, seed: int) -> np.ndarray:
    """``x`` with elements whose dropped bits begin with their first random word (exact SR
    must read word 1 then: the kernels' slow path), and one whose dropped bits are exactly
    that word (no tie)."""
    sh = 52 - p
    if sh <= 32:
        return x
    x = x.copy()
    idx = np.arange(7, x.size, 97)
    w = words(seed, idx, 0).astype(np.uint64)
    low = np.where(np.arange(idx.size) % 3 == 2, 0, (idx * 2654435761) % (1 << (sh - 32)) | 1)
    rem = (w << np.uint64(sh - 32)) | low.astype(np.uint64)
    kept = (idx.astype(np.uint64) * np.uint64(0x9E3779B9)) & np.uint64((1 << p) - 1)
    u = np.uint64(0x3FF0000000000000) | (kept << np.uint64(sh)) | rem
    x[idx] = u.view(np.float64) * np.where(idx % 2 == 0, 1.0, -3.0)
    return x


def _round(p: int, **kw: object) -> Callable[[], np.ndarray]:
    pr = Precision(**kw)  # type: ignore[arg-type]
    return lambda: pr.round(_with_sr_ties(_tricky(p), p, pr.seed))


def _card(kind: str, f: str | int, m: str, n: int | None) -> Callable[[], object]:
    if kind == "harmonic":
        return lambda: harmonic_sum(5000, f, m, n, seed=2)
    if kind == "decay":
        return lambda: decay_ode(f, m, n, seeds=(0, 1), ns=(10, 100, 1000, 30_000))
    return lambda: pd.concat(heat_column(f, m, n, seeds=(0, 1), years=0.5, every_days=10.0))


FEW: list[tuple[str, int | None]] = [
    ("srff", 3),
    ("srf", 5),
    ("src", 8),
    ("sro", 2),
    ("src", 32),
    ("srf", 1),
]


def _cases() -> dict[str, Callable[[], object]]:
    c: dict[str, Callable[[], object]] = {}
    for sb in (1, 2, 5, 7, 10, 16, 23, 40, 51):
        c[f"lorenz sbits={sb} rne"] = _lorenz(sbits=sb)
        c[f"lorenz sbits={sb} sr"] = _lorenz(sbits=sb, mode="sr", seed=3)
    for sb in (4, 7, 12):
        for m, n in FEW:
            c[f"lorenz sbits={sb} {m} N={n}"] = _lorenz(sbits=sb, mode=m, rbits=n, seed=1)
    for seed in (0, 9, BIG_SEED):
        c[f"lorenz sbits=7 sr seed={seed}"] = _lorenz(sbits=7, mode="sr", seed=seed)
        c[f"lorenz sbits=7 src N=8 seed={seed}"] = _lorenz(sbits=7, mode="src", rbits=8, seed=seed)
    for f in (
        "float16",
        "bfloat16",
        "float8_e4m3fn",
        "float8_e5m2",
        "float6_e3m2fn",
        "float6_e2m3fn",
        "float4_e2m1fn",
        "e3m0",
        "float32",
    ):
        for sat in (True, False):
            c[f"lorenz {f} sat={sat} rne"] = _lorenz(fmt=f, saturate=sat)
            c[f"lorenz {f} sat={sat} sr"] = _lorenz(fmt=f, saturate=sat, mode="sr", seed=5)
            c[f"lorenz {f} sat={sat} sro N=4"] = _lorenz(
                fmt=f, saturate=sat, mode="sro", rbits=4, seed=5
            )
    c["lorenz float64"] = _lorenz(fmt="float64")
    euler: list[tuple[int, str, int | None]] = [(7, "rne", None), (7, "sr", None), (10, "srf", 6)]
    for sb, m, n in [*euler, (3, "sr", None)]:
        c[f"lorenz euler sbits={sb} {m}"] = _lorenz(sbits=sb, mode=m, rbits=n, scheme="euler")
    c["lorenz euler float16 rne"] = _lorenz(fmt="float16", scheme="euler", steps=10_000)
    for m in ("rne", "sr"):  # blow-ups: overflow to inf and NaN (sbits), saturation (format)
        blow = {"mode": m, "dt": 0.05, "rho": 90.0, "spinup": 0, "steps": 300}
        c[f"lorenz blowup sbits=7 {m}"] = _lorenz(sbits=7, **blow)
        c[f"lorenz blowup float16 {m}"] = _lorenz(fmt="float16", **blow)
        c[f"lorenz blowup e4m3 nosat {m}"] = _lorenz(fmt="float8_e4m3fn", saturate=False, **blow)
    c["lorenz 1e5 sbits=7 rne"] = _lorenz(sbits=7, steps=100_000, spinup=1000)
    c["lorenz 1e5 sbits=7 sr"] = _lorenz(sbits=7, mode="sr", steps=100_000, spinup=1000)
    for sb in (1, 3, 7, 19, 20, 21, 23, 40):
        for m, n in [("rne", None), ("sr", None), *FEW]:
            for seed in (2, BIG_SEED) if m != "rne" else (0,):
                c[f"round sbits={sb} {m} N={n} seed={seed}"] = _round(
                    sb, sbits=sb, mode=m, rbits=n, seed=seed
                )
    for f, p in (
        ("float16", 10),
        ("bfloat16", 7),
        ("float8_e4m3fn", 3),
        ("float8_e5m2", 2),
        ("e3m0", 0),
        ("float4_e2m1fn", 1),
    ):
        for sat in (True, False):
            for m, n in [("rne", None), ("sr", None), ("src", 8), ("srff", 2)]:
                c[f"round {f} sat={sat} {m}"] = _round(
                    p, fmt=f, saturate=sat, mode=m, rbits=n, seed=4
                )
    c["sweep 3000 steps"] = lambda: climate_sweep(LorenzParams(steps=3000), floor=3)
    c["sweep 2000 steps formats euler"] = lambda: climate_sweep(
        LorenzParams(steps=2000, scheme="euler", mode="src", rbits=6),
        sbits=(5, 9),
        fmts=("float16", "bfloat16", "float8_e4m3fn"),
        modes=("rne", "src"),
        seeds=(0, BIG_SEED),
        floor=2,
    )
    cards: list[str | int] = ["float16", "bfloat16", 6]
    for fc in cards:
        for m, n in [("rne", None), ("sr", None), ("src", 4)]:
            c[f"harmonic {fc} {m}"] = _card("harmonic", fc, m, n)
            c[f"decay {fc} {m}"] = _card("decay", fc, m, n)
            c[f"heat {fc} {m}"] = _card("heat", fc, m, n)
    return c


CASES = _cases()

REFERENCE: dict[str, str] = {
    "decay 6 rne": "60fda41ef05d4012",
    "decay 6 sr": "1ae6761f97983ae1",
    "decay 6 src": "7f37be4d161a9fee",
    "decay bfloat16 rne": "60fda41ef05d4012",
    "decay bfloat16 sr": "74ed0f6e0e4af531",
    "decay bfloat16 src": "7f37be4d161a9fee",
    "decay float16 rne": "60fda41ef05d4012",
    "decay float16 sr": "72fbc0149f58a57a",
    "decay float16 src": "8c7594448e75d3e7",
    "harmonic 6 rne": "4b2b3b9649c24062",
    "harmonic 6 sr": "4112a256a0cf7b43",
    "harmonic 6 src": "62e5524127ebe112",
    "harmonic bfloat16 rne": "44b2e0fc80d77d56",
    "harmonic bfloat16 sr": "554c030a1e3f31ee",
    "harmonic bfloat16 src": "dca8a83f4631e458",
    "harmonic float16 rne": "0855b06db1fbb659",
    "harmonic float16 sr": "8eb27293ec870aed",
    "harmonic float16 src": "55ecb1a3ffb0d632",
    "heat 6 rne": "fa22abecc6e0cc54",
    "heat 6 sr": "c65be680ce78869a",
    "heat 6 src": "1c57faef63a0bbc7",
    "heat bfloat16 rne": "6f58e0275df7c466",
    "heat bfloat16 sr": "9ae1eaea36453273",
    "heat bfloat16 src": "aae90d14ac565865",
    "heat float16 rne": "11c7bc329cea2fee",
    "heat float16 sr": "04c18cbb60201b42",
    "heat float16 src": "8dc5ce022490cbf6",
    "lorenz 1e5 sbits=7 rne": "1ee74b21bec52f41",
    "lorenz 1e5 sbits=7 sr": "6cd401b94aa1067a",
    "lorenz bfloat16 sat=False rne": "b7c7dab67439d820",
    "lorenz bfloat16 sat=False sr": "c668e7d9984ee215",
    "lorenz bfloat16 sat=False sro N=4": "791cc930c430ab2b",
    "lorenz bfloat16 sat=True rne": "b7c7dab67439d820",
    "lorenz bfloat16 sat=True sr": "c668e7d9984ee215",
    "lorenz bfloat16 sat=True sro N=4": "791cc930c430ab2b",
    "lorenz blowup e4m3 nosat rne": "c3619f5f30ed39d8",
    "lorenz blowup e4m3 nosat sr": "c3619f5f30ed39d8",
    "lorenz blowup float16 rne": "99c984fb18a8a54e",
    "lorenz blowup float16 sr": "2dd790fe72563fd1",
    "lorenz blowup sbits=7 rne": "702dbc65baf418d6",
    "lorenz blowup sbits=7 sr": "f62190a540a16a6b",
    "lorenz e3m0 sat=False rne": "a647b86ac04989c9",
    "lorenz e3m0 sat=False sr": "a647b86ac04989c9",
    "lorenz e3m0 sat=False sro N=4": "a647b86ac04989c9",
    "lorenz e3m0 sat=True rne": "41cbd394216d8454",
    "lorenz e3m0 sat=True sr": "41cbd394216d8454",
    "lorenz e3m0 sat=True sro N=4": "41cbd394216d8454",
    "lorenz euler float16 rne": "b9fb8c02d96484aa",
    "lorenz euler sbits=10 srf": "a220ad625cfdf552",
    "lorenz euler sbits=3 sr": "6e841e7093969af7",
    "lorenz euler sbits=7 rne": "172d177e4e8587d1",
    "lorenz euler sbits=7 sr": "bd8e3dcd222d4666",
    "lorenz float16 sat=False rne": "f4222e5b2309b533",
    "lorenz float16 sat=False sr": "07c77b1bf64df737",
    "lorenz float16 sat=False sro N=4": "a54b5997010a110a",
    "lorenz float16 sat=True rne": "f4222e5b2309b533",
    "lorenz float16 sat=True sr": "07c77b1bf64df737",
    "lorenz float16 sat=True sro N=4": "a54b5997010a110a",
    "lorenz float32 sat=False rne": "6ffed3962da58f66",
    "lorenz float32 sat=False sr": "bbc4855ab190c564",
    "lorenz float32 sat=False sro N=4": "8cbcc9d0ed4c27bb",
    "lorenz float32 sat=True rne": "6ffed3962da58f66",
    "lorenz float32 sat=True sr": "bbc4855ab190c564",
    "lorenz float32 sat=True sro N=4": "8cbcc9d0ed4c27bb",
    "lorenz float4_e2m1fn sat=False rne": "1a91b1c9fcca4e68",
    "lorenz float4_e2m1fn sat=False sr": "1a91b1c9fcca4e68",
    "lorenz float4_e2m1fn sat=False sro N=4": "1a91b1c9fcca4e68",
    "lorenz float4_e2m1fn sat=True rne": "1a91b1c9fcca4e68",
    "lorenz float4_e2m1fn sat=True sr": "1a91b1c9fcca4e68",
    "lorenz float4_e2m1fn sat=True sro N=4": "1a91b1c9fcca4e68",
    "lorenz float64": "2da50d6a3bf5aa83",
    "lorenz float6_e2m3fn sat=False rne": "c0a693093e8093f0",
    "lorenz float6_e2m3fn sat=False sr": "c0a693093e8093f0",
    "lorenz float6_e2m3fn sat=False sro N=4": "c0a693093e8093f0",
    "lorenz float6_e2m3fn sat=True rne": "c0a693093e8093f0",
    "lorenz float6_e2m3fn sat=True sr": "c0a693093e8093f0",
    "lorenz float6_e2m3fn sat=True sro N=4": "c0a693093e8093f0",
    "lorenz float6_e3m2fn sat=False rne": "a8009b7d167cbf54",
    "lorenz float6_e3m2fn sat=False sr": "a8009b7d167cbf54",
    "lorenz float6_e3m2fn sat=False sro N=4": "a8009b7d167cbf54",
    "lorenz float6_e3m2fn sat=True rne": "a8009b7d167cbf54",
    "lorenz float6_e3m2fn sat=True sr": "a8009b7d167cbf54",
    "lorenz float6_e3m2fn sat=True sro N=4": "a8009b7d167cbf54",
    "lorenz float8_e4m3fn sat=False rne": "a647b86ac04989c9",
    "lorenz float8_e4m3fn sat=False sr": "a647b86ac04989c9",
    "lorenz float8_e4m3fn sat=False sro N=4": "a647b86ac04989c9",
    "lorenz float8_e4m3fn sat=True rne": "df3ef24d21353a1f",
    "lorenz float8_e4m3fn sat=True sr": "72583552344bab42",
    "lorenz float8_e4m3fn sat=True sro N=4": "793c3081db49e0c6",
    "lorenz float8_e5m2 sat=False rne": "a8009b7d167cbf54",
    "lorenz float8_e5m2 sat=False sr": "9004f565e3cd6d38",
    "lorenz float8_e5m2 sat=False sro N=4": "767e3d567c843ad0",
    "lorenz float8_e5m2 sat=True rne": "a8009b7d167cbf54",
    "lorenz float8_e5m2 sat=True sr": "9004f565e3cd6d38",
    "lorenz float8_e5m2 sat=True sro N=4": "767e3d567c843ad0",
    "lorenz sbits=1 rne": "961e662cd00d974b",
    "lorenz sbits=1 sr": "963cd9ff941f4b52",
    "lorenz sbits=10 rne": "f4222e5b2309b533",
    "lorenz sbits=10 sr": "ff1fbdd176dd7cb6",
    "lorenz sbits=12 src N=32": "ad6a7810101bc73a",
    "lorenz sbits=12 src N=8": "ad6a7810101bc73a",
    "lorenz sbits=12 srf N=1": "fb5db56e5f7c649c",
    "lorenz sbits=12 srf N=5": "aa60253300d8b636",
    "lorenz sbits=12 srff N=3": "91b3951da4b39eec",
    "lorenz sbits=12 sro N=2": "2b74da7e29563c46",
    "lorenz sbits=16 rne": "a2adc8438f750f30",
    "lorenz sbits=16 sr": "54604c8d66566ae3",
    "lorenz sbits=2 rne": "a8009b7d167cbf54",
    "lorenz sbits=2 sr": "120f8b6ea5eb6d71",
    "lorenz sbits=23 rne": "6ffed3962da58f66",
    "lorenz sbits=23 sr": "006178e65afe19ec",
    "lorenz sbits=4 src N=32": "2bae211684a174ec",
    "lorenz sbits=4 src N=8": "2bae211684a174ec",
    "lorenz sbits=4 srf N=1": "ce7935cee1a91890",
    "lorenz sbits=4 srf N=5": "853db717d4198d06",
    "lorenz sbits=4 srff N=3": "cd4ae7f586312fd0",
    "lorenz sbits=4 sro N=2": "e9d5e5f40ce96acb",
    "lorenz sbits=40 rne": "ce7d7422ee2d21b6",
    "lorenz sbits=40 sr": "b3dfa7494b6e8274",
    "lorenz sbits=5 rne": "d8f84d85694e6830",
    "lorenz sbits=5 sr": "4e4e3c5e1e58b9bf",
    "lorenz sbits=51 rne": "bdf472086fad88b1",
    "lorenz sbits=51 sr": "09ca3055d52fd1b9",
    "lorenz sbits=7 rne": "b7c7dab67439d820",
    "lorenz sbits=7 sr": "edbd59d0f189ccce",
    "lorenz sbits=7 sr seed=0": "bc44b7906e4e2008",
    "lorenz sbits=7 sr seed=1099511627779": "a8bce5d25aadde21",
    "lorenz sbits=7 sr seed=9": "cf9aacc198a58743",
    "lorenz sbits=7 src N=32": "4a671129dfde8a1f",
    "lorenz sbits=7 src N=8": "60c49552efdf59ae",
    "lorenz sbits=7 src N=8 seed=0": "ddd62d7e6c1332a6",
    "lorenz sbits=7 src N=8 seed=1099511627779": "55f4a7b674654a23",
    "lorenz sbits=7 src N=8 seed=9": "42271f0f6a6bde8d",
    "lorenz sbits=7 srf N=1": "c535afe202abff1e",
    "lorenz sbits=7 srf N=5": "1171de038ee6d8d4",
    "lorenz sbits=7 srff N=3": "5e03228a7ddba39d",
    "lorenz sbits=7 sro N=2": "091a651bf997ece8",
    "round bfloat16 sat=False rne": "797a1c3e4c00ed2a",
    "round bfloat16 sat=False sr": "6c69e5ed243435e5",
    "round bfloat16 sat=False src": "1a52be1e91cff6b2",
    "round bfloat16 sat=False srff": "4152470dc9dfbc08",
    "round bfloat16 sat=True rne": "f76165443dbb22b9",
    "round bfloat16 sat=True sr": "96e6fa6159ff168f",
    "round bfloat16 sat=True src": "ed4de0fa43e1e392",
    "round bfloat16 sat=True srff": "3ec41426bb3cab9e",
    "round e3m0 sat=False rne": "73ffaaa8345fff69",
    "round e3m0 sat=False sr": "d560a257328760a9",
    "round e3m0 sat=False src": "984578ea0dffa203",
    "round e3m0 sat=False srff": "36fcf1a9d9715f47",
    "round e3m0 sat=True rne": "ba9410f084dd0107",
    "round e3m0 sat=True sr": "af5537eb0bbb127b",
    "round e3m0 sat=True src": "1244b356c4e4d2d1",
    "round e3m0 sat=True srff": "3a31c58bbdcfa507",
    "round float16 sat=False rne": "679b3601b4e13b1d",
    "round float16 sat=False sr": "70aaa8cb9b4de8aa",
    "round float16 sat=False src": "75d9a83bd4269cfe",
    "round float16 sat=False srff": "43613d1fa27ed0ff",
    "round float16 sat=True rne": "0233ad5f555b34cb",
    "round float16 sat=True sr": "2e0938e7267ec0f0",
    "round float16 sat=True src": "78072673d7b3ba34",
    "round float16 sat=True srff": "ebfd3cfc51ebf7c3",
    "round float4_e2m1fn sat=False rne": "6b0cb294ca5808c7",
    "round float4_e2m1fn sat=False sr": "92ba2d442fdb5dce",
    "round float4_e2m1fn sat=False src": "7fcbf76794179726",
    "round float4_e2m1fn sat=False srff": "b3612eedb2b99738",
    "round float4_e2m1fn sat=True rne": "6b0cb294ca5808c7",
    "round float4_e2m1fn sat=True sr": "92ba2d442fdb5dce",
    "round float4_e2m1fn sat=True src": "7fcbf76794179726",
    "round float4_e2m1fn sat=True srff": "b3612eedb2b99738",
    "round float8_e4m3fn sat=False rne": "60f4738477eccb24",
    "round float8_e4m3fn sat=False sr": "32936ef27a354de0",
    "round float8_e4m3fn sat=False src": "6d18e04b2f42f2d0",
    "round float8_e4m3fn sat=False srff": "19dfbedcd65f0b31",
    "round float8_e4m3fn sat=True rne": "3e2222548f258fdc",
    "round float8_e4m3fn sat=True sr": "8d26839257dec511",
    "round float8_e4m3fn sat=True src": "7940180cabe494a9",
    "round float8_e4m3fn sat=True srff": "7ad03065a6b7a1a1",
    "round float8_e5m2 sat=False rne": "735c7c3e39c6484f",
    "round float8_e5m2 sat=False sr": "9baf897b551c75e0",
    "round float8_e5m2 sat=False src": "1a1744aa34991e6d",
    "round float8_e5m2 sat=False srff": "2048bf6f3f5c37e2",
    "round float8_e5m2 sat=True rne": "6e3f800ba3c57476",
    "round float8_e5m2 sat=True sr": "2e44b131b900a52c",
    "round float8_e5m2 sat=True src": "49d4e21028d10637",
    "round float8_e5m2 sat=True srff": "d0393bc652454756",
    "round sbits=1 rne N=None seed=0": "0e8ff7e7abd0030b",
    "round sbits=1 sr N=None seed=1099511627779": "abd20b2517dce783",
    "round sbits=1 sr N=None seed=2": "dec9e2ab241956fa",
    "round sbits=1 src N=32 seed=1099511627779": "b7cbd54925d1438b",
    "round sbits=1 src N=32 seed=2": "3a6d3d53da07cc83",
    "round sbits=1 src N=8 seed=1099511627779": "9bbc7b923fcce91b",
    "round sbits=1 src N=8 seed=2": "8ed3b2a6421a5bee",
    "round sbits=1 srf N=1 seed=1099511627779": "f82e201dbf13aed5",
    "round sbits=1 srf N=1 seed=2": "cf2fa7b2f5f5f91e",
    "round sbits=1 srf N=5 seed=1099511627779": "3ed73cb37b859e15",
    "round sbits=1 srf N=5 seed=2": "fb52cb43d7d8ac5c",
    "round sbits=1 srff N=3 seed=1099511627779": "061a5f2e2d6710a6",
    "round sbits=1 srff N=3 seed=2": "b027e5081eb5a5eb",
    "round sbits=1 sro N=2 seed=1099511627779": "eebdb4f6a6ad8dfc",
    "round sbits=1 sro N=2 seed=2": "2da1e0a9bda2beb8",
    "round sbits=19 rne N=None seed=0": "0644ae25efd0dde4",
    "round sbits=19 sr N=None seed=1099511627779": "03d4c9bcd7abf2c2",
    "round sbits=19 sr N=None seed=2": "790b5bdd368688cc",
    "round sbits=19 src N=32 seed=1099511627779": "ba6f58a7177aa6fb",
    "round sbits=19 src N=32 seed=2": "6439277d6fbb25ac",
    "round sbits=19 src N=8 seed=1099511627779": "ba6f58a7177aa6fb",
    "round sbits=19 src N=8 seed=2": "6439277d6fbb25ac",
    "round sbits=19 srf N=1 seed=1099511627779": "7efc023d79f9f878",
    "round sbits=19 srf N=1 seed=2": "f47a24519f185103",
    "round sbits=19 srf N=5 seed=1099511627779": "6e6e06ba7fca67dd",
    "round sbits=19 srf N=5 seed=2": "f1eb45ba32d06f83",
    "round sbits=19 srff N=3 seed=1099511627779": "57b07a1ef1caa0bf",
    "round sbits=19 srff N=3 seed=2": "375b22fb7580fdf4",
    "round sbits=19 sro N=2 seed=1099511627779": "69aad6950b4078c2",
    "round sbits=19 sro N=2 seed=2": "ba2e00b291901c4b",
    "round sbits=20 rne N=None seed=0": "3a9e8df21ece5cf4",
    "round sbits=20 sr N=None seed=1099511627779": "081748a2ac6a0dc3",
    "round sbits=20 sr N=None seed=2": "16324a590437780e",
    "round sbits=20 src N=32 seed=1099511627779": "f7c74d27a77543cd",
    "round sbits=20 src N=32 seed=2": "cd89c747b961c5f7",
    "round sbits=20 src N=8 seed=1099511627779": "f7c74d27a77543cd",
    "round sbits=20 src N=8 seed=2": "cd89c747b961c5f7",
    "round sbits=20 srf N=1 seed=1099511627779": "b960efdd27eb7848",
    "round sbits=20 srf N=1 seed=2": "e35ae4d87bdca873",
    "round sbits=20 srf N=5 seed=1099511627779": "ff087997ae552f97",
    "round sbits=20 srf N=5 seed=2": "31ebc38f6f62f92a",
    "round sbits=20 srff N=3 seed=1099511627779": "d4e8d5eb51fbb1af",
    "round sbits=20 srff N=3 seed=2": "36a8c484857739c5",
    "round sbits=20 sro N=2 seed=1099511627779": "6cdb15a847bdcf35",
    "round sbits=20 sro N=2 seed=2": "93b297055da9bc40",
    "round sbits=21 rne N=None seed=0": "d097eda03a4630d7",
    "round sbits=21 sr N=None seed=1099511627779": "5b4c1cae575450f2",
    "round sbits=21 sr N=None seed=2": "6ac73b09884113b4",
    "round sbits=21 src N=32 seed=1099511627779": "a76783a4a234d5bd",
    "round sbits=21 src N=32 seed=2": "9ce4e5897c8eaee9",
    "round sbits=21 src N=8 seed=1099511627779": "d63cb79fb8e24daa",
    "round sbits=21 src N=8 seed=2": "9ce4e5897c8eaee9",
    "round sbits=21 srf N=1 seed=1099511627779": "937c7c79464c137f",
    "round sbits=21 srf N=1 seed=2": "74eba905fc160921",
    "round sbits=21 srf N=5 seed=1099511627779": "1ac56a7520cfec7f",
    "round sbits=21 srf N=5 seed=2": "6c429e1717a20a25",
    "round sbits=21 srff N=3 seed=1099511627779": "6579bef58976da55",
    "round sbits=21 srff N=3 seed=2": "a5fcb3fdd14c6777",
    "round sbits=21 sro N=2 seed=1099511627779": "a7b1af7d9ce2ab94",
    "round sbits=21 sro N=2 seed=2": "f1a7717de0396d75",
    "round sbits=23 rne N=None seed=0": "17f16183a79feae5",
    "round sbits=23 sr N=None seed=1099511627779": "4819ff9e4ac1cccf",
    "round sbits=23 sr N=None seed=2": "4602849366c6e8a7",
    "round sbits=23 src N=32 seed=1099511627779": "6ab5293b1f85c4a4",
    "round sbits=23 src N=32 seed=2": "35063c0f277e8792",
    "round sbits=23 src N=8 seed=1099511627779": "646ef6eb58b59b6d",
    "round sbits=23 src N=8 seed=2": "a73b64c029c4bff4",
    "round sbits=23 srf N=1 seed=1099511627779": "a157fb15dae35b41",
    "round sbits=23 srf N=1 seed=2": "8490959036b1a87d",
    "round sbits=23 srf N=5 seed=1099511627779": "4f674d720db2a917",
    "round sbits=23 srf N=5 seed=2": "576506687d4a35eb",
    "round sbits=23 srff N=3 seed=1099511627779": "4bd858cb7fc6b6eb",
    "round sbits=23 srff N=3 seed=2": "fcd1a06341efbe20",
    "round sbits=23 sro N=2 seed=1099511627779": "c6ee22dabe17a6f0",
    "round sbits=23 sro N=2 seed=2": "e9a778ad17a031eb",
    "round sbits=3 rne N=None seed=0": "68dd16dda5cc9667",
    "round sbits=3 sr N=None seed=1099511627779": "f99af51b5ab9eb32",
    "round sbits=3 sr N=None seed=2": "2daf191b19a96785",
    "round sbits=3 src N=32 seed=1099511627779": "0bf7490f2a037ad0",
    "round sbits=3 src N=32 seed=2": "1f6d6852e11162a3",
    "round sbits=3 src N=8 seed=1099511627779": "0bf7490f2a037ad0",
    "round sbits=3 src N=8 seed=2": "94b26b0a0af478cf",
    "round sbits=3 srf N=1 seed=1099511627779": "f6cfa7e188336665",
    "round sbits=3 srf N=1 seed=2": "9bb72673d883e5f7",
    "round sbits=3 srf N=5 seed=1099511627779": "3be04fc976d50de1",
    "round sbits=3 srf N=5 seed=2": "be3bb936f0ae7414",
    "round sbits=3 srff N=3 seed=1099511627779": "1f926552652bae7f",
    "round sbits=3 srff N=3 seed=2": "4b4054d91df3a00d",
    "round sbits=3 sro N=2 seed=1099511627779": "de38ee74d4a3cac7",
    "round sbits=3 sro N=2 seed=2": "2ef3307b320abe5a",
    "round sbits=40 rne N=None seed=0": "2d7893a4b2c77c0c",
    "round sbits=40 sr N=None seed=1099511627779": "6aa423c9cc1579b8",
    "round sbits=40 sr N=None seed=2": "8ea8ac8e778ef0d3",
    "round sbits=40 src N=32 seed=1099511627779": "c8c726f5db91dab3",
    "round sbits=40 src N=32 seed=2": "63551bacc55e81d6",
    "round sbits=40 src N=8 seed=1099511627779": "c8c726f5db91dab3",
    "round sbits=40 src N=8 seed=2": "90b3a32ab7e9f629",
    "round sbits=40 srf N=1 seed=1099511627779": "63a64981f72ff818",
    "round sbits=40 srf N=1 seed=2": "8e6557327032386a",
    "round sbits=40 srf N=5 seed=1099511627779": "eb39b1a78c6e689e",
    "round sbits=40 srf N=5 seed=2": "fb462905b1fd5d81",
    "round sbits=40 srff N=3 seed=1099511627779": "07e1daa7e2470487",
    "round sbits=40 srff N=3 seed=2": "6be7f10bf4cf4a73",
    "round sbits=40 sro N=2 seed=1099511627779": "1789cd7bca9f169f",
    "round sbits=40 sro N=2 seed=2": "df3e57e3c7ddc4ff",
    "round sbits=7 rne N=None seed=0": "7a0995745f265173",
    "round sbits=7 sr N=None seed=1099511627779": "50cdda1963e4a38d",
    "round sbits=7 sr N=None seed=2": "9cb94aa0a3f726c2",
    "round sbits=7 src N=32 seed=1099511627779": "c9a8b1c4fc918858",
    "round sbits=7 src N=32 seed=2": "7a1c357b0fe992ba",
    "round sbits=7 src N=8 seed=1099511627779": "c9a8b1c4fc918858",
    "round sbits=7 src N=8 seed=2": "7a1c357b0fe992ba",
    "round sbits=7 srf N=1 seed=1099511627779": "556a9ef8f435929c",
    "round sbits=7 srf N=1 seed=2": "5073e1f31357716d",
    "round sbits=7 srf N=5 seed=1099511627779": "149cce14d60b57b7",
    "round sbits=7 srf N=5 seed=2": "793e91614027c22d",
    "round sbits=7 srff N=3 seed=1099511627779": "31afc626ae8429fb",
    "round sbits=7 srff N=3 seed=2": "a7a8acc2adcfea4a",
    "round sbits=7 sro N=2 seed=1099511627779": "a2b2767f339bcb08",
    "round sbits=7 sro N=2 seed=2": "ca2d31a91142bfff",
    "sweep 2000 steps formats euler": "8e9ec41aaecbe298",
    "sweep 3000 steps": "29b9f3da21040a59",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_output_bits_unchanged(name: str) -> None:
    assert name in REFERENCE, f"no recorded digest for {name!r}"
    assert _digest(CASES[name]()) == REFERENCE[name]


def test_every_recorded_case_is_run() -> None:
    assert set(REFERENCE) == set(CASES)


def test_digest_sees_one_changed_bit() -> None:
    """The check can fail: flipping the lowest bit of one state changes the digest."""
    a = np.asarray(CASES["lorenz sbits=7 sr"]())
    b = a.copy()
    b.view(np.uint64)[700, 2] ^= np.uint64(1)
    assert _digest(a) != _digest(b)


if __name__ == "__main__":
    print("REFERENCE: dict[str, str] = {")
    for k in sorted(CASES):
        print(f"    {k!r}: {_digest(CASES[k]())!r},")
    print("}")
