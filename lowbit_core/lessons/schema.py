"""Lesson files (``lessons/*.toml``) as frozen dataclasses, validated on load, and the checker.

A lesson is data: title, goal, duration and 5-10 steps. A step names a page and its URL state
(the page's own codec reads it), the prompt, which controls are shown, the charts drawn after the
attempt, a question, a hint and an explanation. The answer to a question is never in the file:
the question names an answer function (:mod:`.answers`) and its arguments, literal or ``"$field"``
references to the step's state, and :func:`check` evaluates it when the student answers.

Question kinds:
    numeric: the computed value, accepted within ``tol + rtol·|value|``.
    choice: each option names an answer function; ``pick`` says which option is right: "max" or
        "min" of the computed values, or "true" (the one option whose function returns True).
    state: "set the controls so that ...": the answer function evaluated on the student's state
        must come within ``tol`` of ``target`` (or be True when ``target`` is omitted).

Variants: ``variants = { x = [4.25, 2.25, ...] }`` lists alternatives for state fields; variant 0
is the state as written, variant v > 0 draws each field's value from its list with a generator
seeded by (v, step number), so each student's numbers differ and the answer is still computed.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .answers import ANSWERS, Value, answer

__all__ = [
    "KINDS",
    "LESSON_DIR",
    "MAX_STEPS",
    "MAX_VARIANT",
    "MIN_STEPS",
    "Lesson",
    "Option",
    "Question",
    "Step",
    "Verdict",
    "check",
    "expected",
    "load_lesson",
    "load_lessons",
    "parse_lesson",
    "quote_values",
    "step_state",
]

LESSON_DIR = Path(__file__).resolve().parents[2] / "lessons"
KINDS = ("numeric", "choice", "state")
PICKS = ("max", "min", "true")
MIN_STEPS, MAX_STEPS = 5, 10
MAX_VARIANT = 9999  #: variants 0..9999 (a student number, a seat number...)

Scalar = str | int | float | bool
Pairs = tuple[tuple[str, Any], ...]  # a frozen mapping (order kept)


@dataclass(frozen=True)
class Option:
    label: str  #: what the student sees
    answer: str  #: answer function computing this option's value
    args: Pairs = ()  #: its arguments ("$field" = the step's state value)


@dataclass(frozen=True)
class Question:
    kind: str  #: numeric | choice | state
    text: str  #: may hold "{field}" placeholders, filled from the step's state
    answer: str = ""  #: numeric/state: the answer function
    args: Pairs = ()
    tol: float = 0.0  #: absolute tolerance (numeric, state)
    rtol: float = 0.0  #: relative tolerance (numeric)
    unit: str = ""  #: shown beside the number box
    options: tuple[Option, ...] = ()  #: choice only
    pick: str = ""  #: choice only: max | min | true
    target: float | None = None  #: state only: the value to reach (None: the function is True)
    solution: Pairs = ()  #: state only: a state that passes (for tests and the teacher's view)


@dataclass(frozen=True)
class Step:
    page: str  #: page key (ui.nav)
    state: Pairs  #: the page's URL state for this step (field -> value)
    prompt: str
    question: Question
    hint: str
    explain: str  #: shown after the attempt; "{answer}" is the computed answer
    title: str = ""
    controls: tuple[str, ...] = ()  #: state fields the student may change
    charts: tuple[str, ...] = ()  #: the page's charts drawn once the student has answered
    variants: tuple[tuple[str, tuple[Scalar, ...]], ...] = ()
    #: numbers the explanation quotes ("{name}" or "{name:.2f}"), each computed by an answer
    #: function from the step's state, never typed into the file (:func:`quote_values`)
    quotes: tuple[tuple[str, Option], ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str  #: the file stem, used in links (?lesson=<id>)
    title: str
    goal: str
    duration_min: int
    steps: tuple[Step, ...]
    order: int = 99  #: position in the curriculum list

    @property
    def pages(self) -> tuple[str, ...]:
        """The pages the steps use, in first-use order."""
        return tuple(dict.fromkeys(s.page for s in self.steps))


@dataclass(frozen=True)
class Verdict:
    correct: bool
    expected: Value | str  #: the computed answer (choice: the right option's label)
    message: str  #: one sentence for the student


# --- loading ----------------------------------------------------------------------------------


def _req(d: Mapping[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise ValueError(f"{where}: missing {key!r}")
    v = d[key]
    if not isinstance(v, typ) or (isinstance(v, bool) and typ in (int, float, (int, float))):
        raise ValueError(f"{where}: {key}={v!r} should be {typ}")
    return v


def _pairs(d: Any, where: str) -> Pairs:
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: should be a table, got {d!r}")
    for k, v in d.items():
        if not isinstance(v, str | int | float | bool | list):
            raise ValueError(f"{where}: {k}={v!r} is not a scalar or a list")
    return tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in d.items())


def _check_fn(name: str, where: str) -> None:
    if name not in ANSWERS:
        raise ValueError(f"{where}: unknown answer function {name!r}")


def _question(d: Any, where: str) -> Question:
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: question should be a table")
    known = {"kind", "text", "answer", "args", "tol", "rtol", "unit", "options", "pick", "target",
             "solution"}
    extra = sorted(set(d) - known)
    if extra:
        raise ValueError(f"{where}: unknown question key(s) {extra}")
    kind = _req(d, "kind", str, where)
    if kind not in KINDS:
        raise ValueError(f"{where}: kind={kind!r}: use one of {', '.join(KINDS)}")
    q: dict[str, Any] = {"kind": kind, "text": _req(d, "text", str, where)}
    for k in ("tol", "rtol", "target"):
        if k in d:
            v = d[k]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"{where}: {k}={v!r} should be a finite number")
            if k != "target" and v < 0:
                raise ValueError(f"{where}: {k}={v!r} should be >= 0")
            q[k] = float(v)
    q["unit"] = str(d.get("unit", ""))
    q["args"] = _pairs(d.get("args", {}), f"{where} args")
    if kind in ("numeric", "state"):
        q["answer"] = _req(d, "answer", str, where)
        _check_fn(q["answer"], where)
        if "options" in d or "pick" in d:
            raise ValueError(f"{where}: options/pick belong to choice questions")
    if kind == "choice":
        opts = _req(d, "options", list, where)
        if not 2 <= len(opts) <= 6:
            raise ValueError(f"{where}: a choice needs 2-6 options, got {len(opts)}")
        options = []
        for i, o in enumerate(opts):
            w = f"{where} option {i + 1}"
            if not isinstance(o, Mapping):
                raise ValueError(f"{w}: should be a table")
            _check_fn(_req(o, "answer", str, w), w)
            options.append(Option(_req(o, "label", str, w), o["answer"],
                                  _pairs(o.get("args", {}), w)))
        q["options"] = tuple(options)
        q["pick"] = _req(d, "pick", str, where)
        if q["pick"] not in PICKS:
            raise ValueError(f"{where}: pick={q['pick']!r}: use one of {', '.join(PICKS)}")
    if kind == "state":
        q["solution"] = _pairs(_req(d, "solution", Mapping, where), f"{where} solution")
    elif "target" in d or "solution" in d:
        raise ValueError(f"{where}: target/solution belong to state questions")
    return Question(**q)


def _strs(v: Any, where: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError(f"{where}: should be a list of strings, got {v!r}")
    return tuple(v)


def _step(d: Any, where: str) -> Step:
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: should be a table")
    known = {"page", "state", "prompt", "question", "hint", "explain", "title", "controls",
             "charts", "variants", "quotes"}
    extra = sorted(set(d) - known)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}")
    state = _pairs(_req(d, "state", Mapping, where), f"{where} state")
    controls = _strs(d.get("controls", []), f"{where} controls")
    names = {k for k, _ in state}
    if not set(controls) <= names:
        raise ValueError(f"{where}: controls {sorted(set(controls) - names)} are not in the state")
    variants = []
    for k, v in _pairs(d.get("variants", {}), f"{where} variants"):
        if k not in names:
            raise ValueError(f"{where}: variant field {k!r} is not in the state")
        if not isinstance(v, tuple) or not v:
            raise ValueError(f"{where}: variants.{k} should be a non-empty list")
        variants.append((k, v))
    q = _question(_req(d, "question", Mapping, where), f"{where} question")
    quotes = []
    qd = d.get("quotes", {})
    if not isinstance(qd, Mapping):
        raise ValueError(f"{where}: quotes should be a table of {{answer, args}} tables")
    for name, spec in qd.items():
        w = f"{where} quotes.{name}"
        if not str(name).isidentifier() or name in ("answer",) or name in names:
            raise ValueError(f"{w}: a quote needs its own identifier name")
        if not isinstance(spec, Mapping) or set(spec) - {"answer", "args"}:
            raise ValueError(f"{w}: should be a table with 'answer' and optional 'args'")
        fn = _req(spec, "answer", str, w)
        _check_fn(fn, w)
        quotes.append((str(name), Option(str(name), fn, _pairs(spec.get("args", {}), w))))
    for k, _ in q.solution:
        if k not in controls:
            raise ValueError(f"{where}: solution field {k!r} is not a shown control")
    return Step(
        page=_req(d, "page", str, where), state=state, prompt=_req(d, "prompt", str, where),
        question=q, hint=_req(d, "hint", str, where), explain=_req(d, "explain", str, where),
        title=str(d.get("title", "")), controls=controls,
        charts=_strs(d.get("charts", []), f"{where} charts"), variants=tuple(variants),
        quotes=tuple(quotes),
    )


def parse_lesson(data: Mapping[str, Any], lesson_id: str) -> Lesson:
    """Validate a parsed lesson table.

    Raises:
        ValueError: naming the file's offending key or value.
    """
    where = f"lesson {lesson_id!r}"
    known = {"title", "goal", "duration_min", "order", "steps"}
    extra = sorted(set(data) - known)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}")
    steps = _req(data, "steps", list, where)
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise ValueError(f"{where}: {len(steps)} steps; a lesson has {MIN_STEPS}-{MAX_STEPS}")
    dur = _req(data, "duration_min", int, where)
    if not 5 <= dur <= 90:
        raise ValueError(f"{where}: duration_min={dur!r} outside 5..90")
    return Lesson(
        id=lesson_id, title=_req(data, "title", str, where), goal=_req(data, "goal", str, where),
        duration_min=dur, order=int(data.get("order", 99)),
        steps=tuple(_step(s, f"{where} step {i + 1}") for i, s in enumerate(steps)),
    )


def load_lesson(path: Path | str) -> Lesson:
    """Read and validate one lesson file.

    Raises:
        ValueError: bad TOML or a schema error (naming the file and key).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML ({exc})") from None
    return parse_lesson(data, path.stem)


