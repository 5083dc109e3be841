"""Pure data helpers and plotly builders for the Formats page (no Streamlit import).

Every number shown comes from :mod:`lowbit_core` (``decode``, ``quantize``, ``round_distribution``);
the helpers here only walk the code space. They work for any :class:`FloatFormat` of any width
(float32 included), because they never build a full code table: a value's *ordinal* is its
magnitude code with the value's sign (sign-magnitude codes of one sign are in value order), so
neighbours and zoom windows are integer arithmetic on ordinals, decoded by ``lowbit_core.decode``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lowbit_core.blocks import PRESETS, ScaleRule, quantize_blocks
from lowbit_core.formats import FloatFormat, Format, IntFormat, Specials, decode, get_format
from lowbit_core.rounding import quantize, round_distribution

__all__ = [
    "CLASS_COLORS",
    "FIELD_COLORS",
    "CodeInfo",
    "Stored",
    "bit_fields",
    "block_demo",
    "block_error_figure",
    "carry_code",
    "code_info",
    "code_of",
    "mag_code",
    "number_line",
    "number_line_figure",
    "ordinal_range",
    "properties",
    "rounding_bins",
    "short",
    "step_code",
    "stored",
    "stored_table",
    "value_at",
    "value_table",
    "value_table_html",
    "window",
]

#: Colours of the bit fields (the widgets use the Streamlit markdown names of the same hues).
FIELD_COLORS = {"sign": "red", "exponent": "green", "mantissa": "blue"}
#: Colours of the value classes, used in the table and on the number line.
CLASS_COLORS = {
    "zero": "#7f7f7f",
    "subnormal": "#ff7f0e",
    "normal": "#1f77b4",
    "inf": "#d62728",
    "NaN": "#9467bd",
}


# --- codes and ordinals ---------------------------------------------------------------------------


def mag_code(f: FloatFormat, a: np.ndarray | float) -> np.ndarray:
    """Code (sign bit clear) of representable magnitudes ``a >= 0`` (int64), by arithmetic.

    ``a = 2^e * 1.M`` gives exponent field ``e + bias``; below ``2^emin`` it is the subnormal
    ``2^emin * 0.M`` with field 0. Only exact for values on the grid (tests check every code).
    """
    a = np.abs(np.asarray(a, dtype=np.float64))
    _, ex = np.frexp(a)
    e = ex.astype(np.int64) - 1  # a in [2^e, 2^(e+1))
    sub = e < f.emin
    efield = np.where(sub, 0, e + f.bias)
    shift = np.where(sub, f.emin - f.mbits, e - f.mbits).astype(np.int32)
    sig = np.ldexp(a, -shift)  # integer significand, hidden bit included for normals
    mfield = np.where(sub, sig, sig - (1 << f.mbits)).astype(np.int64)
    code = (efield << f.mbits) | mfield
    return np.where(a == 0, 0, code).astype(np.int64)


def ordinal_range(f: FloatFormat) -> tuple[int, int]:
    """Smallest and largest ordinal of a finite value: ``(-K, K)`` or ``(0, K)`` if unsigned."""
    k = int(mag_code(f, f.max))
    return (-k if f.signed else 0), k


def value_at(f: FloatFormat, k: np.ndarray | int) -> np.ndarray:
    """Decoded value of ordinals ``k``: decode of the magnitude code, with the ordinal's sign."""
    k = np.asarray(k, dtype=np.int64)
    mag = decode(f, np.abs(k))
    return np.where(k < 0, -mag, mag)


def _ordinal(f: FloatFormat, v: float) -> int:
    """Ordinal of the largest representable value <= v (v clamped to the finite range)."""
    lo, hi = ordinal_range(f)
    if math.isnan(v):
        return lo
    q = float(quantize(np.array([v]), f, "rdn", backend="numpy")[0])  # saturating: stays finite
    k = int(mag_code(f, q))
    return max(lo, min(hi, -k if q < 0 else k))


