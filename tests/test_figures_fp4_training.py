"""ui.figures_fp4_training: bands, gaps and the final table against hand-computed numbers on a
small synthetic library; figure traces carry exactly those numbers; hostile inputs don't raise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lowbit_core.training.library import design_space, load_curves
from lowbit_core.training.recipes import RECIPES
from lowbit_core.training.tasks import TASKS
from ui import figures_fp4_training as F

STEPS = [0, 10, 20, 30]
#: validation losses per (recipe, seed): fp32 and nvfp4 three seeds, bf16 one seed.
VAL = {
    ("fp32", 0): [2.0, 1.0, 0.50, 0.40],
    ("fp32", 1): [2.0, 1.2, 0.60, 0.44],
    ("fp32", 2): [2.0, 1.1, 0.55, 0.42],
    ("nvfp4", 0): [2.0, 1.1, 0.60, 0.45],
    ("nvfp4", 1): [2.0, 1.3, 0.70, 0.47],
    ("nvfp4", 2): [2.0, 1.2, 0.65, 0.46],
    ("bf16", 0): [2.0, 1.05, 0.52, 0.41],
}
LABELS = {"fp32": "FP32", "nvfp4": "NVFP4 recipe", "bf16": "BF16", "mxfp4": "MXFP4 (OCP)"}


def _row(recipe, seed, step, val, train, diverged=False):
    return {
        "recipe": recipe, "task": "digits", "seed": seed, "step": step, "train_loss": train,
        "val_loss": val, "val_metric": 1.0 - val / 4, "wall_time": 0.1 * step * (seed + 1) + 0.5,
        "steps": 30, "diverged": diverged,
    }


def _curves() -> pd.DataFrame:
    rows = []
    for (r, s), vals in VAL.items():
        for st, v in zip(STEPS, vals, strict=True):
            rows.append(_row(r, s, st, v, np.nan if st == 0 else v + 0.1))
    # mxfp4: seed 0 finishes; seed 1 diverges at step 20: its last row has an inf training loss
    # and a finite-looking validation loss (5.0) that must not enter any statistic.
    for st, v in zip(STEPS, [2.0, 1.5, 0.9, 0.8], strict=True):
        rows.append(_row("mxfp4", 0, st, v, np.nan if st == 0 else v + 0.1))
    rows.append(_row("mxfp4", 1, 0, 2.0, np.nan, True))
    rows.append(_row("mxfp4", 1, 10, 1.6, 1.7, True))
    rows.append(_row("mxfp4", 1, 20, 5.0, np.inf, True))
    return pd.DataFrame(rows)


def _seeds(recipe: str) -> np.ndarray:
    """(seed, step) array of the recipe's validation losses."""
    return np.array([v for (r, _), v in VAL.items() if r == recipe])


def _trace(fig, name):
    hits = [t for t in fig.data if t.name == name]
    assert len(hits) == 1, [t.name for t in fig.data]
    return hits[0]


def _no_data(fig) -> bool:
    return any(a.text == "no data" for a in fig.layout.annotations)


# --- bands ----------------------------------------------------------------------------------------


def test_bands_equal_numpy_per_step():
    b = F.bands(_curves())
    assert list(b.columns) == F.BAND_COLUMNS
    for r in ("fp32", "nvfp4"):
        v = _seeds(r)
        d = b[b["recipe"] == r]
        assert list(d["step"]) == STEPS
        np.testing.assert_allclose(d["mean"], v.mean(axis=0), rtol=1e-15)
        np.testing.assert_array_equal(d["min"], v.min(axis=0))
        np.testing.assert_array_equal(d["max"], v.max(axis=0))
        np.testing.assert_allclose(d["std"], v.std(axis=0, ddof=1), rtol=1e-12, atol=1e-15)
        assert list(d["n_seeds"]) == [3, 3, 3, 3]
        assert set(d["diverged_seeds"]) == {0}


def test_bands_single_seed():
    d = F.bands(_curves()).query("recipe == 'bf16'")
    np.testing.assert_array_equal(d["mean"], VAL[("bf16", 0)])
    np.testing.assert_array_equal(d["min"], d["max"])
    np.testing.assert_array_equal(d["mean"], d["min"])
    assert d["std"].isna().all()
    assert set(d["n_seeds"]) == {1}


