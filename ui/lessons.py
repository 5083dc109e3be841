"""Lessons page glue: its URL schema, the progress codec (answers in the link), the step's page
params and the control widgets. The lessons themselves and the checker live in lowbit_core.

URL: ``/lessons?lesson=<id>&step=N&variant=V&present=1&a=<token>&a=<token>...``. Each ``a``
token is one answered step, ``<step>:<answer>`` with the answer ``n<number>`` (numeric),
``c<option>`` (choice, 1-based) or ``s<field>=<value>~...`` (the controls a state question was
answered with; not commas, which the codec reads as list separators). Tokens are bounded (at
most :data:`MAX_TOKENS`, each at most 80 characters of a small alphabet); the page re-checks
every token with the core, so a forged token cannot mark a wrong answer right.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

from lowbit_core.lessons import (  # noqa: F401 (check, quote_values, step_state: for the page)
    MAX_STEPS,
    MAX_VARIANT,
    Lesson,
    Step,
    check,
    load_lessons,
    quote_values,
    step_state,
)
from ui import nav, params
from ui.params import irange, validator

__all__ = [
    "LESSONS",
    "MAX_TOKENS",
    "Answer",
    "LessonsParams",
    "answers_csv",
    "control",
    "decode_token",
    "encode_token",
    "page_params",
    "parse_progress",
]

LESSONS: dict[str, Lesson] = load_lessons()
MAX_TOKENS = MAX_STEPS
_TOKEN = re.compile(
    r"^(\d{1,2}):(n[-+0-9.eE]{1,24}|c\d|s\w{1,20}=[\w.+\-]{1,30}(~\w{1,20}=[\w.+\-]{1,30}){0,3})$"
)


def _lesson_id(s: str) -> str:
    if s == "" or s in LESSONS:
        return s
    raise ValueError(f"unknown lesson {s!r}")


def _token(s: str) -> str:
    if len(s) > 80 or not _TOKEN.match(s):
        raise ValueError(f"bad progress token {s!r}")
    return s


@dataclass(frozen=True)
class LessonsParams:
    """The Lessons page's URL state."""

    lesson: str = field(default="", metadata=validator(_lesson_id))  #: "" = the lesson list
    step: int = field(default=1, metadata=irange(1, MAX_STEPS))  #: 1-based
    variant: int = field(default=0, metadata=irange(0, MAX_VARIANT))  #: seeds the numbers
    present: bool = False  #: presenter view: large fonts, no sidebar, QR code
    a: tuple[str, ...] = field(default=(), metadata=validator(_token, max_len=MAX_TOKENS))


@dataclass(frozen=True)
class Answer:
    step: int  #: 1-based
    response: Any  #: float (numeric), int option index 0-based (choice), dict (state)


def encode_token(step: int, kind: str, response: Any) -> str:
    """One answered step as a URL token (see the module docstring)."""
    if kind == "numeric":
        return f"{step}:n{float(response)!r}"
    if kind == "choice":
        return f"{step}:c{int(response) + 1}"
    items = "~".join(f"{k}={_fmt(v)}" for k, v in dict(response).items())
    return f"{step}:s{items}"


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def decode_token(tok: str, lesson: Lesson) -> Answer:
    """Parse a token against ``lesson``.

    Raises:
        ValueError: a malformed token, a step outside the lesson, a kind that does not match the
            step's question, an option out of range, or a control the step does not show.
    """
    m = _TOKEN.match(tok)
    if not m:
        raise ValueError(f"malformed token {tok!r}")
    n, body = int(m.group(1)), m.group(2)
    if not 1 <= n <= len(lesson.steps):
        raise ValueError(f"step {n} is not in this lesson (1..{len(lesson.steps)})")
    q = lesson.steps[n - 1].question
    kind = {"n": "numeric", "c": "choice", "s": "state"}[body[0]]
    if kind != q.kind:
        raise ValueError(f"step {n} asks a {q.kind} question, the link holds a {kind} answer")
    if kind == "numeric":
        num = float(body[1:])
        if not math.isfinite(num):
            raise ValueError(f"step {n}: {body[1:]!r} is not a finite number")
        return Answer(n, num)
    if kind == "choice":
        i = int(body[1:]) - 1
        if not 0 <= i < len(q.options):
            raise ValueError(f"step {n}: option {i + 1} does not exist")
        return Answer(n, i)
    resp: dict[str, str] = {}
    for item in body[1:].split("~"):
        k, _, v = item.partition("=")
        if k not in lesson.steps[n - 1].controls:
            raise ValueError(f"step {n}: {k!r} is not one of its controls")
        resp[k] = v
    return Answer(n, resp)


