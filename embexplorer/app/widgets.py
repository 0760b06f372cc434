"""Small drawing helpers shared by pages: header, charts, downloads built on click, numbers."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from .. import figures, i18n
from ..geometry import METRICS
from ..i18n import _, translated
from ..labels import METRIC_LABELS, UNIT_LABELS, formatter, label
from .state import restore_state

PLOTLY_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "embexplorer"},
}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text) -> str:
    """User text shown inside Markdown stays text: no links, emphasis, HTML or LaTeX."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def error_text(error: BaseException) -> str:
    """An error's message for Markdown, in the reader's language when the core made it a
    :class:`~embexplorer.i18n.Message` (made in a cache or another thread, it is English)."""
    message = error.args[0] if len(error.args) == 1 else error
    return escape_markdown(translated(message) if isinstance(message, str) else message)


def number(value: float, spec: str = ".3f") -> str:
    """A statistic for display: "not defined" instead of nan (constant similarities, too few
    items for the debiased CKA, ...)."""
    return format(value, spec) if np.isfinite(value) else _("not defined")


MACHINE_ZERO = 1e-12  # below this in size a difference is floating-point rounding (float64)


def machine_zero_text() -> str:
    """What a difference below :data:`MACHINE_ZERO` reads as, in the reader's language."""
    return _("0 (to machine precision, < 1e-12)")


def machine_zero_sentence() -> str:
    """Why such a difference is 0, in one sentence in the reader's language."""
    return _(
        "Computers keep about 16 significant digits, so a difference below 10⁻¹² is rounding in "
        "the last digits, not a change."
    )


def plain_number(value: float, digits: int = 3, zero: str | None = None) -> str:
    """A number for students, never in e-notation ("8.9e-16" means nothing to most).

    Below :data:`MACHINE_ZERO` in size it is ``zero``, by default :func:`machine_zero_text`
    (say :func:`machine_zero_sentence` nearby; a narrow metric cell passes "0" and says the
    rest beside it), below 0.001 "< 0.001", from 1,000 on a whole number with thousands
    separators, otherwise ``digits`` significant digits; nan is "not defined".

    Examples
    --------
    >>> plain_number(8.9e-16), plain_number(3e-7), plain_number(0.01234), plain_number(12345.6)
    ('0 (to machine precision, < 1e-12)', '< 0.001', '0.0123', '12,346')
    """
    if not np.isfinite(value):
        return _("not defined")
    size = abs(value)
    if size < MACHINE_ZERO:
        return machine_zero_text() if zero is None else zero
    if size < 0.001:
        return "< 0.001" if value > 0 else "> -0.001"
    text = format(value, f".{digits}g")
    return format(value, ",.0f") if "e" in text else text


def leave_pages_folder_mode() -> None:
    """Rerun through ``app.py``'s navigation when Streamlit ran a page file on its own.

    A server starts in the old "pages folder" mode because ``pages/`` exists, and leaves it only
    when ``st.navigation`` first runs. So the very first visit of a fresh server, when it is a
    link to a page (``/similarity?text=...``), runs that page file directly, with the folder's
    navigation (streamlit/streamlit#9992, which used to show a false "Page not found" dialog
    because the folder's names did not match our lower-case URLs: the files are named after
    their URLs so that they match). Switching the mode off and rerunning sends the same request,
    query string included, through ``app.py``: the visitor sees the right page with the app's
    own navigation, and no dialog.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# Presentation mode: Streamlit sizes its text in rem, so a larger root font scales every label,
# caption, metric and control together; captions and labels get the full text colour (the
# default faded grey disappears on a projector); a metric's number and label wrap instead of
# ending in "…" (a p-value cut to "0.0…" in a narrow column with the sidebar open); the page's
# padding shrinks so the main chart fits a 1280x720 screen.
PRESENTATION_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] *,
[data-testid="stWidgetLabel"], [data-testid="stWidgetLabel"] *,
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  color: var(--st-text-color, inherit) !important; opacity: 1 !important;
}
[data-testid="stMetricValue"] { font-size: 1.5rem; }
[data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] *,
[data-testid="stWidgetLabel"] *, [data-testid="stCheckbox"] label *,
[data-testid="stToggle"] label * {
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  word-break: normal !important; overflow-wrap: normal !important;
}
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-bottom: 1rem; }
[data-testid="stMain"] h1 { font-size: 1.6rem; padding: 0 0 0.2rem 0; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 1.25rem; padding: 0.2rem 0; }
</style>
"""