def test_bands_drop_the_divergence_row():
    d = F.bands(_curves()).query("recipe == 'mxfp4'").set_index("step")
    assert set(d["diverged_seeds"]) == {1}
    assert list(d["n_seeds"]) == [2, 2, 1, 1]
    assert d.loc[10, "mean"] == pytest.approx((1.5 + 1.6) / 2, rel=1e-15)
    assert d.loc[20, "mean"] == 0.9  # the 5.0 logged at the divergence is gone
    assert d.loc[20, "max"] == 0.9


def test_bands_wall_time_is_the_seed_mean():
    c = _curves()
    b = F.bands(c, x="wall_time").query("recipe == 'nvfp4'")
    want = [np.mean([0.1 * st * (s + 1) + 0.5 for s in range(3)]) for st in STEPS]
    np.testing.assert_allclose(b["wall_time"], want, rtol=1e-15)


def test_bands_nonfinite_values_are_missing():
    c = _curves()
    c.loc[(c["recipe"] == "fp32") & (c["seed"] == 1) & (c["step"] == 10), "val_loss"] = np.nan
    c.loc[(c["recipe"] == "fp32") & (c["seed"] == 2) & (c["step"] == 20), "val_loss"] = np.inf
    d = F.bands(c).query("recipe == 'fp32'").set_index("step")
    assert d.loc[10, "n_seeds"] == 2 and d.loc[20, "n_seeds"] == 2
    assert d.loc[10, "mean"] == pytest.approx((1.0 + 1.1) / 2, rel=1e-15)
    assert d.loc[20, "mean"] == pytest.approx((0.5 + 0.6) / 2, rel=1e-15)
    assert np.isfinite(d[["mean", "min", "max"]].to_numpy()).all()


def test_bands_reject_bad_arguments():
    with pytest.raises(ValueError, match="x='epoch'"):
        F.bands(_curves(), x="epoch")
    with pytest.raises(ValueError, match="y='loss'"):
        F.bands(_curves(), y="loss")
    two = pd.concat([_curves(), _curves().assign(task="charlm")])
    with pytest.raises(ValueError, match="several tasks"):
        F.bands(two)


def test_longest_runs_are_used_and_select():
    c = _curves()
    short = c[c["step"] <= 10].assign(steps=10, val_loss=9.0)
    mixed = pd.concat([c, short], ignore_index=True)
    pd.testing.assert_frame_equal(F.bands(mixed), F.bands(c))
    assert set(F.select(mixed, "digits")["steps"]) == {30}
    assert set(F.select(mixed, "digits", steps=10)["steps"]) == {10}
    with pytest.raises(ValueError, match="steps=7"):
        F.select(mixed, "digits", steps=7)


# --- gaps and the final table ---------------------------------------------------------------------


def test_gap_table_by_hand():
    t = F.gap_table(_curves(), "fp32")
    assert list(t.columns) == F.GAP_COLUMNS
    assert "fp32" not in set(t["recipe"])
    base = _seeds("fp32").mean(axis=0)
    d = t[t["recipe"] == "nvfp4"]
    np.testing.assert_allclose(d["gap_pct"], 100 * (_seeds("nvfp4").mean(axis=0) / base - 1),
                               rtol=1e-12, atol=1e-12)
    # step 30 by hand: 0.46 / 0.42
    assert d["gap_pct"].iloc[-1] == pytest.approx(100 * (0.46 / 0.42 - 1), rel=1e-12)
    m = t[t["recipe"] == "mxfp4"].set_index("step")
    assert m.loc[20, "gap_pct"] == pytest.approx(100 * (0.9 / 0.55 - 1), rel=1e-12)
    assert F.gap_table(_curves(), "fp8").empty


