"""Guided lessons as data: the schema and loader of ``lessons/*.toml``, variants, the checker and
the named answer functions (every answer computed by lowbit_core). No Streamlit here."""

from .answers import ANSWERS, answer, answer_names
from .schema import (
    KINDS,
    LESSON_DIR,
    MAX_STEPS,
    MAX_VARIANT,
    MIN_STEPS,
    Lesson,
    Option,
    Question,
    Step,
    Verdict,
    check,
    expected,
    load_lesson,
    load_lessons,
    parse_lesson,
    quote_values,
    step_state,
)

__all__ = [
    "ANSWERS",
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
    "answer",
    "answer_names",
    "check",
    "expected",
    "load_lesson",
    "load_lessons",
    "parse_lesson",
    "quote_values",
    "step_state",
]
