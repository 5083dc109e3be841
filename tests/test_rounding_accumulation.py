"""The one-call accumulation kernel against the per-step quantize loop (bit for bit), its fixed
point rule, its input checks, and the page's frame built from it."""

from __future__ import annotations

import numpy as np
import pytest

from lowbit_core import quantize
from lowbit_core.experiments.rounding_accumulation import (
    accumulate,
    accumulation,
    accumulation_reference,
    step_seed,
)

CASES = [  # (format, start, term): stagnation, growth, subnormals, saturation, wide grids
    ("bfloat16", 1.0, 0.001),
    ("float16", 1.0, 1e-4),
    ("float8_e4m3fn", 0.0, 0.3),
    ("float8_e4m3fn", 440.0, 1.7),  # saturates at 448
    ("float4_e2m1fn", 0.0, 0.7),
    ("float8_e5m2", -3.0, 0.011),
    ("float32", 1.0, 1e-8),
    ("e3m4", 0.0, -0.05),
    ("int8", 0.0, 0.3),
]
MODES = [("rne", None), ("rtz", None), ("rna", None), ("sr", None), ("srff", 3), ("srf", 2),
         ("src", 5), ("sro", 1), ("srff", 32)]


@pytest.mark.parametrize("fmt,start,a", CASES)
@pytest.mark.parametrize("mode,rbits", MODES)
def test_kernel_equals_the_quantize_loop_bit_for_bit(fmt, start, a, mode, rbits) -> None:
    kw = {"rbits": rbits, "lanes": 7, "seed": 12345}
    got = accumulate(start, a, 300, fmt, mode, **kw)
    ref = accumulation_reference(start, a, 300, fmt, mode, **kw)
    assert got.shape == ref.shape
    assert np.array_equal(got.view(np.uint64), ref.view(np.uint64))


def test_reference_is_the_documented_loop() -> None:
    """The reference itself against a hand-written loop of quantize calls (lane j = index j)."""
    ref = accumulation_reference(1.0, 0.001, 50, "bfloat16", "srff", rbits=4, lanes=3, seed=9)
    s = np.full(3, 1.0)
    for i in range(1, 51):
        s = quantize(s + 0.001, "bfloat16", "srff", rbits=4, seed=(9 << 16) + i)
        assert np.array_equal(ref[i], s)
    assert step_seed(9, 5) == (9 << 16) + 5


def test_stagnation_and_fixed_point() -> None:
    """bfloat16: 1 + 0.001 rounds back to 1 under RNE (ulp 2^-7 = 0.0078 > 2 x 0.001), so RNE
    stays at 1 for every term, while exact SR's mean over lanes grows like the exact sum."""
    rne = accumulate(1.0, 0.001, 1000, "bfloat16", "rne")
    assert rne.shape == (1001, 1) and (rne == 1.0).all()
    sr = accumulate(1.0, 0.001, 1000, "bfloat16", "sr", lanes=64, seed=3)
    # final sums: mean 2 (unbiased up to saturation, none here); sd per lane <= 0.2 => 4 SE
    assert abs(sr[-1].mean() - 2.0) < 4 * sr[-1].std() / 8 + 1e-12


def test_seeds_and_lanes_are_independent_streams() -> None:
    a = accumulate(1.0, 0.001, 200, "bfloat16", "sr", lanes=4, seed=1)
    b = accumulate(1.0, 0.001, 200, "bfloat16", "sr", lanes=4, seed=2)
    assert not np.array_equal(a, b)
    assert len({tuple(a[:, j]) for j in range(4)}) == 4
    assert np.array_equal(a, accumulate(1.0, 0.001, 200, "bfloat16", "sr", lanes=4, seed=1))


@pytest.mark.parametrize("kw,word", [
    ({"n": -1}, "n=-1"), ({"n": 2.5}, "n=2.5"), ({"lanes": 0}, "lanes=0"),
    ({"mode": "srff", "rbits": 0}, "rbits=0"), ({"mode": "srff", "rbits": None}, "rbits=None"),
    ({"mode": "sr", "seed": 2**62}, "seed"), ({"mode": "nope"}, "nope"),
    ({"fmt": "e9m9x"}, "e9m9x"),
])
def test_bad_inputs_name_the_value(kw, word) -> None:
    args = {"start": 1.0, "a": 0.1, "n": 10, "fmt": "bfloat16", "mode": "sr", "lanes": 2,
            "seed": 0, "rbits": None} | kw
    with pytest.raises(ValueError, match=word.replace("(", r"\(").replace(".", r"\.")):
        accumulate(args.pop("start"), args.pop("a"), args.pop("n"), args.pop("fmt"),
                   args.pop("mode"), **args)


def test_page_frame() -> None:
    df = accumulation("bfloat16", 1.0, 0.001, 100, "srff", 3, 5, 0)
    assert set(df["mode"]) == {"rne", "sr", "srff"}
    assert (df[df["mode"] == "rne"]["lane"] == 0).all()
    assert df.groupby("mode").size().to_dict() == {"rne": 101, "sr": 505, "srff": 505}
    np.testing.assert_array_equal(df["error"], df["sum"] - df["exact"])
    srff = df[df["mode"] == "srff"].pivot(index="term", columns="lane", values="sum").to_numpy()
    assert np.array_equal(srff, accumulation_reference(1.0, 0.001, 100, "bfloat16", "srff",
                                                       rbits=3, lanes=5, seed=0))
