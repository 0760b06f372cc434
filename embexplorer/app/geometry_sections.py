"""The Geometry page's four sections, one function each: the page puts them in tabs.

Every number comes from a cached :class:`~.view.View` method; these functions only lay out.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import figures, geometry
from ..align import spread_sample
from ..i18n import _
from ..labels import PREPROCESSING_LABELS, UNIT_LABELS, correlation_symbol, label
from . import tables, widgets
from .caching import MAX_PAIRED_ITEMS
from .present import HEATMAP_MAX_ITEMS, sample_indices
from .view import View

# Up to this many items every tab's section runs on each rerun (together about a second); above
# it only the open tab's does (on a 1,000-item sample the rotation demo alone takes seconds).
ALL_TABS_MAX_ITEMS = 300


def _new_rotation() -> None:
    st.session_state["rot_seed"] = int(st.session_state["rot_seed"]) + 1


def spectrum(view: View, labels: list[str]) -> None:
    """How many directions the vectors use: both models' PCA eigenvalues."""
    titles = view.panel_titles
    prep_label = label(PREPROCESSING_LABELS, view.preprocessing)
    spectra = view.spectra()
    n90 = [geometry.n_components_for_variance(s.explained_variance_ratio, 0.9) for s in spectra]
    log_scale = st.toggle(_("Log scale for the eigenvalues"), key="log_scree")
    cells = st.columns(4)
    for which, spectrum in enumerate(spectra):
        cells[2 * which].metric(
            _("{model}: components for 90 %").format(model="AB"[which]),
            _("{n} of {total}").format(n=n90[which], total=spectrum.n_components),
            help=_(
                "The fewest principal components whose eigenvalues add up to 90 % of the variance."
            ),
        )
        cells[2 * which + 1].metric(
            _("{model}: PC1 explains").format(model="AB"[which]),
            f"{spectrum.explained_variance_ratio[0]:.1%}",
        )
    widgets.chart(
        figures.spectrum_figure(
            [s.eigenvalues for s in spectra],
            [s.explained_variance_ratio for s in spectra],
            titles,
            n90,
            log_scale=log_scale,
            presentation=view.presentation,
        ),
        key="spectrum",
    )
    st.caption(
        _("{n} {unit}, preprocessing {preprocessing}.").format(
            n=len(view.items()[0].labels),
            unit=label(UNIT_LABELS, view.unit),
            preprocessing=prep_label,
        )
        + " "
        + _(
            "The eigenvalues are the variances along the principal directions of the centred "
            "vectors. With n items there are at most n - 1 non-zero ones, whatever the width. A "
            "steep drop after the first component is a space dominated by one direction."
        )
    )
    widgets.download_csv(
        _("Spectrum (CSV)"),
        lambda: tables.spectrum_table(spectra, view.names, view.layers),
        "pca_spectrum.csv",
        key="dl_spectrum",
    )


