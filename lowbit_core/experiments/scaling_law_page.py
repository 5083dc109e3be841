"""The Scaling laws page as Python: its URL schema and tidy tables (no Streamlit).

:class:`ScalingLawParams` is the page's URL schema; field bounds live in ``metadata`` in the
form :mod:`ui.params` reads (plain dicts, so the core imports nothing from ``ui``). The
functions below evaluate :mod:`.scaling_law` on the grids the page draws. Every number here is
the paper's fitted law, never a lab measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..formats import FORMATS
from . import scaling_law as law

__all__ = [
    "BLOCK_CHOICES",
    "CUSTOM",
    "DEFAULT_COMPARE",
    "FMT_CHOICES",
    "FORMAT_CHOICES",
    "LAB_FP4_RUNS",
    "NOT_PUBLISHED",
    "PUBLISHED",
    "LabRun",
    "Readout",
    "ScalingLawParams",
    "fp4_runs",
    "layout_by_bits",
    "loss_heatmap",
    "loss_vs_data",
    "precision_vs_compute",
    "precision_vs_data",
    "published_table",
    "readout",
]

#: element formats of the catalogue (signed floats; the unsigned scale formats are not elements)
FORMAT_CHOICES: tuple[str, ...] = tuple(k for k, f in FORMATS.items() if f.signed)
CUSTOM = "custom"  #: E and M from the sliders
FMT_CHOICES: tuple[str, ...] = (*FORMAT_CHOICES, CUSTOM)
BLOCK_CHOICES = ("32", "64", "128", "256", "512", "channel")  #: the fitted granularities
DEFAULT_COMPARE = ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float4_e2m1fn")
HEAT_E, HEAT_M = 9, 16  #: heat map over E = 0..8, M = 0..15 (float32's M = 23 is off the map)
C_GRID = np.logspace(19, 33, 57)  #: compute budgets (FLOPs) of the P_opt(C) chart
D_GRID = np.logspace(8, 16, 65)  #: token counts of the P_opt(D) chart


def _r(lo: float, hi: float) -> dict[str, float]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True)
class ScalingLawParams:
    """Everything the page shows, as it appears in a shared link.

    For a catalogue ``fmt`` the layout fields are set from the format (the link's ``ebits`` /
    ``mbits`` are then ignored), so the sliders always show the layout the law is given.
    """

    n_params: float = field(default=1e9, metadata=_r(1e3, 1e14))  #: N (the spec's checks: 1e9)
    tokens: float = field(default=1e11, metadata=_r(1e3, 1e17))  #: D (the checks: 1e11)
    fmt: str = field(default="float8_e4m3fn", metadata={"choices": FMT_CHOICES})
    ebits: int = field(default=4, metadata=_r(0, 8))  #: E (used as given when fmt = custom)
    mbits: int = field(default=3, metadata=_r(0, 23))  #: M (float32's 23 included)
    block: str = field(default="128", metadata={"choices": BLOCK_CHOICES})  #: B: the checks' 128
    #: formats drawn in the loss-vs-data chart (the page's own layout is always added)
    compare: tuple[str, ...] = field(
        default=DEFAULT_COMPARE, metadata={"choices": FORMAT_CHOICES, "min_len": 1, "max_len": 8}
    )

    def __post_init__(self) -> None:
        md = ScalingLawParams.__dataclass_fields__
        for name in ("fmt", "block"):
            if getattr(self, name) not in md[name].metadata["choices"]:
                raise ValueError(f"{name}={getattr(self, name)!r} is not a known option")
        for name in ("n_params", "tokens", "ebits", "mbits"):
            v, lim = getattr(self, name), md[name].metadata
            if not lim["min"] <= v <= lim["max"]:  # NaN fails too
                raise ValueError(f"{name}={v!r} out of range {lim['min']:g}..{lim['max']:g}")
        if not 1 <= len(self.compare) <= 8 or any(f not in FORMAT_CHOICES for f in self.compare):
            raise ValueError(f"compare={self.compare!r}: use 1 to 8 of {FORMAT_CHOICES}")
        if self.fmt == CUSTOM and self.ebits + self.mbits < 1:
            # P = E + M + 1 = 1 is a sign bit alone; the law's optimal-precision terms need
            # P >= 2 (a link or a client could send E = M = 0 and reach a traceback)
            raise ValueError(f"ebits={self.ebits} and mbits={self.mbits}: a custom layout needs "
                             "at least one exponent or mantissa bit (P = E + M + 1 >= 2)")
        if self.fmt != CUSTOM:
            f = FORMATS[self.fmt]
            object.__setattr__(self, "ebits", f.ebits)
            object.__setattr__(self, "mbits", f.mbits)

    @property
    def B(self) -> float | str:
        """The block size as the core takes it: a number or ``"channel"``."""
        return "channel" if self.block == "channel" else float(self.block)

    @property
    def bits(self) -> int:
        """P = E + M + 1 (sign bit included)."""
        return self.ebits + self.mbits + 1

    @property
    def label(self) -> str:
        return fmt_label(self.fmt, self.ebits, self.mbits)


def fmt_label(fmt: str, e: int, m: int) -> str:
    """``"E4M3 (float8_e4m3fn)"`` or ``"E4M3 (custom)"``."""
    return f"E{e}M{m} ({fmt})"


@dataclass(frozen=True)
class Readout:
    """The page's numbers for one :class:`ScalingLawParams`."""

    tokens: float  #: D (for :attr:`past`)
    loss: float  #: L
    terms: dict[str, float]  #: the four terms by name, in the law's order
    d_crit: float  #: D_crit for this N and layout
    n_eff: float  #: parameters of the penalty-free model with the same loss
    layout: law.Layout  #: the optimal split of this bit width
    layout_loss: float  #: L with that split's nearest integer layout
    compute: float  #: C = 6/16 · P · N · D
    envelope: dict[str, str]  #: :func:`~.scaling_law.outside_envelope`

    @property
    def past(self) -> bool:
        """Whether D is past D_crit (more data now raises the loss)."""
        return self.tokens > self.d_crit


