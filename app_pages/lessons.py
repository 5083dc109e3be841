"""Lessons page: the lesson list, a lesson's step (prompt, controls, question; the page's charts
once answered), the progress link, the CSV of answers and the presenter view. View only: the
lessons, their answers and the checker are in lowbit_core.lessons; the charts in ui."""

from urllib.parse import urlencode

import segno
import streamlit as st

from ui import lessons as L
from ui import lessons_charts, nav, params

PAGE, K, ss = "lessons", "lessons.", st.session_state
PRESENT_CSS = """<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"] {display: none !important;}
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label {font-size: 1.45rem;}
.stMainBlockContainer h1 {font-size: 3rem;} .stMainBlockContainer h2 {font-size: 2.2rem;}
</style>"""

params.seed(L.LessonsParams, page=PAGE)
p, _ = params.collect(L.LessonsParams, PAGE)


def go(lesson: str | None = None, step: int | None = None, present: bool | None = None) -> None:
    if lesson is not None:
        ss[K + "lesson"], ss[K + "a"] = lesson, []
    if step is not None:
        ss[K + "step"] = step
    if present is not None:
        ss[K + "present"] = present


if not p.lesson:
    st.title("Lessons")
    st.caption("Guided lessons on top of the lab's pages: each step asks you to predict, checks "
               "your answer with the lab's own numerics, then shows the chart. Your progress "
               "lives in the link; nothing is stored on the server.")
    for les in L.LESSONS.values():
        with st.container(border=True):
            st.subheader(les.title)
            st.write(les.goal)
            pages = ", ".join(nav.by_key(k).title for k in les.pages)
            st.caption(f"{les.duration_min} min · {len(les.steps)} steps · pages: {pages}")
            c1, c2 = st.columns(2)
            c1.button("Start", key=f"start.{les.id}", on_click=go, args=(les.id, 1, False),
                      type="primary", icon=":material/play_arrow:")
            c2.button("Presenter view", key=f"present.{les.id}", on_click=go,
                      args=(les.id, 1, True), icon=":material/co_present:")
    params.publish(p)


