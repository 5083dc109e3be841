"""The lab's page registry: one entry per page, used by app.py, the Home page and the tests.

A page is listed only when its script exists, so a page under construction never breaks the app.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageInfo:
    key: str  #: session-state prefix ("<key>.<field>") and URL path (/<key>)
    title: str
    icon: str
    script: str  #: path relative to the repository root
    params: str  #: "module:Class" of the page's params dataclass (the URL schema)
    blurb: str  #: what the page teaches, two sentences (Home page)

    def params_class(self) -> type[Any]:
        mod, _, name = self.params.partition(":")
        cls: type[Any] = getattr(importlib.import_module(mod), name)
        return cls

    @property
    def exists(self) -> bool:
        return (ROOT / self.script).is_file()


PAGES: list[PageInfo] = [
    PageInfo(
        "formats", "Formats", ":material/grid_on:", "app_pages/formats.py",
        "ui.params_formats:FormatsParams",
        "Every ML number format bit by bit: click bits, see the exact value, the spacing of the "
        "number line and the rounding bin of each value. Compare up to four formats side by side "
        "and watch block scaling (MXFP4, NVFP4, MXFP8) handle an outlier.",
    ),
    PageInfo(
        "rounding", "Rounding", ":material/casino:", "app_pages/rounding.py",
        "ui.params_rounding:RoundingParams",
        "Round one number many ways: nearest-even, directed, exact stochastic rounding and the "
        "few-random-bit variants, with their exact probabilities and bias. An accumulation demo "
        "shows why round-to-nearest stagnates and stochastic rounding does not.",
    ),
    PageInfo(
        "grad_variance", "Gradient variance", ":material/stacked_line_chart:",
        "app_pages/grad_variance.py", "ui.params_grad_variance:GradVarianceParams",
        "Mini-batch SGD with stochastic rounding in back-propagation: how gradient variance falls "
        "with batch size, and how many extra samples pay for one bit fewer. Weight quantization "
        "leaves a floor that batch size cannot remove.",
    ),
    PageInfo(
        "fp4_training", "FP4 training", ":material/model_training:", "app_pages/fp4_training.py",
        "ui.params_fp4_training:FP4TrainingParams",
        "Small real training runs in simulated FP4 (MXFP4, NVFP4) against a BF16/FP32 baseline, "
        "with each technique of the NVFP4 recipe switchable. See which ones close the loss gap "
        "and what they cost.",
    ),
    PageInfo(
        "dynamics", "Low-precision dynamics", ":material/cyclone:", "app_pages/dynamics.py",
        "lowbit_core.experiments.dynamics.page:DynamicsParams",
        "The Lorenz attractor, a harmonic sum, a decay ODE and a soil heat column with every "
        "result rounded to a few bits. Round-to-nearest falls onto periodic orbits or stops "
        "moving; stochastic rounding keeps the climate.",
    ),
    PageInfo(
        "scaling_laws", "Scaling laws", ":material/trending_down:", "app_pages/scaling_laws.py",
        "lowbit_core.experiments.scaling_law_page:ScalingLawParams",
        "What the FP quantization scaling law of Sun et al. predicts for a model size, a data "
        "size, a format and a block size: the loss, the data size past which more tokens hurt, "
        "the best exponent/mantissa split and the best precision for a compute budget.",
    ),
    PageInfo(
        "tensor", "Your tensor", ":material/data_array:", "app_pages/tensor.py",
        "lowbit_core.experiments.tensor_page:TensorParams",
        "A real weight, activation or gradient (shipped from the lab's own models, or your own "
        "upload) through every format, block recipe and rounding mode: what flushes, what "
        "saturates, the error per bit, block sizes, Hadamard rotation and SR bias.",
    ),
    PageInfo(
        "lessons", "Lessons", ":material/school:", "app_pages/lessons.py",
        "ui.lessons:LessonsParams",
        "Guided, self-checking lessons on top of the pages: predict, answer (checked by the "
        "lab's own numerics), then see the chart. A presenter view with a QR code for class.",
    ),
]


def available() -> list[PageInfo]:
    """Pages whose script exists, in menu order."""
    return [p for p in PAGES if p.exists]


def by_key(key: str) -> PageInfo:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(key)
