"""The URL codec (ui.params) as pure functions: round trips, fallbacks, clamps, messages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ui.params import (
    SCHEMA_VERSION,
    choice,
    field_bounds,
    frange,
    from_query,
    irange,
    multi,
    to_query,
    validator,
)
from ui.params_rounding import RoundingParams, parse_x


def _even(s: str) -> str:
    v = int(s)
    if v % 2:
        raise ValueError("odd")
    return str(v)


@dataclass(frozen=True)
class P:
    n: int = field(default=4, metadata=irange(1, 24))
    x: float = field(default=0.5, metadata=frange(-1.0, 1.0))
    fmt: str = field(default="bfloat16", metadata=choice(["bfloat16", "float16", "float8_e4m3fn"]))
    modes: tuple[str, ...] = field(
        default=("rne", "sr"), metadata=multi(["rne", "sr", "srff"], 1, 2)
    )
    flag: bool = True
    even: str = field(default="2", metadata=validator(_even))


@dataclass(frozen=True)
class Cross:
    lo: int = field(default=0, metadata=irange(0, 10))
    hi: int = field(default=5, metadata=irange(0, 10))

    def __post_init__(self) -> None:
        if self.lo > self.hi:
            raise ValueError(f"lo={self.lo} > hi={self.hi}")


def test_defaults_round_trip_with_version() -> None:
    q = to_query(P())
    assert q["v"] == str(SCHEMA_VERSION)
    assert q == {"n": "4", "x": "0.5", "fmt": "bfloat16", "modes": ["rne", "sr"], "flag": "1",
                 "even": "2", "v": "1"}
    assert from_query(P, q) == (P(), [])


def test_non_defaults_round_trip_exactly() -> None:
    p = P(n=24, x=0.1 + 0.2, fmt="float8_e4m3fn", modes=("srff",), flag=False, even="-6")
    back, msgs = from_query(P, to_query(p))
    assert back == p and msgs == []
    assert back.x == 0.30000000000000004  # repr keeps every bit of a float


@dataclass(frozen=True)
class Many:
    tags: tuple[str, ...] = field(default=("a",), metadata=multi(["a", "b"]))


def test_empty_tuple_is_written_and_read_back_as_empty() -> None:
    # a link whose multiselect is empty must not come back as the (non-empty) default
    q = to_query(Many(tags=()))
    assert q["tags"] == [""]
    assert from_query(Many, q) == (Many(tags=()), [])
    assert from_query(Many, to_query(Many())) == (Many(), [])


def test_empty_query_is_defaults_without_messages() -> None:
    assert from_query(P, {}) == (P(), [])


@pytest.mark.parametrize(
    ("raw", "want", "n_msgs"),
    [
        ("7", 7, 0),
        (" 7 ", 7, 0),
        ("7.0", 7, 0),
        ("7.6", 8, 1),  # rounded, said so
        ("abc", 4, 1),
        ("nan", 4, 1),
        ("1e999", 4, 1),
        ("-5", 1, 1),  # clamped up
        ("99999999999999999999999", 24, 1),  # clamped down
        ("", 4, 1),
    ],
)
def test_int_field(raw: str, want: int, n_msgs: int) -> None:
    p, msgs = from_query(P, {"n": raw})
    assert p.n == want and isinstance(p.n, int)
    assert len(msgs) == n_msgs


@pytest.mark.parametrize(
    ("raw", "want"),
    [("0.25", 0.25), ("nan", 0.5), ("inf", 0.5), ("-inf", 0.5), ("5", 1.0), ("-5", -1.0),
     ("0x1p-2", 0.5), ("1e-320", 1e-320)],
)
def test_float_field(raw: str, want: float) -> None:
    p, msgs = from_query(P, {"x": raw})
    assert p.x == want and math.isfinite(p.x)
    assert (msgs == []) == (raw in ("0.25", "1e-320"))


def test_choice_is_case_insensitive_and_unknown_falls_back() -> None:
    assert from_query(P, {"fmt": "FLOAT16"}) == (P(fmt="float16"), [])
    p, msgs = from_query(P, {"fmt": "float99"})
    assert p.fmt == "bfloat16" and len(msgs) == 1 and "float99" in msgs[0]


def test_multi_repeated_and_comma_forms_dedupe_and_cap() -> None:
    assert from_query(P, {"modes": ["srff", "rne"]})[0].modes == ("srff", "rne")
    assert from_query(P, {"modes": "sr,srff"})[0].modes == ("sr", "srff")
    p, msgs = from_query(P, {"modes": ["sr", "sr", "bogus"]})
    assert p.modes == ("sr",) and len(msgs) == 1  # the unknown option is reported
    p, msgs = from_query(P, {"modes": ["sr", "rne", "srff"]})
    assert p.modes == ("sr", "rne") and len(msgs) == 1  # max_len 2
    p, msgs = from_query(P, {"modes": ["bogus"]})
    assert p.modes == ("rne", "sr") and len(msgs) == 2  # unknown, then below min_len


def test_bool_and_validator_fields() -> None:
    assert from_query(P, {"flag": "off"})[0].flag is False
    assert from_query(P, {"flag": "YES"})[0].flag is True
    p, msgs = from_query(P, {"flag": "maybe", "even": "3"})
    assert (p.flag, p.even) == (True, "2") and len(msgs) == 2


def test_repeated_scalar_key_uses_last_and_says_so() -> None:
    p, msgs = from_query(P, {"n": ["3", "9"]})
    assert p.n == 9 and len(msgs) == 1 and "more than once" in msgs[0]


def test_unknown_keys_and_bad_version_are_reported() -> None:
    p, msgs = from_query(P, {"zzz": "1", "n": "5", "v": "7"})
    assert p == P(n=5)
    assert any("zzz" in m for m in msgs) and any("version" in m for m in msgs)


def test_overlong_values_are_refused() -> None:
    p, msgs = from_query(P, {"fmt": "b" * 5000, "modes": ["sr"] * 100})
    assert p == P() and len(msgs) == 2


def test_messages_cannot_carry_markdown_links() -> None:
    _, msgs = from_query(P, {"fmt": "[click](http://evil.example)", "[x](y)": "1"})
    assert msgs and all("](" not in m and "http://" not in m for m in msgs)


def test_cross_field_failure_falls_back_to_defaults() -> None:
    p, msgs = from_query(Cross, {"lo": "9", "hi": "2"})
    assert p == Cross() and len(msgs) == 1 and "combination" in msgs[0]


def test_field_bounds() -> None:
    assert field_bounds(P, "n") == {"min": 1, "max": 24}
    with pytest.raises(KeyError):
        field_bounds(P, "nope")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["n", "x", "fmt", "modes", "flag", "even", "v", "other"]),
        st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=4)),
        max_size=8,
    )
)
def test_any_query_parses_to_valid_params(q: dict[str, str | list[str]]) -> None:
    p, _ = from_query(P, q)
    assert 1 <= p.n <= 24 and -1.0 <= p.x <= 1.0 and math.isfinite(p.x)
    assert p.fmt in ("bfloat16", "float16", "float8_e4m3fn") and 1 <= len(p.modes) <= 2
    assert from_query(P, to_query(p)) == (p, [])  # what the page writes back is clean


# --- the Rounding page's schema -------------------------------------------------------------------


def test_rounding_defaults_round_trip() -> None:
    assert from_query(RoundingParams, to_query(RoundingParams())) == (RoundingParams(), [])


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("1.3", "1.3"), ("0.1e1", "1.0"), ("-0", "0.0"), ("1e38", "1e+38"), (" 2 ", "2.0")],
)
def test_parse_x_canonical(raw: str, ok: str) -> None:
    assert parse_x(raw) == ok


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", "-1", "1e39", ""])
def test_parse_x_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_x(raw)


def test_a_value_the_other_settings_override_is_said_so_not_called_clamped() -> None:
    """/scaling_laws with a catalogue format takes E and M from the format: a link's huge
    ``ebits`` must not read "clamped to 8" while the page uses E4M3's 4."""
    from lowbit_core.experiments.scaling_law_page import ScalingLawParams

    p, msgs = from_query(ScalingLawParams, {"ebits": "999", "mbits": "3"})
    assert p.ebits == 4
    assert msgs == ["`ebits` from the link is not used: the other settings set it to '4'"]
    p, msgs = from_query(ScalingLawParams, {"fmt": "custom", "ebits": "999"})
    assert p.ebits == 8 and msgs == ["`ebits`=999 is above the maximum, clamped to 8"]
