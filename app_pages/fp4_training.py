"""FP4 training page: the curve library of simulated FP4 recipes against FP32/BF16, what each
technique of the NVFP4 recipe buys, published values beside them, and live runs of any recipe
in the shared worker pool (papers (c) and (d))."""

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
from lowbit_core.training.pool import JobSnapshot, PoolBusy
from lowbit_core.training.recipes import RECIPES, get_recipe
from lowbit_core.training.tasks import TASKS
from ui import cached_fp4_training as cft
from ui import common, params
from ui import figures_fp4_training as figs
from ui.params_fp4_training import (
    BASELINES,
    LIVE_MAX_STEPS,
    SCALE_RULES,
    X_AXES,
    Y_AXES,
    FP4TrainingParams,
)

PAGE, ss = "fp4_training", st.session_state
K = PAGE + "."
RUNS = K + "_runs"  # keys of this session's live runs, oldest first
SHOWN = K + "_shown"  # runs already drawn as finished (a newly finished one triggers a rerun)
MAX_SHOWN_RUNS = 8


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


def _run_label(s: JobSnapshot) -> str:
    r = get_recipe(s.params.recipe)
    name = r.label if r.name in RECIPES else r.label.removeprefix("Custom: ")
    tag = "" if r.name in RECIPES else "custom "
    return f"{tag}{name} · seed {s.params.seed} · {s.steps} steps"


def _live_frame(snaps: list[JobSnapshot], task: str) -> pd.DataFrame | None:
    """Tidy curves of this session's live runs on ``task`` (finished and running)."""
    parts = [
        s.curve().assign(run=_run_label(s), recipe=get_recipe(s.params.recipe).name)
        for s in snaps if s.params.task == task and s.rows
    ]
    return pd.concat(parts, ignore_index=True) if parts else None


params.seed(FP4TrainingParams, page=PAGE)
p, bad = params.collect(FP4TrainingParams, PAGE)
params.publish(p)
pool = cft.pool()
me = cft.owner()
spec = TASKS[p.task]

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

lib = cft.curves()
lib_task = lib[lib["task"] == p.task]
labels = {r: _label(r) for r in RECIPES}
shown = list(dict.fromkeys((p.baseline, *p.recipes)))
runs: list[str] = ss.setdefault(RUNS, [])
snaps = [s for s in (pool.job(k) for k in runs) if s is not None]
ss.setdefault(SHOWN, set()).update(s.key for s in snaps if not s.state.active)  # drawn below
live = _live_frame(snaps, p.task)
missing = [r for r in shown if r not in set(lib_task["recipe"])]
if missing:
    st.info("Not in the curve library for this task yet: " + ", ".join(map(_label, missing)))

def _status(s: JobSnapshot) -> None:
    state = s.state.value
    c1, c2 = st.columns([5, 1])
    with c1:
        if state == "queued":
            st.progress(0.0, text=f"{_run_label(s)}: waiting, place {s.position} in the queue")
        elif state == "running":
            st.progress(s.fraction, text=f"{_run_label(s)}: step {s.step}/{s.steps} "
                        f"({s.wall_s:.1f} s)")
        elif state == "done":
            res = s.result
            st.success(f"{_run_label(s)}: done in {float(res.get('wall_s', 0.0)):.1f} s, final "
                       f"validation loss {float(res.get('final_val_loss', float('nan'))):.4f}"
                       + (" (diverged)" if res.get("diverged") else ""),
                       icon=":material/check:")
        elif state == "failed":
            st.error(f"{_run_label(s)}: failed. {s.error.splitlines()[0] if s.error else ''}")
        else:
            st.info(f"{_run_label(s)}: cancelled")
    with c2:
        if s.state.active:
            if st.button("Cancel", key=f"{K}_cancel.{s.key}", icon=":material/stop:"):
                pool.cancel(s.key, me)
                st.rerun(scope="fragment")
        elif st.button("Remove", key=f"{K}_remove.{s.key}", icon=":material/close:"):
            if s.key in runs:
                runs.remove(s.key)
            st.rerun()


def _live_panel() -> None:
    cur = [s for s in (pool.job(k) for k in list(runs)) if s is not None]
    if not cur:
        st.caption("No live runs yet in this session.")
        return
    done_now = {s.key for s in cur if not s.state.active}
    drawn: set[str] = ss.setdefault(SHOWN, set())
    for s in reversed(cur):
        _status(s)
    running = [s for s in cur if s.state.active and s.rows and s.params.task == p.task]
    if running:
        lv = _live_frame(running, p.task)
        st.plotly_chart(figs.loss_figure(lib_task, [p.baseline], labels, live=lv,
                                         y="val_loss", title="Live: validation loss so far"),
                        config=common.PLOTLY_CONFIG, key="chart.fp4_live")
    if done_now - drawn:  # a run finished: redraw the whole page so the charts above include it
        drawn |= done_now
        st.rerun(scope="app")


st.header("1 · Loss curves", divider="gray")
metric_name = spec.metric.replace("_", " ")
with common.expected_errors():
    fig = cft.loss_figure(p.task, tuple(shown), p.x, p.y, p.log_y, p.bands, metric_name, live)
    data = lib_task[lib_task["recipe"].isin(shown)]
    common.chart(fig, pd.concat([data, live]) if live is not None else data,
                 f"fp4_curves_{p.task}")
