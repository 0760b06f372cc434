"""The Similarity page's score card: the scores, their random-weight baseline, and what they mean."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import compare
from ..i18n import _, translated
from ..labels import RSA_METHOD_LABELS, correlation_symbol, label
from . import caching, widgets
from .present import describe_rsa, pairs_caption, score_text, shared_token_note
from .view import View

# Above this many compared items the page shows the scores first and adds the permutation test
# and the bootstrap CI after the rest of the page, under a spinner (1,000 items: several seconds).
RESAMPLE_LATER_ITEMS = 300


def resample_later(comparison: compare.Comparison) -> bool:
    """Whether the page shows ``comparison``'s scores before its p-value and CI."""
    return comparison.items_a.n_items > RESAMPLE_LATER_ITEMS


def baseline(
    view: View, metric: str, method: str, exclude_same: bool, show_control: bool
) -> tuple[compare.ControlResult | None, str]:
    """The random-weight control's scores (None when not shown), and why there are none."""
    if not show_control:
        return None, ""
    try:
        with st.spinner(_("Running random-weight copies of both models for the chance baseline…")):
            return view.control(metric, method, exclude_same), ""
    except ValueError as error:
        return None, _("No random-weight baseline: {error}").format(error=widgets.error_text(error))


def resampling_spinner(comparison: compare.Comparison) -> str:
    permutations, bootstraps = caching.resampling_counts(comparison.items_a.n_items)
    return _(
        "Testing the score against {permutations:,} item permutations and bootstrapping its CI "
        "({bootstraps:,} resamples of {n:,} items)…"
    ).format(permutations=permutations, bootstraps=bootstraps, n=comparison.items_a.n_items)


def score_card(
    view: View,
    comparison: compare.Comparison,
    metric: str,
    method: str,
    control: compare.ControlResult | None,
    control_note: str,
    unit: str,
    names: tuple[str, str],
    pending: bool = False,
):
    """RSA (with p and CI), CKA, the control's score beside the observed one, and the sentences
    that say what the numbers mean; the notes on shared tokens and sampling below it.

    With ``pending`` (scores without their resampling yet) p and CI read "…" and the reading of
    the score waits: the returned placeholder, inside the card, is where the page shows a spinner
    while they are computed.
    """
    rsa = comparison.rsa
    symbol = correlation_symbol(method)
    undefined = _("not defined")
    card = st.container(border=True)
    if control_note:
        card.caption(control_note)
    if control is not None:
        card.markdown(
            _("**{symbol} — trained: {trained} · random weights: {random}**").format(
                symbol=symbol, trained=score_text(rsa.value), random=score_text(control.rsa.value)
            ),
            help=_(
                "Random weights: the same score for copies of both models whose weights are "
                "random (same architectures and tokenizers; weight seeds {seed_a} and {seed_b}), "
                "run on the same sentences. Their linear CKA: {cka}."
            ).format(
                seed_a=control.seeds[0], seed_b=control.seeds[1], cka=widgets.number(control.cka)
            ),
        )
    cells = card.columns([1, 1, 1.4, 1.7, 1.1])
    cells[0].metric(
        label(RSA_METHOD_LABELS, "spearman"), f"{rsa.spearman:.3f}" if rsa.defined else undefined
    )
    cells[1].metric(
        label(RSA_METHOD_LABELS, "pearson"), f"{rsa.pearson:.3f}" if rsa.defined else undefined
    )
    cells[2].metric(
        _("p (permutation)"),
        "…" if pending and rsa.defined else f"{rsa.p_value:.4f}" if rsa.defined else undefined,
        # The formula stays outside the catalogue: "#{...}" would read as a placeholder.
        help=_(
            "One-sided Mantel test: {n:,} random relabellings of the items of model B; p = "
            "{formula}. {null}"
        ).format(
            n=rsa.permutations,
            formula="(1 + #{r_perm ≥ r}) / (1 + " + _("permutations") + ")",
            null=translated(rsa.null),
        )
        + monte_carlo_note(rsa),
    )
    cells[3].metric(
        _("{level:.0%} CI ({symbol})").format(level=rsa.ci_level, symbol=symbol),
        undefined
        if not rsa.defined
        else "…"
        if pending
        else _("none")
        if rsa.ci_note
        else f"[{rsa.ci_low:.2f}, {rsa.ci_high:.2f}]",
        help=translated(rsa.ci_note)
        or _("Percentile bootstrap over items ({n} resamples).").format(n=rsa.bootstraps),
    )
    cells[4].metric(
        _("Linear CKA"),
        widgets.number(comparison.cka),
        help=(
            _("Not defined: {reason}.").format(reason=translated(comparison.cka_reason))
            if comparison.cka_reason
            else _("Debiased: {value}.").format(value=widgets.number(comparison.cka_debiased))
        )
        + " "
        + _(
            "Centred kernel alignment of the item vectors; 1 = same geometry up to rotation and "
            "scale."
        ),
    )
    card.caption(pairs_caption(comparison, unit))
    if comparison.cka_reason:
        card.caption(
            _("CKA is not defined: {reason}.").format(
                reason=widgets.escape_markdown(translated(comparison.cka_reason))
            )
        )
    waiting = None
    if pending and rsa.defined:
        waiting = card.empty()
    else:
        control_rsa = None if control is None else control.rsa
        card.markdown(describe_rsa(rsa, names, unit, control=control_rsa))
        if rsa.defined and rsa.permutations:
            card.caption(translated(rsa.null))
    shared = comparison.items_sharing_tokens
    if shared:
        st.info(shared_token_note(shared, comparison.labels, names), icon="ℹ️")
    widgets.sample_note(view, _("RSA, its p-value, CI and CKA"))
    return waiting


def undefined_card(reason: str) -> None:
    """Degenerate input (e.g. one sentence repeated): the same card, every number "not defined",
    and why (``reason``, already escaped for Markdown)."""
    card = st.container(border=True)
    names = (*(label(RSA_METHOD_LABELS, m) for m in ("spearman", "pearson")), "p", _("Linear CKA"))
    for cell, name in zip(card.columns(4), names, strict=True):
        cell.metric(name, _("not defined"))
    card.markdown(_("Every score is **not defined** for these sentences:"))
    card.info(reason)


def monte_carlo_note(rsa) -> str:
    """What the permutation count means for p: its Monte-Carlo standard error and its floor
    (fewer permutations on more items keep the page fast; this says what that costs)."""
    if not (rsa.defined and rsa.permutations and np.isfinite(rsa.p_value)):
        return ""
    error = float(np.sqrt(rsa.p_value * (1 - rsa.p_value) / rsa.permutations))
    return " " + _(
        "With {n:,} permutations this p is known to about ±{error:.4f} (its Monte-Carlo "
        "standard error), and cannot be smaller than {floor:.4f}."
    ).format(n=rsa.permutations, error=error, floor=1 / (1 + rsa.permutations))