def presentation() -> bool:
    return bool(st.session_state.get("present"))


def use_language() -> None:
    """The link's settings, and the visitor's language (the link's ``lang=``, then the sidebar's
    choice) for every text of this run."""
    restore_state()
    i18n.set_language(st.session_state["lang"])


def _plotly_chunk_name() -> str | None:
    """The file name of Streamlit's frontend chunk that draws plotly charts (it carries a
    content hash that changes with Streamlit's version); None when it cannot be found."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    names = sorted(path.name for path in folder.glob("PlotlyChart.*.js"))
    return names[0] if len(names) == 1 else None


PLOTLY_CHUNK = _plotly_chunk_name()
PRELOAD_MARK = "embexplorer-chart-code"


def preload_chart_code(container=st.sidebar) -> None:
    """Have the browser fetch and compile plotly's code now, while the server still loads the
    models or runs them, instead of when the first chart arrives.

    The frontend loads that 4.7 MB chunk only when it first draws a chart: on a cold start it
    then spent ~2.9 s (2 cores) between asking for the chunk and drawing the chart, after the
    server's work was done. Imported here, it is in the browser's module map by then. The
    element is hidden (no space in the layout); a failed import changes nothing.
    """
    if PLOTLY_CHUNK is None:
        return
    container.html(
        f'<span id="{PRELOAD_MARK}"></span>'
        f'<style>[data-testid="stElementContainer"]:has(#{PRELOAD_MARK}) '
        "{ display: none; }</style>"
        "<script>(() => { try {"
        ' const main = document.querySelector(\'script[type="module"][src*="/static/js/"]\');'
        f' if (main) import(new URL("{PLOTLY_CHUNK}", main.src).href).catch(() => {{}});'
        " } catch (error) {} })();</script>",
        unsafe_allow_javascript=True,
    )


def page_header(title: str, caption: str) -> None:
    """The link's settings, the page's configuration (wide; sidebar folded away in presentation
    mode), the browser tab's title, and the page's heading.

    ``title`` and ``caption`` are catalogue texts (marked ``N_()`` by the page), translated
    here: a page file run on its own reaches this before any language is set.
    """
    leave_pages_folder_mode()
    use_language()
    title, caption = i18n._(title), i18n._(caption)
    st.set_page_config(
        page_title=f"{title} · embexplorer",
        page_icon=":material/hub:",
        layout="wide",
        initial_sidebar_state="collapsed" if presentation() else "auto",
    )
    if presentation():
        st.html(PRESENTATION_CSS)
    st.title(title)
    st.caption(caption)


def paired_unit_notice(unit: str, container=st) -> None:
    """Say so when a view that pairs items across models uses words instead of tokens."""
    if unit == "token":
        container.info(
            _(
                "The two tokenizers cut the text into different tokens, so tokens cannot be "
                "compared one to one: this view uses **words** (each model's pieces pooled). "
                "Choose words or sentences in the sidebar to make it explicit."
            ),
            icon="ℹ️",
        )


def sample_note(view, what: str) -> None:
    """Say so when an n x n statistic uses a spread sample of a corpus's items (``what``: the
    statistic's name, already translated)."""
    used, total = view.compared_index().size, view.items(view.paired_unit)[0].n_items
    if used < total:
        st.caption(
            _(
                "{what} on {used:,} of {total:,} {unit}: a seeded sample spread evenly through "
                "the text (every item against every other would not fit in memory); the same "
                "sentences always give the same sample."
            ).format(what=what, used=used, total=total, unit=label(UNIT_LABELS, view.paired_unit))
        )


def pca_fit_note(n_items: int, unit: str) -> None:
    """Say so when a PCA picture's axes were fitted on a spread sample of a corpus's items."""
    from .caching import MAX_PROJECTION_FIT_ITEMS

    if n_items > MAX_PROJECTION_FIT_ITEMS:
        st.caption(
            _(
                "The PCA axes are fitted on {fit:,} of the {total:,} {unit}, spread evenly "
                "through the text (the % of variance on each axis is theirs); every one of them "
                "is drawn."
            ).format(fit=MAX_PROJECTION_FIT_ITEMS, total=n_items, unit=label(UNIT_LABELS, unit))
        )


def download_csv(label: str, frame: Callable, file_name: str, key: str) -> None:
    """A CSV download whose table (``frame()``, a pandas DataFrame) is built only when clicked."""
    st.download_button(
        label,
        lambda: frame().to_csv(index=False).encode("utf-8"),
        file_name=file_name,
        mime="text/csv",
        key=key,
    )


