"""The one Streamlit-aware module: shared sidebar, URL state, cached loaders.

Pages call :func:`sidebar` first; it draws the shared controls, loads both models (cached once per
process), runs them once per text (all layers at once, cached), and returns a :class:`View`.
Everything derived from hidden states (items, projections, comparisons) is cached per setting, so
changing a layer, unit, metric or projection never runs a model again.

Loaded models and hidden states live in per-process :class:`~embexplorer.cache.BoundedCache`
objects shared by all sessions (bounded by entries and by memory; concurrent requests compute
once). Derived results use ``st.cache_resource`` with ``max_entries`` rather than
``st.cache_data``, which pickles and copies every hit. Everything cached is read-only.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from . import align, compare, extract, geometry, invariance, projection
from . import contextuality as word_context
from .cache import BoundedCache
from .figures import COLOUR_BY
from .layers import LAYER_METHODS, LayerProfile, layer_profile, layer_rsa_matrix
from .limits import Limits, load_limits, sentences_within_budget
from .models import (
    DOWNLOAD_SIZES_MB,
    LoadedModel,
    ModelInfo,
    ModelLoadError,
    default_model_names,
    load_model,
)
from .rsa import RSA_METHODS

DEFAULT_TEXTS = (
    "The bank raised its interest rates.",
    "We had a picnic on the river bank.",
    "She deposited the money at the bank.",
    "The river flooded the bank after the storm.",
    "A cat sat on the warm mat.",
)
# Texts longer than this stay out of the link (browsers and proxies cap URL length); the link
# then carries the settings only, and the share box says so.
MAX_TEXT_IN_URL = 2_000
PROGRESS_MIN_SENTENCES = 32  # below this a run takes well under a second: no progress bar
PREPROCESSING_LABELS = {"none": "none (raw)", "center": "mean-centre", "standardize": "standardise"}
UNIT_LABELS = {"token": "tokens", "word": "words", "sentence": "sentences"}
PROJECTION_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
APP_PERMUTATIONS = 2_000  # most permutations / bootstraps; fewer for large sets (see compare)
APP_BOOTSTRAPS = 500
HEATMAP_MAX_ITEMS = 150  # above this a heatmap shows an evenly spaced sample of the items
SCATTER_MAX_PAIRS = 20_000


# --- URL state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlField:
    """One setting kept in the query string: how to read it back and its default."""

    default: Any
    choices: tuple | None = None

    def parse(self, raw: str) -> Any:
        """The value from a query-string entry, or None when it is not valid for this field."""
        if isinstance(self.default, bool):
            return {"1": True, "true": True, "0": False, "false": False}.get(raw.lower())
        if isinstance(self.default, int):
            try:
                value = int(raw)
            except ValueError:
                return None
        else:
            value = raw
        if self.choices is not None and value not in self.choices:
            return None
        return value

    @staticmethod
    def encode(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)


def url_fields() -> dict[str, UrlField]:
    """Every setting of every page, by its widget key (which is also its query-string name)."""
    model_a, model_b = default_model_names()
    limits = load_limits()
    allowed = limits.allowed_models if limits.hosted else None
    return {
        "text": UrlField("\n".join(DEFAULT_TEXTS)),
        "model_a": UrlField(model_a, allowed),
        "model_b": UrlField(model_b, allowed),
        "layer_a": UrlField(-1),
        "layer_b": UrlField(-1),
        "unit": UrlField("word", tuple(align.UNITS)),
        "prep": UrlField("none", tuple(PREPROCESSING_LABELS)),
        "pooling": UrlField("mean", tuple(align.POOLINGS)),
        "special": UrlField(False),
        "present": UrlField(False),
        # Projection page
        "method": UrlField("pca", tuple(PROJECTION_LABELS)),
        "dims": UrlField(2, (2, 3)),
        "colour": UrlField("sentence", COLOUR_BY),
        "labels": UrlField(True),
        "lines": UrlField(False),
        "joint": UrlField(False),
        # Similarity page
        "metric": UrlField("cosine", geometry.METRICS),
        "rsa": UrlField("spearman", RSA_METHODS),
        # Layers / Geometry / Context pages
        "layer_method": UrlField("spearman", LAYER_METHODS),
        "log_scree": UrlField(True),
        "rot_seed": UrlField(0),
        "exclude_first": UrlField(False),
        "word": UrlField(word_context.DEFAULT_WORD),
    }


def _restore_state() -> list[str]:
    """Seed widget state from the link once per session, then keep it across page switches.

    Returns the names of link settings that were ignored because they are not valid here.
    """
    fields = url_fields()
    state = st.session_state
    ignored = []
    if not state.get("_url_applied"):
        state["_url_applied"] = True
        for key, raw in st.query_params.items():
            field = fields.get(key)
            value = field.parse(raw) if field else None
            if value is not None:
                state[key] = value
            elif field is not None:
                ignored.append(key)
    for key, field in fields.items():
        # Re-assigning a widget's value keeps it when another page is opened (Streamlit drops
        # state of widgets that were not drawn in the previous run).
        state[key] = state[key] if key in state else field.default
    return ignored


def link_params() -> dict[str, str]:
    """Every setting as query parameters (the text only when it is short enough for a link)."""
    params = {
        key: UrlField.encode(st.session_state[key])
        for key in url_fields()
        if key in st.session_state
    }
    if len(params.get("text", "")) > MAX_TEXT_IN_URL:
        del params["text"]
    return params


def _write_url() -> None:
    st.query_params.from_dict(link_params())


def share_link() -> str:
    """The full link to this view: the page's URL plus every setting."""
    base = st.context.url or ""
    return f"{base}?{urllib.parse.urlencode(link_params())}"