def rotation(view: View, labels: list[str]) -> None:
    """A random rotation R and a random linear map M applied to A: what each changes."""
    labels = [labels[i] for i in view.compared_index()]  # a corpus: its spread sample
    widgets.sample_note(view, _("This demo"))
    names, prep_label = view.short_names, label(PREPROCESSING_LABELS, view.preprocessing)

    seed_cells = st.columns([2, 2, 6], vertical_alignment="bottom")
    seed = seed_cells[0].number_input(_("Rotation seed"), min_value=0, step=1, key="rot_seed")
    seed_cells[1].button(_("New rotation"), on_click=_new_rotation, icon=":material/autorenew:")
    method = st.session_state["rsa"]
    demo = view.invariance(int(seed), method)
    drawn = sample_indices(len(labels), HEATMAP_MAX_ITEMS)  # heatmaps only; numbers use all
    symbol = correlation_symbol(method)
    cells = st.columns(6)
    cells[0].metric(
        _("Coordinate change (R)"),
        widgets.plain_number(demo.rotation.max_coordinate_change),
        help=_("max |x R - x| over all items and dimensions"),
    )
    cells[1].metric(
        _("Largest cosine change (R)"),
        widgets.plain_number(demo.rotation.max_cosine_change, zero="0"),
        help=_("max |cos(xR, yR) - cos(x, y)| over all pairs: floating-point rounding only."),
    )
    cells[2].metric(
        _("RSA with B ({symbol}), as is").format(symbol=symbol),
        f"{demo.rsa_with_b:.6f}",
        help=_(
            "RSA between model A's and model B's cosine matrices (the Similarity page's RSA "
            "method)."
        ),
    )
    cells[3].metric(
        _("RSA with B ({symbol}), after R").format(symbol=symbol),
        f"{demo.rotation.rsa_with_b:.6f}",
    )
    cells[4].metric(
        _("Largest cosine change (M)"),
        f"{demo.linear.max_cosine_change:.3f}",
        help=_(
            "M shrinks the two directions along which A's vectors are largest 100-fold (then "
            "applies R), so angles change."
        ),
    )
    cells[5].metric(
        _("RSA with B ({symbol}), after M").format(symbol=symbol),
        f"{demo.linear.rsa_with_b:.6f}",
    )
    if abs(demo.rotation.max_cosine_change) < widgets.MACHINE_ZERO:
        st.caption(
            _("After R no cosine changes: the largest change is {zero}. {why}").format(
                zero=widgets.machine_zero_text(), why=widgets.machine_zero_sentence()
            )
        )
    widgets.chart(
        figures.displacement_figure(
            [
                (_("orthogonal R: every point moves"), demo.vectors, demo.rotation.vectors),
                (
                    _("non-orthogonal M: points move and stretch"),
                    demo.vectors,
                    demo.linear.vectors,
                ),
            ],
            labels,
            presentation=view.presentation,
        ),
        key="rotation_coords",
    )
    widgets.chart(
        figures.heatmap_grid_figure(
            [
                m[np.ix_(drawn, drawn)]
                for m in (demo.similarity, demo.rotation.similarity, demo.linear.similarity)
            ],
            [labels[i] for i in drawn],
            [
                _("A as is (RSA with B {score:.3f})").format(score=demo.rsa_with_b),
                _("after R (RSA {score:.3f})").format(score=demo.rotation.rsa_with_b),
                _("after M (RSA {score:.3f})").format(score=demo.linear.rsa_with_b),
            ],
            presentation=view.presentation,
        ),
        key="rotation_heatmaps",
    )
    st.caption(
        _(
            "Model A ({name}, layer {layer}, preprocessing {preprocessing}) in its first two "
            "dimensions, before and after a random orthogonal matrix R (seeded) and a "
            "non-orthogonal M (the two directions along which A's vectors are largest shrunk "
            "100-fold, then R)."
        ).format(name=names[0], layer=view.layers[0], preprocessing=prep_label)
        + " "
        + _(
            "R^T R = I keeps every length and angle, so the cosine heatmap and the RSA score "
            "cannot change. That is why RSA and CKA can compare two models whose dimensions do "
            "not correspond: they use only the relations between items. It does not make "
            "coordinates meaningless: in trained models single dimensions can stand out (see "
            "'Rogue dimensions'), which a rotation would hide without changing any cosine. M "
            "changes angles, and the heatmap with them."
        )
    )
    downloads = st.columns(2)
    with downloads[0]:
        widgets.download_csv(
            _("Coordinates (CSV)"),
            lambda: tables.rotation_coordinates_table(demo, labels),
            "rotation_coords.csv",
            key="dl_rot",
        )
    with downloads[1]:
        widgets.download_csv(
            _("Cosines (CSV)"),
            lambda: tables.rotation_cosines_table(demo, labels),
            "rotation_cosines.csv",
            key="dl_rot_cos",
        )


def procrustes(view: View, labels: list[str]) -> None:
    """B rotated onto A, and the items the two models place most differently."""
    alignment = view.procrustes()
    null = view.procrustes_null()
    shown = np.argsort(-alignment.residuals, kind="stable")[:15]
    widths = (view.infos[0].hidden_size, view.infos[1].hidden_size)
    cells = st.columns([1, 3])
    cells[0].metric(
        _("Disparity"),
        f"{alignment.disparity:.3f}",
        help=_(
            "Sum of squared residuals over the sum of squares of centred A, after the best "
            "rotation and scaling of B: 0 = the same shape. It has no fixed 'unrelated' value: "
            "with few items for many dimensions even unrelated points align closely, so read it "
            "against the item-shuffled pairings."
        ),
    )
    cells[0].metric(
        _("Item-shuffled pairings"),
        f"{null.shuffled_mean:.2f} ± {null.shuffled.std():.2f}",
        help=_(
            "The disparity when B's items are shuffled before aligning ({n} seeded shuffles): "
            "the same two clouds of points, wrongly paired. A disparity well below this means "
            "the pairing of items matters."
        ).format(n=null.shuffled.size),
    )
    cells[0].caption(procrustes_scale(null))
    with cells[0]:
        widgets.sample_note(view, _("The shuffles (and the disparity read against them)"))
    if widths[1] < widths[0]:
        widths_note = _("Both centred; B ({width} wide) zero-padded to A's width")
    elif widths[1] != widths[0]:
        widths_note = _("Both centred; B ({width} wide) and A compared in the wider width")
    else:
        widths_note = _("Both centred; B ({width} wide) and A have the same width")
    cells[0].caption(
        widths_note.format(width=widths[1])
        + "; "
        + _("scale factor {scale:.3g}.").format(scale=alignment.scale)
    )
    with cells[1]:
        widgets.chart(
            figures.ranked_bar_figure(
                [
                    (
                        _("items the two models place most differently"),
                        [labels[i] for i in shown],
                        alignment.residuals[shown],
                    )
                ],
                _("distance left after aligning B onto A"),
                presentation=view.presentation,
            ),
            key="procrustes",
        )
    widgets.download_csv(
        _("Residuals (CSV)"),
        lambda: tables.residuals_table(alignment, labels),
        "procrustes_residuals.csv",
        key="dl_procrustes",
    )


