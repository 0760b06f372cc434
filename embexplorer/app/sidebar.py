"""The shared sidebar every page draws first: sentences, models, layers and settings.

:func:`sidebar` restores the link's settings, loads both models (cached once per process), runs
them once per text (all layers at once, cached, with progress and Cancel for a corpus) and returns
a :class:`~.view.View`, or None when there is nothing to show yet (the page then stops).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import align, extract
from ..i18n import LANGUAGES, _, ngettext, translated
from ..labels import POOLING_LABELS, PREPROCESSING_LABELS, UNIT_LABELS, formatter
from ..limits import Limits, load_limits, sentences_within_budget
from ..models import (
    DOWNLOAD_SIZES_MB,
    ENV_MODEL_A,
    ENV_MODEL_B,
    LoadedModel,
    ModelInfo,
    ModelLoadError,
)
from .caching import (
    CORPUS_SENTENCES,
    cached_model,
    cached_states,
    cached_token_counts,
    release_model_weight_pages,
    start_background_work,
    states_without_models,
)
from .selection import Selection
from .state import (
    SHARED_TEXT_DAYS,
    SHARED_TEXT_KEY,
    ignored_settings,
    link_notes,
    link_params,
    local_models_left_out,
    restore_state,
    set_resolved_default,
    share_link,
    write_url,
)
from .view import View
from .widgets import error_text, escape_markdown, page_header, preload_chart_code

PROGRESS_MIN_SENTENCES = CORPUS_SENTENCES  # below, a run takes well under a second: no bar


def parse_texts(raw: str, limits: Limits) -> tuple[tuple[str, ...], list[str]]:
    """Sentences from the text box (one per line, blanks dropped) and notes on what was cut."""
    notes = []
    if len(raw) > limits.max_characters:
        raw = raw[: limits.max_characters]
        notes.append(
            _("Only the first {n:,} characters are used (the limit).").format(
                n=limits.max_characters
            )
        )
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(texts) > limits.max_sentences:
        notes.append(
            _("Only the first {n:,} of {total:,} sentences are used (the limit).").format(
                n=limits.max_sentences, total=len(texts)
            )
        )
        texts = texts[: limits.max_sentences]
    return tuple(texts), notes


def _load(name: str, slot: str, limits: Limits, status) -> LoadedModel | None:
    size = DOWNLOAD_SIZES_MB.get(name)
    loading = (
        _("Loading model {slot}: {name} (the first run downloads about {size} MB)…")
        if size
        else _("Loading model {slot}: {name}…")
    )
    try:
        limits.check_model(name)
        with status.container(), st.spinner(loading.format(slot=slot, name=name, size=size)):
            return cached_model(name)
    except (ModelLoadError, ValueError) as error:
        st.error(
            _(
                "**Model {slot} ({name}) could not be loaded.** Choose another model in the "
                "sidebar's **Models** box (a hub id such as gpt2, or a folder on this machine)."
            ).format(slot=slot, name=escape_markdown(name)),
            icon="⚠️",
        )
        with st.expander(_("Why model {slot} could not be loaded").format(slot=slot)):
            st.markdown(error_text(error))
        return None


def _layer_slider(slot: str, key: str, info: ModelInfo) -> int:
    options = list(range(info.n_hidden_states))
    embeddings = _("emb")  # translated now: the format function may be called from elsewhere
    value = st.session_state[key]
    resolved = value + info.n_hidden_states if value < 0 else value
    # A link from another model, or a model change, may leave the layer out of range.
    st.session_state[key] = min(max(resolved, 0), info.n_layers)
    set_resolved_default(key, info.n_layers)  # the last layer is the default: not in the link
    return st.sidebar.select_slider(
        _("Layer, model {slot} ({name})").format(slot=slot, name=info.short_name),
        options=options,
        key=key,
        format_func=lambda layer: embeddings if layer == 0 else str(layer),
        help=_(
            "0 is the embedding layer (token + position embeddings); 1..{last} are the outputs "
            "of the transformer blocks."
        ).format(last=info.n_layers),
    )


def _language_control() -> None:
    """English / Tiếng Việt, first in the sidebar. Its label is in both languages: whoever
    opens the app in the wrong one can still find it. A change reruns the page, whose first
    step (``widgets.use_language``) then translates every text."""
    st.sidebar.segmented_control(
        "Language · Ngôn ngữ",
        list(LANGUAGES),
        key="lang",
        format_func=LANGUAGES.get,
        selection_mode="single",
        required=True,
    )


def _read_upload() -> None:
    """Callback: an uploaded .txt replaces the sentences (one per line)."""
    upload = st.session_state.get("upload")
    if upload is not None:
        st.session_state["text"] = upload.getvalue().decode("utf-8", errors="replace")


def _text_controls(limits: Limits):
    """The text box and the corpus upload; returns the place under them where a model load or
    run says what it is doing (:func:`_run_status`)."""
    bar = st.sidebar
    bar.text_area(
        _("Sentences, one per line"),
        key="text",
        height=170,
        help=_(
            "Each line is one sentence. Words that occur in several sentences (like 'bank') "
            "show how context changes a vector."
        ),
    )
    with bar.expander(_("Upload a corpus (.txt)")):
        st.file_uploader(
            _("One sentence per line; it replaces the text above"),
            type=["txt"],
            key="upload",
            on_change=_read_upload,
            help=_(
                "Up to {sentences:,} sentences, {characters:,} characters and {tokens:,} tokens "
                "per model on this server."
            ).format(
                sentences=limits.max_sentences,
                characters=limits.max_characters,
                tokens=limits.max_tokens,
            ),
        )
    return _run_status()


def _run_status():
    """One fixed, empty slot in the sidebar for "Loading…" and "Running…" (and a corpus run's
    progress bar and Cancel button): right under the text being run, and never in the main
    area, where it would push the page's charts down while it runs (41 px for a spinner) or,
    since Streamlit places elements by position, stand in for the controls row until the page
    is drawn again."""
    return st.sidebar.empty()


def _model_controls(limits: Limits) -> None:
    with st.sidebar.expander(_("Models"), expanded=False):
        if limits.hosted:
            for slot in "AB":
                st.selectbox(
                    _("Model {slot}").format(slot=slot),
                    list(limits.allowed_models),
                    key=f"model_{slot.lower()}",
                )
            st.caption(_("This hosted demo offers these models only."))
        else:
            for slot in "AB":
                st.text_input(
                    _("Model {slot} (hub id or local folder)").format(slot=slot),
                    key=f"model_{slot.lower()}",
                )
            st.caption(
                _("Defaults come from {env_a} / {env_b}.").format(
                    env_a=ENV_MODEL_A, env_b=ENV_MODEL_B
                )
            )


def _setting_controls(infos: tuple[ModelInfo, ModelInfo]) -> tuple[int, int]:
    bar = st.sidebar
    layers = (
        _layer_slider("A", "layer_a", infos[0]),
        _layer_slider("B", "layer_b", infos[1]),
    )
    bar.radio(
        _("Items"),
        list(align.UNITS),
        key="unit",
        horizontal=True,
        format_func=formatter(UNIT_LABELS),
        help=_(
            "Tokens are each model's own pieces; words and sentences are the same items in "
            "both models (sub-word pieces pooled), so they can be compared one to one."
        ),
    )
    bar.selectbox(
        _("Preprocessing"),
        list(PREPROCESSING_LABELS),
        key="prep",
        format_func=formatter(PREPROCESSING_LABELS),
        help=_(
            "Mean-centring removes the common direction that makes raw cosines of a trained "
            "GPT-2 all near 1; standardising also evens out a few 'rogue' dimensions with huge "
            "values."
        ),
    )
    bar.selectbox(
        _("Sub-word pooling"),
        list(align.POOLINGS),
        key="pooling",
        format_func=formatter(POOLING_LABELS),
        help=_(
            "How a word split into pieces becomes one vector. For GPT-2 only the last piece "
            "has seen the whole word."
        ),
    )
    bar.checkbox(_("Show special tokens ([CLS], [SEP])"), key="special")
    bar.toggle(_("Presentation mode (large fonts)"), key="present")
    return layers


def _known_states(
    names: tuple[str, str], texts: tuple[str, ...], limits: Limits
) -> list[extract.HiddenStates] | None:
    """Both models' states of ``texts`` when they need neither model, for allowed models."""
    if not texts:
        return None
    try:
        for name in names:
            limits.check_model(name)
    except ValueError:  # _load says why
        return None
    return states_without_models(names, texts)


