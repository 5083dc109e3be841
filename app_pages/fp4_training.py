"""FP4 training page: the curve library of simulated FP4 recipes against FP32/BF16, what each
technique of the NVFP4 recipe buys, published values beside them, and live runs of any recipe
in the shared worker pool (papers (c) and (d))."""

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from lowbit_core.training.custom import (
    ELEMENTS,
    GRAD_MODES,
    SCALE_FORMATS,
    fp4_presets,
    techniques_of,
)
from lowbit_core.training.pool import PoolBusy
from lowbit_core.training.recipes import RECIPES
from lowbit_core.training.tasks import TASKS
from ui import cached_fp4_training as cft
from ui import captions, common, glossary, params
from ui import figures_fp4_training as figs
from ui import live_fp4_training as lv
from ui.params_fp4_training import (
    BASELINES,
    LIVE_MAX_STEPS,
    MAX_LIVE,
    SCALE_RULES,
    X_AXES,
    Y_AXES,
    FP4TrainingParams,
    from_token,
)

PAGE, ss = "fp4_training", st.session_state
K = PAGE + "."
SHOWN = K + "_shown"  # runs already drawn as finished (a newly finished one triggers a rerun)


def _irange(name: str) -> tuple[int, int]:
    md = params.field_bounds(FP4TrainingParams, name)
    return int(md["min"]), int(md["max"])


def _label(r: str) -> str:
    return RECIPES[r].label if r in RECIPES else r


def _load_preset() -> None:
    """"Start from" changed: copy the preset's switches into the editor's widgets."""
    name = ss.get(K + "_preset")
    if not name:
        return
    t = techniques_of(name)
    ss[K + "c_elem"], ss[K + "c_block"] = t.elem, str(t.block)
    ss[K + "c_scale_fmt"], ss[K + "c_scale_rule"] = t.scale_fmt, t.scale_rule.value
    ss[K + "c_tensor_scale"], ss[K + "c_grad_mode"] = t.tensor_scale, t.grad_mode
    ss[K + "c_rbits"], ss[K + "c_rht"] = t.rbits, str(t.rht)
    ss[K + "c_tile2d"], ss[K + "c_keep_last"] = t.tile2d, t.keep_last


params.seed(FP4TrainingParams, page=PAGE)
first = lv.RUNS not in ss
p, bad = params.collect(FP4TrainingParams, PAGE)
pool = cft.pool()
me = cft.owner()
spec = TASKS[p.task]
lib = cft.curves()
runs = lv.session_runs()
if first and p.live:  # a link: show its runs from the shared pool, offer to run the others
    ss[lv.PENDING] = lv.adopt(pool, me, p.live, p.baseline, lib)
pending: list[str] = ss.setdefault(lv.PENDING, [])
for key in runs:  # each run is compared with the chosen baseline at its own seed
    snap = pool.job(key)
    if snap is not None:
        lv.ensure_baseline(pool, me, snap.params, p.baseline, lib)
link = (lv.tokens(pool, runs) + pending)[:MAX_LIVE]
ss[K + "live"], p = link, replace(p, live=tuple(link))
params.publish(p)

st.title("FP4 training: what makes 4-bit training work")
st.caption(
    "Small real training runs with every linear layer's GEMMs simulated in FP4 (quantize, then "
    "multiply in FP32, as a tensor core accumulates), against FP32 and BF16. The recipes follow "
    "*Pretraining LLMs with NVFP4* (NVIDIA, 2025) and *Elucidating the Design Space of FP4 "
    "Training* (Graphcore): switch a technique off and see whether the loss gap opens. "
    "Classroom scale: three small tasks on two CPU cores, three seeds each."
)
with st.sidebar:
    st.selectbox("Task", list(TASKS), format_func=lambda t: TASKS[t].label, key=K + "task")
    st.multiselect("Recipes to compare", list(RECIPES), format_func=_label, key=K + "recipes")
    st.radio("Baseline", BASELINES, format_func=str.upper, key=K + "baseline", horizontal=True)
    st.radio("x axis", list(X_AXES), format_func=X_AXES.__getitem__, key=K + "x",
             horizontal=True)
    st.radio("y axis", list(Y_AXES), format_func=Y_AXES.__getitem__, key=K + "y")
    st.toggle("Log scale (y)", key=K + "log_y")
    st.toggle("Seed bands (min–max)", key=K + "bands")
