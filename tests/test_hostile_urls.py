"""Hand-edited links never break a page: a table of malformed query strings for every page.

The table is generated from each page's params dataclass (``ui.nav.available()``), so a new
page is covered as soon as it is registered: for every field, values of the wrong type, NaN,
huge and negative numbers, unknown options, over-long strings and repeated keys; plus
whole-query cases (unknown keys only, a bad schema version, every field broken at once). A
case is kept only if the pure codec reports something for it, so every case must make the page
show exactly one ``st.warning``, raise nothing, and write a clean URL back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ui import nav
from ui.params import from_query

pytestmark = pytest.mark.app

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MIN_CASES = 30
Query = dict[str, str | list[str]]


def bad_values(f: dataclasses.Field[Any]) -> list[str | list[str]]:
    """Malformed values for one field, most telling first."""
    md, d = f.metadata, f.default
    if isinstance(d, bool):
        return ["maybe", "2", "", "truefalse"]
    if isinstance(d, int):
        hi, lo = md.get("max", 10**6), md.get("min", 0)
        return ["abc", str(hi * 1000 + 10**12), str(lo - 10**9), "nan", "1e999", "0x1F", "4.5.6",
                [str(d), str(d)]]
    if isinstance(d, float):
        hi = md.get("max", 1e6)
        return ["nan", "inf", "-1e999", repr(hi * 1e3 + 1), "1,5", "--1", [repr(d), repr(d)]]
    if isinstance(d, tuple):
        return [["no_such_option"], ["x" * 500], ["nope", "nada"], ",,,"]
    return ["no_such_option_zz", "../../etc/passwd", "%00<script>alert(1)</script>", "x" * 1000,
            "", [str(d), "no_such_option_zz"]]


def hostile_cases(cls: type[Any]) -> list[tuple[str, Query]]:
    fields = dataclasses.fields(cls)
    cases: list[tuple[str, Query]] = []
    depth = max(len(bad_values(f)) for f in fields)
    for r in range(depth):
        for f in fields:
            vals = bad_values(f)
            if r < len(vals):
                q: Query = {f.name: vals[r]}
                if from_query(cls, q)[1]:  # keep only what the codec must report
                    cases.append((f"{f.name}-{r}", q))
        if len(cases) >= MIN_CASES and r >= 1:
            break
    everything: Query = {f.name: bad_values(f)[0] for f in fields}
    cases += [
        ("unknown-keys-only", {"zzz": "1", "__proto__": "x", "a[b]": "c"}),
        ("schema-version", {"v": "999"}),
        ("repeated-version", {"v": ["1", "2"]}),
        ("everything-broken", everything),
        ("everything-broken-v0", {**everything, "v": "0"}),
        ("empty-strings", {f.name: "" for f in fields}),
    ]
    return cases


CASES = [
    pytest.param(page, q, id=f"{page.key}-{name}")
    for page in nav.available()
    for name, q in hostile_cases(page.params_class())
]


def test_table_is_big_enough() -> None:
    for page in nav.available():
        assert len(hostile_cases(page.params_class())) >= MIN_CASES, page.key


@pytest.mark.parametrize(("page", "query"), CASES)
def test_hostile_link_renders_with_one_warning(page: nav.PageInfo, query: Query) -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.switch_page(page.script).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert len(at.warning) == 1, [w.value for w in at.warning]
    assert at.warning[0].value.startswith("This link had values")
    written = {k: list(v) if isinstance(v, list | tuple) else [str(v)]
               for k, v in at.query_params.items()}
    _p, msgs = from_query(page.params_class(), written)
    assert msgs == [] and written["v"] == ["1"]  # the page wrote back a clean, complete link
