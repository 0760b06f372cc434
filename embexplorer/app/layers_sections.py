"""The Layers page's second half: how each model's space changes with depth."""

from __future__ import annotations

import streamlit as st

from .. import figures
from ..labels import PREPROCESSING_LABELS, UNIT_LABELS
from ..layers import LAYER_MEASURES, LayerProfile
from . import widgets
from .view import View


def depth_curves(
    view: View, names: tuple[str, str]
) -> tuple[tuple[LayerProfile, LayerProfile], tuple[LayerProfile, LayerProfile]]:
    """Per-layer anisotropy, norm, intra-sentence similarity and PC1 share of both models, raw and
    after the sidebar's preprocessing (standardising when that is none); returns the profiles."""
    used, total = view.profiled_items()
    contrast = view.preprocessing if view.preprocessing != "none" else "standardize"
    raw, prepared = view.layer_profiles("none"), view.layer_profiles(contrast)
    contrast_label = PREPROCESSING_LABELS[contrast]
    panels = [
        (
            title,
            [
                figures.Curve(f"A: {names[0]} raw", raw[0].measure(measure), model=0),
                figures.Curve(
                    f"A: {names[0]} {contrast_label}", prepared[0].measure(measure), 0, True
                ),
                figures.Curve(f"B: {names[1]} raw", raw[1].measure(measure), model=1),
                figures.Curve(
                    f"B: {names[1]} {contrast_label}", prepared[1].measure(measure), 1, True
                ),
            ],
        )
        for measure, title in LAYER_MEASURES.items()
    ]
    widgets.chart(
        figures.layer_curves_figure(panels, presentation=view.presentation), key="layer_curves"
    )
    st.caption(
        f"Solid: raw vectors; dashed: after **{contrast_label}**"
        + (
            " (the sidebar's preprocessing is none, so standardising is shown for contrast)"
            if view.preprocessing == "none"
            else ""
        )
        + f". Items: {UNIT_LABELS[view.unit]}"
        + (
            f" ({used:,} of {total:,}: whole sentences spread through the text)"
            if used < total
            else ""
        )
        + ". Anisotropy is the mean cosine between different "
        "words in different sentences; intra-sentence similarity the mean cosine of each item to its "
        "sentence's mean (Ethayarajh 2019). What to notice: in trained GPT-2 a few 'rogue' "
        "dimensions make every vector point the same way (anisotropy and PC1 share near 1, huge "
        "norms); after centring or standardising that common direction is gone, and the structure "
        "underneath shows."
    )
    return raw, prepared
