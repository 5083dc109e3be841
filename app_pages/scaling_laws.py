"""Scaling laws page: what the FP quantization scaling law of Sun et al. (paper (f)) predicts for
a model size, a data size, a format and a block size. View only: numbers from ui.cached_*."""

import math

import streamlit as st

from lowbit_core.experiments import scaling_law_page as slp
from lowbit_core.formats import FORMATS
from ui import cached_scaling_laws as cs
from ui import common, params
from ui.nav import by_key

PAGE, ss = "scaling_laws", st.session_state
K = PAGE + "."
P_CLS = by_key(PAGE).params_class()  # ScalingLawParams (the URL schema), via the registry
TENSOR_WHY = ("Tensor-wise scaling needs log2 B = N^ω/(ξ D^η); the paper does not publish "
              "ω, ξ, η, so the law cannot be evaluated for it.")


def _b(name: str) -> dict:
    return params.field_bounds(P_CLS, name)


def _from_log(name: str) -> None:  # a log slider moved: its exact field follows (3 digits)
    ss[K + name] = float(f"{10 ** ss[K + '_log_' + name]:.3g}")


def _custom() -> None:  # an E/M slider moved: the layout is no longer a catalogue format's
    ss[K + "fmt"] = slp.CUSTOM


def _fig6() -> None:
    ss[K + "n_params"] = 1e8


def _fmt_label(f: str) -> str:
    return "Custom (E and M sliders)" if f == slp.CUSTOM else f"{FORMATS[f].describe()} · {f}"


def _si(x: float) -> str:
    return f"{x:.3g}" if x < 1e3 else f"{x:.3g}".replace("e+0", "e").replace("e+", "e")


params.seed(P_CLS, page=PAGE)
p, bad = params.collect(P_CLS, PAGE)
params.publish(p)
for name in ("n_params", "tokens", "ebits", "mbits"):  # the sliders show what the law is given
    ss[K + name] = getattr(p, name)
for name in ("n_params", "tokens"):
    ss[K + "_log_" + name] = round(math.log10(getattr(p, name)), 2)

st.title("Scaling laws: what the FP quantization law predicts")
st.caption(
    "Paper (f), Sun et al., *Scaling Laws for Floating-Point Quantization Training* (ICML 2025), "
    "fitted to 366 LLaMA-style runs: N parameters, D tokens, E/M exponent/mantissa bits, B the "
    "block size of the scale. Past a critical data size D_crit more tokens *raise* the loss of "
    "a low-precision run; the law also gives the best exponent/mantissa split and precision."
)
st.latex(r"L = \frac{n}{N^\alpha} + \frac{d}{D^\beta} + \epsilon + \frac{D^\beta}{N^\alpha}"
         r"\,\frac{\log_2 B}{\gamma\,(E+\frac12)^\delta\,(M+\frac12)^\nu}")
with st.sidebar:
    for name, label, step in (("n_params", "Parameters N", 1e6), ("tokens", "Tokens D", 1e9)):
        md = _b(name)
        st.slider(f"{label} (log10)", math.log10(md["min"]), math.log10(md["max"]), step=0.01,
                  format="1e%.2f", key=K + "_log_" + name, on_change=_from_log, args=(name,))
        st.number_input(f"{label}, exact", md["min"], md["max"], step=step, format="%.6g",
                        key=K + name)
    st.selectbox("Format", _b("fmt")["choices"], key=K + "fmt", format_func=_fmt_label)
    st.slider("Exponent bits E", _b("ebits")["min"], _b("ebits")["max"], key=K + "ebits",
              on_change=_custom)
    st.slider("Mantissa bits M", _b("mbits")["min"], _b("mbits")["max"], key=K + "mbits",
              on_change=_custom)
    st.select_slider("Block size B of the scale", _b("block")["choices"], key=K + "block",
                     help="Elements sharing one high-precision scale; channel-wise: log2 B = "
                     "13.1567.")
    st.checkbox("Tensor-wise scaling (not available)", False, disabled=True, help=TENSOR_WHY,
                key=K + "_tensor")
    st.multiselect("Formats in the loss-vs-data chart", _b("compare")["choices"],
                   key=K + "compare", max_selections=8)
    st.button("Fig. 6 reconstruction: N = 1e8", on_click=_fig6, key=K + "_fig6",
              help="The paper's Fig. 6 range comes out at N ≈ 1e8, which the text does not "
              "state: a reconstruction.")
for msg in bad:
    st.error(f"Could not use that: {msg}")
st.info("Everything below is the paper's **fitted law** evaluated here: no lab measurement. "
        "Paper values are marked as such.", icon=":material/functions:")

r = cs.readout(p)
lay = r.layout
st.header("1 · What the law predicts", divider="gray")
st.markdown(f"N = **{_si(p.n_params)}** parameters, D = **{_si(p.tokens)}** tokens, "
            f"**{p.label}** ({p.bits} bits), B = **{p.block}**.")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Predicted loss L", f"{r.loss:.4f}")
c2.metric("Critical data D_crit (tokens)", _si(r.d_crit), "D is past it" if r.past else
          "D is below it", delta_color="inverse" if r.past else "normal", delta_arrow="off")
c3.metric("BF16-equivalent N_eff", _si(r.n_eff), f"{r.n_eff / p.n_params - 1:+.2%} of N",
          delta_color="off", delta_arrow="off",
          help="Behaves like a model of N_eff parameters with no precision penalty.")
c4.metric(f"Best layout for {p.bits} bits", f"E{lay.e_int}M{lay.m_int}",
          f"continuous E{lay.e:.2f} M{lay.m:.2f}", delta_color="off", delta_arrow="off")
