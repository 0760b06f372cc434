"""What every choice is called on screen: one source for the pages, the figures and the CLI.

The keys are the names the functions take (``metric="euclidean"``); the values are what a person
reads. Nothing here imports Streamlit or computes anything.
"""

from __future__ import annotations

from ._validation import check_choice

METRIC_LABELS = {"cosine": "cosine", "euclidean": "Euclidean distance"}
RSA_METHOD_LABELS = {"spearman": "Spearman ρ", "pearson": "Pearson r"}
LAYER_METHOD_LABELS = {
    **{method: f"RSA ({label})" for method, label in RSA_METHOD_LABELS.items()},
    "cka": "linear CKA",
}
PREPROCESSING_LABELS = {"none": "none (raw)", "center": "mean-centre", "standardize": "standardise"}
UNIT_LABELS = {"token": "tokens", "word": "words", "sentence": "sentences"}
PROJECTION_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


def correlation_symbol(method: str) -> str:
    """The symbol of an RSA correlation: "ρ" for Spearman, "r" for Pearson.

    Examples
    --------
    >>> correlation_symbol("spearman"), correlation_symbol("pearson")
    ('ρ', 'r')
    """
    check_choice(method, tuple(RSA_METHOD_LABELS), "RSA method")
    return RSA_METHOD_LABELS[method].split()[-1]