def load_lessons(directory: Path | str = LESSON_DIR) -> dict[str, Lesson]:
    """Every ``*.toml`` lesson of ``directory``, in curriculum order, keyed by id."""
    lessons = [load_lesson(p) for p in sorted(Path(directory).glob("*.toml"))]
    return {les.id: les for les in sorted(lessons, key=lambda le: (le.order, le.id))}


# --- variants and checking --------------------------------------------------------------------


def step_state(step: Step, variant: int, number: int) -> dict[str, Any]:
    """The state of step ``number`` (1-based) for ``variant``: the file's state, with each
    variant field drawn from its list when variant > 0 (seeded by (variant, number)).

    Raises:
        ValueError: variant outside 0..MAX_VARIANT.
    """
    if isinstance(variant, bool) or not 0 <= int(variant) <= MAX_VARIANT:
        raise ValueError(f"variant={variant!r} outside 0..{MAX_VARIANT}")
    state = dict(step.state)
    if variant:
        rng = np.random.default_rng([int(variant), int(number), 14])
        for k, options in step.variants:
            state[k] = options[int(rng.integers(len(options)))]
    return state


def quote_values(step: Step, state: Mapping[str, Any]) -> dict[str, Value]:
    """The numbers the step's explanation quotes, computed now from ``state``.

    Raises:
        ValueError: from an answer function.
    """
    return {name: answer(o.answer, **_resolve(o.args, state)) for name, o in step.quotes}