def procrustes_scale(null) -> str:
    """The disparity read against its item-shuffled pairings, in one or two sentences."""
    beaten = int(np.sum(null.shuffled <= null.disparity))
    return _(
        "Disparity {disparity:.3f}; item-shuffled pairings give {mean:.2f} ± {std:.2f} "
        "({beaten} of {total} as low or lower). 0 is the same shape; what unrelated pairings "
        "reach depends on the items and dimensions, so compare with the shuffles rather than "
        "with 1."
    ).format(
        disparity=null.disparity,
        mean=null.shuffled_mean,
        std=null.shuffled.std(),
        beaten=beaten,
        total=null.shuffled.size,
    )


def rogue_dimensions(view: View, labels: list[str]) -> None:
    """The dimensions that decide most cosines, the largest tokens, and what preprocessing does."""
    names, titles = view.short_names, view.panel_titles
    prep_label = label(PREPROCESSING_LABELS, view.preprocessing)
    exclude_first = st.toggle(
        _("Leave out the first position of every sentence"),
        key="exclude_first",
        help=_(
            "GPT-2's first token has a norm many times the others' (it soaks up attention); "
            "for words this leaves out each sentence's first word."
        ),
    )
    rogue_dims = view.rogue_dimensions(exclude_first)
    if min(keep.size for keep in rogue_dims.keeps) < 3:
        st.info(_("Fewer than 3 items are left without the first positions; add sentences."))
        return
    widgets.chart(
        figures.ranked_bar_figure(
            [
                (titles[which], [_("dim {number}").format(number=d) for d in c.dims], c.share)
                for which, c in enumerate(rogue_dims.contributions)
            ],
            _("share of all dimensions' contributions to the cosines"),
            presentation=view.presentation,
            percent=True,
        ),
        key="rogue_dims",
    )
    st.caption(
        _(
            "Each dimension i adds u_i v_i / (‖u‖ ‖v‖) to the cosine of a pair; summed over all "
            "pairs, when a few dimensions have a large share they decide most similarities "
            "(Timkey & van Schijndel 2021)."
        )
        + " "
        + _(
            "Preprocessing {preprocessing}: standardising gives every dimension the same variance."
        ).format(preprocessing=prep_label)
    )

    tokens = view.items("token")
    outliers = view.token_norms()
    widgets.chart(
        figures.ranked_bar_figure(
            [
                (
                    _("{title} · median {median:.3g}").format(title=titles[which], median=o.median),
                    [tables.token_label(tokens[which], i) for i in o.indices],
                    o.norms,
                )
                for which, o in enumerate(outliers)
            ],
            _("vector norm (raw)"),
            presentation=view.presentation,
        ),
        key="token_norms",
    )
    st.caption(
        _(
            "The tokens with the largest raw vectors at each model's layer, with their sentence "
            "and position. In a trained GPT-2 the first position dwarfs the rest (an 'attention "
            "sink'); cosines with such a vector are decided by its few huge dimensions."
        )
    )

    kept_labels = [labels[i] for i in rogue_dims.keeps[0]]
    drawn_kept = sample_indices(len(kept_labels), HEATMAP_MAX_ITEMS)
    downloaded = spread_sample(len(kept_labels), MAX_PAIRED_ITEMS)
    grid_titles = [
        f"{'AB'[which]} ({names[which]}) · {label(PREPROCESSING_LABELS, prep)}"
        for which in (0, 1)
        for prep in geometry.APP_PREPROCESSING
    ]
    widgets.chart(
        figures.heatmap_grid_figure(
            view.preprocessing_grid(exclude_first, drawn_kept),
            [kept_labels[i] for i in drawn_kept],
            grid_titles,
            presentation=view.presentation,
        ),
        key="rogue_heatmaps",
    )
    st.caption(
        _(
            "The same cosine heatmap of the {unit} raw, mean-centred and standardised, whatever "
            "the sidebar's preprocessing. Anisotropic raw vectors make every cell red; centring "
            "removes the shared direction, and standardising also tames the rogue dimensions."
        ).format(unit=label(UNIT_LABELS, view.paired_unit))
    )
    downloads = st.columns(3)
    with downloads[0]:
        widgets.download_csv(
            _("Top dimensions (CSV)"),
            lambda: tables.rogue_table(
                rogue_dims.contributions, view.names, view.layers, exclude_first
            ),
            "rogue_dimensions.csv",
            key="dl_rogue",
        )
    with downloads[1]:
        widgets.download_csv(
            _("Largest norms (CSV)"),
            lambda: tables.norms_table(outliers, tokens, view.names, view.layers),
            "token_norms.csv",
            key="dl_norms",
        )
    with downloads[2]:
        widgets.download_csv(
            _("Cosines raw / centred / standardised (CSV)"),
            lambda: tables.preprocessing_cosines_table(
                view.preprocessing_cosines(exclude_first, downloaded),
                [kept_labels[i] for i in downloaded],
                view.names,
                view.layers,
            ),
            "cosines_by_preprocessing.csv",
            key="dl_rogue_cosines",
        )
