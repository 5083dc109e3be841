"""The glossary (issue 18): every abbreviation the pages use is spelled out, papers by title."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui import glossary

ROOT = Path(__file__).resolve().parent.parent
#: the abbreviations issue 18 names, plus the others the pages use
NAMED = ["RNE", "RNA", "RTZ", "SR", "SRFF", "SRC", "SRF", "SRO", "ulp", "binade", "MX", "NVFP4",
         "E4M3", "E5M2", "UE8M0", "UE4M3", "RHT", "STE", "SQNR", "W1", "BF16", "FP32", "GEMM",
         "Dgrad", "Wgrad", "SE", "amax", "fnuz", "subnormal", "E2M1"]


def _listed(word: str) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![a-z0-9])", k + " " + v)
               for k, v in glossary.TERMS.items())


@pytest.mark.parametrize("word", NAMED)
def test_each_abbreviation_is_spelled_out(word: str) -> None:
    assert _listed(word), word


def test_every_paper_letter_has_a_title() -> None:
    assert sorted(glossary.PAPERS) == list("abcdef")
    assert all("*" in t for t in glossary.PAPERS.values())  # the title, in italics


@pytest.mark.parametrize(("raw", "want"), [
    ("(d) §4.3: 2-D weight scaling", "NVIDIA, *Pretraining LLMs with NVFP4* §4.3: 2-D"),
    ("(c) reviewers: no ablation", "Hu et al., *Elucidating the Design Space of FP4 Training* "
     "(its OpenReview reviewers): no ablation"),
    ("papers (c) and (d)", "Hu et al., *Elucidating the Design Space of FP4 Training* and "
     "NVIDIA, *Pretraining LLMs with NVFP4*"),
    ("no tag here (x)", "no tag here (x)"),
])
def test_cite_names_the_paper(raw: str, want: str) -> None:
    assert glossary.cite(raw).startswith(want)


def test_no_bare_paper_tag_reaches_the_fp4_page() -> None:
    from ui import figures_fp4_training as figs

    texts = [t.paper_finding for t in figs.TECHNIQUES] + [str(s) for s in
                                                          figs.LITERATURE["source"]]
    for t in texts:
        shown = glossary.cite(t, md=False)
        assert not re.search(r"\([a-f]\)", shown), shown
        assert "*" not in glossary.cite(t, md=False)


def test_glossary_is_in_every_pages_sidebar() -> None:
    from streamlit.testing.v1 import AppTest

    for script in (None, "app_pages/formats.py"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        if script:
            at.switch_page(script)
        at.run()
        assert not at.exception
        labels = [e.label for e in at.sidebar.expander]
        assert "Glossary: abbreviations and papers" in labels
        assert "**SRFF**" in " ".join(m.value for m in at.sidebar.markdown)
