"""Low-precision dynamics page: Lorenz-63, periodic orbits, W1 climate error and stagnation
cards in emulated precision, round-to-nearest vs stochastic rounding (paper (e))."""

import streamlit as st

from ui import cached_dynamics as cd
from ui import common, params
from ui.nav import by_key

PAGE, ss = "dynamics", st.session_state
K = PAGE + "."
P_CLS = by_key(PAGE).params_class()  # DynamicsParams (the URL schema), via the registry
MODE_LABELS = {
    "sr": "SR (exact)",
    "srff": "SRFF (N bits, truncated)",
    "srf": "SRF (N bits + half bit)",
    "src": "SRC (d rounded to N bits)",
    "sro": "SRO (ties to odd)",
}
COMPARE_LABELS = {"float64": "float64", "rn": "round-to-nearest", "sr": "stochastic"}


def _b(name: str) -> dict:
    return params.field_bounds(P_CLS, name)


params.seed(P_CLS, page=PAGE)
p, bad = params.collect(P_CLS, PAGE)
params.publish(p)

st.title("Low-precision dynamics: chaos and slow processes in a few bits")
st.caption(
    "Paper (e), Paxton, Chantry, Klöwer, Saffin, Palmer, *Climate Modelling in Low-Precision* "
    "(J. Climate 2022, arXiv 2104.15076): run a model with every arithmetic result rounded to a "
    "few significand bits and compare its long-run statistics (its climate) with float64. "
    "Round-to-nearest (RN) can trap a chaotic system on a periodic orbit or freeze a slow one; "
    "stochastic rounding (SR) keeps both moving."
)
with st.sidebar:
    st.selectbox(
        "Precision",
        _b("fmt")["choices"],
        key=K + "fmt",
        format_func=lambda f: "sbits (float64 exponent range)" if f == "sbits" else f,
    )
    st.slider(
        "Stored significand bits (sbits)",
        _b("sbits")["min"],
        _b("sbits")["max"],
        key=K + "sbits",
        disabled=p.fmt != "sbits",
        help="7 = bfloat16's, 10 = float16's, 23 = float32's; the exponent is float64's.",
    )
    st.selectbox(
        "Stochastic mode",
        _b("sr_mode")["choices"],
        key=K + "sr_mode",
        format_func=lambda m: MODE_LABELS[m],
    )
    st.slider(
        "Random bits N",
        _b("rbits")["min"],
        _b("rbits")["max"],
        key=K + "rbits",
        disabled=p.sr_mode == "sr",
    )
    st.slider("Steps", _b("steps")["min"], _b("steps")["max"], step=1000, key=K + "steps")
    st.number_input("Δt", _b("dt")["min"], _b("dt")["max"], step=0.001, format="%.4f", key=K + "dt")
    st.radio("Scheme", _b("scheme")["choices"], key=K + "scheme", horizontal=True)
    st.number_input("Seed (SR)", _b("seed")["min"], _b("seed")["max"], step=1, key=K + "seed")
    st.multiselect(
        "Compare",
        _b("compare")["choices"],
        key=K + "compare",
        format_func=lambda c: COMPARE_LABELS[c],
    )
for msg in bad:
    st.error(f"Could not use that: {msg}")
st.info(
    "**Lab settings, not the paper's** (its Lorenz settings were not available): σ = 10, "
    "ρ = 28, β = 8/3, start (7.88, 5.39, 20.67) from Klöwer's ClimateModels16bit figure, "
    f"{p.scheme.upper()}, Δt = {p.dt:g}, a 1000-step spin-up in the same arithmetic, then "
    f"{p.steps:,} steps. Constants and start are rounded to the grid first; every +, −, × "
    "after that is rounded (68 roundings per RK4 step).",
    icon=":material/science:",
)