st.caption(
    f"{spec.label}: {spec.steps} steps, batch {spec.batch_size}, Adam (peak lr {spec.lr:g}, "
    "warm-up then cosine decay), FP32 master weights. Lines: mean over 3 seeds (same initial "
    "weights and batches for every recipe at a given seed); bands: the seeds' min–max. Dashed: "
    "your live runs. The metric is "
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
        st.caption(f"{t.what_it_does} *Paper:* {t.paper_finding}")


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
    st.caption(f"The learning rate warms up and decays over the run's own length, so a "
               f"{p.live_steps}-step run is not the same run as the library's first "
               f"{p.live_steps} steps; use 0 steps to compare like with like.")
if p.steps_capped:
    st.caption(f"Live runs of this task are capped at {LIVE_MAX_STEPS[p.task]} steps on this "
               "server (reduced size); the library curves above ran the full length.")
tp = p.train_params()
counts = pool.counts()
st.caption(
    f"Live runs train in a shared pool of worker processes: {pool.workers} at a time for all "
    f"visitors (now {counts['running']} running, {counts['queued']} waiting). Identical "
    "settings train once and are reused; the same seed gives the same curve."
)
if st.button("Run", type="primary", icon=":material/play_arrow:", key=K + "_run"):
    try:
        key = pool.submit(tp, me)
    except PoolBusy as exc:
        st.warning(f"Not started: {exc}.")
    else:
        if key in runs:
            runs.remove(key)
        runs.append(key)
        del runs[:-MAX_SHOWN_RUNS]
        st.rerun()


active = any(s.state.active for s in snaps)
panel: Any = st.fragment(run_every=1.0)(_live_panel) if active else st.fragment(_live_panel)
panel()

st.header(f"3 · Gap to {p.baseline.upper()} over training", divider="gray")
with common.expected_errors():
    gap_fig, gap_tab = cft.gap(p.task, tuple(shown), p.baseline, live)
    common.chart(gap_fig, gap_tab, f"fp4_gap_{p.task}")
st.caption(
    "Relative validation-loss gap of the seed means, 100·(L/L_baseline − 1) at each "
    "evaluation, the measure the NVFP4 paper reports (its 12B model: below 1% during the "
    "stable phase, about 1.5% at the end, against FP8)."
)

st.header("4 · Final gaps", divider="gray")
finished = [s for s in snaps if s.params.task == p.task and s.state.value == "done"]
live_done: pd.DataFrame | None = None
live_labels: tuple[tuple[str, str], ...] = ()
if finished:
    live_done = pd.concat([s.curve().assign(recipe=f"live:{s.key[:6]}") for s in finished])
    live_labels = tuple((f"live:{s.key[:6]}", "live: " + _run_label(s)) for s in finished)
with common.expected_errors():
    final = cft.final_table(p.task, tuple(shown), p.baseline, live_done, live_labels)
    nf = st.column_config.NumberColumn
    st.dataframe(
        final[["label", "seeds", "val_loss", "metric_mean", "gap_pct", "noise", "wall_time_s",
               "diverged"]],
        hide_index=True,
        column_config={
            "label": "recipe", "val_loss": "final val loss (mean ± sd)",
            "metric_mean": nf(metric_name, format="%.4f"),
            "gap_pct": nf(f"gap to {p.baseline.upper()} (%)", format="%+.2f"),
            "noise": "gap in seed noise", "wall_time_s": nf("wall time (s)", format="%.1f"),
        },
    )
    common.csv_download(final, f"fp4_final_{p.task}.csv", key="csv.fp4_final")
st.caption(
    "Last evaluation of each run. “Gap in seed noise” is the gap in units of the baseline's "
    "seed-to-seed standard deviation: below about 2, three seeds cannot tell the recipes "
    "apart. Live runs are single seeds. Wall times come from one torch thread on a 2-core "
    "machine and move with its load; the CSV has every column."
)

st.header("5 · Cost against benefit", divider="gray")
with common.expected_errors():
    ofig, d = cft.overhead_figure(p.task, tuple(shown))
    common.chart(ofig, d, f"fp4_overhead_{p.task}")
st.caption(
    "Extra work per training step that each recipe's quantization adds to the GEMMs (amax, "
    "scale computation, conversion, dequantization, Hadamard transforms; counted analytically "
    "from the layer shapes, as the design-space paper sets overhead beside the loss), against "
    "the final loss gap. Random bits for stochastic rounding are counted separately in the CSV."
)

st.header("6 · What reproduces at this scale", divider="gray")
fd = cft.findings()
fd_task = fd[fd["task"] == p.task]
st.dataframe(
    fd_task[["claim", "gap_pct", "se_pct", "seeds", "verdict", "source"]].rename(columns={
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
    st.plotly_chart(cft.literature_figure(), config=common.PLOTLY_CONFIG,
                    key="chart.fp4_literature")
    lit = figs.LITERATURE
    st.dataframe(
        lit.assign(value=[f"{r} {v:g} {u}".strip() for r, v, u in
                          zip(lit["relation"].replace("=", ""), lit["value"], lit["unit"],
                              strict=True)])[
            ["model", "tokens", "comparison", "quantity", "value", "source"]],
        hide_index=True,
    )
    common.csv_download(lit, "fp4_literature.csv", key="csv.fp4_literature")
