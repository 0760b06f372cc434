"""``corpus`` and ``corpus_scatter``: the bundled 1,000-sentence corpus, extracted and drawn."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .core import Bench, Result, corpus_sentences

# --- corpus ---------------------------------------------------------------------------------------


def _join_items(parts, repeat: int = 1):
    """Concatenate per-chunk Items (sentence numbers offset), then ``repeat`` the whole set as if
    from ``repeat`` x as many sentences."""
    from embexplorer.align import Items

    parts = list(parts) * repeat
    offsets = np.cumsum([0] + [int(p.sentence.max()) + 1 if p.n_items else 0 for p in parts])
    return Items(
        unit=parts[0].unit,
        labels=[label for p in parts for label in p.labels],
        sentence=np.concatenate([p.sentence + o for p, o in zip(parts, offsets, strict=False)]),
        position=np.concatenate([p.position for p in parts]),
        vectors=np.concatenate([p.vectors for p in parts], axis=1),
        words=[word for p in parts for word in p.words],
    )


def last_layer_token_items(states):
    """Token items (the app's path) with only the last layer kept, so memory stays bounded."""
    from embexplorer.align import token_items

    items = token_items(states)
    items.vectors = items.vectors[-1:].copy()
    return items


def scatter_all_tokens(
    items_pair, sentence_texts: list[str], colour_by: str = "sentence"
) -> dict[str, Any]:
    """2D PCA of each model's token items -> the two-panel figure -> its JSON, timed by stage."""
    from embexplorer import figures
    from embexplorer.projection import PCAProjector

    stages = dict.fromkeys(("pca_s", "figure_s", "to_json_s"), 0.0)
    panels = []
    for items in items_pair:
        start = time.perf_counter()
        projection = PCAProjector(2).fit_transform(items.vectors[-1])
        stages["pca_s"] += time.perf_counter() - start
        panels.append(figures.PointSet.from_items(projection, items, sentence_texts))
    start = time.perf_counter()
    fig = figures.projection_figure(panels, titles=["A", "B"], colour_by=colour_by)
    stages["figure_s"] = time.perf_counter() - start
    start = time.perf_counter()
    json_chars = len(fig.to_json())
    stages["to_json_s"] = time.perf_counter() - start
    return dict(
        stages,
        points=sum(len(p.labels) for p in panels),
        traces=len(fig.data),
        figure_json_mb=json_chars / 2**20,
    )


def measure_corpus(bench: Bench) -> list[Result]:
    from embexplorer.extract import extract_hidden_states

    sentences = corpus_sentences()
    quick, tiny = bench.settings.quick, bench.settings.tiny
    chunk = 16 if quick or tiny else 100
    n_chunks = 1 if tiny else (2 if quick else len(sentences) // chunk)
    models = bench.models
    for loaded in models:
        extract_hidden_states(loaded, sentences[:2])  # warm-up

    # Batched and one-at-a-time alternate chunk by chunk, so a noisy neighbour hits both alike.
    batched_s = single_s = token_items_s = 0.0
    batched_tokens = single_tokens = 0
    parts: list[list] = [[], []]
    for index in range(n_chunks):
        texts = sentences[index * chunk : (index + 1) * chunk]
        for which, loaded in enumerate(models):
            start = time.perf_counter()
            states = extract_hidden_states(loaded, texts, batch_size=16)
            batched_s += time.perf_counter() - start
            batched_tokens += states.n_tokens
            start = time.perf_counter()
            parts[which].append(last_layer_token_items(states))
            token_items_s += time.perf_counter() - start
            del states
            start = time.perf_counter()
            single_tokens += sum(
                extract_hidden_states(loaded, [text], batch_size=1).n_tokens for text in texts
            )
            single_s += time.perf_counter() - start
    n_done = n_chunks * chunk
    batched_rate, single_rate = batched_tokens / batched_s, single_tokens / single_s
    notes = [
        f"tokens/s over both models (special tokens counted, padding not); batched = "
        f"extract_hidden_states(batch_size=16), single = one call per sentence, alternating "
        f"in chunks of {chunk} sentences, {n_done} sentences each"
    ]
    if n_done < len(sentences):
        notes.append(
            f"{'tiny' if tiny else 'quick'}: rates measured on {n_done} sentences; the "
            "1,000-sentence times in the details are extrapolated from them"
        )
    per_sentence_tokens = batched_tokens / n_done
    throughput = Result(
        "corpus",
        "tokens/s",
        value=batched_rate,
        baseline=single_rate,
        repeats=1,
        notes=notes,
        details={
            "sentences": n_done,
            "batched": {"tokens": batched_tokens, "seconds": batched_s},
            "single": {"tokens": single_tokens, "seconds": single_s},
            "tokens_per_sentence_both_models": per_sentence_tokens,
            "corpus_extraction_s_batched": len(sentences) * per_sentence_tokens / batched_rate,
            "corpus_extraction_s_single": len(sentences) * per_sentence_tokens / single_rate,
        },
    )
    # The scatter of all tokens of 1,000 sentences. Quick: the extracted sentences repeated to
    # 200 sentences' worth, and the time scaled linearly to 1,000 (PCA and the figure are linear
    # in the number of points; the number of traces is bounded, so it is not scaled).
    target_sentences = n_done if tiny else (200 if quick else len(sentences))
    repeat = max(1, target_sentences // n_done)
    scale = 1.0 if tiny else len(sentences) / (n_done * repeat)
    items_pair = [_join_items(p, repeat) for p in parts]
    texts = [sentences[i % n_done] for i in range(n_done * repeat)]
    by_sentence = scatter_all_tokens(items_pair, texts, "sentence")
    by_sentence["token_items_s"] = token_items_s * repeat
    details = {"coloured_by_sentence": by_sentence, "scaled_by": scale}
    if not quick and not tiny:
        details["coloured_by_position"] = scatter_all_tokens(items_pair, texts, "position")
    computation = by_sentence["token_items_s"] + by_sentence["pca_s"]
    total = computation + by_sentence["figure_s"] + by_sentence["to_json_s"]
    scatter_notes = [
        f"{round(by_sentence['points'] * scale):,} token points in two panels, "
        f"{by_sentence['traces']:,} traces (coloured by sentence, the default): "
        "token items -> PCAProjector(2) -> projection_figure -> fig.to_json(); baseline: the "
        "computation alone (token items + PCA)"
    ]
    if scale != 1.0:
        scatter_notes.append(
            f"quick: timed on {by_sentence['points']:,} points ({n_done} extracted sentences "
            f"repeated {repeat} times) and scaled x{scale:.2f} to the 1,000-sentence corpus"
        )
    scatter = Result(
        "corpus_scatter",
        "s",
        value=total * scale,
        baseline=computation * scale,
        repeats=1,
        notes=scatter_notes,
        details=details,
    )
    return [throughput, scatter]