for msg in bad:
    st.error(f"Could not use that: {msg}")

lib_task = lib[lib["task"] == p.task]
labels = {r: _label(r) for r in RECIPES}
shown = list(dict.fromkeys((p.baseline, *p.recipes)))
paired = lv.pairs(pool, runs, p.baseline, lib)
watch = [s for q in paired for s in (q.run, q.base_snap) if s is not None]
ss.setdefault(SHOWN, set()).update(s.key for s in watch if not s.state.active)  # drawn below
live = lv.frames(paired, p.task, p.baseline, lib_task)
missing = [r for r in shown if r not in set(lib_task["recipe"])]
if missing:
    st.info("Not in the curve library for this task yet: " + ", ".join(map(_label, missing)))


def _run_pending() -> None:
    """The link's runs this server does not hold: queue them (one click for all)."""
    for tok in list(ss[lv.PENDING]):
        try:
            key = lv.submit(pool, me, from_token(tok), p.baseline, lib)
        except PoolBusy as exc:
            st.toast(f"Not started: {exc}.")
            return
        ss[lv.PENDING].remove(tok)
        if key not in runs:
            runs.append(key)


if pending:
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    c1.info("This link shows live runs that this server no longer holds: "
            + "; ".join(lv.run_label(from_token(t)) for t in pending)
            + ". Run them with exactly the link's settings (each with its same-seed baseline).",
            icon=":material/link:")
    c2.button("Run them", type="primary", key=K + "_run_link", on_click=_run_pending,
              icon=":material/play_arrow:", width="stretch")


def _status(q: lv.Paired) -> None:
    s = q.run
    state = s.state.value
    name = q.label
    b = q.base_snap
    base = ("" if q.is_baseline or q.from_library or b is None else
            f" · same-seed {p.baseline.upper()}: " + (
                "done" if not b.state.active else f"step {b.step}/{b.steps}"
                if b.state.value == "running" else "waiting"))
    c1, c2 = st.columns([5, 1])
    with c1:
        if state == "queued":
            st.progress(0.0, text=f"{name}: waiting, place {s.position} in the queue{base}"
                        + lv.warming_note(pool))
        elif state == "running" and s.starting:  # its worker process is not up yet
            st.progress(0.0, text=f"{name}: starting{base}" + lv.warming_note(pool))
        elif state == "running":
            st.progress(s.fraction, text=f"{name}: step {s.step}/{s.steps} "
                        f"({s.wall_s:.1f} s){base}")
        elif state == "done":
            res = s.result
            st.success(f"{name}: done in {float(res.get('wall_s', 0.0)):.1f} s, final "
                       f"validation loss {float(res.get('final_val_loss', float('nan'))):.4f}"
                       + (" (diverged)" if res.get("diverged") else "") + base,
                       icon=":material/check:")
        elif state == "failed":
            st.error(f"{name}: failed. {s.error.splitlines()[0] if s.error else ''}")
        else:
            st.info(f"{name}: cancelled")
    with c2:
        if s.state.active:
            if st.button("Cancel", key=f"{K}_cancel.{s.key}", icon=":material/stop:"):
                pool.cancel(s.key, me)
                st.rerun(scope="fragment")
        elif st.button("Remove", key=f"{K}_remove.{s.key}", icon=":material/close:"):
            lv.forget(pool, me, s.key, p.baseline)
            st.rerun()