def test_final_table_paired_uncertainty_and_divergence():
    t = F.final_table(_curves(), LABELS, "fp32").set_index("recipe")
    assert list(t.reset_index().columns) == F.FINAL_COLUMNS
    assert list(t.index) == ["bf16", "fp32", "nvfp4", "mxfp4"]  # sorted by gap, ascending
    base_last = np.array([0.40, 0.44, 0.42])
    nv = t.loc["nvfp4"]
    assert nv["val_loss_mean"] == pytest.approx(0.46, rel=1e-12)
    assert nv["gap_pct"] == pytest.approx(100 * (0.46 / 0.42 - 1), rel=1e-12)
    paired = 100 * (np.array([0.45, 0.47, 0.46]) / base_last - 1)
    assert nv["paired_gap_std"] == pytest.approx(paired.std(ddof=1), rel=1e-12)
    # ± two standard errors of the three paired gaps, and the verdict in the same cell
    assert nv["gap_unc_pct"] == pytest.approx(2 * paired.std(ddof=1) / np.sqrt(3), rel=1e-12)
    assert nv["verdict"] == "beyond seed noise"  # 9.5 % against ± 2.8 %
    assert nv["gap"] == f"{nv['gap_pct']:+.2f} % ± {nv['gap_unc_pct']:.2f} · beyond seed noise"
    assert "3 seeds" in nv["compared"] and "same seed" in nv["compared"]
    # BF16 has one seed: its ± is twice the pooled spread of one paired gap (RMS over recipes)
    pooled = np.sqrt(np.mean([paired.std(ddof=1) ** 2]))
    bf = t.loc["bf16"]
    assert bf["gap_unc_pct"] == pytest.approx(2 * pooled, rel=1e-12)
    assert bf["verdict"] == ("within seed noise" if abs(bf["gap_pct"]) < 2 * pooled
                             else "beyond seed noise")
    assert t.loc["fp32", "gap"] == "baseline" and t.loc["fp32", "gap_pct"] == 0
    mx = t.loc["mxfp4"]
    assert (mx["seeds"], mx["diverged"]) == (2, 1)
    assert mx["val_loss_mean"] == 0.8 and np.isnan(mx["val_loss_std"])
    assert mx["label"] == "MXFP4 (OCP)"
    assert t.loc["nvfp4", "wall_time_s"] == pytest.approx(np.mean([3.5, 6.5, 9.5]), rel=1e-12)


def test_final_table_live_rows_keep_their_own_pairing():
    live = pd.DataFrame([{
        "recipe": "live:abc", "label": "live: NVFP4 · seed 7", "val_loss": 0.5, "metric": 0.9,
        "wall_time_s": 1.0, "diverged": 0, "gap_pct": 0.4, "gap_unc_pct": 1.0,
        "compared": "1 seed, with FP32 trained with the same seed, steps and batch"}])
    t = F.final_table(_curves(), LABELS, "fp32", live).set_index("recipe")
    row = t.loc["live:abc"]
    assert row["gap_pct"] == 0.4 and row["verdict"] == "within seed noise"
    assert row["gap"] == "+0.40 % ± 1.00 · within seed noise" and row["seeds"] == 1
    assert t.index[-1] == "live:abc"  # after the library rows


def test_final_table_without_baseline():
    t = F.final_table(_curves(), LABELS, "fp8")
    assert t["gap_pct"].isna().all()
    assert set(t["verdict"]) == {"n/a (no baseline)"}


# --- figures --------------------------------------------------------------------------------------


def _live() -> pd.DataFrame:
    return pd.DataFrame({
        "run": ["mine"] * 4, "recipe": ["nvfp4"] * 4, "seed": 0, "step": [0, 5, 15, 40],
        "train_loss": [np.nan, 1.7, 0.9, 0.5], "val_loss": [2.0, 1.6, 0.9, 0.4],
        "val_metric": [0.5, 0.6, 0.7, 0.9], "wall_time": [0.0, 1.0, 2.0, 3.0],
    })