def _resolve(args: Pairs, state: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in args:
        if isinstance(v, str) and v.startswith("$"):
            name = v[1:]
            if name not in state:
                raise ValueError(f"argument {k}={v!r}: the state has no field {name!r}")
            v = state[name]
        out[k] = v
    return out


def _num(v: Any) -> float:
    return float(v[0]) if isinstance(v, tuple) else float(v)


def expected(q: Question, state: Mapping[str, Any]) -> Value | int:
    """The computed answer: numeric/state: the function's value; choice: the right option's
    index (0-based).

    Raises:
        ValueError: from the answer function, or a choice with no unique right option.
    """
    if q.kind != "choice":
        return answer(q.answer, **_resolve(q.args, state))
    vals = [answer(o.answer, **_resolve(o.args, state)) for o in q.options]
    if q.pick == "true":
        right = [i for i, v in enumerate(vals) if v is True]
        if len(right) != 1:
            raise ValueError(f"choice {q.text!r}: {len(right)} options are true, need exactly 1")
        return right[0]
    fv = [float(v) for v in vals]
    best = max(fv) if q.pick == "max" else min(fv)
    if sum(1 for v in fv if v == best) != 1:
        raise ValueError(f"choice {q.text!r}: the {q.pick} is not unique ({fv})")
    return fv.index(best)


def check(q: Question, state: Mapping[str, Any], response: Any) -> Verdict:
    """Check a student's response to question ``q`` asked at ``state``.

    ``response`` is a number (numeric), an option index (choice) or the student's state
    (state questions: a mapping of the shown controls, merged over ``state``).

    Raises:
        ValueError: from the answer function (a bad state).
    """
    if q.kind == "numeric":
        want = float(expected(q, state))
        got = float(response)
        ok = math.isfinite(got) and abs(got - want) <= q.tol + q.rtol * abs(want)
        unit = f" {q.unit}" if q.unit else ""
        msg = f"{'Right' if ok else 'Not quite'}: the lab computes {want:.10g}{unit}."
        return Verdict(ok, want, msg)
    if q.kind == "choice":
        idx = int(expected(q, state))
        ok = int(response) == idx
        label = q.options[idx].label
        return Verdict(ok, label, f"{'Right' if ok else 'Not quite'}: the answer is {label}.")
    merged = {**state, **dict(response)}
    got_v = answer(q.answer, **_resolve(q.args, merged))
    if q.target is None:
        ok = got_v is True
        msg = "Done: your setting does it." if ok else "Not yet: your setting does not do it."
    else:
        ok = abs(_num(got_v) - q.target) <= q.tol
        msg = (f"{'Done' if ok else 'Not yet'}: with your setting the lab computes "
               f"{_num(got_v):.10g} (target {q.target:g}).")
    return Verdict(ok, got_v, msg)