def _within_token_budget(
    names: tuple[str, str],
    texts: tuple[str, ...],
    limits: Limits,
    known: list[extract.HiddenStates] | None = None,
) -> tuple[str, ...]:
    if known is None:
        counts = [cached_token_counts(name, texts) for name in names]
    else:  # the tokens each model ran (special tokens included, as token_counts counts them)
        counts = [np.bincount(s.sentence, minlength=len(texts)).tolist() for s in known]
    keep = sentences_within_budget(counts, limits.max_tokens)
    if keep < len(texts):
        totals = ", ".join(f"{sum(c):,}" for c in counts)
        st.warning(
            _(
                "The text has {totals} tokens (model A, model B); this server runs at most "
                "{max_tokens:,} per model, so only the first {keep:,} of {total:,} sentences "
                "are used."
            ).format(totals=totals, max_tokens=limits.max_tokens, keep=keep, total=len(texts))
        )
    return texts[:keep]


def _cancel(texts: tuple[str, ...]) -> None:
    st.session_state["_cancelled"] = hash(texts)


def _resume() -> None:
    st.session_state.pop("_cancelled", None)


def queue_message(ahead: int) -> str:
    """What a visitor waiting behind other visitors' model runs is told."""
    return ngettext(
        "{n:,} request ahead of you: other visitors' sentences are running through the model; "
        "yours follow.",
        "{n:,} requests ahead of you: other visitors' sentences are running through the model; "
        "yours follow.",
        ahead,
    ).format(n=ahead)


