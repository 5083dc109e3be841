"""Lessons: every lesson file loads and validates; each step's state decodes with its page's
codec without clamping; the checker accepts the computed answer and rejects a perturbed one;
variants change the numbers and keep the checker right; the exact values the issue names; the
progress codec refuses hostile tokens."""

from __future__ import annotations

import csv
import io
import math

import ml_dtypes
import numpy as np
import pytest

from lowbit_core.lessons import (
    Question,
    answer,
    check,
    expected,
    load_lessons,
    parse_lesson,
    quote_values,
    step_state,
)
from ui import lessons as L
from ui import lessons_charts

LESSONS = load_lessons()
STEPS = [(les, n, s) for les in LESSONS.values() for n, s in enumerate(les.steps, start=1)]
IDS = [f"{les.id}-{n}" for les, n, _ in STEPS]


def test_curriculum() -> None:
    assert len(LESSONS) >= 8
    for les in LESSONS.values():
        assert 5 <= len(les.steps) <= 10 and les.goal and les.title


@pytest.mark.parametrize(("les", "n", "step"), STEPS, ids=IDS)
def test_step_state_decodes_without_clamping(les, n, step) -> None:  # type: ignore[no-untyped-def]
    for v in (0, 1, 2, 3):
        state = step_state(step, v, n)
        p, msgs = L.page_params(step, state)
        assert msgs == [], (les.id, n, v, msgs)
        for k, val in L.typed_state(step, state).items():  # every value arrived as written
            got = getattr(p, k)
            assert (list(got) if isinstance(got, tuple) else got) == (
                list(val) if isinstance(val, tuple) else val), (k, got, val)
    assert set(step.charts) <= set(lessons_charts.CHARTS.get(step.page, {}))
    step.prompt.format(**step_state(step, 0, n))
    step.question.text.format(**step_state(step, 0, n))
    state0 = step_state(step, 0, n)
    quoted = quote_values(step, L.typed_state(step, state0))  # computed by the core
    step.explain.format(**state0, **quoted, answer="1")  # {answer}: the computed one


def test_explanations_quote_computed_numbers() -> None:
    """An explanation's numbers are quotes computed from the step's state (here the curve
    library's gaps and the block demo's errors), so they follow the core and the data."""
    from lowbit_core.lessons import answer

    les = LESSONS["fp4_training"]
    step = les.steps[0]
    q = quote_values(step, L.typed_state(step, step_state(step, 0, 1)))
    assert q == {"nv": answer("fp4_gap_pct", task="digits", recipe="nvfp4"),
                 "naive": answer("fp4_gap_pct", task="digits", recipe="fp4_naive")}
    text = step.explain.format(**step_state(step, 0, 1), **q, answer="")
    assert f"{q['nv']:+.1f} %" in text and f"{q['naive']:+.1f} %" in text
    b = LESSONS["blocks"].steps[0]
    qb = quote_values(b, L.typed_state(b, step_state(b, 0, 1)))
    assert qb["nv"] < qb["mx"]  # the explanation's claim, as computed
    step0 = _minimal()["steps"][0]  # type: ignore[index]
    with pytest.raises(ValueError, match=r"quotes\.y"):
        parse_lesson(_minimal(steps=[{**step0, "quotes": {"y": {"answer": "made_up"}}}] * 5),
                     "x")
    with pytest.raises(ValueError, match="own identifier"):  # a quote may not hide a field
        parse_lesson(_minimal(steps=[{**step0, "quotes": {"x": {"answer": "round_value"}}}] * 5),
                     "x")


def _perturbed(q: Question, want: float) -> float:
    return want + 2 * (q.tol + q.rtol * abs(want)) + max(0.5, 0.1 * abs(want))


@pytest.mark.parametrize(("les", "n", "step"), STEPS, ids=IDS)
def test_checker_accepts_computed_rejects_perturbed(les, n, step) -> None:  # type: ignore[no-untyped-def]
    q = step.question
    state = L.typed_state(step, step_state(step, 0, n))
    if q.kind == "numeric":
        want = float(expected(q, state))
        assert check(q, state, want).correct
        assert not check(q, state, _perturbed(q, want)).correct
    elif q.kind == "choice":
        right = int(expected(q, state))
        assert check(q, state, right).correct
        for i in range(len(q.options)):
            if i != right:
                assert not check(q, state, i).correct
    else:
        sol = L.typed_state(step, {**state, **dict(q.solution)})
        assert check(q, state, {k: sol[k] for k, _ in q.solution}).correct
        # the step's own starting state must not already pass: the student has to act
        assert not check(q, state, {c: state[c] for c in step.controls}).correct


VARIANT_STEPS = [(les, n, s) for les, n, s in STEPS if s.variants]


@pytest.mark.parametrize(("les", "n", "step"), VARIANT_STEPS,
                         ids=[f"{les.id}-{n}" for les, n, _ in VARIANT_STEPS])
def test_variants_change_numbers_and_checker_stays_right(les, n, step) -> None:  # type: ignore[no-untyped-def]
    q = step.question
    states = [L.typed_state(step, step_state(step, v, n)) for v in range(12)]
    field = step.variants[0][0]
    assert len({repr(s[field]) for s in states}) >= 2
    assert step_state(step, 7, n) == step_state(step, 7, n)  # seeded: reproducible
    for s in states[:4]:
        want = float(expected(q, s))
        assert check(q, s, want).correct
        assert not check(q, s, _perturbed(q, want)).correct


# --- the exact values the issue names, against independent oracles ----------------------------