# --- cached work --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedCaches:
    """Per-process caches shared by all sessions: loaded models, and hidden states by memory."""

    models: BoundedCache
    states: BoundedCache


@st.cache_resource(show_spinner=False)
def shared_caches() -> SharedCaches:
    limits = load_limits()
    return SharedCaches(
        models=BoundedCache(max_entries=4),
        states=BoundedCache(
            max_entries=32,
            max_bytes=limits.cache_mb * 2**20,
            size_of=lambda states: states.vectors.nbytes,
        ),
    )


def cached_model(name: str) -> LoadedModel:
    """One loaded model per name per process, shared by every session; loaded once even when
    several sessions ask at the same moment."""
    return shared_caches().models.get_or_compute(name, lambda: load_model(name))


def cached_states(name: str, texts: tuple[str, ...], progress=None) -> extract.HiddenStates:
    """All layers of all tokens of ``texts`` (the only place the app runs a model)."""
    return shared_caches().states.get_or_compute(
        (name, texts),
        lambda: extract.extract_hidden_states(cached_model(name), texts, progress=progress),
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_token_counts(name: str, texts: tuple[str, ...]) -> list[int]:
    return extract.token_counts(cached_model(name), texts)


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_items(
    names: tuple[str, str], texts: tuple[str, ...], unit: str, pooling: str, special: bool
) -> tuple[align.Items, align.Items]:
    """Both models' items: their own tokens, or the same shared words / sentences."""
    states = [cached_states(name, texts) for name in names]
    if unit == "token":
        return align.token_items(states[0], special), align.token_items(states[1], special)
    return align.paired_items(states[0], states[1], unit=unit, pooling=pooling)


@st.cache_resource(show_spinner=False, max_entries=128)
def cached_projection(
    names: tuple[str, str],
    texts: tuple[str, ...],
    items_key: tuple[str, str, bool],
    which: int,
    layer: int,
    preprocessing: str,
    method: str,
    dims: int,
) -> projection.Projection:
    items = cached_items(names, texts, *items_key)[which]
    vectors = geometry.preprocess(items.vectors[layer], preprocessing)
    return projection.make_projector(method, dims).fit_transform(vectors)


def _paired_vectors(
    names: tuple[str, str],
    texts: tuple[str, ...],
    unit: str,
    pooling: str,
    layers: tuple[int, int],
    preprocessing: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' shared items at their layers, preprocessed."""
    items = cached_items(names, texts, unit, pooling, False)
    return tuple(
        geometry.preprocess(side.vectors[layer], preprocessing)
        for side, layer in zip(items, layers, strict=True)
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_joint(
    names: tuple[str, str],
    texts: tuple[str, ...],
    unit: str,
    pooling: str,
    layers: tuple[int, int],
    preprocessing: str,
    method: str,
    dims: int,
) -> projection.JointProjection:
    return projection.joint_projection(
        *_paired_vectors(names, texts, unit, pooling, layers, preprocessing),
        projection.make_projector(method, dims),
    )


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_comparison(
    names: tuple[str, str],
    texts: tuple[str, ...],
    unit: str,
    pooling: str,
    layers: tuple[int, int],
    preprocessing: str,
    metric: str,
    method: str,
) -> compare.Comparison:
    items_a, items_b = cached_items(names, texts, unit, pooling, False)
    return compare.compare_items(
        items_a,
        items_b,
        layer_a=layers[0],
        layer_b=layers[1],
        metric=metric,
        preprocessing=preprocessing,
        method=method,
        permutations=compare.interactive_resamples(
            items_a.n_items, APP_PERMUTATIONS, compare.INTERACTIVE_PERMUTATION_VALUES
        ),
        bootstraps=compare.interactive_resamples(
            items_a.n_items, APP_BOOTSTRAPS, compare.INTERACTIVE_BOOTSTRAP_VALUES
        ),
    )


# Layers / Geometry / Context pages


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_layer_matrix(
    names: tuple[str, str],
    texts: tuple[str, ...],
    unit: str,
    pooling: str,
    metric: str,
    preprocessing: str,
    method: str,
) -> np.ndarray:
    """Every layer of A against every layer of B, from the cached hidden states."""
    items_a, items_b = cached_items(names, texts, unit, pooling, False)
    return layer_rsa_matrix(items_a, items_b, metric, preprocessing, method)


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_layer_profiles(
    names: tuple[str, str],
    texts: tuple[str, ...],
    items_key: tuple[str, str, bool],
    preprocessing: str,
) -> tuple[LayerProfile, LayerProfile]:
    items = cached_items(names, texts, *items_key)
    return layer_profile(items[0], preprocessing), layer_profile(items[1], preprocessing)


@st.cache_resource(show_spinner=False, max_entries=64)
def cached_context_profiles(
    names: tuple[str, str], texts: tuple[str, ...], pooling: str, word: str, preprocessing: str
) -> tuple[word_context.ContextProfile, word_context.ContextProfile]:
    items = cached_items(names, texts, "word", pooling, False)
    return tuple(word_context.context_profile(side, word, preprocessing) for side in items)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_invariance(
    names: tuple[str, str],
    texts: tuple[str, ...],
    unit: str,
    pooling: str,
    layers: tuple[int, int],
    preprocessing: str,
    seed: int,
    method: str,
) -> invariance.InvarianceDemo:
    return invariance.invariance_demo(
        *_paired_vectors(names, texts, unit, pooling, layers, preprocessing),
        seed=seed,
        method=method,
    )


@dataclass(frozen=True)
class BackgroundWork:
    """The two warm-up threads a server starts once."""

    models: threading.Thread
    umap: threading.Thread


@st.cache_resource(show_spinner=False)
def _start_background_work() -> BackgroundWork:
    """Once per process, at the first page view: load the default models in one thread and
    compile UMAP's numba code (~13 s; ~30 s on a fresh install) in another, both at once, so the
    first page draws immediately and the first UMAP view finds the compilation done or under way.
    """
    models = shared_caches().models
    limits = load_limits()
    names = [name for name in default_model_names() if _allowed(name, limits)]

    def load_defaults() -> None:
        for name in names:
            try:
                models.get_or_compute(name, lambda name=name: load_model(name))
            except Exception:  # noqa: BLE001 - the page that asks for the model reports it
                pass

    work = BackgroundWork(
        models=threading.Thread(target=load_defaults, name="model-warm-up", daemon=True),
        umap=threading.Thread(target=projection.warm_up_umap, name="umap-warm-up", daemon=True),
    )
    work.umap.start()
    work.models.start()
    return work


def _wait_for_umap_warm_up() -> None:
    """A UMAP view asked for while the compilation runs waits for it, saying why."""
    thread = _start_background_work().umap
    if thread.is_alive():
        with st.spinner(
            "Preparing UMAP: its numerical code is compiled once after the server starts "
            "(up to half a minute on a small server)…"
        ):
            thread.join()


def _allowed(name: str, limits: Limits) -> bool:
    return not limits.hosted or name in limits.allowed_models


# --- the shared sidebar -------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What the sidebar settled: texts, models, layers and the shared settings."""

    texts: tuple[str, ...]
    names: tuple[str, str]
    infos: tuple[ModelInfo, ModelInfo]
    layers: tuple[int, int]
    unit: str
    preprocessing: str
    pooling: str
    special: bool
    presentation: bool
    warnings: tuple[str, ...]

    def items(self, unit: str | None = None) -> tuple[align.Items, align.Items]:
        return cached_items(self.names, self.texts, unit or self.unit, self.pooling, self.special)

    def projection(self, which: int, method: str, dims: int) -> projection.Projection:
        """One model's items at its layer, projected on their own."""
        return self.projection_of(self.unit, which, method, dims)

    def joint_projection(self, method: str, dims: int) -> projection.JointProjection:
        """B Procrustes-aligned onto A, both projected together (words or sentences only)."""
        if method == "umap":
            _wait_for_umap_warm_up()
        return cached_joint(
            self.names,
            self.texts,
            self.unit,
            self.pooling,
            self.layers,
            self.preprocessing,
            method,
            dims,
        )

    def comparison(self, metric: str, method: str, unit: str | None = None) -> compare.Comparison:
        return cached_comparison(
            self.names,
            self.texts,
            unit or self.unit,
            self.pooling,
            self.layers,
            self.preprocessing,
            metric,
            method,
        )

    # Layers / Geometry / Context pages

    def items_key(self, unit: str | None = None) -> tuple[str, str, bool]:
        return (unit or self.unit, self.pooling, self.special)

    def layer_matrix(self, metric: str, method: str, unit: str | None = None) -> np.ndarray:
        """RSA or CKA between every layer of A and every layer of B (words or sentences)."""
        return cached_layer_matrix(
            self.names,
            self.texts,
            unit or self.unit,
            self.pooling,
            metric,
            self.preprocessing,
            method,
        )

    def layer_profiles(self, preprocessing: str) -> tuple[LayerProfile, LayerProfile]:
        """Per-layer anisotropy, norm, intra-sentence similarity and PC1 share, both models."""
        return cached_layer_profiles(self.names, self.texts, self.items_key(), preprocessing)

    def context_profiles(
        self, word: str
    ) -> tuple[word_context.ContextProfile, word_context.ContextProfile]:
        """Self-similarity of ``word``'s occurrences at every layer, both models."""
        return cached_context_profiles(
            self.names, self.texts, self.pooling, word, self.preprocessing
        )

    def invariance(self, seed: int, method: str, unit: str | None = None):
        """A random rotation and a random linear map applied to A's vectors at its layer."""
        return cached_invariance(
            self.names,
            self.texts,
            unit or self.unit,
            self.pooling,
            self.layers,
            self.preprocessing,
            seed,
            method,
        )

    def projection_of(self, unit: str, which: int, method: str, dims: int) -> projection.Projection:
        """Like :meth:`projection`, for a given unit."""
        if method == "umap":
            _wait_for_umap_warm_up()
        return cached_projection(
            self.names,
            self.texts,
            self.items_key(unit),
            which,
            self.layers[which],
            self.preprocessing,
            method,
            dims,
        )

    def panel_title(self, which: int) -> str:
        info, layer = self.infos[which], self.layers[which]
        where = "embeddings" if layer == 0 else f"layer {layer}/{info.n_layers}"
        return f"{'AB'[which]}: {info.short_name} ({info.kind}) · {where}"


def parse_texts(raw: str, limits: Limits) -> tuple[tuple[str, ...], list[str]]:
    """Sentences from the text box (one per line, blanks dropped) and notes on what was cut."""
    notes = []
    if len(raw) > limits.max_characters:
        raw = raw[: limits.max_characters]
        notes.append(f"Only the first {limits.max_characters:,} characters are used (the limit).")
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(texts) > limits.max_sentences:
        notes.append(
            f"Only the first {limits.max_sentences:,} of {len(texts):,} sentences are used "
            "(the limit)."
        )
        texts = texts[: limits.max_sentences]
    return tuple(texts), notes


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """User text shown inside Markdown stays text: no links, emphasis, HTML or LaTeX."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _load(name: str, slot: str, limits: Limits) -> LoadedModel | None:
    size = DOWNLOAD_SIZES_MB.get(name)
    first_run = f" (the first run downloads about {size} MB)" if size else ""
    try:
        limits.check_model(name)
        with st.spinner(f"Loading model {slot}: {name}{first_run}…"):
            return cached_model(name)
    except (ModelLoadError, ValueError) as error:
        st.error(f"**Model {slot} could not be loaded.** {escape_markdown(error)}", icon="⚠️")
        return None


def _layer_slider(slot: str, key: str, info: ModelInfo) -> int:
    options = list(range(info.n_hidden_states))
    value = st.session_state[key]
    resolved = value + info.n_hidden_states if value < 0 else value
    # A link from another model, or a model change, may leave the layer out of range.
    st.session_state[key] = min(max(resolved, 0), info.n_layers)
    return st.sidebar.select_slider(
        f"Layer, model {slot} ({info.short_name})",
        options=options,
        key=key,
        format_func=lambda layer: "emb" if layer == 0 else str(layer),
        help="0 is the embedding layer (token + position embeddings); "
        f"1..{info.n_layers} are the outputs of the transformer blocks.",
    )


def _read_upload() -> None:
    """Callback: an uploaded .txt replaces the sentences (one per line)."""
    upload = st.session_state.get("upload")
    if upload is not None:
        st.session_state["text"] = upload.getvalue().decode("utf-8", errors="replace")


def _text_controls(limits: Limits) -> None:
    bar = st.sidebar
    bar.text_area(
        "Sentences, one per line",
        key="text",
        height=170,
        help="Each line is one sentence. Words that occur in several sentences (like 'bank') "
        "show how context changes a vector.",
    )
    with bar.expander("Upload a corpus (.txt)"):
        st.file_uploader(
            "One sentence per line; it replaces the text above",
            type=["txt"],
            key="upload",
            on_change=_read_upload,
            help=f"Up to {limits.max_sentences:,} sentences, {limits.max_characters:,} "
            f"characters and {limits.max_tokens:,} tokens per model on this server.",
        )


def _model_controls(limits: Limits) -> None:
    with st.sidebar.expander("Models", expanded=False):
        if limits.hosted:
            for slot in "AB":
                st.selectbox(
                    f"Model {slot}", list(limits.allowed_models), key=f"model_{slot.lower()}"
                )
            st.caption("This hosted demo offers these models only.")
        else:
            st.text_input("Model A (hub id or local folder)", key="model_a")
            st.text_input("Model B (hub id or local folder)", key="model_b")
            st.caption("Defaults come from EMBEXPLORER_MODEL_A / EMBEXPLORER_MODEL_B.")


def _setting_controls(infos: tuple[ModelInfo, ModelInfo]) -> tuple[int, int]:
    bar = st.sidebar
    layers = (
        _layer_slider("A", "layer_a", infos[0]),
        _layer_slider("B", "layer_b", infos[1]),
    )
    bar.radio(
        "Items",
        list(align.UNITS),
        key="unit",
        horizontal=True,
        format_func=UNIT_LABELS.get,
        help="Tokens are each model's own pieces; words and sentences are the same items in "
        "both models (sub-word pieces pooled), so they can be compared one to one.",
    )
    bar.selectbox(
        "Preprocessing",
        list(PREPROCESSING_LABELS),
        key="prep",
        format_func=PREPROCESSING_LABELS.get,
        help="Mean-centring removes the common direction that makes raw GPT-2 cosines all near 1; "
        "standardising also evens out a few 'rogue' dimensions with huge values.",
    )
    bar.selectbox(
        "Sub-word pooling",
        list(align.POOLINGS),
        key="pooling",
        help="How a word split into pieces becomes one vector. For GPT-2 only the last piece "
        "has seen the whole word.",
    )
    bar.checkbox("Show special tokens ([CLS], [SEP])", key="special")
    bar.toggle("Presentation mode (large fonts)", key="present")
    return layers


def _within_token_budget(
    names: tuple[str, str], texts: tuple[str, ...], limits: Limits
) -> tuple[str, ...]:
    counts = [cached_token_counts(name, texts) for name in names]
    keep = sentences_within_budget(counts, limits.max_tokens)
    if keep < len(texts):
        totals = ", ".join(f"{sum(c):,}" for c in counts)
        st.warning(
            f"The text has {totals} tokens (model A, model B); this server runs at most "
            f"{limits.max_tokens:,} per model, so only the first {keep:,} of {len(texts):,} "
            "sentences are used."
        )
    return texts[:keep]


def _cancel(texts: tuple[str, ...]) -> None:
    st.session_state["_cancelled"] = hash(texts)


def _resume() -> None:
    st.session_state.pop("_cancelled", None)


def _run_models(
    names: tuple[str, str], infos: tuple[ModelInfo, ModelInfo], texts: tuple[str, ...]
) -> list[extract.HiddenStates] | None:
    """Hidden states for both models: from the cache, or one run each, with progress and cancel
    for a corpus (a click on Cancel reruns the page, which stops the run between batches)."""
    caches = shared_caches().states
    if all((name, texts) in caches for name in names):
        return [cached_states(name, texts) for name in names]
    if st.session_state.get("_cancelled") == hash(texts):
        st.info("The run was cancelled. Edit the sentences, or start it again.")
        st.button("Run the models", on_click=_resume, key="resume_run")
        return None
    label = f"{infos[0].short_name} and {infos[1].short_name} on {len(texts):,} sentence(s)"
    if len(texts) < PROGRESS_MIN_SENTENCES:
        with st.spinner(f"Running {label}…"):
            return [cached_states(name, texts) for name in names]
    status = st.empty()
    with status.container():
        bar = st.progress(0.0, text=f"Running {label}…")
        st.button("Cancel", on_click=_cancel, args=(texts,), key="cancel_run")
        states = []
        for which, name in enumerate(names):

            def progress(done: int, total: int, which=which) -> None:
                bar.progress(
                    (which + done / total) / 2,
                    text=f"Running {infos[which].short_name}: {done:,} of {total:,} sentences",
                )

            states.append(cached_states(name, texts, progress=progress))
    status.empty()
    return states


def sidebar() -> View | None:
    """Draw the shared sidebar, load and run the models; None when nothing can be shown yet."""
    ignored = _restore_state()
    limits = load_limits()
    _start_background_work()
    _text_controls(limits)
    _model_controls(limits)
    if ignored:
        st.warning(
            "Some settings in the link are not valid here and were left at their defaults: "
            + ", ".join(ignored)
        )
    texts, notes = parse_texts(st.session_state["text"], limits)
    for note in notes:
        st.warning(note)
    names = (str(st.session_state["model_a"]).strip(), str(st.session_state["model_b"]).strip())
    loaded = [_load(name, slot, limits) for name, slot in zip(names, "AB", strict=True)]
    if None in loaded:
        _finish_sidebar()
        return None
    infos = (loaded[0].info, loaded[1].info)
    layers = _setting_controls(infos)
    _finish_sidebar()
    if not texts:
        st.info("Type at least one sentence in the sidebar (one per line).")
        return None
    try:
        texts = _within_token_budget(names, texts, limits)
        if not texts:
            st.error(
                f"The first sentence alone has more than {limits.max_tokens:,} tokens, this "
                "server's limit: shorten it."
            )
            return None
        states = _run_models(names, infos, texts)
    except (ValueError, extract.ExtractionCancelled) as error:
        st.error(f"The models could not be run on this text: {escape_markdown(error)}")
        return None
    if states is None:
        return None
    warnings = tuple(dict.fromkeys(states[0].warnings + states[1].warnings))
    for warning in warnings:
        st.warning(warning)
    return View(
        texts=texts,
        names=names,
        infos=infos,
        layers=layers,
        unit=st.session_state["unit"],
        preprocessing=st.session_state["prep"],
        pooling=st.session_state["pooling"],
        special=st.session_state["special"],
        presentation=st.session_state["present"],
        warnings=warnings,
    )


def _finish_sidebar() -> None:
    _write_url()
    with st.sidebar.expander("Share this view"):
        if "text" in link_params():
            st.caption("Copy this link: it opens the same sentences, models and settings.")
        else:
            st.caption(
                "Copy this link: it keeps the models and settings. The text is too long for a "
                "link; share the .txt file with it."
            )
        st.code(share_link(), language=None, wrap_lines=True)


# --- small drawing helpers shared by pages -----------------------------------------------------


def number(value: float, spec: str = ".3f") -> str:
    """A statistic for display: "not defined" instead of nan (constant similarities, too few
    items for the debiased CKA, ...)."""
    return format(value, spec) if np.isfinite(value) else "not defined"


def page_header(title: str, caption: str) -> None:
    """Wide layout, the browser tab's title, and the page's heading."""
    st.set_page_config(
        page_title=f"{title} · embexplorer", page_icon=":material/hub:", layout="wide"
    )
    st.title(title)
    st.caption(caption)


def download_csv(label: str, frame, file_name: str, key: str) -> None:
    st.download_button(
        label,
        frame.to_csv(index=False).encode("utf-8"),
        file_name=file_name,
        mime="text/csv",
        key=key,
    )


def download_npz(label: str, arrays: dict[str, np.ndarray], file_name: str, key: str) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    st.download_button(
        label, buffer.getvalue(), file_name=file_name, mime="application/octet-stream", key=key
    )


PLOTLY_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "embexplorer"},
}


def chart(fig, key: str) -> None:
    """A full-width plotly chart with PNG export kept on."""
    st.plotly_chart(fig, width="stretch", config=PLOTLY_CONFIG, key=key)


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
        fig,
        width="stretch",
        config=PLOTLY_CONFIG,
        key=key,
        on_select=lambda: _use_picked_layers(key),
        selection_mode="points",
    )
