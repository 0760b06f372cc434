"""Lesson: the mathematics behind the app, one step at a time, live on prepared sentences."""

import streamlit as st

from embexplorer.app import lesson, widgets
from embexplorer.app.sidebar import open_page
from embexplorer.app.state import link_params
from embexplorer.i18n import N_, _


def _move(by: int) -> None:
    """Callback (before the script runs): the previous or next step, kept in the link."""
    st.session_state["step"] = min(max(int(st.session_state["step"]) + by, 1), len(lesson.STEPS))


view = open_page(
    N_("Lesson"),
    N_(
        "How a causal and a bidirectional model embed the same words, in five steps: each a "
        "short text, its formula, and a chart computed live with the models in the sidebar."
    ),
)

number = int(st.session_state["step"])
step = lesson.STEPS[number - 1]
total = len(lesson.STEPS)

row = st.columns([3, 10, 3], vertical_alignment="center")
row[0].button(
    _("Previous"),
    on_click=_move,
    args=(-1,),
    disabled=number == 1,
    icon=":material/arrow_back:",
    key="lesson_previous",
    width="stretch",
)
row[1].progress(
    number / total,
    text=_("Step {number} of {total}: {title}").format(
        number=number, total=total, title=step.title
    ),
)
row[2].button(
    _("Next"),
    on_click=_move,
    args=(1,),
    disabled=number == total,
    icon=":material/arrow_forward:",
    key="lesson_next",
    width="stretch",
)

text, chart = st.columns([2, 3], gap="large")
with text:
    st.markdown(step.text)
    st.latex(step.latex)
    if step.notation:
        st.markdown(step.notation)
    aside = st.container()  # what the loaded models' numbers show (said only when true)
    path, title = lesson.full_page(step)
    link = st.container()  # filled after the chart: the link carries what the step chose
    st.caption(
        _(
            "Sentences: {sentences} (the lesson's own: the sidebar's text box is for the other "
            "pages; its models, layers, pooling and preprocessing apply here)."
        ).format(sentences=" · ".join(f"“{widgets.escape_markdown(t)}”" for t in step.texts))
    )
with chart:
    extra = step.draw(lesson.step_view(view, step.texts), aside)
link.page_link(
    path,
    label=_("Open the full page: {title}").format(title=title),  # one line: keep it short
    icon=":material/open_in_new:",
    query_params=lesson.step_params(step, link_params(), extra),
)