terms = r.terms
st.dataframe(
    {"term": list(terms), "value": list(terms.values()),
     "share of L": [v / r.loss for v in terms.values()]},
    column_config={"value": st.column_config.NumberColumn(format="%.5f"),
                   "share of L": st.column_config.NumberColumn(format="percent")},
    hide_index=True,
)
st.caption(
    ("Past D_crit the precision penalty grows faster than the data term falls: more tokens "
     "make this run worse." if r.past else "Below D_crit more tokens still lower the loss.")
    + " N_eff is the size of a model with no precision penalty (B = 1, the law's BF16 limit) "
    "whose model term equals this run's model term plus its penalty. "
    + (f"This layout is the best split of {p.bits} bits." if (lay.e_int, lay.m_int) ==
       (p.ebits, p.mbits) else f"E{lay.e_int}M{lay.m_int} would give L = {r.layout_loss:.4f}.")
)
with st.container(border=True):
    env = r.envelope
    st.markdown("**Fit envelope** (fitted at N 41M–679M, D 10B–105B tokens, E0M7 … E6M1, B "
                "32–512, channel, tensor)")
    st.markdown("\n".join(f"- :orange[outside:] {v}" for v in env.values()) if env else
                ":green[Every input is inside the fitted range.]")

st.header("2 · Charts of the law", divider="gray")
v = cs.loss_data_view(p)
common.chart(v["fig"], v["curves"], "scaling_loss_vs_data")
st.caption("Fig. 6 kind: each format's loss falls with data, bottoms out at its D_crit (◆) and "
           "rises past it. The paper's Fig. 6 range is reproduced at N ≈ 1e8 (the text does not "
           "state N; the button in the sidebar sets it): a reconstruction.")
v = cs.layout_view(p.bits)
common.chart(v["fig"], v["table"], "scaling_layout_by_bits")
st.caption("Fig. 5 kind: M_opt = νP/(δ+ν) − ½, E_opt = P − 1 − M_opt. Rounded: FP4 → E2M1, "
           "FP8 → E4M3, FP16 → E8M7, as the paper says; the exponent gets slightly more bits.")
v = cs.compute_view(p.block, r.compute, p.bits)
common.chart(v["fig"], v["table"], "scaling_precision_vs_compute")
st.caption("Fig. 7 kind: for a budget C = k·P·N·D (k = 6/16) the law's minimum over N and P. "
           "The grey band is the paper's reading, 4–8 bits for 1e21–1e31 FLOPs at B = 128.")
v = cs.data_view(p.block, p.tokens, p.bits)
common.chart(v["fig"], v["table"], "scaling_precision_vs_data")
st.caption("Fig. 14 kind: P_opt^(δ+ν) = γ_D D^β log2 B (Eq. 46/47), the best precision for D "
           "tokens when compute is fixed; the compute optimum above lies on this curve.")
v = cs.heatmap_view(p.n_params, p.tokens, p.block, p.ebits, p.mbits)
common.chart(v["fig"], v["grid"], "scaling_loss_heatmap")
st.caption("Colour: the loss above its penalty-free part (the same in every cell), log scale. "
           "The dashed line is the optimal split per bit width; circles are catalogue formats "
           "(float32's M = 23 is off the map). The law sees only E and M: bias, NaN/inf codes "
           "and FNUZ variants do not enter it.")

st.header("3 · Published numbers and what is not published", divider="gray")
pub = cs.published()
st.dataframe(pub, hide_index=True)
common.csv_download(pub, "scaling_published.csv", key="csv.scaling_published")
with st.container(border=True):
    st.markdown("**Not published** (so not on this page, or reconstructed and labelled so):\n\n"
                + "\n".join(f"- {s}" for s in slp.NOT_PUBLISHED))

with st.container(border=True):
    st.markdown(
        "**What the law does not cover.** It was fitted at 41M–679M parameters and 10B–105B "
        "tokens (validated at 1.2B, 7B, 70B), with W (forward), W (Dgrad) and X (Wgrad) "
        "quantized, round-to-nearest, IEEE-like codes with subnormals and no inf/NaN; "
        "quantizing dY as well cost up to 2 % more loss. The lab's own FP4 runs (the FP4 "
        "training page's default tasks, E2M1 with MXFP4's B = 32) lie far outside:")
    fp4 = cs.fp4_runs()
    st.dataframe(fp4, hide_index=True, column_config={
        "penalty_share": st.column_config.NumberColumn("penalty share", format="percent"),
        "D_over_d_crit": st.column_config.NumberColumn("D / D_crit", format="%.3g"),
        "n_eff_over_n": st.column_config.NumberColumn("N_eff / N", format="%.3f")})
    common.csv_download(fp4, "scaling_lab_fp4_runs.csv", key="csv.scaling_fp4")
    st.markdown(
        f"The law then predicts losses of {fp4['loss'].min():.0f}–{fp4['loss'].max():.0f} "
        f"(the data term d/D^β dominates), a precision penalty of at most "
        f"{fp4['penalty_share'].max():.1e} of the loss, D at most "
        f"{fp4['D_over_d_crit'].max():.1e} of D_crit: FP4 would cost nothing. That is no "
        "guide: the FP4 training page measures MXFP4 loss gaps of several percent on these "
        "same tasks. Its constants n, d, ε belong to "
        "LLM token cross-entropy on Dolma, not to a regression MSE, digit classification or "
        "character bits; N is four to five orders of magnitude below the fit; the MLP tasks "
        "count samples, not tokens; and the lab's recipes use stochastic rounding, Hadamard "
        "transforms and NVFP4's two-level scales, none of which the law models.")