def readout(p: ScalingLawParams) -> Readout:
    """The page's numbers for ``p``: loss and its terms, D_crit, N_eff, the optimal layout of
    this bit width and its loss, the envelope messages."""
    n, d, e, m, b = p.n_params, p.tokens, p.ebits, p.mbits, p.B
    t = law.loss_terms(n, d, e, m, b)
    lay = law.optimal_layout(p.bits)
    return Readout(
        tokens=d,
        loss=float(t.total),
        terms={
            "model n/N^α": float(t.model),
            "data d/D^β": float(t.data),
            "irreducible ε": float(t.irreducible),
            "precision penalty": float(t.precision),
        },
        d_crit=float(law.critical_data(n, e, m, b)),
        n_eff=float(law.effective_params_layout(n, d, e, m, b)),
        layout=lay,
        layout_loss=float(law.capybara_loss(n, d, lay.e_int, lay.m_int, b)),
        compute=6 / 16 * p.bits * n * d,
        envelope=law.outside_envelope(n, d, e, m, b),
    )


def _layouts(p: ScalingLawParams) -> list[tuple[str, int, int, bool]]:
    """(label, E, M, is the page's own) for the loss-vs-data chart, the page's layout first."""
    out = [(p.label, p.ebits, p.mbits, True)]
    for f in p.compare:
        fm = FORMATS[f]
        if (fm.ebits, fm.mbits) != (p.ebits, p.mbits):
            out.append((fmt_label(f, fm.ebits, fm.mbits), fm.ebits, fm.mbits, False))
    return out