def download_npz(label: str, arrays: Callable, file_name: str, key: str) -> None:
    """An NPZ download of ``arrays()`` (a dict of arrays), built only when clicked."""

    def data() -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays())
        return buffer.getvalue()

    st.download_button(label, data, file_name=file_name, mime="application/octet-stream", key=key)


def controls_row():
    """A row for a page's controls: each control as wide as its labels, the row wrapping whole
    controls onto a second line when the screen is narrow (never cutting a label)."""
    return st.container(horizontal=True, gap="medium", vertical_alignment="bottom")


def metric_control(container, **options) -> str:
    """The "Measure" choice (cosine or Euclidean distance), the same widget on every page."""
    return container.segmented_control(
        _("Measure"),
        list(METRICS),
        key="metric",
        required=True,
        format_func=formatter(METRIC_LABELS),
        **options,
    )


def dark_theme() -> bool:
    """Whether the viewer's page is dark (Streamlit's theme, as the browser reports it)."""
    return getattr(st.context.theme, "type", None) == "dark"


def projector_ready(fig):
    """The figure for this viewer: scales centred on 0 that suit a dark page, and in
    presentation mode every text at projector size in a strong colour."""
    dark = dark_theme()
    if dark:
        figures.for_dark_theme(fig)
    if presentation():
        figures.for_projector(fig, text_colour="#F5F6F8" if dark else "#111418")
    return fig


def chart(fig, key: str) -> None:
    """A full-width plotly chart with PNG export kept on."""
    st.plotly_chart(projector_ready(fig), width="stretch", config=PLOTLY_CONFIG, key=key)


# Layers / Geometry / Context pages


def use_layers(layer_a: int, layer_b: int) -> None:
    """Callback: set both sidebar layers. Callbacks run before the script, so before the
    sliders exist, which is when their state may still be changed."""
    st.session_state["layer_a"], st.session_state["layer_b"] = int(layer_a), int(layer_b)


def picked_cell(event) -> tuple[int, int] | None:
    """(row, column) of the last point clicked in a chart's selection event, or None."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for point in reversed(list(points or [])):
        try:
            return int(round(float(point["y"]))), int(round(float(point["x"])))
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _use_picked_layers(key: str) -> None:
    cell = picked_cell(st.session_state.get(key))
    if cell is not None:
        use_layers(*cell)


def layer_picker_chart(fig, key: str) -> None:
    """A chart whose clicked cell (x = layer of B, y = layer of A) sets the sidebar layers."""
    st.plotly_chart(
        projector_ready(fig),
        width="stretch",
        config=PLOTLY_CONFIG,
        key=key,
        on_select=lambda: _use_picked_layers(key),
        selection_mode="points",
    )


# Similarity page: the random-weight baseline

# Above this the baseline (one more run of each model) is off by default: with full-size models
# 200 sentences added 65 s to the Similarity page's first view (2 shared CPU cores, load ~7).
CONTROL_AUTO_MAX_SENTENCES = 50


def _store_control_choice() -> None:
    """Callback: a click on the baseline toggle is the user's choice, kept in the link."""
    st.session_state["control"] = "on" if st.session_state["control_toggle"] else "off"


def control_toggle(container, n_sentences: int) -> bool:
    """The "Show the random-weight baseline" toggle: on by default for up to
    :data:`CONTROL_AUTO_MAX_SENTENCES` sentences, off above (it runs both models once more);
    a click sticks (link setting ``control``: auto, on or off)."""
    choice = st.session_state.get("control", "auto")
    large = n_sentences > CONTROL_AUTO_MAX_SENTENCES
    st.session_state["control_toggle"] = choice == "on" or (choice == "auto" and not large)
    shown = container.toggle(
        _("Show the random-weight baseline"),
        key="control_toggle",
        on_change=_store_control_choice,
        help=_(
            "Scores the same sentences with copies of both models whose weights are random "
            "(same architectures and tokenizers): the agreement any two such models get from the "
            "input alone. It runs each copy once (one at a time); on by default for up to "
            "{most} sentences, off above."
        ).format(most=CONTROL_AUTO_MAX_SENTENCES),
    )
    if large and choice == "auto":
        container.caption(
            _(
                "Off by default for more than {most} sentences (you have {n:,}): it runs both "
                "models once more."
            ).format(most=CONTROL_AUTO_MAX_SENTENCES, n=n_sentences)
        )
    return shown
