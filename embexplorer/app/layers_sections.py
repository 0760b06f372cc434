"""The Layers page's second half: how each model's space changes with depth."""

from __future__ import annotations

import streamlit as st

from .. import figures
from ..i18n import _
from ..labels import PREPROCESSING_LABELS, UNIT_LABELS, label
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
    contrast_label = label(PREPROCESSING_LABELS, contrast)
    curve_names = [
        (
            _("{model}: {name} raw").format(model=model, name=name),
            _("{model}: {name} {preprocessing}").format(
                model=model, name=name, preprocessing=contrast_label
            ),
        )
        for model, name in zip("AB", names, strict=True)
    ]
    panels = [
        (
            label(LAYER_MEASURES, measure),
            [
                curve
                for which, (raw_name, prepared_name) in enumerate(curve_names)
                for curve in (
                    figures.Curve(raw_name, raw[which].measure(measure), model=which),
                    figures.Curve(prepared_name, prepared[which].measure(measure), which, True),
                )
            ],
        )
        for measure in LAYER_MEASURES
    ]
    widgets.chart(
        figures.layer_curves_figure(panels, presentation=view.presentation), key="layer_curves"
    )
    st.caption(
        _("Solid: raw vectors; dashed: after **{preprocessing}**").format(
            preprocessing=contrast_label
        )
        + (
            " " + _("(the sidebar's preprocessing is none, so standardising is shown for contrast)")
            if view.preprocessing == "none"
            else ""
        )
        + ". "
        + _("Items: {unit}").format(unit=label(UNIT_LABELS, view.unit))
        + (
            " "
            + _("({used:,} of {total:,}: whole sentences spread through the text)").format(
                used=used, total=total
            )
            if used < total
            else ""
        )
        + ". "
        + _(
            "Anisotropy is the mean cosine between different words in different sentences; "
            "intra-sentence similarity the mean cosine of each item to its sentence's mean "
            "(Ethayarajh 2019). What to notice: in trained GPT-2 a few 'rogue' dimensions make "
            "every vector point the same way (anisotropy and PC1 share near 1, huge norms); after "
            "centring or standardising that common direction is gone, and the structure "
            "underneath shows."
        )
    )
    return raw, prepared
