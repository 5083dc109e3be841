"""Rounding page: one value rounded many ways, bias across the interval, and an accumulation."""

import streamlit as st

from lowbit_core.formats import FORMATS
from ui import cached, captions, common, figures_common, params
from ui.params_rounding import FEW_BIT, MODE_LABELS, MODES, RoundingParams, parse_x

PAGE = "rounding"
K = PAGE + "."
B = RoundingParams  # field bounds come from the params metadata


def _on_position() -> None:
    """The position slider moved: x becomes lo + position * (hi - lo) in the current format."""
    p = params.current(RoundingParams, PAGE)
    _, lo, hi = cached.interval(p.fmt, p.value)
    st.session_state[K + "x"] = repr(lo + st.session_state[K + "pos"] * (hi - lo))


def _on_x() -> None:
    """x was typed: keep it if it parses, else put the value in use back in the box and
    remember what was rejected (the page says so once)."""
    raw = str(st.session_state[K + "x"])
    try:
        st.session_state[K + "_x_ok"] = parse_x(raw)
    except ValueError as exc:
        st.session_state[K + "_x_bad"] = str(exc)
        st.session_state[K + "x"] = st.session_state.get(K + "_x_ok", RoundingParams().x)


def _irange(name: str) -> tuple[int, int]:
    md = params.field_bounds(B, name)
    return int(md["min"]), int(md["max"])


params.seed(RoundingParams, page=PAGE)
p, typed_badly = params.collect(RoundingParams, PAGE)
st.session_state[K + "x"] = st.session_state[K + "_x_ok"] = p.x  # the box shows the x in use
params.publish(p)
fmt_label = FORMATS[p.fmt].describe()
x, lo, hi = cached.interval(p.fmt, p.value)
st.session_state[K + "pos"] = (x - lo) / (hi - lo)  # derived from x, never from the URL

st.title("Rounding: nearest, directed and stochastic")
st.caption(
    "A value x that a format cannot hold lies between two neighbours, lo and hi. Round-to-nearest "
    "always picks the closer one; stochastic rounding (SR) picks hi with probability equal to the "
    "distance from lo, in units of the spacing (ulp), so that on average it is exact, up to "
    "saturation (at the format's largest value there is nothing above to round to, so values "
    "beyond it are clipped and the mean falls short by exactly the clipped part). Hardware "
    "SR uses only N random bits; the four few-bit variants differ in how they cut the distance "
    "to N bits, and some of them are biased."
)
c1, c2, c3 = st.columns([1.1, 1, 1.5])
c1.selectbox("Format", list(FORMATS), format_func=lambda k: FORMATS[k].describe(), key=K + "fmt")
c2.text_input("Exact value x (≥ 0)", key=K + "x", help="Any decimal, e.g. 1.3 or 0.1e-2",
              on_change=_on_x)
if K + "_x_bad" in st.session_state:
    st.error(f"Could not use that x: {st.session_state.pop(K + '_x_bad')}. Still using "
             f"x = {p.x} (shown in the box).")
c3.slider(
    "Position of x above lo (ulp)", 0.0, 1.0, step=1 / 64, format="%.4f", key=K + "pos",
    on_change=_on_position, help="Moves x between its two neighbours in the chosen format.",
)
for msg in typed_badly:
    st.error(f"Could not use that: {msg}")
if x != p.value:
    st.info(f"x = {p.value:.10g} is outside {fmt_label}'s positive range; using {x:.10g}.")
c1, c2 = st.columns([2.2, 1])
c1.multiselect(
    "Rounding modes", MODES, format_func=lambda m: MODE_LABELS[m], key=K + "modes",
    help="SR is exact (infinitely many random bits); SRFF/SRF/SRC/SRO use N random bits.",
)
c2.slider("Random bits N (few-bit modes)", *_irange("rbits"), key=K + "rbits")
st.markdown(figures_common.representability(x, lo, hi, fmt_label))

st.header("1 · Where does x go?", divider="gray")
c1, c2 = st.columns(2)
c1.slider("Monte-Carlo draws", *_irange("n_draws"), step=10, key=K + "n_draws")
c2.number_input("Seed", *_irange("seed"), step=1, key=K + "seed")
with common.expected_errors():
    fig, out = cached.cached_outcomes(p.fmt, x, p.modes, p.rbits, p.n_draws, p.seed)
    common.chart(fig, out, "rounding_outcomes")
    st.caption(
        "Left: the exact probability of each outcome (computed, not sampled). Right: what "
        f"{p.n_draws:,} seeded random roundings gave. Deterministic modes always give the same "
        "answer; the Monte-Carlo frequencies of the stochastic ones scatter around the exact "
        "bars by about √(p(1−p)/draws)."
    )

st.header("2 · Bias and spread across the interval", divider="gray")
st.select_slider(
    "Input precision: D extra bits below the target's last bit",
    options=[*range(1, _irange("dbits")[1] + 1), 0], key=K + "dbits",
    format_func=lambda d: "∞ (exact)" if d == 0 else str(d),
    help="An input from a format D bits more precise (bfloat16 → E5M2 is D = 5).",
)
with common.expected_errors():
    fig, curves, means = cached.cached_profile(p.fmt, lo, hi, p.modes, p.rbits, p.dbits)
    common.chart(fig, curves, "rounding_bias")
    st.caption(
        "For every position of x between lo and hi: the mean error of the rounded value (bias) "
        "and its standard deviation, both exact and in ulps. The deterministic modes' bias has "
        "its own panel, so the stochastic modes' panel zooms to theirs. "
        + captions.profile_caption(means)
        + " Curves that coincide are named in the panel title and drawn with different dashes."
    )
    st.markdown("**Mean bias over the interval** (exact, in ulps; the variants as defined by "
                "Fitzgibbon & Felix, *On Stochastic Rounding with Few Random Bits*, 2025)")
    table = means.assign(mode=[MODE_LABELS[m] for m in means["mode"]])
    bias_col = st.column_config.NumberColumn("mean bias (ulp)", format="%.6g")
    st.dataframe(table, hide_index=True, column_config={"mean_bias": bias_col,
                                                        "fraction": "as a fraction"})
    common.csv_download(means, "rounding_mean_bias.csv", key="csv.rounding_mean_bias")

st.header("3 · Accumulation: why round-to-nearest stagnates", divider="gray")
c1, c2, c3, c4, c5 = st.columns(5)
c1.number_input("Start value", 0.0, 1e6, step=1.0, format="%g", key=K + "acc_start")
c2.number_input("Increment a", 0.0, 1e4, step=0.001, format="%g", key=K + "acc_a")
c3.slider("Terms n", *_irange("acc_n"), key=K + "acc_n")
c4.selectbox("Few-bit mode", FEW_BIT, format_func=lambda m: MODE_LABELS[m], key=K + "acc_mode")
c5.slider("Seeds", *_irange("acc_seeds"), key=K + "acc_seeds")
with common.expected_errors():
    fig, acc = cached.cached_accumulation(
        p.fmt, p.acc_start, p.acc_a, p.acc_n, p.acc_mode, p.rbits, p.acc_seeds, p.seed
    )
    common.chart(fig, acc, "rounding_accumulation")
    st.caption(captions.accumulation_caption(acc, p.acc_mode, p.rbits, fmt_label))
