"""Typed page parameters <-> URL query strings, and their sync with Streamlit session state.

A page's parameters are a frozen dataclass whose fields carry their bounds in ``metadata``:

    @dataclass(frozen=True)
    class RoundingParams:
        fmt: str = field(default="bfloat16", metadata=choice(FORMAT_IDS))
        rbits: int = field(default=4, metadata=irange(1, 24))
        x: float = field(default=1.3, metadata=frange(-1e6, 1e6))
        modes: tuple[str, ...] = field(default=("rne", "sr"), metadata=multi(MODES))
        show_hist: bool = True

The pure codec (:func:`from_query`, :func:`to_query`) never raises on hostile input: unknown keys
are ignored, unparsable values fall back to the default and out-of-range values clamp, each with a
message. :func:`seed` and :func:`publish` are the only Streamlit-facing functions.

URL schema: one key per field (bare field name), repeated keys for tuple fields, plus ``v`` (the
schema version, :data:`SCHEMA_VERSION`). Every value, defaults included, is written on every run,
so a copied link keeps its meaning even if a default changes later.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = [
    "SCHEMA_VERSION",
    "choice",
    "collect",
    "current",
    "field_bounds",
    "frange",
    "from_query",
    "irange",
    "multi",
    "publish",
    "seed",
    "to_query",
    "validator",
]

SCHEMA_VERSION = 1
MAX_VALUE_LEN = 200  # longer query values are rejected outright (hostile links)

P = TypeVar("P")
Query = Mapping[str, str | Sequence[str]]


def irange(lo: int, hi: int) -> dict[str, Any]:
    """Metadata for an int field clamped to [lo, hi]."""
    return {"min": lo, "max": hi}


def frange(lo: float, hi: float) -> dict[str, Any]:
    """Metadata for a finite float field clamped to [lo, hi]."""
    return {"min": lo, "max": hi}


def choice(options: Iterable[str]) -> dict[str, Any]:
    """Metadata for a str field that must be one of ``options`` (case-insensitive match)."""
    return {"choices": tuple(options)}


def multi(options: Iterable[str], min_len: int = 0, max_len: int | None = None) -> dict[str, Any]:
    """Metadata for a tuple[str, ...] field: each item one of ``options``, no repeats."""
    return {"choices": tuple(options), "min_len": min_len, "max_len": max_len}


def validator(fn: Callable[[str], str], max_len: int | None = None) -> dict[str, Any]:
    """Metadata for a free str field, or each item of a tuple[str, ...] field (at most
    ``max_len`` of them), checked by ``fn`` (returns the canonical value or raises)."""
    return {"validate": fn, "max_len": max_len}


def field_bounds(cls: type[Any], name: str) -> dict[str, Any]:
    """The metadata of field ``name`` (pages use it for widget ranges/options)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(name)


def _safe(s: str, n: int = 40) -> str:
    """A user-supplied string quoted for a message: at most ``n`` characters, and nothing that
    markdown would render (a hostile link must not put a clickable link in the page's warning)."""
    return "'" + re.sub(r"[^\w.+\-]", "?", s[:n]) + ("..." if len(s) > n else "") + "'"


def _last(v: str | Sequence[str]) -> tuple[str, bool]:
    if isinstance(v, str):
        return v, False
    items = list(v)
    if not items:
        return "", False
    return str(items[-1]), len(items) > 1


def _as_list(v: str | Sequence[str]) -> list[str]:
    if isinstance(v, str):
        items = [v]
    else:
        items = [str(s) for s in v]
    out: list[str] = []
    for s in items:  # accept both repeated keys and comma-separated values
        out.extend(p for p in s.split(",") if p != "")
    return out


