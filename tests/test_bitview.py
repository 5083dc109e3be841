"""The bit view's pure parts (ui.bitview): events from the component, typed hex/binary codes."""

from __future__ import annotations

from typing import Any

import pytest

from lowbit_core.formats import FORMATS
from ui import bitview as bv

E4M3, F32 = FORMATS["float8_e4m3fn"], FORMATS["float32"]


@pytest.mark.parametrize(("event", "want"), [
    ({"seq": 5, "fmt": "float8_e4m3fn", "code": 0xB8}, 0xB8),
    ({"seq": 5, "fmt": "float8_e4m3fn", "code": 184.0}, 0xB8),  # JSON numbers may be floats
    ({"seq": 5, "fmt": "float8_e4m3fn", "step": 1}, 0x39),  # 1.0 -> 1.125
    ({"seq": 5, "fmt": "float8_e4m3fn", "step": -1}, 0x37),
    ({"seq": 4, "fmt": "float8_e4m3fn", "code": 1}, None),  # already applied
    ({"seq": 5, "fmt": "float32", "code": 1}, None),  # made in another format
    ({"seq": 5, "fmt": "float8_e4m3fn", "code": 256}, None),  # not a code of the format
    ({"seq": 5, "fmt": "float8_e4m3fn", "code": -1}, None),
    ({"seq": 5, "fmt": "float8_e4m3fn", "code": 1.5}, None),
    ({"seq": 5, "fmt": "float8_e4m3fn", "step": 2}, None),
    ({"seq": True, "fmt": "float8_e4m3fn", "code": 1}, None),
    ({"fmt": "float8_e4m3fn", "code": 1}, None),
    ("junk", None), (None, None), ([1, 2], None),
])
def test_apply_event(event: Any, want: int | None) -> None:
    assert bv.apply_event(E4M3, 0x38, event, seen=4) == want


def test_float32_sign_bit_event_is_exact() -> None:
    ev = {"seq": 1, "fmt": "float32", "code": 0x3F800000 + 2**31}
    assert bv.apply_event(F32, 0x3F800000, ev, None) == 0xBF800000


@pytest.mark.parametrize(("text", "code"), [("0x38", 0x38), ("0X3c", 0x3C), ("0b0011_1000", 0x38),
                                            (" 0b 0011 1000 ", 0x38), ("56", 56), ("0xff", 255)])
def test_parse_code(text: str, code: int) -> None:
    assert bv.parse_code(text, E4M3) == code


@pytest.mark.parametrize(("text", "why"), [("0x100", "does not fit the 8-bit"), ("0x", "hex"),
                                           ("0b2", "binary"), ("1.5", "whole number"),
                                           ("-3", "whole number"), ("", "whole number"),
                                           ("[x](http://e)", "?x??http???e?")])
def test_parse_code_rejects_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=r"(?s).*" + why.replace("?", r"\?").replace(".", r"\.")):
        bv.parse_code(text, E4M3)


def test_code_text_pads_to_the_width() -> None:
    assert bv.code_text(E4M3, 0x8) == "0x08"
    assert bv.code_text(F32, 0x3F800000) == "0x3F800000"
    assert bv.code_text(FORMATS["float4_e2m1fn"], 0x2) == "0x2"
