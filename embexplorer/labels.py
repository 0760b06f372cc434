"""What every choice is called on screen: one source for the pages, the figures and the CLI.

The keys are the names the functions take (``metric="euclidean"``); the values are what a person
reads, in English and marked for the catalogue: :func:`label` gives one in the visitor's language
(``format_func=labels.formatter(METRIC_LABELS)`` for a widget). Nothing here imports Streamlit or
computes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from ._validation import check_choice
from .i18n import N_, _, current_language, language

METRIC_LABELS = {"cosine": N_("cosine"), "euclidean": N_("Euclidean distance")}
RSA_METHOD_LABELS = {"spearman": N_("Spearman ρ"), "pearson": N_("Pearson r")}
LAYER_METHOD_LABELS = {
    "spearman": N_("RSA (Spearman ρ)"),
    "pearson": N_("RSA (Pearson r)"),
    "cka": N_("linear CKA"),
}
PREPROCESSING_LABELS = {
    "none": N_("none (raw)"),
    "center": N_("mean-centre"),
    "standardize": N_("standardise"),
}
POOLING_LABELS = {"mean": N_("mean"), "first": N_("first piece"), "last": N_("last piece")}
COLOUR_BY_LABELS = {"sentence": N_("sentence"), "word": N_("word"), "position": N_("position")}
UNIT_LABELS = {"token": N_("tokens"), "word": N_("words"), "sentence": N_("sentences")}
PROJECTION_LABELS = {"pca": N_("PCA"), "umap": N_("UMAP"), "tsne": N_("t-SNE")}
# ``ModelInfo.kind``: how a model's attention reads the sentence.
MODEL_KIND_LABELS = {"causal": N_("causal"), "masked": N_("masked"), "encoder": N_("encoder")}


def label(labels: dict[str, str], key: str) -> str:
    """What ``key`` is called on screen, in the visitor's language (``key`` itself if unnamed).

    Examples
    --------
    >>> label(METRIC_LABELS, "euclidean")
    'Euclidean distance'
    """
    return _(labels[key]) if key in labels else key


def formatter(labels: dict[str, str]) -> Callable[[str], str]:
    """A widget's ``format_func`` that shows each option's name in the visitor's language: the
    language of the run that draws the widget, wherever it is called from (Streamlit's test
    harness calls it again from its own thread to find the chosen option)."""
    code = current_language()

    def format_key(key: str) -> str:
        with language(code):
            return label(labels, key)

    return format_key


def correlation_symbol(method: str) -> str:
    """The symbol of an RSA correlation: "ρ" for Spearman, "r" for Pearson.

    Examples
    --------
    >>> correlation_symbol("spearman"), correlation_symbol("pearson")
    ('ρ', 'r')
    """
    check_choice(method, tuple(RSA_METHOD_LABELS), "RSA method")
    return RSA_METHOD_LABELS[method].split()[-1]  # the English source text: the symbol is last
