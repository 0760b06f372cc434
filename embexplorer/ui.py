"""The one Streamlit-aware module: shared sidebar, URL state, cached loaders.

Pages call :func:`sidebar` first; it draws the shared controls, loads both models (cached once per
process), runs them once per text (all layers at once, cached), and returns a :class:`View`.
Everything derived from hidden states (items, projections, comparisons) is cached per setting, so
changing a layer, unit, metric or projection never runs a model again.

Caches hold read-only objects with ``st.cache_resource`` rather than ``st.cache_data``: the latter
pickles and copies every hit, which for all-layer hidden states costs more than the lookup saves.
Each cache is bounded by ``max_entries``.
"""

from __future__ import annotations

import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from . import align, compare, extract, geometry, reduce
from .figures import COLOUR_BY
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
MAX_SENTENCES = 200
MAX_CHARACTERS = 20_000
PREPROCESSING_LABELS = {"none": "none (raw)", "center": "mean-centre", "standardize": "standardise"}
UNIT_LABELS = {"token": "tokens", "word": "words", "sentence": "sentences"}
PROJECTION_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
APP_PERMUTATIONS = 2_000
APP_BOOTSTRAPS = 500


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
    return {
        "text": UrlField("\n".join(DEFAULT_TEXTS)),
        "model_a": UrlField(model_a),
        "model_b": UrlField(model_b),
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
    }


def _restore_state() -> None:
    """Seed widget state from the link once per session, then keep it across page switches."""
    fields = url_fields()
    state = st.session_state
    if not state.get("_url_applied"):
        state["_url_applied"] = True
        for key, raw in st.query_params.items():
            field = fields.get(key)
            value = field.parse(raw) if field else None
            if value is not None:
                state[key] = value
    for key, field in fields.items():
        # Re-assigning a widget's value keeps it when another page is opened (Streamlit drops
        # state of widgets that were not drawn in the previous run).
        state[key] = state[key] if key in state else field.default


def _write_url() -> None:
    fields = url_fields()
    st.query_params.from_dict(
        {key: UrlField.encode(st.session_state[key]) for key in fields if key in st.session_state}
    )


def share_link() -> str:
    """The full link to this view: the page's URL plus every setting."""
    query = urllib.parse.urlencode(
        {
            key: UrlField.encode(st.session_state[key])
            for key in url_fields()
            if key in st.session_state
        }
    )
    base = st.context.url or ""
    return f"{base}?{query}"


def link_params() -> dict[str, str]:
    """The settings as query parameters, for ``st.page_link`` between pages."""
    return {
        key: UrlField.encode(st.session_state[key])
        for key in url_fields()
        if key in st.session_state
    }


# --- cached work --------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=6)
def cached_model(name: str) -> LoadedModel:
    """One loaded model per name per process, shared by every session."""
    return load_model(name)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_states(name: str, texts: tuple[str, ...]) -> extract.HiddenStates:
    """All layers of all tokens of ``texts`` (the only place the app runs a model)."""
    return extract.extract_hidden_states(cached_model(name), texts)


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
) -> reduce.Projection:
    items = cached_items(names, texts, *items_key)[which]
    vectors = geometry.preprocess(items.vectors[layer], preprocessing)
    return reduce.make_projector(method, dims).fit_transform(vectors)


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
) -> reduce.JointProjection:
    items_a, items_b = cached_items(names, texts, unit, pooling, False)
    return reduce.joint_projection(
        geometry.preprocess(items_a.vectors[layers[0]], preprocessing),
        geometry.preprocess(items_b.vectors[layers[1]], preprocessing),
        reduce.make_projector(method, dims),
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
        permutations=APP_PERMUTATIONS,
        bootstraps=APP_BOOTSTRAPS,
    )


@st.cache_resource(show_spinner=False)
def _umap_warm_up() -> threading.Thread:
    """Compile UMAP's numba code in the background once per process, so the first UMAP view
    does not stall for ~13 s in front of the user."""
    thread = threading.Thread(target=reduce.warm_up_umap, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


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

    def projection(self, which: int, method: str, dims: int) -> reduce.Projection:
        """One model's items at its layer, projected on their own."""
        return cached_projection(
            self.names,
            self.texts,
            (self.unit, self.pooling, self.special),
            which,
            self.layers[which],
            self.preprocessing,
            method,
            dims,
        )

    def joint_projection(self, method: str, dims: int) -> reduce.JointProjection:
        """B Procrustes-aligned onto A, both projected together (words or sentences only)."""
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

    def panel_title(self, which: int) -> str:
        info, layer = self.infos[which], self.layers[which]
        where = "embeddings" if layer == 0 else f"layer {layer}/{info.n_layers}"
        return f"{'AB'[which]}: {info.short_name} ({info.kind}) · {where}"


def parse_texts(raw: str) -> tuple[tuple[str, ...], list[str]]:
    """Sentences from the text box (one per line, blanks dropped) and notes on what was cut."""
    notes = []
    if len(raw) > MAX_CHARACTERS:
        raw = raw[:MAX_CHARACTERS]
        notes.append(f"Only the first {MAX_CHARACTERS:,} characters are used.")
    texts = [line.strip() for line in raw.splitlines() if line.strip()]
    if len(texts) > MAX_SENTENCES:
        notes.append(f"Only the first {MAX_SENTENCES} of {len(texts)} sentences are used.")
        texts = texts[:MAX_SENTENCES]
    return tuple(texts), notes


def _load(name: str, slot: str) -> LoadedModel | None:
    size = DOWNLOAD_SIZES_MB.get(name)
    first_run = f" (the first run downloads about {size} MB)" if size else ""
    try:
        with st.spinner(f"Loading model {slot}: {name}{first_run}…"):
            return cached_model(name)
    except ModelLoadError as error:
        st.error(f"**Model {slot} could not be loaded.** {error}", icon="⚠️")
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


def sidebar() -> View | None:
    """Draw the shared sidebar, load and run the models; None when nothing can be shown yet."""
    _restore_state()
    _umap_warm_up()
    bar = st.sidebar
    bar.text_area(
        "Sentences, one per line",
        key="text",
        height=170,
        help="Each line is one sentence. Words that occur in several sentences (like 'bank') "
        "show how context changes a vector.",
    )
    with bar.expander("Models", expanded=False):
        st.text_input("Model A (hub id or local folder)", key="model_a")
        st.text_input("Model B (hub id or local folder)", key="model_b")
        st.caption("Defaults come from EMBEXPLORER_MODEL_A / EMBEXPLORER_MODEL_B.")
    texts, notes = parse_texts(st.session_state["text"])
    names = (st.session_state["model_a"].strip(), st.session_state["model_b"].strip())
    loaded = [_load(name, slot) for name, slot in zip(names, "AB", strict=True)]
    for note in notes:
        st.warning(note)
    if None in loaded:
        _finish_sidebar()
        return None
    infos = (loaded[0].info, loaded[1].info)
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
    _finish_sidebar()
    if not texts:
        st.info("Type at least one sentence in the sidebar (one per line).")
        return None
    try:
        with st.spinner(
            f"Running {infos[0].short_name} and {infos[1].short_name} on {len(texts)} sentence(s)…"
        ):
            states = [cached_states(name, texts) for name in names]
    except (ValueError, extract.ExtractionCancelled) as error:
        st.error(f"The models could not be run on this text: {error}")
        return None
    warnings = tuple(states[0].warnings + states[1].warnings)
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
        st.caption("Copy this link: it opens the same sentences, models and settings.")
        st.code(share_link(), language=None, wrap_lines=True)


# --- small drawing helpers shared by pages -----------------------------------------------------


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