def test_loss_figure_traces_carry_the_band_numbers():
    fig = F.loss_figure(_curves(), ["fp32", "nvfp4", "nope"], LABELS, live=_live(), zoom=False)
    names = [t.name for t in fig.data]
    assert names == ["FP32 band", "NVFP4 recipe band", "FP32", "NVFP4 recipe", "live: mine"]
    v = _seeds("nvfp4")
    mean = _trace(fig, "NVFP4 recipe")
    np.testing.assert_allclose(mean.y, v.mean(axis=0), rtol=1e-15)
    np.testing.assert_array_equal(mean.x, STEPS)
    band = _trace(fig, "NVFP4 recipe band")
    np.testing.assert_array_equal(band.y, np.concatenate([v.max(axis=0), v.min(axis=0)[::-1]]))
    assert band.fill == "toself"
    assert mean.line.color == F.COLORS["nvfp4"]
    assert _trace(fig, "FP32").line.color == F.COLORS["fp32"]
    live = _trace(fig, "live: mine")
    assert live.line.dash == "dash" and "markers" in live.mode
    np.testing.assert_array_equal(live.y, [2.0, 1.6, 0.9, 0.4])
    assert fig.layout.xaxis.title.text == "training step"


def test_loss_figure_axes_wall_time_metric_log():
    fig = F.loss_figure(_curves(), ["nvfp4"], LABELS, x="wall_time", y="val_metric",
                        metric_name="accuracy", log_y=True)
    assert fig.layout.xaxis.title.text == "wall time (s)"
    assert "accuracy" in fig.layout.yaxis.title.text and fig.layout.yaxis.type == "log"
    want_x = [np.mean([0.1 * st * (s + 1) + 0.5 for s in range(3)]) for st in STEPS]
    np.testing.assert_allclose(_trace(fig, "NVFP4 recipe").x, want_x, rtol=1e-15)
    np.testing.assert_allclose(_trace(fig, "NVFP4 recipe").y,
                               (1 - _seeds("nvfp4") / 4).mean(axis=0), rtol=1e-15)
    tr = F.loss_figure(_curves(), ["mxfp4"], LABELS, y="train_loss")
    # step 0 has no training loss; the divergence row's inf is dropped
    np.testing.assert_allclose(_trace(tr, "MXFP4 (OCP)").y, [1.65, 1.0, 0.9], rtol=1e-15)


def test_gap_figure_numbers_and_live():
    from lowbit_core.training.findings import paired_curve_gap

    c = _curves()
    base0 = c[(c["recipe"] == "fp32") & (c["seed"] == 0)]
    run = _live().assign(step=STEPS, val_loss=[2.0, 1.05, 0.52, 0.41])
    live = paired_curve_gap(run, base0).assign(run="mine", recipe="nvfp4")
    final = F.final_table(c, LABELS, "fp32")
    fig = F.gap_figure(c, ["fp32", "nvfp4", "mxfp4"], LABELS, "fp32", live=live, final=final)
    lines = [t for t in fig.data if t.meta != "error bar"]
    v = final.set_index("recipe")["verdict"]
    assert [t.name for t in lines] == [f"NVFP4 recipe: {v['nvfp4']}", f"MXFP4: {v['mxfp4']}",
                                       "live: mine"]
    base = _seeds("fp32").mean(axis=0)
    np.testing.assert_allclose(lines[0].y, 100 * (_seeds("nvfp4").mean(axis=0) / base - 1),
                               rtol=1e-12)
    # the live run against the baseline run with its own seed, at every shared step
    assert lines[2].line.dash == "dash"
    np.testing.assert_array_equal(lines[2].x, STEPS)
    np.testing.assert_allclose(lines[2].y, 100 * (run["val_loss"] / VAL[("fp32", 0)] - 1),
                               rtol=1e-12)
    bar = next(t for t in fig.data if t.meta == "error bar")  # NVFP4's ± 2 SE at the end
    nv = final.set_index("recipe").loc["nvfp4"]
    assert bar.y[0] == pytest.approx(nv["gap_pct"]) and bar.error_y.array[0] == pytest.approx(
        nv["gap_unc_pct"])
    assert any(s.y0 == 0 and s.y1 == 0 for s in fig.layout.shapes)  # the zero line


def _design() -> pd.DataFrame:
    return pd.DataFrame({
        "recipe": ["fp32", "nvfp4", "nvfp4", "mxfp4"], "task": "digits", "steps": 30,
        "val_loss": [0.42, 0.46, 0.46, np.inf], "val_loss_std": [0.02, 0.01, 0.01, np.nan],
        "gap": [0.0, 0.46 / 0.42 - 1, 0.46 / 0.42 - 1, np.inf],
        "overhead": [0.0, 0.2, 0.2, 0.07], "amax_ops": [0.0, 5.0, 5.0, 3.0],
    })