def _parse_field(f: dataclasses.Field[Any], raw: str | Sequence[str], msgs: list[str]) -> Any:
    """Parse one field; return dataclasses.MISSING to fall back to the default."""
    md = f.metadata
    name = f.name
    default = f.default
    typ: type[Any] = type(default)
    if isinstance(default, tuple):
        items = _as_list(raw)
        if any(len(s) > MAX_VALUE_LEN for s in items) or len(items) > 64:
            msgs.append(f"`{name}`: value too long, kept the default")
            return dataclasses.MISSING
        choices = md.get("choices")
        check = md.get("validate")
        out: list[str] = []
        for s in items:
            c = _match_choice(s, choices) if choices else s
            if c is not None and check is not None:
                try:
                    c = check(c)
                except (ValueError, TypeError):
                    c = None
            if c is None:
                msgs.append(f"`{name}`: ignored unknown option {_safe(s)}")
            elif c not in out:
                out.append(c)
        lo, hi = md.get("min_len", 0), md.get("max_len")
        if hi is not None and len(out) > hi:
            msgs.append(f"`{name}`: kept the first {hi} of {len(out)} options")
            out = out[:hi]
        if len(out) < lo:
            msgs.append(f"`{name}`: needs at least {lo} option(s), kept the default")
            return dataclasses.MISSING
        return tuple(out)

    s, repeated = _last(raw)
    if repeated:
        msgs.append(f"`{name}` was given more than once; used the last value")
    if len(s) > MAX_VALUE_LEN:
        msgs.append(f"`{name}`: value too long, kept the default")
        return dataclasses.MISSING
    s = s.strip()
    if typ is bool:
        low = s.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        msgs.append(f"`{name}`={_safe(s)} is not a yes/no value, kept {default}")
        return dataclasses.MISSING
    if typ is int:
        try:
            val = float(s)
            if not math.isfinite(val):
                raise ValueError
            if val != int(val):
                msgs.append(f"`{name}`={_safe(s)} is not a whole number, rounded")
            ival = round(val)
        except (ValueError, OverflowError):
            msgs.append(f"`{name}`={_safe(s)} is not a number, kept {default}")
            return dataclasses.MISSING
        return _clamp(name, ival, md, msgs)
    if typ is float:
        try:
            fval = float(s)
        except ValueError:
            msgs.append(f"`{name}`={_safe(s)} is not a number, kept {default}")
            return dataclasses.MISSING
        if not math.isfinite(fval):
            msgs.append(f"`{name}`={_safe(s)} is not a finite number, kept {default}")
            return dataclasses.MISSING
        return _clamp(name, fval, md, msgs)
    if typ is str:
        if "choices" in md:
            c = _match_choice(s, md["choices"])
            if c is None:
                msgs.append(f"`{name}`={_safe(s)} is not a known option, kept {default!r}")
                return dataclasses.MISSING
            return c
        if "validate" in md:
            try:
                return md["validate"](s)
            except (ValueError, TypeError):
                msgs.append(f"`{name}`={_safe(s)} is not a valid value, kept {default!r}")
                return dataclasses.MISSING
        return s
    raise TypeError(f"unsupported field type for {name}: {typ}")


def _match_choice(s: str, choices: Sequence[str]) -> str | None:
    if s in choices:
        return s
    low = s.strip().lower()
    for c in choices:
        if c.lower() == low:
            return c
    return None


def _clamp(name: str, v: Any, md: Mapping[str, Any], msgs: list[str]) -> Any:
    lo, hi = md.get("min"), md.get("max")
    if lo is not None and v < lo:
        msgs.append(f"`{name}`={v} is below the minimum, clamped to {lo}")
        return lo
    if hi is not None and v > hi:
        msgs.append(f"`{name}`={v} is above the maximum, clamped to {hi}")
        return hi
    return v


