"""Gradient variance page: mini-batch gradient variance vs batch size under stochastic rounding,
its split, the bits-for-batch exchange rate, the bias floor and SGD curves (*Training with
Fewer Bits*). Captions come from ui.captions_grad_variance, computed from the charts' data."""

import streamlit as st

from ui import cached_grad_variance as cgv
from ui import captions_grad_variance as cap
from ui import common, params
from ui import figures_grad_variance as fgv
from ui.params_grad_variance import (
    GRID_LABELS,
    MODE_LABELS,
    MODEL_LABELS,
    MODES,
    PRESETS,
    TARGET_LABELS,
    GradVarianceParams,
    within_budget,
)

PAGE, ss = "grad_variance", st.session_state
K = PAGE + "."
RAN = K + "_ran"  # settings (GradVarianceParams.view) whose slow parts were run in this session


def _irange(name: str) -> tuple[int, int]:
    md = params.field_bounds(GradVarianceParams, name)
    return int(md["min"]), int(md["max"])


def _on_bmin() -> None:
    ss[K + "b_max"] = max(ss[K + "b_max"], ss[K + "b_min"])


def _on_bmax() -> None:
    ss[K + "b_min"] = min(ss[K + "b_min"], ss[K + "b_max"])


def _pow2(k: int) -> str:
    return f"{2**k:,}"


def _preset() -> None:
    for name, v in PRESETS[ss[K + "_preset"]].items():
        ss[K + name] = list(v) if isinstance(v, tuple) else v


def _ran() -> None:
    """Run pressed: these settings' slow parts are computed, and the link says so."""
    ss[RAN].add(repr(params.current(GradVarianceParams, PAGE).view))
    ss[K + "run"] = True


params.seed(GradVarianceParams, page=PAGE)
first = RAN not in ss
ran: set[str] = ss.setdefault(RAN, set())
p, bad = params.collect(GradVarianceParams, PAGE)
try:  # one view may cost at most the CPU budget: lower what costs most, and say so below
    fit = within_budget(p)
except ValueError as exc:
    st.error(f"Could not compute this: {exc}")
    st.stop()
for name, *_ in fit.changes:  # the widgets show the values in use
    ss[K + name] = getattr(fit.params, name)
p = fit.params
key = repr(p.view)
if first and p.run:  # a link from someone who pressed Run: compute what they saw
    ran.add(key)
if p.run != (key in ran):  # settings changed after a Run: the link no longer claims one
    ss[K + "run"] = key in ran
    p, bad = params.collect(GradVarianceParams, PAGE)
params.publish(p)

st.title("Gradient variance vs batch size under stochastic rounding")
st.caption(
    "After the paper *Training with Fewer Bits*: with stochastic rounding (SR) in "
    "back-propagation a larger batch compensates for fewer bits, and quantizing weights differs "
    "from quantizing activations. The paper's theorem was not available; the lab shows its own "
    "measurements next to a simple model, Var ≈ σ²/B + Σ Δ²/(6B) (σ²: the variance of one "
    "sample's gradient, B: the batch size, Δ: the spacing of the number grid), labelled as a "
    "model."
)
with st.sidebar:
    st.selectbox("Start from", list(PRESETS), key=K + "_preset", on_change=_preset, index=None,
                 placeholder="a preset (or keep the settings below)",
                 help="Each preset sets the grid, the quantized tensors and the modes.")
    st.selectbox("Model", list(MODEL_LABELS), format_func=lambda m: MODEL_LABELS[m],
                 key=K + "model")
    st.radio("Number grid", list(GRID_LABELS), format_func=lambda g: GRID_LABELS[g],
             key=K + "grid", help="Float: spacing relative to each value. Integer: one fixed "
             "spacing per tensor (with scaling, amax/2^(k+1)), so small values get large "
             "relative rounding noise.")
    st.slider("Bits k", *_irange("mbits"), key=K + "mbits",
              help="Float eXmk: k mantissa bits. Integer: INT(k+2), a signed integer of k + 2 "
              "bits (k = 0: INT2). One bit fewer doubles the grid spacing Δ.")
    st.slider("Exponent bits (float)", *_irange("ebits"), key=K + "ebits")
    st.multiselect("Quantized tensors", list(TARGET_LABELS), format_func=lambda t: TARGET_LABELS[t],
                   key=K + "targets", help="W: one rounding per step shared by the batch. "
                   "A, G: rounded per sample, so their noise averages out over the batch.")
    st.multiselect("Rounding modes", list(MODES), format_func=lambda m: MODE_LABELS[m],
                   key=K + "modes")
    st.slider("Random bits (few-bit SR)", *_irange("rbits"), key=K + "rbits")
    st.toggle("Tensor scaling (power of two)", key=K + "scaling")
    st.select_slider("Smallest batch", options=range(12), format_func=_pow2, key=K + "b_min",
                     on_change=_on_bmin)
    st.select_slider("Largest batch", options=range(12), format_func=_pow2, key=K + "b_max",
                     on_change=_on_bmax)
    st.slider("Repeats R per batch size", *_irange("repeats"), key=K + "repeats")
    st.number_input("Seed", *_irange("seed"), step=1, key=K + "seed")
