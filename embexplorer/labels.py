"""Display labels for every named choice (temporary; merged with branch core's labels.py)."""

PREPROCESSING_LABELS = {"none": "none (raw)", "center": "mean-centre", "standardize": "standardise"}
UNIT_LABELS = {"token": "tokens", "word": "words", "sentence": "sentences"}
PROJECTION_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
METRIC_LABELS = {"cosine": "cosine", "euclidean": "Euclidean distance"}
RSA_METHOD_LABELS = {"spearman": "Spearman ρ", "pearson": "Pearson r"}


def correlation_symbol(method: str) -> str:
    return "ρ" if method == "spearman" else "r"