def from_query(cls: type[P], query: Query) -> tuple[P, list[str]]:
    """Parse a query mapping into ``cls``; never raises on bad input.

    Returns the params and a list of human-readable messages about what was changed.
    """
    msgs: list[str] = []
    kw: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(k for k in query if k not in names and k != "v")
    if unknown:
        shown = ", ".join(_safe(k, 30) for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        msgs.append(f"ignored unknown parameter(s) {shown}")
    if "v" in query:
        v, _ = _last(query["v"])
        if v.strip() != str(SCHEMA_VERSION):
            msgs.append(f"link schema version {_safe(v, 10)} is not {SCHEMA_VERSION}; read as v1")
    spans: dict[str, tuple[int, int]] = {}  # each field's messages
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in query:
            start = len(msgs)
            val = _parse_field(f, query[f.name], msgs)
            spans[f.name] = (start, len(msgs))
            if val is not dataclasses.MISSING:
                kw[f.name] = val
    try:
        p = cls(**kw)
    except (ValueError, TypeError) as exc:  # cross-field validation in __post_init__
        msgs.append(f"the link's combination of values was invalid ({exc}); used the defaults")
        return cls(), msgs
    # A field the other settings decide (e.g. a catalogue format's exponent bits): a message
    # such as "clamped to 8" would name a value the page does not use; say what it uses.
    for name, (a, b) in sorted(spans.items(), key=lambda kv: -kv[1][0]):
        if b > a and name in kw and getattr(p, name) != kw[name]:
            msgs[a:b] = [f"`{name}` from the link is not used: the other settings set it to "
                         f"{_safe(str(getattr(p, name)))}"]
    return p, msgs


def to_query(p: Any) -> dict[str, str | list[str]]:
    """All fields of ``p`` (defaults included) as query strings, plus the schema version."""
    out: dict[str, str | list[str]] = {}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if isinstance(v, tuple):  # an empty tuple is written as one empty value ("k="), so a
            out[f.name] = [str(s) for s in v] or [""]  # link says "none", not "the default"
        elif isinstance(v, bool):
            out[f.name] = "1" if v else "0"
        elif isinstance(v, float):
            out[f.name] = repr(v)
        else:
            out[f.name] = str(v)
    out["v"] = str(SCHEMA_VERSION)
    return out


# --- Streamlit side -----------------------------------------------------------------------------


def _widget_value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def seed(cls: type[P], page: str) -> list[str]:
    """Fill missing ``st.session_state["<page>.<field>"]`` keys from the URL (or the defaults).

    Call at the top of a page, before its widgets (which use those keys and no ``value=``). Keys
    already in session state (the user's own changes) are left alone. Shows one ``st.warning``
    listing what a hand-edited URL made the page change, and returns those messages.
    """
    import streamlit as st

    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    missing = [n for n in names if f"{page}.{n}" not in st.session_state]
    if not missing:
        return []
    query = {k: st.query_params.get_all(k) for k in st.query_params}
    p, msgs = from_query(cls, query)
    for n in missing:
        st.session_state[f"{page}.{n}"] = _widget_value(getattr(p, n))
    if msgs:
        head = "This link had values the page could not use as given:"
        st.warning(head + "\n\n- " + "\n- ".join(msgs))
    return msgs


def collect(cls: type[P], page: str) -> tuple[P, list[str]]:
    """Build ``cls`` from the page's session-state keys (defaults where missing), validated.

    Returns the params and the codec's messages (non-empty when a widget holds a value the
    params reject, e.g. junk typed in a text box; the page shows them and uses the fallback).
    """
    import streamlit as st

    raw: dict[str, list[str] | str] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = f"{page}.{f.name}"
        if key in st.session_state:
            v = st.session_state[key]
            raw[f.name] = [str(s) for s in v] if isinstance(v, list | tuple) else _to_str(v)
    return from_query(cls, raw)


def current(cls: type[P], page: str) -> P:
    """Build ``cls`` from the page's session-state keys (falling back to defaults), validated."""
    return collect(cls, page)[0]


def _to_str(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def publish(p: Any) -> None:
    """Write every field of ``p`` (and ``v``) to the URL, replacing what was there."""
    import streamlit as st

    q = to_query(p)
    current_q = {k: st.query_params.get_all(k) for k in st.query_params}
    want = {k: (v if isinstance(v, list) else [v]) for k, v in q.items()}
    if current_q != want:
        st.query_params.from_dict(q)