for msg in bad:
    st.error(f"Could not use that: {msg}")
if fit.message:
    st.info(fit.message, icon=":material/speed:")
st.markdown(f"Format **{p.fmt_label}** · model "
            f"**{MODEL_LABELS[p.model]}** · quantized: "
            f"**{', '.join(t.upper() for t in p.targets) or 'nothing'}**")

heavy = cgv.is_heavy(p)
go_heavy = key in ran
if any(heavy.values()) and not go_heavy:
    est = cgv.seconds(p)
    common.run_gate(PAGE, key, ", ".join(k for k, v in heavy.items() if v),
                    sum(est[k] for k, v in heavy.items() if v), _ran)


def ready(part: str) -> bool:
    return not heavy[part] or go_heavy


st.header("1 · Variance falls as 1/B", divider="gray")
df = None
if ready("variance"):
    with common.expected_errors():
        df = cgv.variance(p.variance(), _show=heavy["variance"])
        common.chart(fgv.variance(df), df, "grad_variance")
        st.caption(cap.variance_caption(df))

st.header("2 · Sampling vs quantization", divider="gray")
st.selectbox("Mode to split", list(MODES), format_func=lambda m: MODE_LABELS[m],
             key=K + "split_mode")
if df is not None:
    mode = p.split_mode if p.split_mode in set(df["mode"]) else str(df["mode"].iloc[-1])
    if mode != p.split_mode:
        st.caption(f"{MODE_LABELS[p.split_mode]} is not among the compared modes; showing {mode}.")
    common.chart(fgv.split(df, mode), df[df["mode"] == mode], "grad_variance_split")
    st.caption(cap.split_caption(df, mode))

st.header("3 · Exchange rate: bits for batch", divider="gray")
c1, c2 = st.columns(2)
c1.select_slider("Reference batch (full precision)", options=range(12), format_func=_pow2,
                 key=K + "ref_batch")
c2.slider("Mantissa bits 0 … k", *_irange("xr_bits"), key=K + "xr_bits")
if ready("exchange"):
    with common.expected_errors():
        sweep = cgv.bits(*cgv.bits_args(p), _show=heavy["exchange"])
        xmode = "sr" if "sr" in set(sweep["mode"]) else str(sweep["mode"].iloc[-1])
        common.chart(fgv.variance_by_bits(sweep, xmode), sweep, "grad_variance_bits")
        st.caption("The same sweep for every bit count k (same batches for all): each bit fewer "
                   "doubles the grid spacing Δ and quadruples the rounding term Δ²/(6B). On the "
                   "float grid the rounding noise is relative to each value and sampling noise "
                   "usually dominates; on the integer grid small values are rounded coarsely.")
        xr = cgv.exchange(sweep, p.ref)
        common.chart(fgv.exchange(xr, p.batch_sizes[-1]), xr, "grad_variance_exchange")
        st.markdown(fgv.exchange_sentence(xr, xmode))
        st.caption(cap.exchange_caption(xr, p.ref, p.repeats))

st.header("4 · Bias: what batch size cannot fix", divider="gray")
if df is not None:
    common.chart(fgv.bias(df), df, "grad_variance_bias")
    st.caption(cap.bias_caption(df, p.fmt_label))

st.header("5 · Training curves", divider="gray")
c1, c2, c3, c4, c5 = st.columns(5)
c1.select_slider("Batch", options=range(11), format_func=_pow2, key=K + "train_batch")
c2.slider("Steps", *_irange("steps"), step=10, key=K + "steps")
c3.number_input("Learning rate", 1e-4, 10.0, format="%.4f", key=K + "lr")
c4.slider("Seeds", *_irange("train_seeds"), key=K + "train_seeds")
c5.radio("x axis", ["steps", "samples"], key=K + "train_x", horizontal=True)
if ready("training"):
    with common.expected_errors():
        tr = cgv.training(p.sgd(), _show=heavy["training"])
        common.chart(fgv.training(tr, p.train_x), tr, "grad_variance_training")
        st.caption(cap.training_caption(tr, "w" in p.targets, p.fmt_label))