def _live_panel() -> None:
    cur = lv.pairs(pool, list(runs), p.baseline, lib)
    if not cur:
        st.caption("No live runs yet in this session.")
        return
    snaps = [s for q in cur for s in (q.run, q.base_snap) if s is not None]
    done_now = {s.key for s in snaps if not s.state.active}
    drawn: set[str] = ss.setdefault(SHOWN, set())
    for q in reversed(cur):
        _status(q)
    if any(s.state.active for s in snaps):
        now = lv.frames(cur, p.task, p.baseline, lib_task)
        if now.curves is not None:
            common.plot(figs.loss_figure(lib_task, [p.baseline], labels, live=now.curves,
                                         y="val_loss", title="Live: validation loss so far",
                                         baseline=p.baseline, zoom=False), "fp4_live")
    if done_now - drawn:  # a run finished: redraw the whole page so the charts above include it
        drawn |= done_now
        st.rerun(scope="app")


st.header("1 · Loss curves", divider="gray")
metric_name = spec.metric.replace("_", " ")
with common.expected_errors():
    fig = cft.loss_figure(p.task, tuple(shown), p.x, p.y, p.log_y, p.bands, metric_name,
                          live.curves, p.baseline)
    data = lib_task[lib_task["recipe"].isin(shown)]
    common.chart(fig, pd.concat([data, live.curves]) if live.curves is not None else data,
                 f"fp4_curves_{p.task}")
st.caption(
    f"{spec.label}: {spec.steps} steps, batch {spec.batch_size}, Adam (peak lr {spec.lr:g}, "
    "warm-up then cosine decay), FP32 master weights. Lines: mean over 3 seeds (same initial "
    "weights and batches for every recipe at a given seed); bands: the seeds' min–max; the "
    "baseline is drawn last and widest. Below: the same curves zoomed to the last 70% of "
    "training. Dashed: your live runs; dotted: the baseline trained with a live run's own seed, "
    "steps and batch. The metric is "
    + {"rel_mse": "the relative MSE (the target has unit variance)",
       "accuracy": "the classification accuracy", "bits_per_char": "bits per character"}[
        spec.metric] + "."
)

if p.x == "wall_time":
    st.caption(
        "Wall time: seconds since the run started, evaluations included, mean over the seeds. "
        "The library ran one torch thread per run on a 2-core machine; live runs use the "
        "server's worker layout. Load from other work moves these times, so compare recipes "
        "roughly (bench/training.py measures step cost properly)."
    )

st.header("2 · Run your own", divider="gray")
tech = {t.key: t for t in figs.TECHNIQUES}


def _explain(key: str) -> None:
    t = tech.get(key)
    if t is not None:
        st.caption(f"{t.what_it_does} *Paper:* {glossary.cite(t.paper_finding)}")


st.markdown(
    "Edit a recipe: every switch below changes how the linear layers' GEMMs are quantized. "
    "Start from a preset, change one thing, run it and compare with the library curves above."
)
st.selectbox("Start from a preset", [None, *fp4_presets()], format_func=lambda r: (
    "— keep the current switches —" if r is None else _label(r)), key=K + "_preset",
    on_change=_load_preset)
c1, c2, c3 = st.columns(3)
with c1:
    st.selectbox("Element format", list(ELEMENTS), format_func=ELEMENTS.__getitem__,
                 key=K + "c_elem")
    st.radio("Block size", ["16", "32"], key=K + "c_block", horizontal=True)
    _explain("block_size")
    st.selectbox("Block scale format", list(SCALE_FORMATS), format_func=SCALE_FORMATS.__getitem__,
                 key=K + "c_scale_fmt")
    _explain("scale_fmt")
    st.selectbox("Scale rule", list(SCALE_RULES), format_func=SCALE_RULES.__getitem__,
                 key=K + "c_scale_rule")
    _explain("scale_rule")
