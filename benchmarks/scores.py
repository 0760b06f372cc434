"""``permutations`` and ``layer_matrix``: the statistics against plain loops over the same calls."""

from __future__ import annotations

import numpy as np

from .core import SENTENCES, Bench, Result, summary, time_once, time_pair, unavailable

# --- permutations ---------------------------------------------------------------------------------


def permutation_problem(n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two related cosine similarity matrices over the same items."""
    from embexplorer.geometry import similarity_matrix

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_items, 64))
    Y = X @ rng.standard_normal((64, 48)) + 3.0 * rng.standard_normal((n_items, 48))
    return similarity_matrix(X, "cosine"), similarity_matrix(Y, "cosine")


def measure_permutations(bench: Bench) -> list[Result]:
    from embexplorer.rsa import mantel_loop_reference, mantel_p_value

    tiny = bench.settings.tiny
    n_items, permutations = (40, 200) if tiny else (200, 10_000)
    A, B = permutation_problem(n_items)
    repeats = bench.repeats(quick=3, full=5)
    ours_s = [
        time_once(lambda: mantel_p_value(A, B, "spearman", permutations, seed=0))
        for _ in range(repeats)
    ]
    loop_permutations = permutations if not bench.settings.quick else min(permutations, 300)
    loop_s = time_once(lambda: mantel_loop_reference(A, B, loop_permutations, seed=0))
    baseline = loop_s * permutations / loop_permutations
    same_p = mantel_p_value(A, B, "spearman", loop_permutations, 0) == mantel_loop_reference(
        A, B, loop_permutations, 0
    )
    notes = [f"{permutations:,} permutations, {n_items} items, Spearman; seconds"]
    if loop_permutations < permutations:
        notes.append(
            f"quick: the loop ran {loop_permutations} permutations ({loop_s:.2f} s), "
            f"extrapolated linearly to {permutations:,}"
        )
    return [
        Result(
            "permutations",
            "s",
            value=min(ours_s),
            baseline=baseline,
            repeats=repeats,
            notes=notes,
            details={
                "ours": summary(ours_s),
                "loop_permutations": loop_permutations,
                "loop_s": loop_s,
                "same_p_value": bool(same_p),
            },
        )
    ]


# --- layer_matrix ---------------------------------------------------------------------------------


def measure_layer_matrix(bench: Bench) -> list[Result]:
    try:
        from embexplorer.layers import layer_similarity_matrix
    except ImportError as error:
        return [unavailable("layer_matrix", "s", f"embexplorer.layers is not available: {error}")]
    from embexplorer.align import paired_items
    from embexplorer.extract import extract_hidden_states
    from embexplorer.geometry import preprocess, similarity_matrix
    from embexplorer.rsa import rsa_score

    states = [extract_hidden_states(loaded, list(SENTENCES)) for loaded in bench.models]
    items_a, items_b = paired_items(*states, unit="word")

    def ours():
        return layer_similarity_matrix(
            items_a, items_b, metric="cosine", preprocessing="none", method="spearman"
        )

    def baseline():
        return [
            [
                rsa_score(
                    similarity_matrix(preprocess(a, "none"), "cosine"),
                    similarity_matrix(preprocess(b, "none"), "cosine"),
                    method="spearman",
                    permutations=0,
                    bootstraps=0,
                ).spearman
                for b in items_b.vectors
            ]
            for a in items_a.vectors
        ]

    repeats = bench.repeats(quick=2, full=7)
    ours_s, baseline_s = time_pair(
        ours, baseline, repeats, warm_up=0 if bench.settings.quick else 1
    )
    shape = (items_a.vectors.shape[0], items_b.vectors.shape[0])
    return [
        Result(
            "layer_matrix",
            "s",
            value=min(ours_s),
            baseline=min(baseline_s),
            repeats=repeats,
            notes=[
                f"{shape[0]} x {shape[1]} layers, {items_a.n_items} word items, cosine, "
                "Spearman; baseline: one rsa_score per layer pair (no permutations)"
            ],
            details={"ours": summary(ours_s), "baseline": summary(baseline_s)},
        )
    ]