def test_ties_e4m3() -> None:
    assert answer("round_value", fmt="float8_e4m3fn", x=4.25, mode="rne") == 4.0
    assert float(np.array(4.25).astype(ml_dtypes.float8_e4m3fn)) == 4.0  # the oracle agrees
    assert answer("round_value", fmt="float8_e4m3fn", x=4.25, mode="rna") == 4.5
    assert answer("is_nan_after_cast", fmt="float8_e4m3fn", x=500.0)
    assert math.isnan(float(np.array(500.0).astype(ml_dtypes.float8_e4m3fn)))


def test_stagnation_values() -> None:
    args = {"fmt": "bfloat16", "start": 1.0, "a": 0.001, "n": 1000}
    assert answer("accumulate_mean", mode="rne", **args) == 1.0
    # SR: unbiased, E = 2; 16 paths, each with sd <= sqrt(n * ulp^2 / 4) = 0.124: mean within 4 SE
    assert abs(answer("accumulate_mean", mode="sr", seeds=16, **args) - 2.0) < 4 * 0.124 / 4
    assert answer("harmonic_stop", fmt="bfloat16") == 65
    assert answer("harmonic_stop", fmt="float16") == 513


@pytest.mark.parametrize("n_bits", [1, 2, 3, 5, 8])
def test_srff_bias(n_bits: int) -> None:
    assert answer("mean_bias_ulp", mode="srff", rbits=n_bits) == -(2.0 ** -(n_bits + 1))
    for mode in ("srf", "src", "sro"):
        assert abs(answer("mean_bias_ulp", mode=mode, rbits=n_bits)) < 1e-12


def test_blocks_values() -> None:
    demo = {"groups": 2, "outlier": 20.0, "outlier_at": 5, "seed": 0}
    mx = answer("outlier_block_rmse", block_fmt="mxfp4", **demo)
    nv = answer("outlier_block_rmse", block_fmt="nvfp4", **demo)
    assert nv < mx
    assert answer("small_block_max", block_fmt="nvfp4", small=1e-3, big=1e3) == 0.0  # corner
    assert answer("small_block_max", block_fmt="mxfp4", small=1e-3, big=1e3) > 0.0
    assert answer("count_codes", fmt="float8_e4m3fn", kind="distinct") == 253
    assert answer("format_property", fmt="float8_e4m3fn", name="max") == 448.0


def test_unknown_answer_raises() -> None:
    with pytest.raises(ValueError, match="nope"):
        answer("nope")
    with pytest.raises(ValueError, match="round_value"):
        answer("round_value", fmt="bfloat16")


# --- schema and progress codec -------------------------------------------------------------------


def _minimal(**over: object) -> dict[str, object]:
    step = {"page": "formats", "state": {"x": 1.0}, "prompt": "p", "hint": "h", "explain": "e",
            "question": {"kind": "numeric", "text": "t", "answer": "round_value",
                         "args": {"fmt": "bfloat16", "x": "$x"}}}
    return {"title": "t", "goal": "g", "duration_min": 10, "steps": [step] * 5, **over}


def test_schema_rejects_bad_files() -> None:
    parse_lesson(_minimal(), "ok")
    with pytest.raises(ValueError, match="steps"):
        parse_lesson(_minimal(steps=[]), "x")
    with pytest.raises(ValueError, match="answer_key"):
        parse_lesson(_minimal(answer_key=4), "x")  # an answer typed into the file: refused
    bad = _minimal()
    bad["steps"] = [{**bad["steps"][0], "question": {"kind": "numeric", "text": "t",  # type: ignore[index]
                                                      "answer": "made_up"}}] * 5
    with pytest.raises(ValueError, match="made_up"):
        parse_lesson(bad, "x")


HOSTILE = ["99:n1", "1:n" + "9" * 30, "1:c9", "1:nnan", "2:sfmt=x", "1:s<script>", "x", "1:c1"]


def test_progress_tokens_hostile() -> None:
    les = LESSONS["ties"]  # step 1 numeric, step 3 choice, step 4 state (control x)
    answers, msgs = L.parse_progress(tuple(HOSTILE), les)
    assert answers == {} and len(msgs) == len(HOSTILE)
    tok = L.encode_token(4, "state", {"x": "2.125"})
    answers, msgs = L.parse_progress((L.encode_token(1, "numeric", 4.0), tok,
                                      L.encode_token(3, "choice", 1)), les)
    assert msgs == [] and answers[1].response == 4.0 and answers[3].response == 1
    assert answers[4].response == {"x": "2.125"}


def test_url_schema_clamps() -> None:
    from ui.params import from_query

    p, msgs = from_query(L.LessonsParams, {"lesson": "<b>", "step": "500", "variant": "-3",
                                           "a": ["1:n4.0", "junk"], "present": "maybe"})
    assert (p.lesson, p.step, p.variant, p.a, p.present) == ("", 10, 0, ("1:n4.0",), False)
    assert len(msgs) == 5


def test_answers_csv_rechecks() -> None:
    les = LESSONS["ties"]
    answers, _ = L.parse_progress(("1:n4.0", "2:n4.0"), les)
    rows = list(csv.reader(io.StringIO(L.answers_csv(les, 0, answers))))
    assert rows[0][:3] == ["lesson", "variant", "step"]
    assert rows[1][5] == "yes" and rows[2][5] == "no"  # 4.25 -> 4 with RNE, 4.5 with RNA
    assert len(rows) == 1 + len(les.steps)