with c2:
    st.toggle("Tensor scaling (FP32 per-tensor scale)", key=K + "c_tensor_scale")
    _explain("tensor_scale")
    st.selectbox("Gradient rounding", list(GRAD_MODES), format_func=GRAD_MODES.__getitem__,
                 key=K + "c_grad_mode")
    st.slider("Random bits (few-bit SR)", *_irange("c_rbits"), key=K + "c_rbits",
              disabled=p.c_grad_mode not in ("src", "srff"))
    _explain("sr_grad")
with c3:
    st.select_slider("Hadamard size on Wgrad inputs (0 = off)", ["0", "4", "16", "64"],
                     key=K + "c_rht")
    _explain("rht_wgrad")
    st.toggle("2-D 16×16 weight tiles", key=K + "c_tile2d")
    _explain("tile2d")
    st.slider("Last linear layers in BF16", *_irange("c_keep_last"), key=K + "c_keep_last")
    _explain("hp_last")
tq = p.techniques()
st.markdown(f"Custom recipe: **{tq.describe()}**")

c1, c2, c3, c4 = st.columns([1.6, 1, 1, 1])
c1.selectbox("Recipe to run", ["custom", *RECIPES], format_func=lambda r: (
    "the custom recipe above" if r == "custom" else _label(r)), key=K + "run_recipe")
c2.number_input(f"Steps (0 = library length, {spec.steps})", *_irange("run_steps"), step=50,
                key=K + "run_steps")
c3.number_input("Seed", *_irange("run_seed"), step=1, key=K + "run_seed")
c4.selectbox("Batch", ["0", "16", "32", "64", "128", "256"], format_func=lambda b: (
    f"task default ({spec.batch_size})" if b == "0" else b), key=K + "run_batch")
if p.run_steps and p.live_steps != spec.steps:
    st.caption(captions.live_steps_note(p.live_steps, spec.steps))
if p.steps_capped:
    st.caption(f"Live runs of this task are capped at {LIVE_MAX_STEPS[p.task]} steps on this "
               "server (reduced size); the library curves above ran the full length.")
tp = p.train_params()
counts = pool.counts()
st.caption(
    f"Live runs train in a shared pool of worker processes: {pool.workers} at a time for all "
    f"visitors (now {counts['running']} running, {counts['queued']} waiting). Identical "
    "settings train once and are reused; the same seed gives the same curve. Each run is "
    f"compared with {p.baseline.upper()} trained with the same seed, steps and batch (the "
    "library's run when it has exactly that one, else trained alongside), since another "
    "seed's baseline differs by more than most recipes do."
)
if st.button("Run", type="primary", icon=":material/play_arrow:", key=K + "_run"):
    try:
        key = lv.submit(pool, me, tp, p.baseline, lib)
    except PoolBusy as exc:
        st.warning(f"Not started: {exc}.")
    else:
        if key in runs:
            runs.remove(key)
        runs.append(key)
        del runs[:-MAX_LIVE]
        st.rerun()


active = any(s.state.active for s in watch)
panel: Any = st.fragment(run_every=1.0)(_live_panel) if active else st.fragment(_live_panel)
panel()

final = cft.final_table(p.task, tuple(shown), p.baseline, live.final)  # sections 3 and 4

st.header(f"3 · Gap to {p.baseline.upper()} over training", divider="gray")
with common.expected_errors():
    gap_fig, gap_tab = cft.gap(p.task, tuple(shown), p.baseline, live.gaps, final)
    common.chart(gap_fig, gap_tab, f"fp4_gap_{p.task}")
st.caption(
    "Relative validation-loss gap of the seed means, 100·(L/L_baseline − 1) at each "
    "evaluation, the measure the NVFP4 paper reports (its 12B model: below 1% during the "
    "stable phase, about 1.5% at the end, against FP8). The bar at the end of each curve is ± "
    "two standard errors; dashed: live runs against their same-seed baselines."
)

