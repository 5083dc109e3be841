"""Formats page: a format bit by bit, a typed number, the number line with rounding bins, the
value table, formats side by side and block formats. View only: numbers come from ui.*_formats."""

import streamlit as st

from lowbit_core.blocks import PRESETS
from ui import bitview as bv
from ui import cached_formats as cf
from ui import captions, common, figures_common, params
from ui import figures_formats as ff
from ui import params_formats as pf
from ui.params_formats import FormatsParams, build_format, format_label

PAGE, ss = "formats", st.session_state
FMT_FIELDS = ("fmt", "ebits", "mbits", "bias", "specials", "signed")


def k(name: str) -> str:
    return f"{PAGE}.{name}"


def fmt_key() -> cf.FmtKey:
    return tuple(ss[k(n)] for n in FMT_FIELDS)  # type: ignore[return-value]


def on_format() -> None:  # keep the number in the bit view when the format changes
    try:
        build_format(*fmt_key())
    except ValueError:
        ss[k("specials")] = "none"
        st.toast("That exponent/sign choice cannot hold those special values; switched to none.")
    old, new = ss.get("formats._key"), fmt_key()
    if old is not None and old != new:
        ss[k("code")] = ff.carry_code(build_format(*old), build_format(*new), int(ss[k("code")]))
    ss["formats._key"] = new


def on_ebits() -> None:
    ss[k("bias")] = (1 << (ss[k("ebits")] - 1)) - 1  # IEEE bias for the new width
    on_format()


def set_code(code: int) -> None:
    ss[k("code")] = code


def on_hex() -> None:  # a typed hex/binary code: use it, or say why not (the box is reset)
    try:
        ss[k("code")] = bv.parse_code(str(ss["formats._hex"]), build_format(*fmt_key()))
    except ValueError as exc:
        ss["formats._hex_bad"] = str(exc)


params.seed(FormatsParams, page=PAGE)
ss.setdefault("formats._key", fmt_key())
st.title("Number formats, bit by bit")
with st.sidebar:
    st.selectbox("Format", pf.FMT_CHOICES, key=k("fmt"), format_func=format_label,
                 on_change=on_format)
    if ss[k("fmt")] == pf.CUSTOM:
        st.slider("Exponent bits", 1, 8, key=k("ebits"), on_change=on_ebits)
        st.slider("Mantissa bits", 0, 10, key=k("mbits"), on_change=on_format)
        st.slider("Bias", *pf.bias_range(ss[k("ebits")]), key=k("bias"), on_change=on_format)
        st.selectbox("Special values", ["ieee", "fn", "fnuz", "none"], key=k("specials"),
                     on_change=on_format, help="ieee: inf + NaNs; fn: one NaN, no inf; "
                     "fnuz: NaN at −0, no inf; none: every code is a number")
        st.toggle("Signed", key=k("signed"), on_change=on_format)
    st.selectbox("Rounding mode", pf.LINE_MODES, key=k("mode"), format_func=pf.MODE_LABELS.get)

f = build_format(*fmt_key())
st.caption(f"**{f.describe()}**: {f.bits} bits = {'1 sign + ' if f.signed else ''}{f.ebits} "
           f"exponent + {f.mbits} mantissa, bias {f.bias}.")

st.header("Bit view")
# a flip or an arrow key in the bit cells (applied once, before any widget reads the code)
event = ss.get("formats._bits")
new_code = bv.apply_event(f, int(ss[k("code")]), event, ss.get("formats._bits_seen"))
if isinstance(event, dict):
    ss["formats._bits_seen"] = event.get("seq")
if new_code is not None:
    ss[k("code")] = new_code
info = ff.code_info(f, int(ss[k("code")]))
bv.bit_view(f, info, key="formats._bits")
st.latex(info.formula)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Value", ff.short(info.value))
c2.metric("Class", info.kind)
ss["formats._hex"] = bv.code_text(f, info.code)  # the box always shows the code in use
c3.text_input("Bits as hex or binary", key="formats._hex", on_change=on_hex,
              help="Type 0x3C (hex), 0b00111100 (binary) or a plain integer code, then Enter.")
with c4:
    st.number_input("Code (integer)", 0, f.num_codes - 1, key=k("code"), step=1)
if "formats._hex_bad" in ss:
    st.error(f"Could not use that code: {ss.pop('formats._hex_bad')}. Still showing "
             f"{bv.code_text(f, info.code)}.")
