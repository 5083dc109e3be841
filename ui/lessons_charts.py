"""The charts a lesson step draws: each page's own cached computations and figure builders, fed
with the step's params (the page's URL dataclass). Nothing here computes anything new.

``CHARTS[page][name](p)`` draws one chart of that page for params ``p``. A lesson step lists the
names in ``charts``; the tests check that every listed name exists here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import common

Draw = Callable[[Any], None]


def _key(p: Any) -> tuple[str, int, int, int, str, bool]:
    return (p.fmt, p.ebits, p.mbits, p.bias, p.specials, p.signed)


def _number_line(p: Any) -> None:
    from ui import cached_formats as cf

    bins, _, fig = cf.number_line(_key(p), p.center, p.count, p.mode, p.log_view, p.x)
    common.chart(fig, bins, "lesson_number_line")


def _value_table(p: Any) -> None:
    from ui import cached_formats as cf

    html, flat = cf.value_table(_key(p))
    st.html(html)
    st.caption("Row = high bits, column = low 4 bits. Grey: zero, orange: subnormal, red: inf, "
               "violet: NaN.")
    common.csv_download(flat, "value_table.csv", key="csv.lesson_value_table")


def _block(p: Any) -> None:
    from ui import cached_formats as cf

    _, blocks, errors, _, fig = cf.block_demo(p.block_fmt, p.groups, p.outlier, p.outlier_at,
                                              p.seed)
    common.chart(fig, errors, "lesson_block_errors")
    st.dataframe(blocks, hide_index=True)


def _outcomes(p: Any) -> None:
    from ui import cached

    x, _, _ = cached.interval(p.fmt, p.value)
    fig, df = cached.cached_outcomes(p.fmt, x, p.modes, p.rbits, p.n_draws, p.seed)
    common.chart(fig, df, "lesson_outcomes")


def _profile(p: Any) -> None:
    from ui import cached

    _, lo, hi = cached.interval(p.fmt, p.value)
    fig, curves, _ = cached.cached_profile(p.fmt, lo, hi, p.modes, p.rbits, p.dbits)
    common.chart(fig, curves, "lesson_profile")


def _accumulation(p: Any) -> None:
    from ui import cached

    fig, df = cached.cached_accumulation(p.fmt, p.acc_start, p.acc_a, p.acc_n, p.acc_mode,
                                         p.rbits, p.acc_seeds, p.seed)
    common.chart(fig, df, "lesson_accumulation")


def _variance(p: Any) -> None:
    from ui import cached_grad_variance as cgv
    from ui import figures_grad_variance as fgv

    if any(cgv.is_heavy(p).values()):  # a lesson never starts a slow computation
        st.info("These settings take a while to compute: open the page itself to run them.")
        return
    df = cgv.variance(p.variance())
    common.chart(fgv.variance(df), df, "lesson_grad_variance")


def _loss(p: Any) -> None:
    from ui import cached_fp4_training as cft

    fig = cft.loss_figure(p.task, tuple(p.recipes), p.x, p.y, p.log_y, p.bands, "metric", None,
                          p.baseline)
    c = cft.curves()
    common.chart(fig, c[(c["task"] == p.task) & c["recipe"].isin(p.recipes)], "lesson_fp4_loss")


def _attractor(p: Any) -> None:
    from ui import cached_dynamics as cd

    lz = cd.lorenz_page(p, live=False)
    common.chart(lz["attractor"], lz["view"].trajectories, "lesson_attractor")


def _harmonic(p: Any) -> None:
    from ui import cached_dynamics as cd

    cards = cd.cards_page(p)
    common.chart(cards["harmonic_fig"], cards["harmonic"], "lesson_harmonic")


def _loss_data(p: Any) -> None:
    from ui import cached_scaling_laws as cs

    v = cs.loss_data_view(p)
    common.chart(v["fig"], v["curves"], "lesson_loss_vs_data")


def _layout(p: Any) -> None:
    from ui import cached_scaling_laws as cs

    v = cs.layout_view(p.bits)
    common.chart(v["fig"], v["table"], "lesson_layout_by_bits")


CHARTS: dict[str, dict[str, Draw]] = {
    "formats": {"number_line": _number_line, "value_table": _value_table, "block": _block},
    "rounding": {"outcomes": _outcomes, "profile": _profile, "accumulation": _accumulation},
    "grad_variance": {"variance": _variance},
    "fp4_training": {"loss": _loss},
    "dynamics": {"attractor": _attractor, "harmonic": _harmonic},
    "scaling_laws": {"loss_data": _loss_data, "layout": _layout},
}


def draw(page: str, p: Any, names: tuple[str, ...]) -> None:
    """Draw the named charts of ``page`` for params ``p`` (expected core errors shown)."""
    with common.expected_errors():
        for name in names:
            CHARTS[page][name](p)