st.header("4 · Final gaps", divider="gray")
with common.expected_errors():
    st.table(final[["label", "gap", "val_loss", "compared"]].rename(columns={
        "label": "recipe", "gap": f"gap to {p.baseline.upper()} (± 2 SE · verdict)",
        "val_loss": "final val loss (mean ± sd)", "compared": "compared",
    }))
    common.csv_download(final, f"fp4_final_{p.task}.csv", key="csv.fp4_final")
st.caption(
    "Last evaluation of each run. Every gap carries ± two standard errors of the paired "
    "per-seed gaps (a seed fixes the initial weights and the batches, so each recipe is "
    "compared with the baseline seed by seed) and says, in the same cell, whether it is "
    "beyond that seed noise. A live run is one seed against the baseline with its own seed; "
    "its ± is twice the library's spread of one paired gap. The CSV has every column (metric, "
    "wall time, divergences)."
)

st.header("5 · Cost against benefit", divider="gray")
with common.expected_errors():
    ofig, d = cft.overhead_figure(p.task, tuple(shown))
    common.chart(ofig, d, f"fp4_overhead_{p.task}")
st.caption(
    "Extra work per training step that each recipe's quantization adds to the GEMMs (amax, "
    "scale computation, conversion, dequantization, Hadamard transforms; counted analytically "
    "from the layer shapes, as the design-space paper sets overhead beside the loss), against "
    "the final loss gap to FP32 (bars: ± two standard errors of the paired per-seed gaps; a "
    "bar across 0 means within seed noise). Random bits for stochastic rounding are counted "
    "separately in the CSV."
)

st.header("6 · What reproduces at this scale", divider="gray")
fd = cft.findings()
fd_task = fd[fd["task"] == p.task]
st.dataframe(
    fd_task[["claim", "gap_pct", "se_pct", "seeds", "verdict", "source"]].assign(
        source=fd_task["source"].map(lambda t: glossary.cite(str(t), md=False))).rename(columns={
        "claim": "published finding", "gap_pct": "measured gap (%)", "se_pct": "± SE (%)",
    }),
    hide_index=True,
    column_config={"measured gap (%)": st.column_config.NumberColumn(format="%.2f"),
                   "± SE (%)": st.column_config.NumberColumn(format="%.2f")},
)
common.csv_download(fd, "fp4_findings.csv", key="csv.fp4_findings")
st.markdown(
    "How to read this: each row compares two recipes seed by seed (same initial weights and "
    "batches), as a percentage of the FP32 loss. *Reproduces* means the mean difference exceeds "
    "twice its standard error over three seeds (a rough screen, not a significance test); "
    "*within seed noise* means this scale cannot tell. At classroom scale (a few thousand "
    "weights, a few hundred steps) the format's coarseness and the BF16 last layer dominate, "
    "while the ablations that matter for a 12B model over 10T tokens (SR, RHT, 2-D weights) "
    "are mostly within seed noise here. We report that rather than tune the tasks until they "
    "show it."
)
with st.expander("Every task"):
    st.dataframe(fd[["task", "claim", "gap_pct", "se_pct", "verdict"]], hide_index=True)

st.header("7 · Published results (not measured here)", divider="gray")
with st.container(border=True):
    st.caption("Values reported by the NVFP4 paper for billion-parameter models trained on "
               "trillions of tokens; the lab cannot run these. Shown for reference, apart from "
               "the lab's own measurements above.")
    common.plot(cft.literature_figure(), "fp4_literature")
    lit = figs.LITERATURE
    st.dataframe(
        lit.assign(value=[f"{r} {v:g} {u}".strip() for r, v, u in
                          zip(lit["relation"].replace("=", ""), lit["value"], lit["unit"],
                              strict=True)])[
            ["model", "tokens", "comparison", "quantity", "value", "source"]].assign(
            source=lit["source"].map(lambda t: glossary.cite(str(t), md=False))),
        hide_index=True,
    )
    common.csv_download(lit, "fp4_literature.csv", key="csv.fp4_literature")