def test_overhead_figure_points_and_error_bars():
    fig = F.overhead_figure(_design(), LABELS)
    assert [t.name for t in fig.data] == ["FP32", "NVFP4 recipe"]  # duplicate and inf dropped
    nv = _trace(fig, "NVFP4 recipe")
    assert nv.x[0] == pytest.approx(20.0) and nv.y[0] == pytest.approx(100 * (0.46 / 0.42 - 1))
    assert nv.error_y.array[0] == pytest.approx(100 * 0.01 / 0.42, rel=1e-12)
    assert fig.layout.showlegend is not False and nv.mode == "markers"  # the legend names them
    lo, hi = fig.layout.yaxis.range  # every error bar inside the axis
    assert lo < nv.y[0] - nv.error_y.array[0] and nv.y[0] + nv.error_y.array[0] < hi
    fig2 = F.overhead_figure(_design().assign(gap_unc_pct=[0.0, 3.0, 3.0, np.nan]), LABELS)
    assert _trace(fig2, "NVFP4 recipe").error_y.array[0] == 3.0  # paired ± 2 SE when given
    assert "MXFP4 (OCP)" in fig.layout.title.text  # named as not shown
    assert "%" in fig.layout.xaxis.title.text and "overhead" in fig.layout.xaxis.title.text


# --- hostile inputs -------------------------------------------------------------------------------


def test_empty_inputs_give_no_data_figures():
    for empty in (_curves().iloc[:0], load_curves("/nonexistent/curves.parquet")):
        assert F.bands(empty).empty and F.gap_table(empty).empty
        assert F.final_table(empty, LABELS).empty
        assert _no_data(F.loss_figure(empty, ["fp32"], LABELS))
        assert _no_data(F.gap_figure(empty, ["fp32"], LABELS, live=_live().iloc[:0]))
    assert _no_data(F.overhead_figure(_design().iloc[:0], LABELS))
    assert _no_data(F.overhead_figure(pd.DataFrame(), LABELS))


def test_missing_recipes_and_baseline():
    assert _no_data(F.loss_figure(_curves(), ["nope"], LABELS))
    assert _no_data(F.gap_figure(_curves(), ["nvfp4"], LABELS, baseline="fp8"))
    assert not _no_data(F.loss_figure(_curves(), ["nope", "bf16"], LABELS))


def test_all_nonfinite_losses_do_not_raise():
    c = _curves().assign(val_loss=np.nan, train_loss=np.nan, val_metric=np.inf)
    assert F.bands(c).empty
    assert _no_data(F.loss_figure(c, ["fp32"], LABELS))
    assert _no_data(F.loss_figure(c, ["fp32"], LABELS, y="val_metric"))
    assert _no_data(F.gap_figure(c, ["nvfp4"], LABELS))
    t = F.final_table(c, LABELS)
    assert t["val_loss_mean"].isna().all() and list(t["val_loss"].unique()) == ["n/a"]
    live = _live().assign(val_loss=[np.nan, np.inf, -np.inf, np.nan])
    assert _no_data(F.loss_figure(c, ["fp32"], LABELS, live=live))


def test_single_seed_library():
    c = _curves().query("seed == 0")
    t = F.final_table(c, LABELS).set_index("recipe")
    assert t.loc["fp32", "verdict"] == "baseline"
    assert t.loc["nvfp4", "verdict"] == "noise unknown"  # one seed, no spread to pool
    assert "noise unknown" in str(t.loc["nvfp4", "gap"])
    fig = F.loss_figure(c, ["fp32", "nvfp4"], LABELS)
    np.testing.assert_array_equal(_trace(fig, "FP32").y, VAL[("fp32", 0)])


def test_colours_are_stable():
    assert F.color("fp32") == "#5f5f5f" and F.color("bf16") == "#a0a0a0"  # mid greys: both themes
    assert F.color("my_recipe") == F.color("my_recipe") in F._EXTRA_COLORS


# --- literature and techniques --------------------------------------------------------------------


