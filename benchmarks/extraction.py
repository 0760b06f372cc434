"""``extract_overhead``: our extraction against the bare transformers forward pass."""

from __future__ import annotations

from .core import SENTENCES, Bench, Result, summary, time_pair


def bare_forward(loaded, batch: dict) -> None:
    """The transformers forward pass alone, on a tokenised batch."""
    import torch

    with torch.inference_mode():
        loaded.model(**batch, output_hidden_states=True)
    if loaded.info.device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_extract_overhead(bench: Bench) -> list[Result]:
    from embexplorer.align import paired_items
    from embexplorer.extract import extract_hidden_states

    model_a, model_b = bench.models
    texts = list(SENTENCES)
    batches = []
    for loaded in (model_a, model_b):
        encoded = loaded.tokenizer(texts, padding=True, return_tensors="pt")
        batches.append({key: tensor.to(loaded.info.device) for key, tensor in encoded.items()})

    def ours():
        states = [extract_hidden_states(loaded, texts) for loaded in (model_a, model_b)]
        paired_items(*states, unit="word")

    def baseline():
        for loaded, batch in zip((model_a, model_b), batches, strict=True):
            bare_forward(loaded, batch)

    repeats = bench.repeats(quick=4, full=15)
    ours_s, baseline_s = time_pair(
        ours, baseline, repeats, warm_up=1 if bench.settings.quick else 2
    )
    tokens = {
        loaded.info.short_name: int(batch["attention_mask"].sum())
        for loaded, batch in zip((model_a, model_b), batches, strict=True)
    }
    return [
        Result(
            "extract_overhead",
            "s",
            value=min(ours_s),
            baseline=min(baseline_s),
            target=1.15,
            repeats=repeats,
            notes=[
                "5 sentences, both models, all layers; ours = extraction + word alignment + "
                "items, baseline = forward passes of the already tokenised batches"
            ],
            details={"ours": summary(ours_s), "baseline": summary(baseline_s), "tokens": tokens},
        )
    ]
