"""The lab's glossary: every abbreviation the pages use, spelled out, and the papers by title.

:data:`TERMS` and :data:`PAPERS` are plain data (tests check that every abbreviation a page
writes is listed); :func:`cite` turns the pages' short paper tags ("(d) §4.3", "(c) reviewers")
into the paper's name; :func:`show` draws the glossary (the sidebar of every page has it).
"""

from __future__ import annotations

import re

__all__ = ["PAPERS", "TERMS", "cite", "markdown", "show"]

#: abbreviation -> plain words (one line; a few words on why it matters where it helps)
TERMS: dict[str, str] = {
    "RNE": "round to nearest, ties to even: the closest value; a tie goes to the even code",
    "RNA": "round to nearest, ties away from zero",
    "RTZ": "round toward zero (truncation)",
    "RUP / RDN": "round up (toward +∞) / round down (toward −∞)",
    "RN": "round to nearest (RNE unless said otherwise)",
    "SR": "stochastic rounding: round up with probability equal to the distance from the lower "
          "neighbour (in ulps), so the result is exact on average, up to saturation",
    "SRFF": "few-bit SR that truncates the distance to N random bits (biased toward zero)",
    "SRF": "few-bit SR: the distance truncated to N bits plus half a bit",
    "SRC": "few-bit SR: the distance rounded to N bits (ties to even)",
    "SRO": "few-bit SR: the distance rounded to N bits, ties to odd",
    "N (random bits)": "how many random bits a few-bit SR variant uses per rounding",
    "ulp": "unit in the last place: the gap between two neighbouring values of a format",
    "binade": "all values with the same exponent, [2^e, 2^(e+1)): the spacing is constant inside "
              "one and doubles from one to the next",
    "subnormal": "a value below the smallest normal one, with exponent field 0 and no hidden 1: "
                 "evenly spaced down to zero",
    "bias": "the number subtracted from the exponent field: 2^(field − bias)",
    "NaN / inf": "not a number / infinity (special codes; fn formats have no inf)",
    "fn / fnuz": "finite formats: no infinities (fn), and no negative zero, NaN at −0 (fnuz)",
    "FP32 / FP16 / BF16": "32-bit float (8 exponent bits) / 16-bit IEEE half (5) / bfloat16 "
                          "(16 bits with FP32's 8 exponent bits, 7 mantissa bits)",
    "FP8 E4M3 / E5M2": "8-bit floats: 4 exponent + 3 mantissa bits / 5 exponent + 2 mantissa",
    "FP6 / FP4 (E2M1)": "6- and 4-bit floats; E2M1 is 1 sign, 2 exponent, 1 mantissa bit "
                        "(values 0, 0.5, 1, 1.5, 2, 3, 4, 6)",
    "ExMy": "a float with x exponent bits and y mantissa bits",
    "UE8M0 / UE4M3 / UE5M3": "unsigned scale formats: UE8M0 is a pure power of two (MX's "
                             "block scale); UE4M3 is E4M3 without sign (NVFP4's); UE5M3 adds "
                             "range",
    "INT8 / INT4": "signed integers of 8 / 4 bits (a uniform grid)",
    "MX (MXFP4, MXFP8)": "OCP Microscaling: blocks of 32 elements sharing one UE8M0 scale",
    "NVFP4": "NVIDIA's FP4: blocks of 16 E2M1 elements with an E4M3 scale, plus one FP32 "
             "scale per tensor",
    "block scale / amax": "the factor a block is divided by so it fits the element format; "
                          "amax is the block's largest magnitude",
    "tensor scale": "one FP32 factor for a whole tensor, applied before the block scales",
    "RHT": "random Hadamard transform: a seeded ±1 rotation that spreads outliers over a "
           "block before quantizing (undone after the product)",
    "STE": "straight-through estimator: back-propagate through rounding as if it were the "
           "identity",
    "GEMM": "general matrix multiply; Fprop / Dgrad / Wgrad are the forward, input-gradient "
            "and weight-gradient GEMMs of a linear layer",
    "SQNR": "signal-to-quantization-noise ratio, in dB: 10 log10(Σx² / Σ(x − q(x))²)",
    "MSE / rel MSE": "mean squared error / MSE divided by the target's variance",
    "W1": "Wasserstein-1 distance between two distributions (the average amount a histogram "
          "must move to match another)",
    "SE": "standard error of a mean: the seeds' standard deviation / √(number of seeds); "
          "a gap of more than 2 SE is called real",
    "SGD / Adam": "stochastic gradient descent / the Adam optimiser",
    "lr": "learning rate",
    "ODE": "ordinary differential equation",
    "N, D (scaling laws)": "model parameters, training tokens",
    "CSV": "comma-separated values (the data behind a chart, to download)",
}

#: the papers the pages cite, by the letter tag of the lab's specification
PAPERS: dict[str, str] = {
    "a": "Liu, Andronic, Gündüz, Constantinides, *Training with Fewer Bits*",
    "b": "Fitzgibbon & Felix, *On Stochastic Rounding with Few Random Bits* (2025)",
    "c": "Hu, Luschi, Balança (Graphcore), *Elucidating the Design Space of FP4 Training*",
    "d": "NVIDIA, *Pretraining LLMs with NVFP4* (arXiv 2509.25149)",
    "e": "Paxton, Chantry, Klöwer, Saffin, Palmer, *Climate Modelling in Low-Precision*",
    "f": "Sun et al., *Scaling Laws for Floating-Point Quantization Training* (ICML 2025)",
}

_SHORT = {
    "a": "Liu et al., *Training with Fewer Bits*",
    "b": "Fitzgibbon & Felix, *Stochastic Rounding with Few Random Bits*",
    "c": "Hu et al., *Elucidating the Design Space of FP4 Training*",
    "d": "NVIDIA, *Pretraining LLMs with NVFP4*",
    "e": "Paxton et al., *Climate Modelling in Low-Precision*",
    "f": "Sun et al., *Scaling Laws for FP Quantization Training*",
}
_TAG = re.compile(r"(?:papers_spec |[Pp]aper |[Pp]apers )?\(([a-f])\)(?: reviewers?)?")


def cite(text: str, md: bool = True) -> str:
    """Replace the short paper tags of a caption by the paper's authors and title: "(d) §4.3"
    -> "NVIDIA, *Pretraining LLMs with NVFP4* §4.3"; "(c) reviewers" names the paper's
    OpenReview reviewers. Text without tags is returned unchanged. ``md=False``: no markdown
    italics (for table cells)."""
    def sub(m: re.Match[str]) -> str:
        name = _SHORT[m.group(1)] if md else _SHORT[m.group(1)].replace("*", "")
        return f"{name} (its OpenReview reviewers)" if "reviewer" in m.group(0) else name

    return _TAG.sub(sub, text)


def markdown() -> str:
    """The glossary as markdown: abbreviations, then papers."""
    terms = "\n".join(f"- **{k}**: {v}" for k, v in TERMS.items())
    papers = "\n".join(f"- ({k}) {v}" for k, v in PAPERS.items())
    return f"{terms}\n\n**Papers cited** (by the letter some captions use)\n\n{papers}"


def show() -> None:
    """The glossary in a collapsed expander (drawn in the sidebar of every page)."""
    import streamlit as st

    with st.expander("Glossary: abbreviations and papers", icon=":material/menu_book:"):
        st.markdown(markdown())