def _run_models(
    names: tuple[str, str],
    infos: tuple[ModelInfo, ModelInfo],
    texts: tuple[str, ...],
    status,
) -> list[extract.HiddenStates] | None:
    """Hidden states for both models: from the cache, or one run each, with progress and cancel
    for a corpus (a click on Cancel reruns the page, which stops the run between batches)."""
    known = states_without_models(names, texts)
    if known is not None:
        return known
    if st.session_state.get("_cancelled") == hash(texts):
        st.info(_("The run was cancelled. Edit the sentences, or start it again."))
        st.button(_("Run the models"), on_click=_resume, key="resume_run")
        return None
    running = ngettext(
        "Running {a} and {b} on {n:,} sentence…",
        "Running {a} and {b} on {n:,} sentences…",
        len(texts),
    ).format(a=infos[0].short_name, b=infos[1].short_name, n=len(texts))
    if len(texts) < PROGRESS_MIN_SENTENCES:
        with status.container(), st.spinner(running):
            queue_note = st.empty()

            def waiting(ahead: int) -> None:
                if ahead:
                    queue_note.caption(queue_message(ahead))
                else:
                    queue_note.empty()

            states = [cached_states(name, texts, waiting=waiting) for name in names]
        queue_note.empty()
        return states
    with status.container():
        bar = st.progress(0.0, text=running)
        st.button(_("Cancel"), on_click=_cancel, args=(texts,), key="cancel_run")
        states = []
        for which, name in enumerate(names):

            def progress(done: int, total: int, which=which) -> None:
                bar.progress(
                    (which + done / total) / 2,
                    text=_("Running {model}: {done:,} of {total:,} sentences").format(
                        model=infos[which].short_name, done=done, total=total
                    ),
                )

            def waiting(ahead: int, which=which) -> None:
                if ahead:
                    bar.progress(which / 2, text=queue_message(ahead))

            states.append(cached_states(name, texts, progress=progress, waiting=waiting))
    status.empty()
    release_model_weight_pages()  # the pages' work on a corpus needs the memory now
    return states