def test_literature_values():
    lit = F.LITERATURE
    assert list(lit.columns[:5]) == ["model", "tokens", "comparison", "quantity", "value"]
    assert "source" in lit.columns and lit["source"].str.contains("2509.25149").all()
    for v in (62.58, 62.62, 1.36, 76.57, 77.36, 92.27, 89.08, 56.67, 59.52, 2.5):
        assert (lit["value"] == v).any(), v
    mmlu_pro = lit[lit["quantity"] == "MMLU-Pro 5-shot"].set_index("comparison")["value"]
    assert (mmlu_pro["NVFP4"], mmlu_pro["FP8"]) == (62.58, 62.62)


def test_literature_figure():
    fig = F.literature_figure()
    assert "Published (not measured here)" in fig.layout.title.text
    bar = fig.data[0]
    assert sorted(bar.x) == [1.0, 1.5, 1.5, 2.5]
    assert "<1%" in bar.text
    assert not set(bar.marker.color) & set(F.COLORS.values())


def test_techniques():
    keys = [t.key for t in F.TECHNIQUES]
    assert keys == ["sr_grad", "rht_wgrad", "tile2d", "hp_last", "tensor_scale", "block_size",
                    "scale_fmt", "scale_rule"]
    for t in F.TECHNIQUES:
        assert t.what_it_does and t.paper_finding.startswith("(")
        assert t.ablation == "" or t.ablation in RECIPES
        with pytest.raises(dataclasses.FrozenInstanceError):
            t.key = "x"  # type: ignore[misc]


# --- the real library -----------------------------------------------------------------------------


def test_every_function_on_the_stored_library():
    curves = load_curves()
    if curves.empty:
        pytest.skip("data/fp4_curves.parquet not generated")
    labels = {k: r.label for k, r in RECIPES.items()}
    names = list(RECIPES)
    for task, spec in TASKS.items():
        c = F.select(curves, task)
        b = F.bands(c)
        assert set(b["recipe"]) <= set(names) and (b["n_seeds"] >= 1).all()
        for x in ("step", "wall_time"):
            for y in ("val_loss", "train_loss", "val_metric"):
                fig = F.loss_figure(c, names, labels, x=x, y=y, metric_name=spec.metric)
                assert not _no_data(fig)
                for t in fig.data:
                    assert np.isfinite(np.asarray(t.y, dtype=float)).all()
        assert not _no_data(F.gap_figure(c, names, labels))
        g = F.gap_table(c)
        assert np.isfinite(g["gap_pct"]).all()
        ft = F.final_table(c, labels)
        assert ft.loc[ft["recipe"] == "fp32", "gap_pct"].item() == 0
        assert len(ft) == c["recipe"].nunique()
        fig = F.overhead_figure(design_space(c, task), labels)
        assert 1 <= len(fig.data) <= len(names)


def test_loss_figure_without_bands():
    fig = F.loss_figure(_curves(), ["fp32", "nvfp4"], LABELS, bands=False)
    assert [t.name for t in fig.data] == ["FP32", "NVFP4 recipe", "FP32 · zoom",
                                          "NVFP4 recipe · zoom"]
    np.testing.assert_allclose(fig.data[0].y, _seeds("fp32").mean(axis=0), rtol=1e-15)


def test_metric_title_from_the_metric_id_or_text():
    for name in ("bits_per_char", "bits per char"):
        fig = F.loss_figure(_curves(), ["fp32"], LABELS, y="val_metric", metric_name=name)
        title = fig.layout.yaxis.title.text.replace("<br>", " ")  # wrapped to fit a phone
        assert title == "validation bits per character"


def test_live_rows_without_library_columns_join_the_final_table():
    # the page appends finished live runs (CURVE_COLUMNS only: no steps, no diverged flag) to
    # library rows of mixed run lengths; they must be neither dropped nor flagged as diverged
    c = _curves()
    short = c[c["step"] <= 10].assign(steps=10)
    live = _live().drop(columns="run").assign(recipe="live:abc", task="digits")
    t = F.final_table(pd.concat([c, short, live], ignore_index=True), LABELS).set_index("recipe")
    row = t.loc["live:abc"]
    assert (row["seeds"], row["diverged"]) == (1, 0)
    assert row["val_loss_mean"] == 0.4
    assert row["gap_pct"] == pytest.approx(100 * (0.4 / 0.42 - 1), rel=1e-12)