with common.expected_errors():
    lz = cd.lorenz_page(p, live=ss.get(K + "_sweep") == repr(p))
    view = lz["view"]
    st.header("1 · The attractor", divider="gray")
    common.chart(lz["attractor"], view.trajectories, "dynamics_attractor")
    st.caption(
        "Each point is one state (decimated to at most 20,000 per panel). float64 fills "
        "the butterfly; RN at few bits collapses onto a closed orbit or a fixed point; SR "
        "wanders over the whole attractor like float64."
    )
    st.header("2 · Its climate: the distribution of z", divider="gray")
    common.chart(lz["histogram"], view.histograms, "dynamics_histogram")
    st.caption(
        "The density of z over the whole run. A model with the right climate has the "
        "same distribution as float64 even though its trajectory differs after a few "
        "hundred steps (chaos); W1 below measures the difference."
    )

    st.header("3 · Periodic orbits", divider="gray")
    summary = view.summary
    table = summary[["run", "w1_z", "period", "first_repeat", "distinct", "states", "z_std_tail"]]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "w1_z": st.column_config.NumberColumn("W1 of z vs float64", format="%.4f"),
            "period": "period (steps)",
            "first_repeat": "first repeat (step)",
            "distinct": "distinct states",
            "z_std_tail": st.column_config.NumberColumn("std of z, last half", format="%.3f"),
        },
    )
    common.csv_download(summary, "dynamics_runs.csv", key="csv.dynamics_runs")
    st.caption(
        "A deterministic (RN) run that revisits a state bit for bit must repeat itself "
        "forever from there: the next state depends only on this one, so the period is "
        "proven. An SR run that revisits a state proves nothing, because the next random "
        "bits differ; count its distinct states instead."
    )

    st.header("4 · W1 against precision", divider="gray")
    common.chart(lz["w1"], cd.library() if lz["sweep"] is None else lz["sweep"], "dynamics_w1")
    st.caption(
        "Library (solid): 1e6 RK4 steps, RN once and exact SR with seeds 0–2 at each "
        "sbits, lab settings; grey band: W1 between float64 runs from starts moved by "
        "1e-6…4e-6 (the sampling floor). Stars: this page's runs, at its settings and "
        "length (W1 over fewer steps is larger, so stars sit above the library lines)."
    )
    if st.button(
        "Run the sweep live at these settings (48 runs + floor)",
        key=K + "_run_sweep",
        icon=":material/play_arrow:",
    ):
        ss[K + "_sweep"] = repr(p)
        st.rerun()

st.header("5 · Stagnation cards", divider="gray")
c1, c2, c3 = st.columns(3)
c1.selectbox("Card format", _b("card_fmt")["choices"], key=K + "card_fmt")
c2.slider(
    "Harmonic terms n",
    _b("harmonic_n")["min"],
    _b("harmonic_n")["max"],
    step=1000,
    key=K + "harmonic_n",
)
c3.slider("SR seeds", _b("card_seeds")["min"], _b("card_seeds")["max"], key=K + "card_seeds")
with common.expected_errors():
    cards = cd.cards_page(p)
    h = cards["harmonic"]
    common.chart(cards["harmonic_fig"], h, "dynamics_harmonic")
    st.caption(
        f"Σ 1/i in {p.card_fmt}, each term rounded first. RN stops growing at n = "
        f"{h.attrs['rn_stop_n']:,} with {h.attrs['rn_stop_sum']:g}: the next term is "
        "below half an ulp of the sum. SR keeps adding on average (up to saturation, far off "
        "here); its error stays near "
        "the probabilistic bound, far below RN's."
    )
    common.chart(cards["decay_fig"], cards["decay"], "dynamics_decay")
    st.caption(
        "y′ = −y/20 on [0, 2⁻⁶], y(0) = 1, n Euler steps, every operation rounded "
        "(Croci et al.'s test case). The whole decay, 7.8e-4, is under one ulp of 1: RN "
        "rounds every update away, y stays 1 and the error is the whole decay at every "
        "n. Each exact-SR run ends on a neighbouring value of the grid (error ≈ 2–3e-4 in "
        "float16), but the runs average to the float64 answer; a biased few-bit mode "
        "(SRFF) drifts toward zero instead. In bfloat16 the answer's nearest value is 1 "
        "itself; in float16 h underflows to 0 at 1e6 steps."
    )
    heat = cd.heat_page(p, live=ss.get(K + "_heat") == repr(p))
    if heat is None:
        st.info(
            "The 60-year soil column (about 1e6 steps × 61 cells per run) is shipped for "
            "float16 and bfloat16 with exact SR and up to 3 seeds. These settings need a "
            "live run of a few seconds per run."
        )
        if st.button("Run the soil column", key=K + "_run_heat", icon=":material/play_arrow:"):
            ss[K + "_heat"] = repr(p)
            st.rerun()
    else:
        common.chart(heat["fig"], heat["mean"], "dynamics_heat")
        st.caption(heat["sentence"])

with st.container(border=True):
    st.markdown(
        "**What the paper claims (abstract level, not the lab's numbers).** Single precision "
        "(23 sbits) is “more than enough” and half precision (10 sbits) is often sufficient; in "
        "SPEEDY, 12 sbits gives negligible error and 10 sbits very minor errors (< 0.1 mm/6 h "
        "precipitation); stochastic rounding mitigates rounding error in turbulent regimes and "
        "in slow processes such as soil heat diffusion. Klöwer et al. 2023 (Sci. Rep. 13:11410): "
        "“stochastic rounding prevents periodic orbits even at low precision.”"
    )
