"""Your tensor: a real weight, activation or gradient tensor in every format, block recipe and
rounding mode (issue 13): zones, metrics, a ranking, block sizes, RHT and SR bias."""

from dataclasses import replace

import streamlit as st

from lowbit_core.experiments import tensor_page as core
from lowbit_core.experiments.tensor_report import RECIPES
from lowbit_core.formats import FORMATS, get_format
from ui import cached_tensor as ct
from ui import common, params
from ui.nav import by_key

PAGE, ss = "tensor", st.session_state
K = PAGE + "."
P_CLS = by_key(PAGE).params_class()  # TensorParams (the URL schema), via the registry
MODE_LABELS = {"rne": "RNE", "rna": "RNA (ties away)", "rtz": "RTZ", "rup": "RUP", "rdn": "RDN",
               "sr": "SR (exact)", "srff": "SRFF (N bits)", "srf": "SRF (N bits + ½)",
               "src": "SRC (N bits, RNE of d)", "sro": "SRO (ties to odd)"}


def _b(name: str) -> dict:
    return params.field_bounds(P_CLS, name)


def _fmt(f: str) -> str:
    return get_format(f).describe() if f in FORMATS else f.replace("_sym", " (symmetric)").upper()


def _label(r: str) -> str:
    return "Custom block recipe (sidebar)" if r == "custom" else RECIPES[r].label


params.seed(P_CLS, page=PAGE)
st.title("Your tensor: how a real tensor fares in every format")
st.caption(
    "Pick a weight, activation or gradient captured from the lab's own trained models, or upload "
    "your own, and see what every format, block recipe and rounding mode does to it: how many "
    "values flush to zero or saturate, the error, the bits each recipe costs, whether a Hadamard "
    "transform tames outliers, and whether the rounding is biased."
)
c1, c2 = st.columns([3, 2])
u1, u2 = st.columns([3, 2])
up = u1.file_uploader("…or upload your own: .npy, .npz, .safetensors, .pt/.pth",
                      type=["npy", "npz", "safetensors", "pt", "pth"], key=K + "_upload",
                      max_upload_size=64)
c1.selectbox("Shipped tensor", _b("tensor")["choices"], key=K + "tensor", disabled=up is not None,
             help="digits MLP and char-level transformer, end of the library's FP32 run "
                  "(data/README.md): weight, act (layer input), grad_out (dL/dy), weight_grad. "
                  "Remove the upload to choose one again.")
u2.caption(":material/link: A shipped tensor is part of the share link; an uploaded one is not "
           "(its bytes stay in this browser session), so a link to this page always opens the "
           "shipped tensor named in it. .pt files are opened with torch.load(weights_only=True) "
           "only; no other pickle is ever opened.")

ref, source = None, ""
if up is not None:
    held = ss.get(K + "_file")
    if held is None or held[0] != up.file_id:
        try:
            held = (up.file_id, *ct.read_upload(up.getvalue(), up.name))
        except ValueError as exc:
            held = (up.file_id, None, str(exc))
        ss[K + "_file"] = held
    if held[1] is None:
        st.error(f"Could not use that file: {held[2]}")
    else:
        tf = held[2]
        names = list(tf.arrays)
        if ss.get(K + "_array") not in names:
            ss[K + "_array"] = names[0]
        st.selectbox("Array in the upload", names, key=K + "_array",
                     disabled=len(names) == 1)
        for reason in tf.skipped.values():
            st.caption(f"Left out: {reason}")
        source = f"{up.name}: {ss[K + '_array']}"
        shape = tf.arrays[ss[K + "_array"]].shape
if not source:
    shape = core.load_shipped()[ss[K + "tensor"]].shape
    source = ss[K + "tensor"]
axes = [-1, *range(len(shape))]
if ss.get(K + "axis") not in axes:
    st.info(f"Axis {ss.get(K + 'axis')} does not exist in a tensor of shape {shape}: using the "
            "last axis.")
    ss[K + "axis"] = -1
c2.selectbox("Blocks and channels run along", axes, key=K + "axis",
             format_func=lambda a: "the last axis" if a == -1 else f"axis {a}")

with st.sidebar:
    st.multiselect("Recipes", _b("recipes")["choices"], key=K + "recipes", format_func=_label)
    with st.expander("Custom block recipe"):
        st.selectbox("Elements", _b("custom_elem")["choices"], key=K + "custom_elem",
                     format_func=_fmt)
        st.slider("Block size", _b("custom_block")["min"], _b("custom_block")["max"],
                  key=K + "custom_block")
        st.selectbox("Scale format", _b("custom_scale")["choices"], key=K + "custom_scale",
                     format_func=_fmt)
        st.radio("Scale rule", _b("custom_rule")["choices"], key=K + "custom_rule",
                 horizontal=True)
        st.checkbox("FP32 tensor scale", key=K + "custom_ts")
    st.multiselect("Rounding modes (elements)", _b("modes")["choices"], key=K + "modes",
                   format_func=lambda m: MODE_LABELS[m], max_selections=4)
    st.slider("Random bits N (srff, srf, src, sro)", _b("rbits")["min"], _b("rbits")["max"],
              key=K + "rbits")
    st.number_input("Seed", _b("seed")["min"], _b("seed")["max"], step=1, key=K + "seed")

p, bad = params.collect(P_CLS, PAGE)
params.publish(p)
for msg in bad:
    st.error(f"Could not use that: {msg}")