def open_page(title: str, caption: str) -> View:
    """Every view page's start: its header, the shared sidebar, and a stop (after the sidebar
    has said why) when there is nothing to show yet."""
    page_header(title, caption)  # first: it restores the link's settings (the text)
    # When a visitor opens another page, what the last one freed goes back to the OS (~1 ms):
    # glibc keeps it, and on a corpus the server's baseline crept up by ~350 MB from page to page.
    # Not on a page's own reruns: they reuse that memory (one A/B run on a corpus: Similarity's
    # layer change ~1 s slower with a trim before every rerun, from faulting it back in).
    if st.session_state.get("_memory_trimmed_for") != title:
        st.session_state["_memory_trimmed_for"] = title
        extract.release_freed_memory()
        texts, _notes = parse_texts(st.session_state.get("text", ""), load_limits())
        if len(texts) >= CORPUS_SENTENCES:  # counted as a model run counts them
            # A corpus: its pages need the memory more than the next model run needs the weights
            # (on a few sentences, as a class's visitors type, the weights stay: each release
            # reads /proc/self/smaps, and a next run maps them back).
            release_model_weight_pages()
    view = sidebar()
    if view is None:
        st.stop()
    return view


def sidebar() -> View | None:
    """Draw the shared sidebar, load and run the models; None when nothing can be shown yet."""
    restore_state()
    ignored = ignored_settings()
    limits = load_limits()
    start_background_work()
    preload_chart_code()
    _language_control()
    share_box = st.sidebar.container()  # filled last, when every setting is known
    status = _text_controls(limits)
    _model_controls(limits)
    for note in link_notes():
        st.warning(translated(note))
    if ignored:
        st.warning(
            _(
                "Some settings in the link are not valid here and were left at their defaults: "
                "{names}"
            ).format(names=", ".join(ignored))
        )
    texts, notes = parse_texts(st.session_state["text"], limits)
    for note in notes:
        st.warning(note)
    names = (str(st.session_state["model_a"]).strip(), str(st.session_state["model_b"]).strip())
    known = _known_states(names, texts, limits)
    if known is None:
        loaded = [_load(name, slot, limits, status) for name, slot in zip(names, "AB", strict=True)]
        if None in loaded:
            _finish_sidebar(share_box)
            return None
        infos = (loaded[0].info, loaded[1].info)
    else:  # no model needed (a restarted server's first page, while the models load)
        infos = (known[0].model, known[1].model)
    layers = _setting_controls(infos)
    _finish_sidebar(share_box)
    if not texts:
        st.info(_("Type at least one sentence in the sidebar (one per line)."))
        return None
    try:
        texts = _within_token_budget(names, texts, limits, known)
        if not texts:
            st.error(
                _(
                    "The first sentence alone has more than {max_tokens:,} tokens, this server's "
                    "limit: shorten it."
                ).format(max_tokens=limits.max_tokens)
            )
            return None
        states = _run_models(names, infos, texts, status)
    except (ValueError, extract.ExtractionCancelled) as error:
        st.error(
            _("The models could not be run on this text: {error}").format(error=error_text(error))
        )
        return None
    if states is None:
        return None
    warnings = tuple(dict.fromkeys(states[0].warnings + states[1].warnings))
    for warning in warnings:
        st.warning(translated(warning))
    selection = Selection(
        names=names,
        texts=texts,
        layers=layers,
        unit=st.session_state["unit"],
        pooling=st.session_state["pooling"],
        preprocessing=st.session_state["prep"],
        special=st.session_state["special"],
    )
    return View(
        selection=selection,
        infos=infos,
        presentation=st.session_state["present"],
        warnings=warnings,
    )


SHARE_OPEN_KEY = "_share_open"


def _finish_sidebar(share_box) -> None:
    """Write the settings into the address, and the link to share into the sidebar's top."""
    write_url()
    box = share_box.expander(
        _("Share this view"), icon=":material/link:", key=SHARE_OPEN_KEY, on_change="rerun"
    )
    if not box.open:
        # Filled when opened (a rerun): its code block makes every new visitor's browser load
        # and run Streamlit's syntax highlighter (~0.75 s of its main thread) before the chart.
        return
    with box:
        params = link_params()
        notes = [
            _("Copy this link: it opens this page with the same sentences, models and settings.")
        ]
        if SHARED_TEXT_KEY in params:
            notes.append(
                _(
                    "The text is too long for a link: this server keeps it under the link's short "
                    "id for {days} days."
                ).format(days=SHARED_TEXT_DAYS)
            )
        for slot in local_models_left_out():
            notes.append(
                _(
                    "Model {slot} is a folder on this machine: the link cannot carry it, so it "
                    "names the default model."
                ).format(slot=slot)
            )
        st.caption(" ".join(notes))
        st.code(share_link(), language=None, wrap_lines=True)