def window(f: FloatFormat, center: float, count: int) -> tuple[np.ndarray, bool]:
    """The ``count`` consecutive representable values around ``center`` (sorted), and whether
    they are all the finite values of the format."""
    lo, hi = ordinal_range(f)
    k0 = _ordinal(f, center)
    start = max(lo, min(k0 - count // 2, hi - count + 1))
    stop = min(hi, start + count - 1)
    return value_at(f, np.arange(start, stop + 1)), (start == lo and stop == hi)


def step_code(f: FloatFormat, code: int, step: int) -> int:
    """Code of the ``step``-th representable neighbour (+1 next up, -1 next down) of a finite
    code; NaN and infinity codes and the ends of the range stay put."""
    v = float(decode(f, code))
    if not math.isfinite(v):
        return code
    lo, hi = ordinal_range(f)
    k = _ordinal(f, v) + step
    if not lo <= k <= hi:
        return code
    mag = int(mag_code(f, abs(float(value_at(f, k)))))
    return mag | ((1 << (f.bits - 1)) if k < 0 else 0)


def code_of(f: FloatFormat, v: float) -> int:
    """Code of a value the format holds (NaN and infinities included), for any width."""
    if math.isnan(v):
        if not f.has_nan:
            return 0
        if f.specials is Specials.FNUZ:
            return 1 << (f.bits - 1)
        return (1 << (f.ebits + f.mbits)) - 1  # the positive all-ones NaN (IEEE and fn)
    sign = (1 << (f.bits - 1)) if (f.signed and math.copysign(1.0, v) < 0) else 0
    if math.isinf(v):
        return sign | (((1 << f.ebits) - 1) << f.mbits)
    if sign and v == 0 and not f.has_neg_zero:
        sign = 0
    return sign | int(mag_code(f, abs(v)))


def carry_code(old: FloatFormat, new: FloatFormat, code: int) -> int:
    """Carry the bit view across a format change: round the old value into the new format
    (nearest-even; overflow gives inf where the new format has it, else saturates) and return
    its code."""
    v = float(decode(old, min(code, old.num_codes - 1)))
    if not math.isfinite(v) and not (math.isinf(v) and new.has_inf):
        v = v if math.isnan(v) else math.copysign(new.max, v)
    q = float(quantize(np.array([v]), new, "rne", saturate=not new.has_inf, backend="numpy")[0])
    return code_of(new, q)


# --- the bit view ---------------------------------------------------------------------------------


def bit_fields(f: FloatFormat) -> list[tuple[str, str]]:
    """(field, caption) of each bit, most significant first: ("sign", "s"), ("exponent", "e3")."""
    out = [("sign", "s")] if f.signed else []
    out += [("exponent", f"e{i}") for i in range(f.ebits - 1, -1, -1)]
    out += [("mantissa", f"m{i}") for i in range(f.mbits - 1, -1, -1)]
    return out


@dataclass(frozen=True)
class CodeInfo:
    """Everything the bit view says about one code point."""

    code: int
    bits: str  #: the bit pattern, most significant bit first
    sign: int
    efield: int
    mfield: int
    value: float
    kind: str  #: zero, subnormal, normal, inf or NaN
    formula: str  #: LaTeX: (-1)^s * 2^(E - bias) * 1.m = value
    exact: str  #: exact decimal expansion of the stored binary value


def exact_decimal(v: float) -> str:
    """Exact decimal expansion of a binary float (every binary fraction ends in decimal)."""
    if not math.isfinite(v):
        return str(v)
    s = format(Decimal(v), "f")
    return "-0" if (v == 0 and math.copysign(1.0, v) < 0) else s


def code_info(f: FloatFormat, code: int) -> CodeInfo:
    """Decode one code for the bit view (any width; values from ``lowbit_core.decode``)."""
    v = float(decode(f, code))
    sign = (code >> (f.bits - 1)) & 1 if f.signed else 0
    efield = (code >> f.mbits) & ((1 << f.ebits) - 1)
    mfield = code & ((1 << f.mbits) - 1)
    if math.isnan(v):
        kind = "NaN"
    elif math.isinf(v):
        kind = "inf"
    elif v == 0:
        kind = "zero"
    elif efield == 0 and f.subnormals and f.has_zero:
        kind = "subnormal"
    else:
        kind = "normal"
    mbin = format(mfield, f"0{f.mbits}b") if f.mbits else ""
    s = f"(-1)^{{{sign}}} \\cdot " if f.signed else ""
    if kind in ("NaN", "inf"):
        rhs = "\\mathrm{NaN}" if kind == "NaN" else ("-" if v < 0 else "+") + "\\infty"
        formula = f"E={efield}\\ (\\text{{reserved}}) \\Rightarrow {rhs}"
    else:
        normal = kind != "subnormal" and not (efield == 0 and f.has_zero)
        lead, e = ("1", efield - f.bias) if normal else ("0", 1 - f.bias)
        estr = f"{efield}-{f.bias}" if normal else f"1-{f.bias}"
        sig = f"{lead}.{mbin}_2" if mbin else f"{lead}_2"
        sig_val = Fraction(int(lead + mbin, 2), 1 << f.mbits)
        minus = "-" if sign else ""
        # a long significand breaks the line, so a phone shows the whole formula
        brk = " \\\\ " if f.mbits > 10 else " "
        formula = (
            f"{s}2^{{{estr}}}{brk}\\cdot {sig}{brk}= {minus}2^{{{e}}} \\cdot {_frac_str(sig_val)}"
            f" = {short(v)}"
        )
    return CodeInfo(
        code=code, bits=format(code, f"0{f.bits}b"), sign=sign, efield=efield, mfield=mfield,
        value=v, kind=kind, formula=formula, exact=exact_decimal(v),
    )


def _frac_str(q: Fraction) -> str:
    if q.denominator <= 1 << 12:
        return str(float(q))
    return f"\\tfrac{{{q.numerator}}}{{{q.denominator}}}"


def short(v: float) -> str:
    """Shortest round-trip decimal, with -0 kept."""
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return repr(v) if abs(v) < 1e16 else f"{v:.17g}"


# --- a typed real number ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """What happens to a typed real number in a format under a rounding mode."""

    x: float
    lo: float  #: lower candidate (for deterministic modes lo == hi == the stored value)
    hi: float
    p_hi: float  #: probability of hi (0 or 1 for deterministic modes)
    ulp: float  #: gap between the representable magnitudes bracketing |x|
    next_down: float  #: neighbours of the (most likely) stored value; nan at the end
    next_up: float
    overflow: str  #: "" or what a non-saturating cast gives for |x| > max

    @property
    def value(self) -> float:
        """The stored value (the more likely candidate for stochastic rounding)."""
        return self.hi if self.p_hi > 0.5 else self.lo

    @property
    def abs_err(self) -> float:
        return abs(self.value - self.x)

    @property
    def rel_err(self) -> float:
        return self.abs_err / abs(self.x) if self.x != 0 else math.nan


def stored(f: FloatFormat, x: float, mode: str) -> Stored:
    """Round ``x`` into ``f`` (saturating) with ``mode``; the exact SR distribution for ``sr``."""
    xa = np.array([x])
    if mode == "sr":
        d = round_distribution(xa, f, "sr")
        lo, hi, p = float(d.lo[0]), float(d.hi[0]), float(d.p_hi[0])
    else:
        lo = hi = float(quantize(xa, f, mode, backend="numpy")[0])
        p = 0.0
    val = hi if p > 0.5 else lo
    lo_k, hi_k = ordinal_range(f)
    k = _ordinal(f, val)
    nd = float(value_at(f, k - 1)) if k > lo_k else math.nan
    nu = float(value_at(f, k + 1)) if k < hi_k else math.nan
    # |x| clamped to the grid from below
    a_lo = float(quantize(np.abs(xa), f, "rdn", backend="numpy")[0])
    ka = _ordinal(f, a_lo)
    ka = min(ka, hi_k - 1)
    ulp = float(value_at(f, ka + 1) - value_at(f, ka))
    over = ""
    if abs(x) > f.max and (x > 0 or f.signed):
        c = float(quantize(xa, f, "rne", saturate=False, backend="numpy")[0])
        over = f"|x| > max = {short(f.max)}: saturating gives ±max; a plain cast gives {short(c)}"
    return Stored(x, lo, hi, p, ulp, nd, nu, over)


def stored_table(s: Stored) -> pd.DataFrame:
    """The typed-number report as a two-column table of display strings."""
    def end(v: float) -> str:
        return "— (end of the range)" if math.isnan(v) else short(v)

    rel = "—" if math.isnan(s.rel_err) else f"{s.rel_err:.6g}"
    rows = [("x (as typed, float64)", short(s.x)), ("stored value", short(s.value)),
            ("absolute error", f"{s.abs_err:.6g}"), ("relative error", rel),
            ("ulp at x", short(s.ulp)), ("next down", end(s.next_down)),
            ("next up", end(s.next_up))]
    return pd.DataFrame(rows, columns=["quantity", "value"])


# --- number line and rounding bins ----------------------------------------------------------------


def rounding_bins(f: FloatFormat, values: np.ndarray, mode: str) -> pd.DataFrame:
    """The interval of reals that round to each value of a sorted window (saturating rounding).

    Columns: ``value``, ``lo``, ``hi`` (±inf at the ends of the format), ``lo_closed``,
    ``hi_closed``. Nearest modes cut at midpoints (the tie goes to the even code for rne, away
    from zero for rna); rtz/rup/rdn give half-open intervals reaching the next value; for ``sr``
    ``lo``/``hi`` are the neighbours: every real strictly between them can round to the value,
    with probability falling linearly from 1 at the value to 0 at the neighbours.
    """
    v = np.asarray(values, dtype=np.float64)
    lo_k, hi_k = ordinal_range(f)
    k = np.array([_ordinal(f, float(t)) for t in v[[0, -1]]])
    prev = np.concatenate([[value_at(f, k[0] - 1) if k[0] > lo_k else -np.inf], v[:-1]])
    nxt = np.concatenate([v[1:], [value_at(f, k[1] + 1) if k[1] < hi_k else np.inf]])
    n = v.size
    if mode in ("rne", "rna"):
        lo, hi = (prev + v) / 2, (v + nxt) / 2
        if mode == "rne":
            even = (mag_code(f, v) & 1) == 0
            lo_c, hi_c = even.copy(), even.copy()
        else:  # ties away from zero: the tie belongs to the larger magnitude
            lo_c, hi_c = v > 0, v < 0
        lo_c |= np.isinf(lo)
        hi_c |= np.isinf(hi)
    elif mode == "rtz":
        lo = np.where(v > 0, v, prev)
        hi = np.where(v < 0, v, nxt)
        lo_c, hi_c = v > 0, v < 0
    elif mode == "rup":
        lo, hi = prev, v.copy()
        lo_c, hi_c = np.zeros(n, bool), np.ones(n, bool)
    elif mode == "rdn":
        lo, hi = v.copy(), nxt
        lo_c, hi_c = np.ones(n, bool), np.zeros(n, bool)
    elif mode == "sr":
        lo, hi = prev, nxt
        lo_c, hi_c = np.zeros(n, bool), np.zeros(n, bool)
    else:
        raise ValueError(f"unknown rounding mode {mode!r} for rounding bins")
    # saturating rounding: the end values own everything beyond them
    lo = np.where(np.arange(n) == 0, np.where(prev == -np.inf, -np.inf, lo), lo)
    hi = np.where(np.arange(n) == n - 1, np.where(nxt == np.inf, np.inf, hi), hi)
    return pd.DataFrame({"value": v, "lo": lo, "hi": hi, "lo_closed": lo_c, "hi_closed": hi_c})


def number_line(
    f: FloatFormat, center: float, count: int, mode: str, log_view: bool
) -> tuple[pd.DataFrame, bool]:
    """The rounding bins of the window of ``count`` values around ``center`` (log view: the
    positive ones), and whether the window holds every finite value of the format."""
    vals, complete = window(f, center, count)
    bins = rounding_bins(f, vals, mode)
    bins["class"] = [_kind(f, float(t)) for t in bins["value"]]
    if log_view:
        bins = bins[bins["value"] > 0].reset_index(drop=True)
    return bins, complete


def _kind(f: FloatFormat, v: float) -> str:
    if v == 0:
        return "zero"
    return "subnormal" if (abs(v) < f.min_normal and f.subnormals) else "normal"


def number_line_figure(
    bins: pd.DataFrame, mode: str, log_view: bool, x: float | None = None, title: str = ""
) -> go.Figure:
    """Representable values (markers, coloured by class) over their rounding bins.

    The y axis is P(a real at this position rounds to the value): 1 on the bin for the
    deterministic modes, a ramp for stochastic rounding. Bins alternate two shades. Traces:
    two bin traces (even and odd positions), one marker trace per class present, then ``x``.
    """
    data: list[dict[str, object]] = []
    xrange = None
    if len(bins):
        v, lo, hi = bins["value"].to_numpy(), bins["lo"].to_numpy(), bins["hi"].to_numpy()
        span = _span(v, log_view)
        lo_d, hi_d = np.clip(lo, *span), np.clip(hi, *span)
        xrange = [math.log10(t) for t in span] if log_view else list(span)
        for parity, shade in ((0, "rgba(31,119,180,0.22)"), (1, "rgba(255,127,14,0.22)")):
            i = np.arange(parity, len(v), 2)
            nan = np.full(i.size, np.nan)
            if mode == "sr":  # triangles: P = 1 at the value, 0 at the neighbours
                xs = np.stack([lo_d[i], v[i], hi_d[i], nan], axis=1)
                ys = np.tile([0.0, 1.0, 0.0, np.nan], (i.size, 1))
            else:  # rectangles: P = 1 on the bin
                xs = np.stack([lo_d[i], lo_d[i], hi_d[i], hi_d[i], lo_d[i], nan], axis=1)
                ys = np.tile([0.0, 1.0, 1.0, 0.0, 0.0, np.nan], (i.size, 1))
            data.append({
                "type": "scatter", "x": xs.ravel(), "y": ys.ravel(), "mode": "lines",
                "fill": "toself", "fillcolor": shade, "line": {"width": 0.5},
                "name": "rounding bins" if parity == 0 else "(next bin)", "hoverinfo": "skip",
                "showlegend": parity == 0,
            })
        kinds = bins["class"].to_numpy()
        for cls, colour in CLASS_COLORS.items():
            sel = kinds == cls
            if sel.any():
                data.append({
                    "type": "scatter", "x": v[sel], "y": np.ones(int(sel.sum())),
                    "mode": "markers", "name": cls,
                    "marker": {"color": colour, "size": 7,
                               "line": {"width": 0.5, "color": "white"}},
                    "customdata": np.stack([lo[sel], hi[sel]], axis=1),
                    "hovertemplate": "%{x:.10g}<br>bin %{customdata[0]:.6g} … %{customdata[1]:.6g}"
                    "<extra></extra>",
                })
    if x is not None and math.isfinite(x) and (x > 0 or not log_view):
        data.append({
            "type": "scatter", "x": [x, x], "y": [0.0, 1.1], "mode": "lines+text",
            "text": ["", "x"], "textposition": "top center", "name": "x", "hoverinfo": "skip",
            "line": {"color": "black", "dash": "dot", "width": 1.5},
        })
    layout = {
        "title": {"text": title}, "height": 300, "margin": {"l": 40, "r": 20, "t": 50, "b": 40},
        "yaxis": {"title": {"text": "P(round to value)"}, "range": [0, 1.15]},
        "xaxis": {"type": "log" if log_view else "linear", "range": xrange,
                  "title": {"text": "value (log axis)" if log_view else "value"}},
        "legend": {"orientation": "h", "y": -0.25},
    }
    return go.Figure({"data": data, "layout": layout})  # one validation pass: 4x faster


def _span(v: np.ndarray, log_view: bool) -> tuple[float, float]:
    """Drawing range: the window's values plus one gap each side (infinite bins are cut there);
    on a log axis the lower end stays positive."""
    gap = float(np.max(np.diff(v))) if v.size > 1 else max(abs(float(v[0])), 1.0)
    lo, hi = float(v[0]) - gap, float(v[-1]) + gap
    if log_view and lo <= 0:
        lo = float(v[0]) / 2
    return lo, hi


# --- tables -------------------------------------------------------------------------------------


def value_table(f: FloatFormat) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All values of a format of <= 8 bits as a grid (16 columns: low nibble; rows: high bits),
    and the matching grid of classes."""
    if f.bits > 8:
        raise ValueError(f"{f.name} has {f.bits} bits; the value table is for formats of <= 8 bits")
    n = f.num_codes
    cols = min(16, n)
    codes = np.arange(n).reshape(-1, cols)
    vals = decode(f, codes)
    infos = [[code_info(f, int(c)).kind for c in row] for row in codes]
    index = [f"0x{r * cols:02X}" for r in range(codes.shape[0])]
    columns = [f"+{c:X}" for c in range(cols)]
    text = [[short(float(v)) if math.isfinite(v) else str(v).replace("nan", "NaN") for v in row]
            for row in vals]
    return pd.DataFrame(text, index=index, columns=columns), pd.DataFrame(
        infos, index=index, columns=columns
    )


#: Cell tints of the value table, one per class (light versions of CLASS_COLORS).
TABLE_TINTS = {"zero": "#e4e4e4", "subnormal": "#ffe2c4", "normal": "#ffffff",
               "inf": "#ffcaca", "NaN": "#e8d8f6"}


def _compact(s: str) -> str:
    """At most 8 characters for a table cell (the exact value is in the cell's tooltip): whole
    numbers below 10^6 in full, else 4 or 3 significant digits, else ``1.95e-3`` form."""
    try:
        v = float(s)
    except ValueError:
        return s
    if not math.isfinite(v) or v == 0:
        return s
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    for digits in (4, 3):
        g = f"{v:.{digits}g}"
        if len(g.lstrip("-")) <= 6 and "e" not in g:
            return g
    m, e = f"{v:.2e}".split("e")
    return f"{m}e{int(e)}"


def value_table_html(text: pd.DataFrame, kinds: pd.DataFrame) -> str:
    """The value table as a compact HTML grid, each cell tinted by its class and showing at most
    8 characters, the exact value in its tooltip (built by hand: a pandas Styler costs ~0.2 s per
    rerun to marshal, this string is cached).

    The grid fills the width it is given: a fixed table layout, and a font size taken from the
    container's width (``cqi`` units), so all 16 columns fit from about 700 px of content width
    (a 1280 px screen with the sidebar open) upwards; below the 8 px floor (phones) the grid
    scrolls sideways inside its box instead of being cut.
    """
    cell = ("padding:2px 3px;border:1px solid #ccc;text-align:right;white-space:nowrap;"
            "overflow:hidden")
    head = "".join(f"<th style='{cell};background:#f3f3f3'>{c}</th>" for c in text.columns)
    rows = []
    kind_grid, text_grid = kinds.to_numpy(dtype=str), text.to_numpy(dtype=str)
    for r in range(len(text)):
        tds = "".join(
            f"<td style='{cell};background:{TABLE_TINTS[str(kind_grid[r, c])]};color:#111'"
            f" title='code 0x{r * text.shape[1] + c:02X} = {text_grid[r, c]!s}'>"
            f"{_compact(str(text_grid[r, c]))}</td>"
            for c in range(text.shape[1])
        )
        rows.append(f"<tr><th style='{cell};background:#f3f3f3'>{text.index[r]}</th>{tds}</tr>")
    # 16 cells of <= 8 characters (~3.6 em in Source Sans digits) + 6 px padding, + the row
    # heads: 100cqi = 62 em + 100 px
    table = ("border-collapse:collapse;table-layout:fixed;width:100%;min-width:560px;"
             'font-family:"Source Sans Pro",sans-serif;font-variant-numeric:tabular-nums;'
             "font-size:clamp(8px,calc((100cqi - 100px) / 62),15px)")
    cols = "<colgroup><col style='width:3.4em'>" + "<col>" * text.shape[1] + "</colgroup>"
    return (
        "<div style='overflow-x:auto;container-type:inline-size;width:100%'>"
        f"<table style='{table}'>{cols}"
        f"<tr><th style='{cell};background:#f3f3f3'></th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _count_codes(f: Format) -> tuple[int, int, int]:
    """(finite codes, inf codes, NaN codes) of a format, counted arithmetically."""
    if isinstance(f, IntFormat):
        return f.num_codes - int(f.symmetric), 0, int(f.symmetric)
    signs = 2 if f.signed else 1
    if f.specials is Specials.IEEE:
        nan, inf = signs * ((1 << f.mbits) - 1), signs
    elif f.specials is Specials.FN:
        nan, inf = signs, 0
    elif f.specials is Specials.FNUZ:
        nan, inf = 1, 0
    else:
        nan, inf = 0, 0
    return f.num_codes - nan - inf, inf, nan


def _num(v: float) -> str:
    """Compact display: powers of two as 2^k (with the decimal when short), else 6 digits."""
    if v > 0 and math.frexp(v)[0] == 0.5:
        k = math.frexp(v)[1] - 1
        return f"2^{k} = {short(v)}" if -10 <= k <= 16 else f"2^{k} ≈ {v:.4g}"
    return f"{v:.6g}"


def properties(names: list[str], custom: FloatFormat | None = None) -> pd.DataFrame:
    """Side-by-side properties (rows) of up to four formats (columns), as display strings.

    Overflow is measured: ``quantize(2 * max, saturate=False)``, the format's own cast.
    """
    cols: dict[str, list[str]] = {}
    rows = ["layout", "bits", "bias", "max", "min normal", "min subnormal", "eps (1 ulp at 1)",
            "binades", "finite codes", "zeros", "subnormals", "inf", "NaN codes",
            "overflow (cast)", "overflow (saturating)"]
    for name in names:
        f: Format = custom if (name == "custom" and custom is not None) else get_format(name)
        fin, inf, nan = _count_codes(f)
        over = float(quantize(np.array([2 * f.max]), f, "rne", saturate=False, backend="numpy")[0])
        if isinstance(f, FloatFormat):
            layout = f"{'S' if f.signed else 'U'}E{f.ebits}M{f.mbits} ({f.specials.value})"
            bias = str(f.bias)
            zeros = "+0, -0" if f.has_neg_zero else ("+0" if f.has_zero else "none (E8M0)")
            sub = "yes" if (f.subnormals and f.mbits > 0 and f.has_zero) else "no"
        else:
            layout = f"{'signed' if f.signed else 'unsigned'} integer"
            bias, zeros, sub = "—", "0", "—"
        cols[f.describe()] = [
            layout, str(f.bits), bias, _num(f.max), _num(f.min_normal), _num(f.min_subnormal),
            _num(f.eps), f"{f.binades:.1f}", str(fin), zeros, sub,
            "±inf" if inf else "none", str(nan),
            "inf" if math.isinf(over) else ("NaN" if math.isnan(over) else f"max ({_num(over)})"),
            f"max ({_num(f.max)})",
        ]
    return pd.DataFrame(cols, index=rows)


# --- block formats -------------------------------------------------------------------------------


def block_demo(
    preset: str, groups: int, outlier: float, outlier_at: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, float | None]:
    """Quantize a seeded Gaussian tensor with one outlier in a block format, under every rule.

    ``x`` is ``32 * groups`` float32 draws of N(0, 1) (``np.random.default_rng(seed)``) with
    ``x[outlier_at] = outlier``. The preset's own scale rule gives the per-element and per-block
    tables; each :class:`ScaleRule` gives one error series.

    Returns:
        ``elements`` (element, block, x, code, value, error), ``blocks`` (block, amax, scale,
        scale_code, rmse, max_abs_error), ``errors`` (element, rule, error, long format) and the
        NVFP4 per-tensor scale (None for MX).
    """
    spec = PRESETS[preset]
    x = np.random.default_rng(seed).standard_normal(32 * groups).astype(np.float32)
    x[outlier_at] = outlier
    res = quantize_blocks(x, preset, backend="numpy")
    blk = np.arange(x.size) // spec.block
    err = res.values.astype(np.float64) - x
    elements = pd.DataFrame({"element": np.arange(x.size), "block": blk, "x": x,
                             "code": res.codes, "value": res.values, "error": err})
    g = elements.groupby("block")
    blocks = pd.DataFrame({
        "block": np.arange(res.scales.size),
        "amax": g["x"].apply(lambda s: float(np.abs(s).max())).to_numpy(),
        "scale": res.scales.astype(np.float64),
        "scale_code": res.scale_codes,
        "rmse": g["error"].apply(lambda s: float(np.sqrt(np.mean(s**2)))).to_numpy(),
        "max_abs_error": g["error"].apply(lambda s: float(np.abs(s).max())).to_numpy(),
    })
    series = []
    for rule in ScaleRule:
        r = quantize_blocks(x, preset, scale_rule=rule, backend="numpy")
        series.append(pd.DataFrame({"element": np.arange(x.size), "rule": rule.value,
                                    "error": r.values.astype(np.float64) - x}))
    return elements, blocks, pd.concat(series, ignore_index=True), res.tensor_scale


RULE_COLORS = {"floor": "#1f77b4", "ceil": "#2ca02c", "amax": "#d62728"}


def block_error_figure(errors: pd.DataFrame, block: int, own_rule: str, title: str) -> go.Figure:
    """Error (dequantized - x) per element, one trace per scale rule; dotted lines between
    blocks. The preset's own rule is the last trace (drawn on top) and the thickest."""
    data = []
    order = [r for r in RULE_COLORS if r != own_rule] + [own_rule]  # own rule drawn on top
    for rule in order:
        colour = RULE_COLORS[rule]
        e = errors[errors["rule"] == rule]
        own = rule == own_rule
        data.append({
            "type": "scatter", "x": e["element"].to_numpy(), "y": e["error"].to_numpy(),
            "mode": "lines+markers", "name": rule + (" (this format's rule)" if own else ""),
            "line": {"color": colour, "width": 2.5 if own else 1.2,
                     "dash": "solid" if own else "dot"},
            "marker": {"size": 5 if own else 3},
        })
    n = int(errors["element"].max()) + 1
    dotted = {"color": "#999", "dash": "dot", "width": 1}
    shapes = [{"type": "line", "x0": b - 0.5, "x1": b - 0.5, "y0": 0, "y1": 1, "yref": "paper",
               "line": dotted} for b in range(block, n, block)]
    layout = {
        "title": {"text": title}, "height": 320, "shapes": shapes,
        "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
        "xaxis": {"title": {"text": f"element (blocks of {block})"}},
        "yaxis": {"title": {"text": "error = dequantized − x"}},
        "legend": {"orientation": "h", "y": -0.25},
    }
    return go.Figure({"data": data, "layout": layout})