def show_lesson() -> None:
    """The lesson view: one step, its question, the reveal, navigation and the links."""
    les = L.LESSONS[p.lesson]
    if p.step > len(les.steps):
        st.warning(f"`step`={p.step} is past this lesson's {len(les.steps)} steps; "
                   "showing the last.")
        ss[K + "step"] = len(les.steps)
    n = min(p.step, len(les.steps))
    answers, dropped = L.parse_progress(p.a, les)
    for msg in dropped:
        st.warning(msg)
    if p.present:
        st.html(PRESENT_CSS)
    step = les.steps[n - 1]
    base = L.step_state(step, p.variant, n)
    st.title(les.title)
    st.progress(len(answers) / len(les.steps),
                text=f"Step {n} of {len(les.steps)} · {len(answers)} answered")

    if p.present:
        cols = st.columns(len(les.steps))
        for i, c in enumerate(cols, start=1):
            c.button(f"{i}", key=f"jump.{i}", on_click=go, args=(None, i),
                     type="primary" if i == n else "secondary", width="stretch")
        short = urlencode({"lesson": les.id, "step": n})
        url = st.context.url or "/lessons"
        c1, c2 = st.columns([1, 3], vertical_alignment="center")
        # st.image draws an SVG string as an <img>: st.html's sanitizer drops inline <svg>
        c1.image(segno.make(f"{url}?{short}", error="m").svg_inline(scale=5, dark="#111"),
                 caption="Scan to open this step")
        c2.markdown("**Students: open this step**")
        c2.code(f"{url}?{short}", language=None, wrap_lines=True)
        c2.button("Leave presenter view", on_click=go, args=(None, None, False))

    st.header(step.title or f"Step {n}")
    st.markdown(step.prompt.format(**base))

    ck = f"{K}c.{les.id}.{n}.{p.variant}."
    for name in step.controls:
        L.control(step, name, ck + name, base[name])
    state = {**base, **{c: ss[ck + c] for c in step.controls}}
    page_p, bad = L.page_params(step, state)
    for msg in bad:
        st.error(f"Could not use that setting: {msg}")

    q = step.question
    ak = f"{K}ans.{les.id}.{n}.{p.variant}"


    def commit() -> None:
        if q.kind == "state":  # read the controls now: the callback runs before the next rerun
            now = L.typed_state(step, {**base, **{c: ss[ck + c] for c in step.controls}})
            resp = {c: now[c] for c in step.controls}
        elif ss.get(ak) is None:
            ss[K + "_empty"] = True
            return
        elif q.kind == "choice":
            resp = [o.label for o in q.options].index(ss[ak])
        else:
            resp = ss[ak]
        toks = [t for t in ss[K + "a"] if not t.startswith(f"{n}:")]
        ss[K + "a"] = [*toks, L.encode_token(n, q.kind, resp)]


    prev = answers.get(n)  # a reopened progress link shows the answer it holds
    if prev is not None and ak not in ss and q.kind != "state":
        try:
            r = L.typed_response(step, prev)
            ss[ak] = q.options[int(r)].label if q.kind == "choice" else float(r)
        except (ValueError, TypeError, IndexError):
            pass

    with st.container(border=True):
        st.markdown(f"**Question.** {q.text.format(**base)}")
        if q.kind == "numeric":
            st.number_input(f"Your answer{f' ({q.unit})' if q.unit else ''}", value=None,
                            format="%.10g", key=ak, placeholder="type a number")
        elif q.kind == "choice":
            st.radio("Your answer", [o.label for o in q.options], index=None, key=ak)
        else:
            st.caption("Move the controls above, then check.")
        st.button("Check my setting" if q.kind == "state" else "Check", on_click=commit,
                  type="primary", key=f"check.{n}", icon=":material/check:")
        if ss.pop(K + "_empty", False):
            st.warning("Type or pick an answer first.")
        with st.expander("Hint"):
            st.write(step.hint)

    got = answers.get(n)
    if got is not None:
        lab = "?"
        try:
            v = L.check(q, L.typed_state(step, base), L.typed_response(step, got))
            (st.success if v.correct else st.error)(v.message)
            lab = f"{v.expected:.10g}" if isinstance(v.expected, float) else str(v.expected)
        except ValueError as exc:
            st.error(f"Could not check that answer: {exc}")
        try:  # numbers the explanation quotes, computed now (never typed in the file)
            quoted = L.quote_values(step, L.typed_state(step, base))
        except ValueError as exc:
            st.error(f"Could not compute the explanation's numbers: {exc}")
            quoted = {}
        try:
            st.markdown(f"**Why.** {step.explain.format(**base, **quoted, answer=lab)}")
        except (KeyError, ValueError):  # a quote that could not be computed
            st.markdown(f"**Why.** {step.explain}")
        if step.charts and not bad:
            lessons_charts.draw(step.page, page_p, step.charts)
        page = nav.by_key(step.page)
        st.caption(f"Explore further on the {page.title} page.")
    elif step.charts:
        st.info("Predict first: the chart appears once you have answered.",
                icon=":material/visibility_off:")

    c1, c2 = st.columns(2)
    c1.button("◀ Previous", on_click=go, args=(None, n - 1), disabled=n == 1, width="stretch")
    c2.button("Next ▶", on_click=go, args=(None, n + 1), disabled=n == len(les.steps),
              type="primary", width="stretch")

    query = {k: v for k, v in params.to_query(p).items()}
    if not p.present:
        with st.expander("Steps"):
            for i, s in enumerate(les.steps, start=1):
                mark = "✓ " if i in answers else ""
                st.button(f"{mark}{i}. {s.title or s.prompt[:40]}", key=f"list.{i}", on_click=go,
                          args=(None, i), type="tertiary")
        st.number_input("Your variant (a number your teacher gives you: it changes the numbers)",
                        0, 9999, step=1, key=K + "variant", on_change=ss.update,
                        kwargs={K + "a": []},  # answers were checked against the old numbers
                        help="Changing it starts the lesson's answers afresh.")
        st.markdown("**Copy my progress link** (your answers are in it):")
        link = f"{st.context.url or '/lessons'}?{urlencode(query, doseq=True)}"
        st.code(link, language=None, wrap_lines=True)
        st.download_button("Download my answers (CSV)", L.answers_csv(les, p.variant, answers),
                           file_name=f"lesson_{les.id}_answers.csv", mime="text/csv",
                           on_click="ignore", icon=":material/download:")
        st.button("Back to the lesson list", on_click=go, args=("", 1, False), type="tertiary")


if p.lesson:
    show_lesson()
    params.publish(params.current(L.LessonsParams, PAGE))
