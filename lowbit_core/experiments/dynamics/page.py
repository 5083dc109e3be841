"""The Low-precision dynamics page as Python: its URL schema and tidy results (no Streamlit).

:class:`DynamicsParams` is the page's URL schema: every field carries its bounds or options in
``metadata`` in the form :mod:`ui.params` reads (``{"min", "max"}``, ``{"choices"}``,
``{"choices", "min_len", "max_len"}``; written as plain dicts so the core imports nothing from
``ui``). The functions below turn it into the page's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cards import decay_ode, harmonic_bounds, harmonic_sum, heat_column
from .lorenz import LorenzParams, LorenzResult, climate_sweep, lorenz, w1
from .precision import FLOAT64

__all__ = [
    "COMPARE",
    "FMT_CHOICES",
    "LIBRARY_HEAT",
    "LIBRARY_W1",
    "MAX_POINTS",
    "SR_MODES",
    "DynamicsParams",
    "LorenzView",
    "heat",
    "heat_findings",
    "heat_from_library",
    "live_sweep",
    "load_library",
    "run",
    "stagnation",
]

ROOT = Path(__file__).resolve().parents[3]
LIBRARY_W1 = ROOT / "data" / "dynamics_w1.csv"  #: the W1 sweep at 1e6 steps (library.py)
LIBRARY_HEAT = ROOT / "data" / "dynamics_heat.csv"  #: the 60-year soil column (library.py)
#: "sbits" = stored bits with float64's exponent range; the rest are catalogue formats
FMT_CHOICES = ("sbits", "bfloat16", "float16", "float8_e5m2", "float8_e4m3fn", "float32")
SR_MODES = ("sr", "srff", "srf", "src", "sro")
COMPARE = ("float64", "rn", "sr")
MAX_POINTS = 20_000  #: points per attractor panel (the rest decimated by a fixed stride)
HIST_BINS = 80


def _r(lo: float, hi: float) -> dict[str, float]:
    return {"min": lo, "max": hi}


def _c(options: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"choices": options}


@dataclass(frozen=True)
class DynamicsParams:
    """Everything the page shows, as it appears in a shared link (lab settings are defaults)."""

    fmt: str = field(default="sbits", metadata=_c(FMT_CHOICES))  #: precision kind or format
    sbits: int = field(default=7, metadata=_r(4, 23))  #: stored bits when fmt = "sbits"
    sr_mode: str = field(default="sr", metadata=_c(SR_MODES))  #: what "SR" means here
    rbits: int = field(default=8, metadata=_r(1, 24))  #: random bits of the N-bit SR modes
    steps: int = field(default=100_000, metadata=_r(1000, 200_000))  #: live run length
    dt: float = field(default=0.008, metadata=_r(0.001, 0.02))  #: time step Δt
    scheme: str = field(default="rk4", metadata=_c(("rk4", "euler")))
    seed: int = field(default=0, metadata=_r(0, 2**31 - 1))  #: the SR run's stream
    #: runs drawn side by side (float64, round-to-nearest, stochastic rounding)
    compare: tuple[str, ...] = field(
        default=COMPARE, metadata={"choices": COMPARE, "min_len": 1, "max_len": None}
    )
    card_fmt: str = field(default="float16", metadata=_c(("float16", "bfloat16")))
    harmonic_n: int = field(default=200_000, metadata=_r(1000, 1_000_000))  #: terms summed
    card_seeds: int = field(default=3, metadata=_r(1, 10))  #: SR seeds of each card

    def __post_init__(self) -> None:
        for name in ("fmt", "sr_mode", "scheme", "card_fmt"):
            opts = DynamicsParams.__dataclass_fields__[name].metadata["choices"]
            if getattr(self, name) not in opts:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {opts}")
        for name in ("sbits", "rbits", "steps", "seed", "harmonic_n", "card_seeds", "dt"):
            md = DynamicsParams.__dataclass_fields__[name].metadata
            v = getattr(self, name)
            if not md["min"] <= v <= md["max"]:
                raise ValueError(f"{name}={v!r} out of range {md['min']}..{md['max']}")
        if not self.compare or any(c not in COMPARE for c in self.compare):
            raise ValueError(f"compare={self.compare!r}: use some of {COMPARE}")

    @property
    def rbits_used(self) -> int | None:
        return None if self.sr_mode == "sr" else self.rbits

    @property
    def precision_label(self) -> str:
        return f"{self.sbits} sbits" if self.fmt == "sbits" else self.fmt

    def lorenz_params(self, which: str) -> LorenzParams:
        """The core run behind one panel: ``which`` in :data:`COMPARE`."""
        fmt = "" if self.fmt == "sbits" else self.fmt
        base = LorenzParams(
            dt=self.dt, steps=self.steps, scheme=self.scheme, fmt=fmt, sbits=self.sbits
        )
        if which == "float64":
            return LorenzParams(dt=self.dt, steps=self.steps, scheme=self.scheme, fmt=FLOAT64)
        if which == "rn":
            return base
        if which == "sr":
            return LorenzParams(
                dt=self.dt,
                steps=self.steps,
                scheme=self.scheme,
                fmt=fmt,
                sbits=self.sbits,
                mode=self.sr_mode,
                rbits=self.rbits_used,
                seed=self.seed,
            )
        raise ValueError(f"which={which!r}: use one of {COMPARE}")


@dataclass(frozen=True)
class LorenzView:
    """The Lorenz part of the page as tidy tables."""

    trajectories: pd.DataFrame  #: run, step, x, y, z (at most MAX_POINTS rows per run)
    histograms: pd.DataFrame  #: run, var, lo, hi, density (the marginals, common bins)
    summary: pd.DataFrame  #: one row per run: W1 per variable, period, repeats, distinct


def _label(p: DynamicsParams, which: str) -> str:
    if which == "float64":
        return "float64"
    if which == "rn":
        return f"{p.precision_label}, RN"
    mode = p.sr_mode.upper() + ("" if p.sr_mode == "sr" else f" N={p.rbits}")
    return f"{p.precision_label}, {mode} seed {p.seed}"


def run(p: DynamicsParams) -> LorenzView:
    """The compared Lorenz runs (float64 always computed: it is the W1 reference).

    Raises:
        ValueError: as :class:`DynamicsParams` / :class:`LorenzParams`.
    """
    which = ["float64", *[w for w in COMPARE[1:] if w in p.compare]]
    res: dict[str, LorenzResult] = {w: lorenz(p.lorenz_params(w)) for w in which}
    ref = res["float64"].states
    stride = max(1, -(-ref.shape[0] // MAX_POINTS))
    edges = {
        j: np.linspace(ref[:, j].min() - 5, ref[:, j].max() + 5, HIST_BINS + 1) for j in range(3)
    }
    traj, hist, summ = [], [], []
    for w in which:
        s = res[w].states
        lab = _label(p, w)
        idx = np.arange(0, s.shape[0], stride)
        if w in p.compare:
            traj.append(
                pd.DataFrame(
                    {
                        "run": lab,
                        "kind": w,
                        "step": idx,
                        "x": s[idx, 0],
                        "y": s[idx, 1],
                        "z": s[idx, 2],
                    }
                )
            )
        for j, var in enumerate("xyz"):
            e = edges[j]
            dens, _ = np.histogram(np.clip(s[:, j], e[0], e[-1]), bins=e, density=True)
            hist.append(
                pd.DataFrame(
                    {"run": lab, "kind": w, "var": var, "lo": e[:-1], "hi": e[1:], "density": dens}
                )
            )
        r = res[w]
        tail = s[s.shape[0] // 2 :, 2]
        summ.append(
            {
                "run": lab,
                "kind": w,
                "w1_x": w1(s[:, 0], ref[:, 0]),
                "w1_y": w1(s[:, 1], ref[:, 1]),
                "w1_z": w1(s[:, 2], ref[:, 2]),
                "period": r.period,
                "first_repeat": r.first_repeat,
                "distinct": r.distinct,
                "states": s.shape[0],
                "z_std_tail": float(tail.std()),
                "stochastic": w == "sr",
                "sbits": res[w].stored_bits,
            }
        )
    return LorenzView(
        pd.concat(traj, ignore_index=True), pd.concat(hist, ignore_index=True), pd.DataFrame(summ)
    )


def live_sweep(p: DynamicsParams) -> pd.DataFrame:
    """The W1 sweep at the page's settings (RN once, SR with seeds 0..2, the float64 floor):
    48 runs of ``p.steps`` steps plus 3 floor runs."""
    base = LorenzParams(dt=p.dt, steps=p.steps, scheme=p.scheme, rbits=p.rbits_used)
    return climate_sweep(base, modes=("rne", p.sr_mode), seeds=(0, 1, 2), floor=3)


def load_library() -> pd.DataFrame:
    """The shipped W1 sweep (1e6 RK4 steps, lab settings); empty frame if the file is absent."""
    if not LIBRARY_W1.is_file():
        return pd.DataFrame(
            columns=[
                "precision",
                "fmt",
                "sbits",
                "mode",
                "seed",
                "w1_x",
                "w1_y",
                "w1_z",
                "z_std_tail",
                "steps",
            ]
        )
    return pd.read_csv(LIBRARY_W1, keep_default_na=False)


def stagnation(p: DynamicsParams) -> dict[str, pd.DataFrame]:
    """The harmonic-sum and decay-ODE cards: ``harmonic`` (n, run, sum, exact, rel_err, on a
    log-spaced subset of n), ``bounds`` and ``decay`` tables."""
    n = p.harmonic_n
    seeds = tuple(range(p.card_seeds))
    keep = np.unique(np.round(np.logspace(0, np.log10(n), 600)).astype(np.int64)) - 1
    rn = harmonic_sum(n, p.card_fmt)
    from .precision import Precision

    terms = Precision(fmt=p.card_fmt).nearest(1.0 / np.arange(1, n + 1))
    exact = np.cumsum(terms)  # the sum of the rounded terms in float64 (as test_sum.m)
    rows = [pd.DataFrame({"n": keep + 1, "run": "RN", "sum": rn[keep]})]
    for s in seeds:
        sr = harmonic_sum(n, p.card_fmt, p.sr_mode, p.rbits_used, seed=s)
        rows.append(pd.DataFrame({"n": keep + 1, "run": f"SR seed {s}", "sum": sr[keep]}))
    harm = pd.concat(rows, ignore_index=True)
    harm["exact"] = exact[harm["n"].to_numpy() - 1]
    harm["rel_err"] = np.abs(harm["sum"] - harm["exact"]) / harm["exact"]
    stop = np.flatnonzero(np.diff(rn) == 0)
    harm.attrs["rn_stop_n"] = int(stop[0]) + 2 if stop.size else None
    harm.attrs["rn_stop_sum"] = float(rn[stop[0]]) if stop.size else None
    return {
        "harmonic": harm,
        "bounds": harmonic_bounds(keep + 1, p.card_fmt),
        "decay": _decay(p, seeds),
    }


def _decay(p: DynamicsParams, seeds: tuple[int, ...]) -> pd.DataFrame:
    rn = decay_ode(p.card_fmt, "rne")
    sr = decay_ode(p.card_fmt, p.sr_mode, p.rbits_used, seeds=seeds)
    return pd.concat([rn, sr[sr["run"] != "float64"]], ignore_index=True)


def heat(p: DynamicsParams, years: float = 60.0) -> dict[str, pd.DataFrame]:
    """The soil column in ``p.card_fmt`` (RN and SR with ``p.card_seeds`` seeds): ``profile``
    and ``mean`` tables (about 1e6 steps × 61 cells a run: seconds, so the page runs it on
    request and otherwise shows the shipped library when its settings match)."""
    seeds = tuple(range(p.card_seeds))
    prof_rn, mean_rn = heat_column(p.card_fmt, "rne", seeds=(0,), years=years)
    prof_sr, mean_sr = heat_column(p.card_fmt, p.sr_mode, p.rbits_used, seeds=seeds, years=years)
    prof = pd.concat([prof_rn, prof_sr[prof_sr["run"] != "float64"]], ignore_index=True)
    mean = pd.concat([mean_rn, mean_sr[mean_sr["run"] != "float64"]], ignore_index=True)
    return {"profile": prof.assign(fmt=p.card_fmt), "mean": mean.assign(fmt=p.card_fmt)}


def heat_from_library(lib: pd.DataFrame, p: DynamicsParams) -> dict[str, pd.DataFrame] | None:
    """The shipped soil column for ``p`` (its format, exact SR, seeds 0..card_seeds-1), or None
    when the library does not hold those settings."""
    if p.sr_mode != "sr" or lib.empty:
        return None
    d = lib[(lib["fmt"] == p.card_fmt) & (lib["sr_mode"] == "sr")]
    keep = ["float64", "RN", *[f"SR seed {s}" for s in range(p.card_seeds)]]
    if d.empty or not set(keep) <= set(d["run"]):
        return None
    d = d[d["run"].isin(keep)]
    prof = d[d["table"] == "profile"][["depth_m", "run", "T", "fmt"]].reset_index(drop=True)
    mean = d[d["table"] == "mean"][["years", "run", "T_mean", "fmt"]].reset_index(drop=True)
    return {"profile": prof, "mean": mean}


def heat_findings(mean: pd.DataFrame) -> pd.DataFrame:
    """Final depth-mean temperature per run and its difference from float64 (K)."""
    last = mean.sort_values("years").groupby("run", sort=False)["T_mean"].last()
    ref = float(last["float64"])
    return pd.DataFrame(
        {
            "run": last.index,
            "T_mean_final": last.to_numpy(),
            "diff_vs_float64": last.to_numpy() - ref,
        }
    )