with common.expected_errors():
    if up is not None and ss.get(K + "_file", (0, None))[1] is not None:
        held = ss[K + "_file"]
        ref = ct.uploaded(held[1], held[2], ss[K + "_array"], p.axis)
    elif up is None:
        ref = ct.shipped(p.tensor, p.axis)
if ref is None:
    st.stop()
v = ref.view
st.markdown(f"**{source}** · shape {v.shape} · {v.total:,} elements · viewed as "
            f"{v.x.shape[0]:,} rows × {v.x.shape[1]:,} along axis {v.axis} · "
            f"{'fp64' if v.x.dtype.itemsize == 8 else 'fp32 (bf16/fp16 widened exactly)'}")
if v.note:
    st.info(f"Sampled: {v.note}.", icon=":material/shuffle:")
run_key = f"{ref.key}|{replace(p, max_bits=P_CLS().max_bits)!r}"  # K alone costs nothing
if core.heavy(v.x.size, p) and ss.get(K + "_run") != run_key:
    st.info(f"This tensor and these settings take about {core.work(v.x.size, p) / 1e8:.1f}e8 "
            "element-passes (seconds): start them with the button.")
    if st.button("Run the analysis", key=K + "_run_btn", icon=":material/play_arrow:"):
        ss[K + "_run"] = run_key
        st.rerun()
    st.stop()

with common.expected_errors():
    a = ct.analyses(ref, p)
    st.success(a["reading"], icon=":material/lightbulb:")
    st.header("1 · Where the values sit", divider="gray")
    common.chart(a["zones_fig"], a["zones"], "tensor_zones")
    st.caption(
        f"Grey: log2|x| of the non-zero values ({a['hist'].attrs['zeros']:,} exact zeros not "
        "drawn). Each strip: below red the value rounds to 0, orange is the subnormal range, "
        "green normal, purple beyond the largest value (saturates), at the recipe's median "
        "block scale. The box is where the block scales put each block's largest value (5, 25, "
        "50, 75, 95% of blocks); hover for the share of values in each zone."
    )
    st.header("2 · Every recipe and mode", divider="gray")
    st.dataframe(a["report"], hide_index=True, column_config={
        "sqnr_db": st.column_config.NumberColumn("SQNR (dB)", format="%.2f"),
        "bits_per_element": st.column_config.NumberColumn("bits/elem", format="%.4f"),
    })
    common.csv_download(a["report"], "tensor_report.csv", key="csv.tensor_report")
    st.caption("bits/elem counts the scales (MXFP4 4.25; NVFP4 4.5 + 32 bits of FP32 tensor "
               "scale over the tensor). flushed: non-zero values that became 0; saturated: "
               "values whose nearest grid value lies beyond the largest one at their scale; "
               "scale under/overflow: blocks whose raw scale falls outside the scale format.")
    st.header("3 · Best SQNR within a bit budget", divider="gray")
    st.slider("Budget K (bits per element)", _b("max_bits")["min"], _b("max_bits")["max"],
              step=0.25, key=K + "max_bits")
    common.chart(a["ranking_fig"], a["ranking"], "tensor_ranking")
    st.dataframe(a["ranking"][["rank", "label", "mode", "bits_per_element", "sqnr_db",
                               "flushed_pct", "saturated_pct"]], hide_index=True)

st.header("4 · Block size against scale overhead", divider="gray")
st.selectbox("Element format of the sweep", _b("sweep_elem")["choices"], key=K + "sweep_elem",
             format_func=_fmt)
with common.expected_errors():
    sw = ct.sweep_page(ref, p)
    common.chart(sw["fig"], sw["table"], "tensor_sweep")
    st.caption("Blocks of 8…256 along the chosen axis, RNE; a block longer than the row is one "
               "scale per row (the points then coincide). Smaller blocks follow the values more "
               "closely but spend more bits on scales.")

st.header("5 · Random Hadamard transform", divider="gray")
st.select_slider("RHT size", options=list(range(1, 9)), key=K + "rht_log2",
                 format_func=lambda k: str(1 << k))
with common.expected_errors():
    rh = ct.rht_page(ref, p)
    st.dataframe(rh["shape"], hide_index=True)
    common.chart(rh["fig"], rh["gain"], "tensor_rht")
    st.caption(f"Each row's blocks of {p.rht_size} are multiplied by H = diag(signs)·H_Sylvester"
               f"/√{p.rht_size} (signs from seed {p.seed}), quantized (RNE) and rotated back. "
               "A Gaussian has kurtosis 3. The rotation makes every block look Gaussian: it "
               "spreads an outlier over its block (heavy tails, kurtosis > 3, gain), and can "
               "cost SQNR on light-tailed tensors, whose blocks it gives new extremes.")

st.header("6 · RNE vs SR: bias", divider="gray")
b1, b2 = st.columns(2)
b1.selectbox("Recipe", _b("bias_recipe")["choices"], key=K + "bias_recipe", format_func=_label)
b2.slider("Draws averaged", _b("bias_draws")["min"], _b("bias_draws")["max"],
          key=K + "bias_draws")
with common.expected_errors():
    bi = ct.bias_page(ref, p)
    common.chart(bi["fig"], bi["table"], "tensor_bias")
    st.caption("Error of the tensor's sum and of x·v (v a Gaussian probe, seeded), averaged "
               "over draws with seeds seed…seed+K−1. Round-to-nearest gives the same error every "
               "time, so its bias stays; unbiased SR's average error falls like 1/√K. SR cannot "
               "remove what saturation clamps (MXFP4's floor scale clips the top of each block): "
               "there its curve levels off. The few-bit modes keep their own bias (SRFF rounds "
               "toward zero by 2^-(N+1) ulp).")
