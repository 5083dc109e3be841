"""The Formats page's bit view: coloured, keyboard-operable bit cells, and hex/binary entry.

The cells are a custom component (``ui/static/bitview/index.html``, plain HTML and JavaScript
speaking the components-v1 protocol, no build step): Streamlit's own buttons are re-created on
every rerun and lose the keyboard focus, the component's cells are updated in place and keep it.

The component reports events, not state: ``{"seq", "fmt", "code"}`` (a bit was set) or
``{"seq", "fmt", "step"}`` (arrow up/down). The page applies an event once (its ``seq`` is new)
and only to the format it was made in, so a stale event never overwrites a later change made
with another widget. :func:`apply_event` and :func:`parse_code` are pure and tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lowbit_core.formats import FloatFormat
from ui import figures_formats as ff

__all__ = ["apply_event", "bit_view", "code_text", "parse_code"]

STATIC = Path(__file__).resolve().parent / "static" / "bitview"
_component: Any = None


def apply_event(f: FloatFormat, code: int, event: Any, seen: int | None) -> int | None:
    """The code a bit-view event asks for, or None (no event, already applied, made in another
    format, or malformed: a hostile session value must not crash the page)."""
    if not isinstance(event, Mapping):
        return None
    seq = event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq == seen:
        return None
    if event.get("fmt") != f.name:
        return None
    new = event.get("code")
    if isinstance(new, int | float) and not isinstance(new, bool) and float(new).is_integer():
        c = int(new)
        return c if 0 <= c < f.num_codes else None
    step = event.get("step")
    if step in (1, -1):
        return ff.step_code(f, code, int(step))
    return None


def code_text(f: FloatFormat, code: int) -> str:
    """The code as the hex box shows it: ``0x`` and one digit per 4 bits."""
    return f"0x{code:0{(f.bits + 3) // 4}X}"


def parse_code(text: str, f: FloatFormat) -> int:
    """A code typed as hex (``0x3C``), binary (``0b0011_1100``) or a plain integer.

    Underscores and spaces between digits are allowed (``0b0 0111 000``).

    Raises:
        ValueError: not a number in one of those forms, or not a code of ``f`` (the message
            says which, and the range of codes).
    """
    s = re.sub(r"[\s_]", "", text).lower()
    top = f.num_codes - 1
    shown = re.sub(r"[^\w.+\-]", "?", text.strip()[:40])
    if s.startswith("0x"):
        digits, base, what = s[2:], 16, "hex digits (0-9, a-f)"
    elif s.startswith("0b"):
        digits, base, what = s[2:], 2, "binary digits (0 and 1)"
    else:
        digits, base, what = s, 10, "a whole number, or 0x.. for hex, 0b.. for binary"
    if not digits or not all(c in "0123456789abcdef"[:base] for c in digits):
        raise ValueError(f"'{shown}' is not {what}")
    code = int(digits, base)
    if code > top:
        width = f"{len(digits)} binary digits" if base == 2 else f"0x{code:X}"
        raise ValueError(f"'{shown}' ({width}) does not fit the {f.bits}-bit format "
                         f"{f.describe()}: codes run 0 .. {code_text(f, top)}")
    return code


def bit_view(f: FloatFormat, info: ff.CodeInfo, key: str) -> Any:
    """Draw the bit cells of ``info.code`` and return the component's last event (or None)."""
    global _component
    if _component is None:  # declared on first use: importing this module needs no server
        import streamlit.components.v1 as components

        _component = components.declare_component("lowbit_bitview", path=str(STATIC))
    fields = ff.bit_fields(f)
    return _component(
        bits=info.bits, fields=[fld for fld, _ in fields], captions=[c for _, c in fields],
        code=info.code, fmt=f.name, announce=f"code {code_text(f, info.code)}, value "
        f"{ff.short(info.value)}", key=key, default=None,
    )
