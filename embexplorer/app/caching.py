"""Everything the app computes, cached: models, hidden states, and every result derived from them.

Loaded models and hidden states live in per-process :class:`~embexplorer.cache.BoundedCache`
objects shared by all sessions (bounded by entries and by memory; concurrent requests compute
once). Derived results use ``st.cache_resource`` with ``max_entries`` rather than
``st.cache_data``, which pickles and copies every hit; everything cached is read-only.

Results that hold n x n matrices or every layer of a corpus's items keep fewer entries (8-16: a
sweep through one model's layers) than small ones: 1,000 items' two similarity matrices weigh
16 MB, the rotation demo's five 40 MB, a corpus's word items hundreds of MB.

Every derived result takes one :class:`~.selection.Selection` as its key, normalised to what the
result depends on (see :meth:`Selection.for_items`), so changing the layer, metric, projection or a
display setting never runs a model again, and a display setting recomputes nothing.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from .. import align, compare, extract, geometry, invariance, neighbours, projection, rogue, rsa
from .. import contextuality as word_context
from ..batching import ModelQueue
from ..cache import BoundedCache
from ..i18n import L_, _
from ..layers import LayerProfile, layer_profile, layer_similarity_matrix
from ..limits import load_limits
from ..models import LoadedModel, default_model_names, load_model, release_weight_pages
from ..statestore import StateStore, default_folder
from .selection import Selection
from .state import DEFAULT_TEXTS

# Every cached function keys on a Selection; hashing its cache_key is ~50x cheaper on a corpus.
cache_resource = functools.partial(st.cache_resource, hash_funcs={Selection: Selection.cache_key})

# Item-by-item statistics cost n^2 in time and memory (a 1,000-sentence corpus has ~22,000 words:
# one n x n matrix alone would be 3.9 GB). Above this many items, RSA, its permutation test and
# bootstrap, the layer-by-layer matrix and the rotation demo use a seeded sample spread evenly
# through the text (align.spread_sample), and the pages say so.
MAX_PAIRED_ITEMS = 1_000
SAMPLE_SEED = 0
# The per-layer curves (anisotropy, norms, intra-sentence similarity, PC1 share) are means: on a
# corpus they use whole sentences spread through the text, about this many items (the pages say
# how many). At 13 layers of both models, 3,000 items took ~6 s of the Layers page's first view
# on 2 cores, which then stood at 9-10 s of its 10 s target.
MAX_PROFILE_ITEMS = 2_000
# Every PCA picture (the pages' panels, the Explore page's every layer) is fitted on at most this
# many items, spread evenly through the text, and places all of them (the pages say so).
MAX_PROJECTION_FIT_ITEMS = 3_000
# The Explore page's animation through the layers draws at most about this many items, whole
# sentences spread through the text (the page says so): every frame holds every point, and a
# corpus's 20,000 words x 13 layers x 2 models made a figure of half a million points.
MAX_ANIMATED_ITEMS = 3_000
# From this many sentences a text is a corpus: its run shows progress and Cancel, and its pages
# need the memory more than an idle model needs its weights resident.
CORPUS_SENTENCES = 32
APP_PERMUTATIONS = 2_000  # most permutations / bootstraps; fewer for large sets (see compare)
APP_BOOTSTRAPS = 500
# OpenMP keeps idle worker threads spinning by default, so torch's forward passes take the CPU
# from other sessions, the background work and the visitor's browser on the same cores: on a busy
# 2-core machine the five benchmark sentences took 5-9 s through both models with torch's two
# threads spinning, 1-2 s with them waiting passively. libgomp reads this when torch loads it (in
# load_model, after this module), and an operator's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Hidden states are kept as float16 (computed in float32): half the memory of a corpus's states,
# ~3 significant digits (relative error <= 2**-11); every statistic converts to float64 at use.
STATES_DTYPE = np.float16


# --- models and hidden states (shared by every session) ------------------------------------------


@dataclass(frozen=True)
class SharedCaches:
    """Per-process caches shared by all sessions: loaded models, hidden states by memory, and
    the results that grow as n^2 (:func:`budgeted_resource`) by memory."""

    models: BoundedCache
    states: BoundedCache
    results: BoundedCache
    layers: BoundedCache


def _collect_evicted_model(name: str) -> None:
    """A model dropped from the cache may have been loaded before the heap was frozen (see
    :func:`start_background_work`), and may sit in reference cycles (GPT-2's does) that only
    the collector frees: hand the frozen objects back to it and collect (rare: a fifth model)."""
    gc.unfreeze()
    gc.collect()


@cache_resource(show_spinner=False)
def shared_caches() -> SharedCaches:
    limits = load_limits()
    return SharedCaches(
        models=BoundedCache(max_entries=4, on_evict=_collect_evicted_model),
        states=BoundedCache(
            max_entries=32,
            max_bytes=limits.cache_mb * 2**20,
            size_of=lambda states: states.vectors.nbytes,
        ),
        results=BoundedCache(
            max_entries=64, max_bytes=RESULTS_CACHE_MB * 2**20, size_of=_arrays_nbytes
        ),
        layers=BoundedCache(
            max_entries=LAYERS_CACHE_ENTRIES,
            max_bytes=LAYERS_CACHE_MB * 2**20,
            size_of=lambda layer: layer.nbytes,
        ),
    )


# A Similarity result holds both models' n x n matrices and vectors of the compared items: ~32 MB
# on a corpus (1,000 items). Streamlit's caches bound entries only, so moving through the 13
# layers kept ~0.4-0.5 GB of them. These results share one budget, the least recent dropped first.
RESULTS_CACHE_MB = 256


# The items' vectors at a layer, as read from the hidden states (pooled, float16): a view that
# needs them twice (Explore's projection and nearest neighbours) reads them once. Reading one
# model's layer of a 1,000-sentence corpus costs ~0.4-0.6 s on 2 cores; it holds ~34 MB. Both
# models at the current layer and the one before.
LAYERS_CACHE_ENTRIES = 4
LAYERS_CACHE_MB = 160


def _arrays_nbytes(result) -> int:
    """Bytes of the numpy arrays in a result's own fields (enough for the n^2 results)."""
    fields = vars(result).values() if hasattr(result, "__dict__") else ()
    return sum(value.nbytes for value in fields if isinstance(value, np.ndarray))


def budgeted_resource(spinner):
    """:func:`cache_resource` for a function of a :class:`Selection` and hashable settings whose
    result grows with the square of the items: kept in :attr:`SharedCaches.results`, bounded in
    bytes as well as entries, computed once however many sessions ask."""

    def decorate(function):
        signature = inspect.signature(function)
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def cached(selection: Selection, *args, **kwargs):
            bound = signature.bind(selection, *args, **kwargs)
            bound.apply_defaults()
            key = (name, selection.cache_key(), bound.args[1:])
            results = shared_caches().results
            found, value = results.lookup(key)
            if found:
                return value
            with st.spinner(str(spinner)):
                return results.get_or_compute(key, lambda: function(*bound.args))

        return cached

    return decorate


def cached_model(name: str) -> LoadedModel:
    """One loaded model per name per process, shared by every session; loaded once even when
    several sessions ask at the same moment."""
    models = shared_caches().models
    work = _background_work
    if work is not None and name in work.model_names:
        # The server's warm-up thread loads the default models with the collector paused (2-3 s
        # faster); it may be waiting for a restarted server's first page: wake it, and wait.
        work.model_wanted.set()
        while name not in models and work.models.is_alive():
            work.models.join(0.05)
    return models.get_or_compute(name, lambda: load_model(name))


def release_model_weight_pages(keep: str | None = None) -> int:
    """Every loaded model's weight pages out of the server's resident memory until its next
    run (:func:`embexplorer.models.release_weight_pages`): after a corpus run and when a
    visitor opens another page, when the pages' work, not the models, needs the memory (through
    every page on a 1,000-sentence corpus the server's peak went from 2.08-2.16 GB to 1.46 GB,
    with the releases before corpus runs and random-weight copies).
    Before a model runs on a corpus, the other models' (all but ``keep``). Returns the bytes."""
    models = shared_caches().models
    found = (models.peek(name) for name in models.keys() if name != keep)
    return sum(release_weight_pages(loaded) for ok, loaded in found if ok)


@cache_resource(show_spinner=False)
def model_queue(name: str) -> ModelQueue:
    """The queue of one model's requests from every session (runs them together)."""
    limits = load_limits()
    return ModelQueue(
        max_group_texts=limits.group_texts, dtype=STATES_DTYPE, spill_mb=limits.spill_mb
    )


def cached_states(
    name: str, texts: tuple[str, ...], progress=None, waiting=None
) -> extract.HiddenStates:
    """All layers of all tokens of ``texts`` (the only place the app runs a model).

    The same texts are computed once however many sessions ask; different texts that wait for
    the same model run together (:class:`~embexplorer.batching.ModelQueue`), and ``waiting``
    hears how many requests are ahead.
    """

    def run(texts_to_run: tuple[str, ...]) -> extract.HiddenStates:
        if len(texts_to_run) >= CORPUS_SENTENCES:
            # A corpus run holds its batches and states: the idle models' weights make room.
            release_model_weight_pages(keep=name)
        return model_queue(name).run(
            cached_model(name), texts_to_run, progress=progress, waiting=waiting
        )

    def stored_or(compute: Callable[[], extract.HiddenStates]) -> extract.HiddenStates:
        states = _stored_states(name, texts)
        if states is None:
            states = compute()
            _store_states(name, states)
        return states

    if progress is not None:  # a corpus: run as one request, with its progress and Cancel
        return shared_caches().states.get_or_compute(
            (name, texts), lambda: stored_or(lambda: run(texts))
        )
    return shared_caches().states.get_or_compute(
        (name, texts), lambda: stored_or(lambda: _reusing_cached_sentences(name, texts, run))
    )


@cache_resource(show_spinner=False)
def state_store() -> StateStore | None:
    """Hidden states on disk from one server start to the next (:mod:`embexplorer.statestore`);
    None when ``EMBEXPLORER_STATES_DIR=off``."""
    folder = default_folder()
    return None if folder is None else StateStore(folder)


def _stored_states(name: str, texts: tuple[str, ...]) -> extract.HiddenStates | None:
    store = state_store()
    return None if store is None else store.load(name, texts, STATES_DTYPE)


def _stored_states_exist(names: tuple[str, ...], texts: tuple[str, ...]) -> bool:
    store = state_store()
    return store is not None and all(store.has(name, texts, STATES_DTYPE) for name in names)


def _store_states(name: str, states: extract.HiddenStates) -> None:
    """Keep a run's states on disk for the next server. A hosted demo keeps only those of the
    default sentences, never what its visitors type (its links' texts stay in memory too)."""
    store = state_store()
    if store is not None and (not load_limits().hosted or states.texts == DEFAULT_TEXTS):
        store.save(name, states)


def states_without_models(
    names: tuple[str, str], texts: tuple[str, ...]
) -> list[extract.HiddenStates] | None:
    """Both models' states of ``texts`` when neither model is needed for them: cached in memory,
    or on disk from an earlier server start (then cached in memory). None otherwise.

    A restarted server draws its first page from these while the models load (~9-10 s of one
    core for two full-size models: the imports hold the GIL).
    """
    caches = shared_caches().states
    found = []
    for name in names:
        cached, states = caches.lookup((name, texts))  # (now the most recently used)
        if not cached:
            states = _stored_states(name, texts)
            if states is None:
                return None
            states = caches.get_or_compute((name, texts), lambda states=states: states)
        found.append(states)
    return found


def _reusing_cached_sentences(
    name: str, texts: tuple[str, ...], run: Callable[[tuple[str, ...]], extract.HiddenStates]
) -> extract.HiddenStates:
    """The states of ``texts``, running only the sentences no cached text of this model holds.

    A typed sentence added to five others runs the model on that one sentence (0.1-0.2 s on
    2 CPU cores for both models) instead of all six (~1 s); the others' states are copied from
    the cached text they came from. Padding is masked, so the result is the same as one run of
    all the texts up to float rounding.
    """
    cache = shared_caches().states
    known: dict[str, tuple[extract.HiddenStates, int]] = {}
    for key in reversed(cache.keys()):  # the most recent first
        if len(key) == 2 and key[0] == name:  # (not a random-weight control's states)
            found, states = cache.peek(key)
            if found:
                for index, text in enumerate(states.texts):
                    known.setdefault(text, (states, index))
    if not any(text in known for text in texts):
        return run(texts)
    missing = tuple(dict.fromkeys(text for text in texts if text not in known))
    if missing:
        new = run(missing)
        known.update((text, (new, index)) for index, text in enumerate(new.texts))
    parts = [known[text][0].texts_slice(known[text][1], known[text][1] + 1) for text in texts]
    return extract.concatenate_states(parts, spill_mb=load_limits().spill_mb)


# Its one tuple is the texts (strings): their repr is exact, and hashed in one piece.
@cache_resource(show_spinner=False, max_entries=64, hash_funcs={tuple: repr})
def cached_token_counts(name: str, texts: tuple[str, ...]) -> list[int]:
    return extract.token_counts(cached_model(name), texts)


# --- items and the vectors compared --------------------------------------------------------------


@cache_resource(
    show_spinner=L_("Pooling each model's sub-word pieces into shared words…"), max_entries=8
)
def cached_items(selection: Selection) -> tuple[align.Items, align.Items]:
    """Both models' items: their own tokens, or the same shared words / sentences."""
    states = [cached_states(name, selection.texts) for name in selection.names]
    if selection.unit == "token":
        return tuple(align.token_items(side, selection.special) for side in states)
    return align.paired_items(*states, unit=selection.unit, pooling=selection.pooling)


def items_of(selection: Selection) -> tuple[align.Items, align.Items]:
    """The items of a selection, whatever its layers and preprocessing."""
    return cached_items(selection.for_items())


def items_at_layer(selection: Selection, which: int) -> np.ndarray:
    """Model ``which``'s items at its layer, as stored (read once for every view that needs
    them, see :data:`LAYERS_CACHE_MB`; read-only)."""
    items, layer = selection.for_items(), selection.layers[which]

    def read() -> np.ndarray:
        vectors = np.asarray(items_of(selection)[which].vectors[layer])
        vectors.flags.writeable = False  # shared by every caller
        return vectors

    return shared_caches().layers.get_or_compute((items, which, layer), read)


def layer_vectors(selection: Selection, which: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Model ``which``'s items at its layer (only the rows ``keep``), preprocessed."""
    layer = items_at_layer(selection, which)
    return geometry.preprocess(layer if keep is None else layer[keep], selection.preprocessing)


def paired_vectors(selection: Selection) -> tuple[np.ndarray, np.ndarray]:
    """Both models' items at their layers, preprocessed."""
    return layer_vectors(selection, 0), layer_vectors(selection, 1)


# --- Projection page ------------------------------------------------------------------------------


@cache_resource(show_spinner=L_("Projecting the items to 2D/3D…"), max_entries=128)
def cached_projection(
    selection: Selection, which: int, method: str, dims: int
) -> projection.Projection:
    settings = {"max_fit_items": MAX_PROJECTION_FIT_ITEMS} if method == "pca" else {}
    return projection.make_projector(method, dims, **settings).fit_transform(
        layer_vectors(selection, which)
    )


@cache_resource(
    show_spinner=L_("Aligning B onto A (Procrustes) and projecting both…"), max_entries=64
)
def cached_joint(selection: Selection, method: str, dims: int) -> projection.JointProjection:
    return projection.joint_projection(
        *paired_vectors(selection), projection.make_projector(method, dims)
    )


# --- Similarity page ------------------------------------------------------------------------------


def resampling_counts(n_items: int) -> tuple[int, int]:
    """The app's (permutations, bootstraps) for RSA over ``n_items`` items: fewer for more items,
    so the resampling's cost stays bounded (see :func:`compare.interactive_resamples`)."""
    return (
        compare.interactive_resamples(
            n_items, APP_PERMUTATIONS, compare.INTERACTIVE_PERMUTATION_VALUES
        ),
        compare.interactive_resamples(
            n_items, APP_BOOTSTRAPS, compare.INTERACTIVE_BOOTSTRAP_VALUES
        ),
    )


def _score_settings(
    selection: Selection, n_items: int, metric: str, method: str, exclude_same_word: bool
) -> dict:
    """The settings of :func:`compare.compare_items` for a selection, the same for the trained
    models and their random-weight control."""
    permutations, bootstraps = resampling_counts(n_items)
    return dict(
        layer_a=selection.layers[0],
        layer_b=selection.layers[1],
        metric=metric,
        preprocessing=selection.preprocessing,
        method=method,
        permutations=permutations,
        bootstraps=bootstraps,
        exclude_same_word=exclude_same_word,
    )


def _scored(
    items: tuple[align.Items, align.Items],
    selection: Selection,
    metric: str,
    method: str,
    exclude_same_word: bool,
) -> compare.Comparison:
    """:func:`compare.compare_items` with the app's settings: models and controls alike."""
    return compare.compare_items(
        *items, **_score_settings(selection, items[0].n_items, metric, method, exclude_same_word)
    )


@cache_resource(show_spinner=False, max_entries=16)
def cached_distinct_items(selection: Selection) -> tuple[align.Items, align.Items]:
    """Both models' shared items with every exact repeat of a sentence counted once."""
    states = [cached_states(name, selection.texts) for name in selection.names]
    return align.paired_items(
        *states, unit=selection.unit, pooling=selection.pooling, drop_duplicate_sentences=True
    )


def distinct_items(selection: Selection) -> tuple[align.Items, align.Items]:
    """The shared items a score is computed over: a sentence repeated exactly counts once (its
    copies would pair every word with itself, which any two models find alike)."""
    if not align.duplicate_sentences(selection.texts):
        return items_of(selection)
    items = cached_distinct_items(selection.for_items())
    compare.check_distinct_items(
        selection.texts, align.duplicate_sentences(selection.texts), items[0]
    )
    return items


def paired_sample(selection: Selection) -> tuple[np.ndarray, int]:
    """Which of the distinct shared items the n x n statistics use, and how many there are."""
    n_items = distinct_items(selection)[0].n_items
    return align.spread_sample(n_items, MAX_PAIRED_ITEMS, SAMPLE_SEED), n_items


def sampled(items: tuple[align.Items, align.Items], index: np.ndarray):
    """Both sides at ``index`` (the same items unchanged when the index takes them all)."""
    if index.size == items[0].n_items:
        return items
    return tuple(side.subset(index) for side in items)


def compared_items(selection: Selection) -> tuple[align.Items, align.Items]:
    """The items of every n x n statistic: the distinct shared items, or their spread sample."""
    return sampled(distinct_items(selection), paired_sample(selection)[0])


@budgeted_resource(L_("Comparing the two similarity structures: both matrices, RSA and CKA…"))
def cached_scores(
    selection: Selection, metric: str, method: str, exclude_same_word: bool = False
) -> compare.Comparison:
    """Both matrices, RSA and CKA, without the permutation test and the bootstrap CI (the slow
    part on a corpus: a page shows these first)."""
    items = compared_items(selection)
    settings = _score_settings(selection, items[0].n_items, metric, method, exclude_same_word)
    comparison = compare.compare_items(*items, **dict(settings, permutations=0, bootstraps=0))
    comparison.duplicate_sentences = tuple(align.duplicate_sentences(selection.texts))
    return comparison


@budgeted_resource(L_("Testing the RSA score against item permutations and bootstrapping its CI…"))
def cached_comparison(
    selection: Selection, metric: str, method: str, exclude_same_word: bool = False
) -> compare.Comparison:
    """:func:`cached_scores` with the RSA p-value and CI (the same matrices, not a copy)."""
    scores = cached_scores(selection, metric, method, exclude_same_word)
    permutations, bootstraps = resampling_counts(scores.items_a.n_items)
    return compare.with_resampling(
        scores, permutations, bootstraps, exclude_same_word=exclude_same_word
    )


# --- the chance baseline: random-weight copies of both models -------------------------------------

CONTROL_SEED = 0


def cached_control_states(name: str, texts: tuple[str, ...], which: int) -> extract.HiddenStates:
    """The hidden states of model ``which``'s random-weight copy (kept in the bounded states
    cache); the copy itself is built, run and dropped inside, never cached.

    The copy's weights are the process's own memory (~500 MB for a full-size model): the real
    models' mapped weights leave the resident set first, which they need not hold meanwhile
    (with them, the corpus benchmark's peak stood at 1.98 GB, at the Similarity page's
    baseline on the default sentences; without, 1.46 GB)."""

    def compute() -> extract.HiddenStates:
        release_model_weight_pages()
        return compare.control_states(
            cached_model(name),
            which,
            texts,
            CONTROL_SEED,
            dtype=STATES_DTYPE,
            spill_mb=load_limits().spill_mb,
        )

    return shared_caches().states.get_or_compute(
        ("control", name, texts, which, CONTROL_SEED), compute
    )


def _control_states(selection: Selection) -> list[extract.HiddenStates]:
    return [
        cached_control_states(name, selection.texts, which)
        for which, name in enumerate(selection.names)
    ]


def _control_items(selection: Selection) -> tuple[align.Items, align.Items]:
    """The control copies' items: the same distinct items, and the same sample, as the models'."""
    items = align.paired_items(
        *_control_states(selection),
        unit=selection.unit,
        pooling=selection.pooling,
        drop_duplicate_sentences=True,
    )
    return sampled(items, paired_sample(selection)[0])


@cache_resource(
    show_spinner=L_("Scoring the random-weight copies of both models the same way…"), max_entries=32
)
def cached_control(
    selection: Selection, metric: str, method: str, exclude_same_word: bool = False
) -> compare.ControlResult:
    """The Similarity page's scores for random-weight copies of both models, scored the same
    (without the permutation test: the page reads the control's value and CI, not its p)."""
    items = _control_items(selection)
    settings = _score_settings(selection, items[0].n_items, metric, method, exclude_same_word)
    comparison = compare.compare_items(*items, **dict(settings, permutations=0))
    return compare.ControlResult(
        seed=CONTROL_SEED,
        seeds=compare.control_seeds(CONTROL_SEED),
        rsa=comparison.rsa,
        cka=comparison.cka,
        cka_debiased=comparison.cka_debiased,
    )


@cache_resource(
    show_spinner=L_("Comparing every layer of the random-weight copies…"), max_entries=32
)
def cached_control_layer_matrix(selection: Selection, metric: str, method: str) -> np.ndarray:
    """The Layers page's layer-by-layer matrix for the random-weight copies."""
    items_a, items_b = _control_items(selection)
    return layer_similarity_matrix(items_a, items_b, metric, selection.preprocessing, method)


# --- Layers and Context pages (results over every layer) -----------------------------------------


@cache_resource(
    show_spinner=L_("Comparing every layer of A with every layer of B…"), max_entries=64
)
def cached_layer_matrix(selection: Selection, metric: str, method: str) -> np.ndarray:
    """Every layer of A against every layer of B, from the cached hidden states."""
    items_a, items_b = compared_items(selection)
    return layer_similarity_matrix(items_a, items_b, metric, selection.preprocessing, method)


@cache_resource(show_spinner=L_("Measuring each model's space at every layer…"), max_entries=64)
def cached_layer_profiles(selection: Selection) -> tuple[LayerProfile, LayerProfile]:
    return tuple(
        layer_profile(whole_sentences(side, MAX_PROFILE_ITEMS), selection.preprocessing)
        for side in items_of(selection)
    )


def whole_sentences(items: align.Items, max_items: int) -> align.Items:
    """The items of whole sentences spread evenly through the text, about ``max_items`` of them
    (all items when there are fewer): per-layer means keep their sentences intact."""
    if items.n_items <= max_items:
        return items
    return items.subset(whole_sentence_index(items, max_items))


def whole_sentence_index(items: align.Items, max_items: int) -> np.ndarray:
    """The indices :func:`whole_sentences` keeps (every item when there are few)."""
    if items.n_items <= max_items:
        return np.arange(items.n_items)
    sentences = np.unique(items.sentence)
    wanted = max(2, round(sentences.size * max_items / items.n_items))
    kept = sentences[align.spread_sample(sentences.size, wanted, SAMPLE_SEED)]
    return np.flatnonzero(np.isin(items.sentence, kept))


@cache_resource(show_spinner=False, max_entries=16)
def cached_word_menu(selection: Selection, skip_first: bool) -> tuple[list[str], dict[str, int]]:
    """The Context page's words (:func:`~embexplorer.contextuality.offered_words`) and in how
    many sentences model A has each: a pass over every word item, 0.5 s a rerun on a corpus."""
    words_a, words_b = items_of(selection)
    return (
        word_context.offered_words(words_a, words_b, skip_first),
        word_context.sentence_counts(words_a, skip_first),
    )


@cache_resource(
    show_spinner=L_("Measuring the word's occurrences at every layer (with a bootstrap)…"),
    max_entries=64,
)
def cached_context_profiles(
    selection: Selection, word: str, skip_first: bool = False
) -> tuple[word_context.ContextProfile, word_context.ContextProfile]:
    """Both models' profiles of ``word``: over every item, or on a corpus over every occurrence
    of the word plus :func:`context_sample`'s whole sentences (the baseline and preprocessing
    then use those items; ``indices`` still index all items)."""
    return tuple(
        sampled_context_profile(side, word, selection.preprocessing, skip_first)
        for side in items_of(selection)
    )


def sampled_context_profile(
    items: align.Items, word: str, preprocessing: str, skip_first: bool = False
) -> word_context.ContextProfile:
    """:func:`~embexplorer.contextuality.context_profile` on :func:`context_sample`'s items (all
    items when few), its ``indices`` mapped back to ``items``."""
    keep = context_sample(items, word, skip_first)
    if keep is None:
        return word_context.context_profile(items, word, preprocessing, skip_first=skip_first)
    profile = word_context.context_profile(
        items.subset(keep), word, preprocessing, skip_first=skip_first
    )
    return replace(profile, indices=keep[profile.indices])


def context_sample(items: align.Items, word: str, skip_first: bool = False) -> np.ndarray | None:
    """On a corpus, the items the Context page measures: every occurrence of ``word`` and whole
    sentences spread through the text, about :data:`MAX_PROFILE_ITEMS` (None: all items). The
    baseline, a mean over pairs of words, is estimated on them; on 20,000 words it took seconds
    per layer."""
    if items.n_items <= MAX_PROFILE_ITEMS:
        return None
    occurrences = word_context.occurrences(items, word, skip_first)
    return np.union1d(whole_sentence_index(items, MAX_PROFILE_ITEMS), occurrences)


@cache_resource(show_spinner=False, max_entries=16)
def cached_word_tokens(selection: Selection) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Per model, each shared word item's own tokens (readable strings, "␣bank" for GPT-2's
    "Ġbank"), in item order: two occurrences with the same tokens have the same input."""
    states = [cached_states(name, selection.texts) for name in selection.names]
    words = align.shared_words(*states)
    return tuple(
        [tuple(side.tokens[t] for t in members) for members in align.token_words(side, words)]
        for side in states
    )


# --- Geometry page --------------------------------------------------------------------------------


@cache_resource(show_spinner=L_("Computing both models' PCA spectra…"), max_entries=16)
def cached_spectra(selection: Selection) -> tuple[geometry.PCAResult, geometry.PCAResult]:
    """Both models' full PCA spectra at their layers (eigenvalues and ratios; no coordinates),
    one model's float64 layer in memory at a time, centred in place (it is this call's copy)."""
    return tuple(
        geometry.pca(layer_vectors(selection, which), with_coords=False, overwrite_X=True)
        for which in (0, 1)
    )


@cache_resource(show_spinner=L_("Rotating and stretching model A's vectors…"), max_entries=8)
def cached_invariance(selection: Selection, seed: int, method: str) -> invariance.InvarianceDemo:
    """The rotation demo on the compared items (the spread sample of a corpus)."""
    index, _ = paired_sample(selection)
    vectors = (side[index] for side in paired_vectors(selection))
    return invariance.invariance_demo(*vectors, seed=seed, method=method)


@cache_resource(show_spinner=L_("Rotating B onto A (Procrustes)…"), max_entries=8)
def cached_procrustes(selection: Selection) -> geometry.ProcrustesResult:
    """B rotated (and scaled) onto A, both centred."""
    return geometry.procrustes_align(*paired_vectors(selection), scale=True)


PROCRUSTES_SHUFFLES = 100
# shuffles x (n rank^2 + rank^3): per shuffle one (rank x n) @ (n x rank) product, one
# rank x rank eigendecomposition
PROCRUSTES_BUDGET = 2e10


@cache_resource(
    show_spinner=L_("Aligning item-shuffled pairings of B onto A (the scale for the disparity)…"),
    max_entries=32,
)
def cached_procrustes_null(selection: Selection) -> geometry.ProcrustesNull:
    """Procrustes disparity of the true pairing and of item-shuffled pairings (the scale), on
    the compared items (a corpus's spread sample: each shuffle costs n x rank^2)."""
    index, _ = paired_sample(selection)
    vectors = [side[index] for side in paired_vectors(selection)]
    n = vectors[0].shape[0]
    rank = min(n, vectors[0].shape[1], vectors[1].shape[1])
    per_shuffle = max(n * rank**2 + rank**3, 1)
    shuffles = int(min(PROCRUSTES_SHUFFLES, max(10, PROCRUSTES_BUDGET // per_shuffle)))
    return geometry.procrustes_shuffle_null(*vectors, n_shuffles=shuffles, scale=True)


@dataclass(frozen=True)
class RogueDimensions:
    """Per model: the items kept and the dimensions that decide most of their cosines."""

    keeps: tuple[np.ndarray, np.ndarray]
    contributions: tuple[rogue.DimensionContributions, rogue.DimensionContributions]


@cache_resource(show_spinner=L_("Finding the dimensions that decide most cosines…"), max_entries=32)
def cached_rogue_dimensions(selection: Selection, exclude_first: bool) -> RogueDimensions:
    keeps = tuple(rogue.keep_items(side, exclude_first) for side in items_of(selection))
    return RogueDimensions(
        keeps=keeps,
        contributions=tuple(
            rogue.top_dimensions(layer_vectors(selection, which, keeps[which]), k=10)
            for which in (0, 1)
        ),
    )


@cache_resource(show_spinner=False, max_entries=32)
def cached_token_norms(selection: Selection) -> tuple[rogue.NormOutliers, rogue.NormOutliers]:
    """The tokens with the largest raw vectors at each model's layer."""
    return tuple(rogue.largest_norms(items_at_layer(selection, which), k=8) for which in (0, 1))


def preprocessing_cosines(
    selection: Selection, keeps: tuple[np.ndarray, np.ndarray], shown: np.ndarray
) -> list[tuple[int, str, np.ndarray]]:
    """(model, preprocessing, cosine matrix) of the ``shown`` kept items, raw, centred and
    standardised; the centring and scaling use every kept item."""
    out = []
    for which in (0, 1):
        layer = items_at_layer(selection, which)[keeps[which]]
        for prep in geometry.APP_PREPROCESSING:
            prepared = geometry.preprocess(layer, prep)[shown]
            out.append((which, prep, geometry.cosine_similarity_matrix(prepared)))
    return out


@cache_resource(show_spinner=L_("Computing cosines raw, centred and standardised…"), max_entries=16)
def cached_preprocessing_grid(
    selection: Selection, exclude_first: bool, shown: tuple[int, ...]
) -> list[np.ndarray]:
    """The six heatmaps of the Geometry page (two models x three preprocessings), of the
    ``shown`` items only (six full n x n matrices would not fit in memory for a corpus)."""
    keeps = cached_rogue_dimensions(selection, exclude_first).keeps
    return [cosines for _, _, cosines in preprocessing_cosines(selection, keeps, np.array(shown))]


# --- Explore page ---------------------------------------------------------------------------------

ISOLATED_PERMUTATIONS = 500  # a selection is small and changes often: modest resampling
ISOLATED_BOOTSTRAPS = 200


@cache_resource(show_spinner=L_("Finding nearest neighbours in both models…"), max_entries=64)
def cached_neighbours(selection: Selection, item: int, k: int) -> neighbours.NeighbourComparison:
    """One item's k nearest items by cosine in both models' full spaces at their layers (one
    model's float64 layer in memory at a time)."""
    found = [
        neighbours.nearest_neighbours(layer_vectors(selection, which), item, k, "cosine")
        for which in (0, 1)
    ]
    return neighbours.neighbour_comparison(*found)


@cache_resource(
    show_spinner=L_("Comparing every item's nearest neighbours in A and B…"), max_entries=64
)
def cached_neighbour_overlap(selection: Selection, k: int) -> np.ndarray:
    """Every item's Jaccard@k between its neighbours in A and in B."""
    return neighbours.neighbour_overlap(*paired_vectors(selection), k, "cosine")


@cache_resource(
    show_spinner=L_("Projecting every layer and aligning them layer to layer…"), max_entries=32
)
def cached_layer_projections(selection: Selection, which: int) -> projection.LayerProjections:
    """Model ``which``'s animated items (:func:`animated_index`) at every layer, PCA aligned
    layer to layer (``all_layers``)."""
    items = items_of(selection)[which]
    index = animated_index(selection)
    vectors = items.vectors if index.size == items.n_items else items.vectors[:, index]
    return projection.layer_aligned_projections(
        vectors, selection.preprocessing, max_fit_items=MAX_PROJECTION_FIT_ITEMS
    )


def animated_index(selection: Selection) -> np.ndarray:
    """The shared items the layer animation draws: all, or whole sentences spread through the
    text (:func:`whole_sentence_index`), about :data:`MAX_ANIMATED_ITEMS`."""
    return whole_sentence_index(items_of(selection)[0], MAX_ANIMATED_ITEMS)


# The animated heatmaps hold every layer's matrix in the page: at most this many items each.
MAX_ANIMATED_HEATMAP_ITEMS = 60


@cache_resource(show_spinner=L_("Computing both models' cosines at every layer…"), max_entries=16)
def cached_layer_heatmaps(
    selection: Selection, shown: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' cosine matrices of the ``shown`` items at every layer (``all_layers``), each
    layer preprocessed over all items first: arrays of shape (n_layers, len(shown), len(shown))."""
    index = np.asarray(shown, dtype=np.int64)
    return tuple(
        np.stack(
            [
                geometry.cosine_similarity_matrix(
                    geometry.preprocess(layer, selection.preprocessing)[rows]
                )
                for layer in vectors
            ]
        )
        for vectors, rows in (_rows_to_read(side, index, selection) for side in items_of(selection))
    )


def _rows_to_read(
    items: align.Items, index: np.ndarray, selection: Selection
) -> tuple[np.ndarray | align.LayerStack, np.ndarray]:
    """Item vectors to read at every layer, and where ``index`` lies in them: only those rows
    without preprocessing; every item when centring or standardising (they need all items).
    On a corpus, reading every layer of 20,000 words for 60 shown ones took seconds."""
    if selection.preprocessing == "none":
        return items.vectors[:, index], np.arange(index.size)
    return items.vectors, index


@cache_resource(show_spinner=False, max_entries=64)
def cached_pair_curves(selection: Selection, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """The cosine of items ``i`` and ``j`` at every layer, both models (``all_layers``)."""
    pair = np.array([i, j], dtype=np.int64)
    return tuple(
        neighbours.pair_cosine_by_layer(vectors, *map(int, rows), selection.preprocessing)
        for vectors, rows in (_rows_to_read(side, pair, selection) for side in items_of(selection))
    )


def subset_items(items: align.Items, keep: np.ndarray) -> align.Items:
    """The same items, only the rows ``keep`` (in that order)."""
    return replace(
        items,
        labels=[items.labels[i] for i in keep],
        sentence=items.sentence[keep],
        position=items.position[keep],
        vectors=items.vectors[:, keep],
        words=[items.words[i] for i in keep],
        shared_token=None if items.shared_token is None else items.shared_token[keep],
    )


@dataclass(frozen=True)
class IsolatedSelection:
    """A selection of items on its own: both models' items, PCA pictures and comparison."""

    keep: np.ndarray
    items: tuple[align.Items, align.Items]
    projections: tuple[projection.Projection, projection.Projection]
    comparison: compare.Comparison


@cache_resource(
    show_spinner=L_("Recomputing the projection and RSA on the selection…"), max_entries=16
)
def cached_isolated(selection: Selection, keep: tuple[int, ...]) -> IsolatedSelection:
    """PCA and RSA recomputed on the items ``keep`` only (at least three)."""
    rows = np.array(keep, dtype=np.int64)
    items = tuple(subset_items(side, rows) for side in items_of(selection))
    pca = projection.make_projector("pca", 2)
    projections = tuple(pca.fit_transform(layer_vectors(selection, w, rows)) for w in (0, 1))
    comparison = compare.compare_items(
        *items,
        layer_a=selection.layers[0],
        layer_b=selection.layers[1],
        preprocessing=selection.preprocessing,
        permutations=ISOLATED_PERMUTATIONS,
        bootstraps=ISOLATED_BOOTSTRAPS,
    )
    return IsolatedSelection(rows, items, projections, comparison)


# --- background work ------------------------------------------------------------------------------


# The UMAP compilation waits for the first page's script run to finish (at most this long), then a
# little longer for the browser to fetch plotly's JavaScript from this server and draw the chart:
# on a small server it would otherwise take the CPU, and the GIL, from the first visitor's
# imports, model loads and chart (a cold first chart took 5-10 s longer on a busy 2-core machine
# with the compilation started as soon as the hidden states were ready).
FIRST_VIEW_WAIT_S = 30.0
FIRST_VIEW_DRAW_S = 3.0
# A new visitor's Chromium draws the first chart 4-5 s after the server sent it on a 2-core
# machine (it loads and runs plotly's 4.7 MB script first): a restarted server whose first page
# needed no model loads the models after that.
FIRST_CHART_DRAW_S = 5.0


@dataclass(frozen=True)
class BackgroundWork:
    """The two warm-up threads a server starts once, and the first view's signal."""

    models: threading.Thread
    umap: threading.Thread
    first_view: threading.Event
    model_wanted: threading.Event  # a page needs a model the warm-up thread loads
    model_names: tuple[str, ...] = ()


def _warm_up_umap_after(models: threading.Thread, first_view: threading.Event) -> None:
    models.join()
    if first_view.wait(FIRST_VIEW_WAIT_S):
        time.sleep(FIRST_VIEW_DRAW_S)
    # RSA's resampling loops first: ~1 s from numba's disk cache, ~2 s on a fresh install,
    # which a first p-value would otherwise wait for.
    rsa.warm_up_resampling()
    projection.warm_up_umap()
    gc.freeze()  # numba's compiled code and its type objects live as long as the server


def _load_without_collections(load: Callable[[], None]) -> None:
    """Run ``load`` (imports and model loads) with the cyclic garbage collector paused, then
    freeze everything it left (``gc.freeze``): collections skip those objects from then on.

    Importing torch and transformers and loading both models creates ~600,000 long-lived
    objects; the collector's full passes over them while they loaded cost 2-3 s of a cold
    start on a busy 2-core server (each pass holds the GIL, 0.4-0.7 s), and each full pass
    afterwards 0.3-1.5 s. Garbage in reference cycles among frozen objects is only freed after
    ``gc.unfreeze`` (see :func:`_collect_evicted_model`).
    """
    gc.disable()
    try:
        load()
    finally:
        gc.freeze()
        gc.enable()


_background_work: BackgroundWork | None = None
_background_work_lock = threading.Lock()


def start_background_work() -> BackgroundWork:
    """Once per process, at the server's start: load the default models in one thread, and in
    another compile RSA's resampling loops and UMAP's numba code (~13 s; ~30 s on a fresh
    install) once the models are loaded and the first page has been drawn
    (:func:`first_view_ready`), so the first page draws as soon as it can and the first UMAP
    view finds the compilation done or under way.

    Once per process, not per cache: clearing Streamlit's caches must not start a second pair
    of threads compiling the same numba code beside the first.
    """
    global _background_work
    with _background_work_lock:
        if _background_work is None:
            _background_work = _started_background_work()
        return _background_work


def _started_background_work() -> BackgroundWork:
    models = shared_caches().models
    limits = load_limits()
    names = [
        name for name in default_model_names() if not limits.hosted or name in limits.allowed_models
    ]

    first_view, model_wanted = threading.Event(), threading.Event()

    def load_defaults() -> None:
        for name in names:
            try:
                models.get_or_compute(name, lambda name=name: load_model(name))
            except Exception:  # noqa: BLE001 - the page that asks for the model reports it
                pass

    def warm_up() -> None:
        if len(names) == 2 and _stored_states_exist(tuple(names), DEFAULT_TEXTS):
            # A restarted server draws the default page from the store: the imports (~9 s of
            # one core, holding the GIL) would take the CPU from that first page and from the
            # browser drawing it. They start once it is drawn, or as soon as a page needs a
            # model (a link with other sentences).
            deadline = time.monotonic() + FIRST_VIEW_WAIT_S
            while not first_view.is_set() and time.monotonic() < deadline:
                if model_wanted.wait(0.05):
                    break
            model_wanted.wait(FIRST_CHART_DRAW_S if first_view.is_set() else 0)
        _load_without_collections(load_defaults)

    loading = threading.Thread(target=warm_up, name="model-warm-up", daemon=True)
    work = BackgroundWork(
        models=loading,
        umap=threading.Thread(
            target=_warm_up_umap_after,
            args=(loading, first_view),
            name="umap-warm-up",
            daemon=True,
        ),
        first_view=first_view,
        model_wanted=model_wanted,
        model_names=tuple(names),
    )
    work.models.start()
    work.umap.start()
    return work


def first_view_ready() -> None:
    """A page's script run has finished: background work that waited for it may start."""
    start_background_work().first_view.set()


def wait_for_umap_warm_up() -> None:
    """A UMAP view asked for while the compilation runs waits for it, saying why."""
    thread = start_background_work().umap
    if thread.is_alive():
        with st.spinner(
            _(
                "Preparing UMAP: its numerical code is compiled once after the server starts "
                "(up to half a minute on a small server)…"
            )
        ):
            thread.join()