b1, b2, _ = st.columns([1, 1, 4])
b1.button("◀ next down", on_click=set_code, args=(ff.step_code(f, info.code, -1),))
b2.button("next up ▶", on_click=set_code, args=(ff.step_code(f, info.code, +1),))
st.caption("Exact decimal value of the stored bits:")
st.code(info.exact, wrap_lines=True)

st.header("Type a real number")
x = st.number_input("x", -1e300, 1e300, key=k("x"), format="%.12g")
mode = ss[k("mode")]
s = ff.stored(f, float(x), mode)
st.markdown(figures_common.stored_words(float(x), s.value, s.next_down, s.next_up, f.describe()))
if mode == "sr" and s.lo != s.hi:
    st.write(f"Stochastic rounding: **{ff.short(s.lo)}** with probability {1 - s.p_hi:.6g}, "
             f"**{ff.short(s.hi)}** with probability {s.p_hi:.6g} (the mean is x up to "
             "saturation: above the largest value everything clips to it).")
st.dataframe(ff.stored_table(s), hide_index=True)
if s.overflow:
    st.info(s.overflow)
st.button("Show the stored value in the bit view", on_click=set_code,
          args=(ff.code_of(f, s.value),))

st.header("Number line")
n1, n2, n3 = st.columns([2, 2, 1])
n1.number_input("Zoom centre", -1e300, 1e300, key=k("center"), format="%.6g")
n1.button("Centre on x", on_click=lambda: ss.update({k("center"): float(ss[k("x")])}))
n2.slider("Values shown", 4, 2048, key=k("count"))
n3.toggle("Log view", key=k("log_view"))
bins, complete, fig = cf.number_line(fmt_key(), float(ss[k("center")]), int(ss[k("count")]),
                                     mode, bool(ss[k("log_view")]), float(x))
common.chart(fig, bins, "number_line")
LOG_NOTE = "Log view: positive values only; every binade gets the same width. "
st.caption(("All finite values. " if complete else f"A window of {len(bins)} of the "
            f"{f.num_codes} codes around the zoom centre (move it to explore). ")
           + (LOG_NOTE if ss[k("log_view")] else "")
           + ("Stochastic rounding: a real between two neighbours rounds to each with "
              "probability falling linearly with distance." if mode == "sr"
              else "Each shaded band is the set of reals that round to the marker."))

if f.bits <= 8:
    st.header(f"All {f.num_codes} codes")
    html, flat = cf.value_table(fmt_key())
    st.html(html)
    st.caption("Row = high bits, column = low 4 bits (hover a cell for its code). Grey: zero, "
               "orange: subnormal, red: inf, violet: NaN.")
    common.csv_download(flat, "value_table.csv", key="csv.value_table")

st.header("Side by side")
st.multiselect("Formats", pf.COMPARE_CHOICES, key=k("compare"), max_selections=4,
               format_func=format_label)
props = cf.properties(tuple(ss[k("compare")]) or FormatsParams().compare, fmt_key())
st.table(props)
common.csv_download(props.reset_index(names="property"), "format_properties.csv", "csv.props")

st.header("Block formats")
q1, q2, q3, q4, q5 = st.columns(5)
q1.selectbox("Block format", pf.BLOCK_FORMATS, key=k("block_fmt"), format_func=str.upper)
q2.slider("Length (× 32)", 1, 8, key=k("groups"), on_change=lambda: ss.update(
    {k("outlier_at"): min(ss[k("outlier_at")], 32 * ss[k("groups")] - 1)}))
q3.number_input("Outlier (σ)", -1e4, 1e4, key=k("outlier"))
q4.slider("Outlier at", 0, 32 * ss[k("groups")] - 1, key=k("outlier_at"))
q5.number_input("Seed", 0, 2**31 - 1, key=k("seed"))
elements, blocks, errors, ts, bfig = cf.block_demo(
    ss[k("block_fmt")], ss[k("groups")], float(ss[k("outlier")]), ss[k("outlier_at")],
    int(ss[k("seed")]))
common.chart(bfig, errors, "block_errors")
st.caption(captions.block_caption(blocks, int(ss[k("outlier_at")]),
                                  PRESETS[ss[k("block_fmt")]].block))
if ts is not None:
    st.caption(f"NVFP4 first multiplies x by the FP32 tensor scale {ts:.6g} = 448·6 / amax; the "
               "block scales below (E4M3) live in that scaled domain.")
st.dataframe(blocks, hide_index=True)
common.csv_download(blocks, "blocks.csv", key="csv.blocks")
with st.expander("Every element: x, code, dequantized value, error"):
    st.dataframe(elements, hide_index=True)
    common.csv_download(elements, "block_elements.csv", key="csv.elements")

params.publish(params.current(FormatsParams, PAGE))