def loss_vs_data(p: ScalingLawParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """L against D at the page's N and B for the page's layout and the compared formats
    (Fig. 6 kind): ``curves`` (format, E, M, current, D, loss) and ``crit`` (format, E, M,
    current, d_crit, loss_at_crit). The D axis spans every D_crit and the page's D."""
    lays = _layouts(p)
    e = np.array([x[1] for x in lays], dtype=float)
    m = np.array([x[2] for x in lays], dtype=float)
    dc = law.critical_data(p.n_params, e, m, p.B)
    lo = max(1e3, min(p.tokens, float(dc.min())) / 30)
    hi = min(1e20, max(p.tokens, float(dc.max())) * 30)
    dg = np.logspace(np.log10(lo), np.log10(hi), 160)
    loss = law.capybara_loss(p.n_params, dg[None, :], e[:, None], m[:, None], p.B)  # (fmt, D)
    names = [x[0] for x in lays]
    curves = pd.DataFrame(
        {
            "format": np.repeat(names, dg.size),
            "E": np.repeat(e, dg.size).astype(int),
            "M": np.repeat(m, dg.size).astype(int),
            "current": np.repeat([x[3] for x in lays], dg.size),
            "D": np.tile(dg, len(lays)),
            "loss": loss.ravel(),
        }
    )
    crit = pd.DataFrame(
        {
            "format": names,
            "E": e.astype(int),
            "M": m.astype(int),
            "current": [x[3] for x in lays],
            "d_crit": dc,
            "loss_at_crit": law.capybara_loss(p.n_params, dc, e, m, p.B),
        }
    )
    curves.attrs["n_params"], curves.attrs["block"] = p.n_params, p.block
    return curves, crit


def layout_by_bits(bits: range = range(2, 25)) -> pd.DataFrame:
    """The optimal layout per bit width (Fig. 5 kind): P, E_opt, M_opt (continuous), E_int,
    M_int (nearest integer) and its name."""
    pv = np.array(list(bits), dtype=float)
    lay = law.optimal_layout(pv)
    return pd.DataFrame(
        {
            "P": pv.astype(int),
            "E_opt": lay.e,
            "M_opt": lay.m,
            "E_int": lay.e_int,
            "M_int": lay.m_int,
            "layout": [f"E{a}M{b}" for a, b in zip(lay.e_int, lay.m_int, strict=True)],
        }
    )


def _blocks(block: str) -> list[str]:
    return [block] if block == "128" else [block, "128"]  # B = 128 is the paper's Fig. 7 setting


def precision_vs_compute(block: str, k: float = 6 / 16) -> pd.DataFrame:
    """P_opt, N* and D* against compute C (Fig. 7 kind) for the page's B and for B = 128:
    block, C, P_opt, N_opt, D_opt."""
    rows = []
    for b in _blocks(block):
        bb: float | str = "channel" if b == "channel" else float(b)
        pp, nn, dd = law.optimal_precision_compute(C_GRID, bb, k)
        rows.append(pd.DataFrame({"block": b, "C": C_GRID, "P_opt": pp, "N_opt": nn, "D_opt": dd}))
    return pd.concat(rows, ignore_index=True)


def precision_vs_data(block: str) -> pd.DataFrame:
    """P_opt(D) (Fig. 14 kind) for the page's B and for B = 128: block, D, P_opt."""
    rows = []
    for b in _blocks(block):
        bb: float | str = "channel" if b == "channel" else float(b)
        rows.append(
            pd.DataFrame({"block": b, "D": D_GRID, "P_opt": law.optimal_precision_data(D_GRID, bb)})
        )
    return pd.concat(rows, ignore_index=True)


def loss_heatmap(n_params: float, tokens: float, block: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """L over integer layouts E = 0..8, M = 0..15 at (N, D, B): ``grid`` (E, M, P, loss,
    penalty) and ``marks`` (the catalogue formats on the map: format, E, M, loss)."""
    bb: float | str = "channel" if block == "channel" else float(block)
    e, m = np.meshgrid(np.arange(HEAT_E), np.arange(HEAT_M), indexing="ij")
    t = law.loss_terms(n_params, tokens, e, m, bb)
    grid = pd.DataFrame(
        {
            "E": e.ravel(),
            "M": m.ravel(),
            "P": (e + m + 1).ravel(),
            "loss": np.asarray(t.total).ravel(),
            "penalty": np.asarray(t.precision).ravel(),
        }
    )
    seen: dict[tuple[int, int], list[str]] = {}
    for name in FORMAT_CHOICES:
        f = FORMATS[name]
        if f.ebits < HEAT_E and f.mbits < HEAT_M:
            seen.setdefault((f.ebits, f.mbits), []).append(name)
    em = np.array(list(seen), dtype=float).reshape(-1, 2)
    marks = pd.DataFrame(
        {
            "format": [" / ".join(v) for v in seen.values()],
            "E": em[:, 0].astype(int),
            "M": em[:, 1].astype(int),
            "loss": law.capybara_loss(n_params, tokens, em[:, 0], em[:, 1], bb),
        }
    )
    return grid, marks


@dataclass(frozen=True)
class LabRun:
    """One FP4 page task as the law sees it (sizes from lowbit_core.training.tasks)."""

    task: str  #: TASKS key
    n_params: int  #: trainable parameters of the task's model (tests count them)
    samples: int  #: steps × batch × tokens per sample of the default run
    unit: str  #: what one of ``samples`` is


#: The FP4 training page's default runs (tests recount N from the models and D from TASKS).
LAB_FP4_RUNS = (
    LabRun("regression", 6_337, 400 * 128, "samples"),
    LabRun("digits", 26_122, 500 * 64, "images"),
    LabRun("charlm", 113_480, 300 * 16 * 64, "tokens"),
)


def fp4_runs() -> pd.DataFrame:
    """What the law says about the lab's FP4 runs in E2M1 at MXFP4's B = 32: task, N, D,
    unit, loss, penalty, penalty share, D_crit, D / D_crit, N_eff / N."""
    n = np.array([r.n_params for r in LAB_FP4_RUNS], dtype=float)
    d = np.array([r.samples for r in LAB_FP4_RUNS], dtype=float)
    t = law.loss_terms(n, d, 2, 1, 32)
    dc = law.critical_data(n, 2, 1, 32)
    return pd.DataFrame(
        {
            "task": [r.task for r in LAB_FP4_RUNS],
            "N": n.astype(int),
            "D": d.astype(int),
            "unit": [r.unit for r in LAB_FP4_RUNS],
            "loss": t.total,
            "penalty": t.precision,
            "penalty_share": t.precision / t.total,
            "d_crit": dc,
            "D_over_d_crit": d / dc,
            "n_eff_over_n": law.effective_params_layout(n, d, 2, 1, 32) / n,
        }
    )


#: The paper's own numbers, each with where it is stated and what the law here needs to give it.
PUBLISHED: tuple[dict[str, str], ...] = (
    {"quantity": "D_crit, 1B model, BF16 (E8M7)", "paper": "1730T tokens", "check": "dcrit:8:7",
     "note": "the paper does not state B; B = 128 reproduces it [INFER]"},
    {"quantity": "D_crit, 1B model, FP8 E4M3", "paper": "27T tokens", "check": "dcrit:4:3",
     "note": "B = 128 [INFER]"},
    {"quantity": "D_crit, 1B model, FP4 E2M1", "paper": "0.4T tokens", "check": "dcrit:2:1",
     "note": "B = 128 [INFER]"},
    {"quantity": "optimal FP4 / FP8 / FP16 layouts", "paper": "E2M1 / E4M3 / E8M7",
     "check": "layouts", "note": "Eq. 19, rounded to integers"},
    {"quantity": "cost-optimal precision, C = 1e21…1e31", "paper": "4–8 bits (Fig. 7)",
     "check": "pc", "note": "B = 128, k = 6/16, read off a figure"},
)

NOT_PUBLISHED = (
    "Tensor-wise scaling: log2 B = N^ω/(ξ D^η), constants ω, ξ, η not in the text (the page "
    "offers block sizes and channel-wise only).",
    "The block size behind the D_crit example (1730T / 27T / 0.4T): B = 128 reproduces it.",
    "The model size of Fig. 6 (loss against data): N ≈ 1e8 reproduces its range, so that chart "
    "at N = 1e8 is the lab's reconstruction.",
    "The run losses behind Figs. 1, 3 and 4: those figures cannot be redrawn from the law.",
    "A readable Eq. 25 (compute-optimal precision): the printed one is garbled; the page "
    "minimises L over N and P (closed form, checked against a grid search).",
)


def published_table() -> pd.DataFrame:
    """:data:`PUBLISHED` with the value the law gives here beside each paper value."""
    rows = []
    for r in PUBLISHED:
        kind = r["check"]
        if kind.startswith("dcrit"):
            _, e, m = kind.split(":")
            here = f"{law.critical_data(1e9, int(e), int(m), 128) / 1e12:.4g}T tokens"
        elif kind == "layouts":
            lay = law.optimal_layout(np.array([4.0, 8.0, 16.0]))
            here = " / ".join(f"E{a}M{b}" for a, b in zip(lay.e_int, lay.m_int, strict=True))
        else:
            pp = law.optimal_precision_compute(np.array([1e21, 1e31]), 128)[0]
            here = f"{pp[0]:.2f}–{pp[1]:.2f} bits"
        rows.append({"quantity": r["quantity"], "paper says": r["paper"],
                     "the law here": here, "note": r["note"]})
    return pd.DataFrame(rows)