def parse_progress(tokens: tuple[str, ...], lesson: Lesson) -> tuple[dict[int, Answer], list[str]]:
    """The answered steps of a link (the last token of a step wins) and messages about the
    tokens that were dropped."""
    out: dict[int, Answer] = {}
    msgs: list[str] = []
    for t in tokens:
        try:
            a = decode_token(t, lesson)
        except ValueError as exc:
            msgs.append(f"progress: dropped an answer ({exc})")
            continue
        out[a.step] = a
    return out, msgs


def page_params(step: Step, state: dict[str, Any]) -> tuple[Any, list[str]]:
    """The step's page params from its state (the page's own codec), and the codec's messages
    (empty for every shipped lesson state: the tests hold that no value is clamped)."""
    cls = nav.by_key(step.page).params_class()
    query = {k: ([_fmt(x) for x in v] if isinstance(v, tuple | list) else _fmt(v))
             for k, v in state.items()}
    return params.from_query(cls, query)


def typed_state(step: Step, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with every value as the page's params hold it (a student's text made typed)."""
    p, _ = page_params(step, state)
    return {k: getattr(p, k) for k in state if hasattr(p, k)} | {
        k: v for k, v in state.items() if not hasattr(p, k)}


def answers_csv(lesson: Lesson, variant: int, answers: dict[int, Answer]) -> str:
    """The answers as CSV for the teacher: one row per step, each re-checked by the core."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["lesson", "variant", "step", "question", "answer", "correct", "lab_answer"])
    for n, step in enumerate(lesson.steps, start=1):
        state = step_state(step, variant, n)
        text = step.question.text.format(**state)
        a = answers.get(n)
        if a is None:
            w.writerow([lesson.id, variant, n, text, "", "", ""])
            continue
        try:
            v = check(step.question, typed_state(step, state), _typed_response(step, a))
            right, lab = v.correct, v.expected
        except ValueError as exc:
            right, lab = False, f"error: {exc}"
        shown = (step.question.options[a.response].label if step.question.kind == "choice"
                 else a.response)
        w.writerow([lesson.id, variant, n, text, shown, "yes" if right else "no", lab])
    return buf.getvalue()


def _typed_response(step: Step, a: Answer) -> Any:
    if step.question.kind != "state":
        return a.response
    merged = {**dict(step.state), **a.response}
    typed = typed_state(step, merged)
    return {k: typed[k] for k in a.response}


typed_response = _typed_response


def field_of(step: Step, name: str) -> dataclasses.Field[Any]:
    cls = nav.by_key(step.page).params_class()
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(name)


#: The words a student reads beside a lesson's control (a field name is a URL key, not a label).
CONTROL_LABELS: dict[str, str] = {
    "x": "Value x",
    "fmt": "Number format",
    "block_fmt": "Block format",
    "ebits": "Exponent bits (E)",
    "mbits": "Mantissa bits (M)",
    "sbits": "Stored significand bits",
    "rbits": "Random bits (N)",
    "outlier": "Outlier value",
    "mode": "Rounding mode",
    "seed": "Random seed",
}


def control_label(name: str) -> str:
    """A control's label: :data:`CONTROL_LABELS`, else the field name in words."""
    return CONTROL_LABELS.get(name, name.replace("_", " ").capitalize())


def control(step: Step, name: str, key: str, initial: Any) -> None:
    """The widget of one shown control, its kind and bounds from the page's params metadata
    (session key ``key``, set to ``initial`` on first use)."""
    import streamlit as st

    f = field_of(step, name)
    md, label, ss = f.metadata, control_label(name), st.session_state
    if key not in ss:
        ss[key] = list(initial) if isinstance(initial, tuple) else initial
    if isinstance(f.default, tuple):
        st.multiselect(label, md["choices"], key=key)
    elif "choices" in md:
        st.selectbox(label, md["choices"], key=key)
    elif isinstance(f.default, bool):
        st.toggle(label, key=key)
    elif isinstance(f.default, int):
        st.number_input(label, md["min"], md["max"], step=1, key=key)
    elif isinstance(f.default, float):
        st.number_input(label, md["min"], md["max"], format="%g", key=key)
    else:
        st.text_input(label, key=key)
