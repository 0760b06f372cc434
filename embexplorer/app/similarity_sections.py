"""The Similarity page's score card: the scores, their random-weight baseline, and what they mean."""

from __future__ import annotations

import streamlit as st

from .. import compare
from ..labels import correlation_symbol
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
        with st.spinner("Running random-weight copies of both models for the chance baseline…"):
            return view.control(metric, method, exclude_same), ""
    except ValueError as error:
        return None, f"No random-weight baseline: {widgets.escape_markdown(error)}"


def resampling_spinner(comparison: compare.Comparison) -> str:
    permutations, bootstraps = caching.resampling_counts(comparison.items_a.n_items)
    return (
        f"Testing the score against {permutations:,} item permutations and bootstrapping its CI "
        f"({bootstraps:,} resamples of {comparison.items_a.n_items:,} items)…"
    )


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
    undefined = "not defined"
    card = st.container(border=True)
    if control_note:
        card.caption(control_note)
    if control is not None:
        card.markdown(
            f"**{symbol} — trained: {score_text(rsa.value)} · random weights: "
            f"{score_text(control.rsa.value)}**",
            help="Random weights: the same score for copies of both models whose weights are random "
            f"(same architectures and tokenizers; weight seeds {control.seeds[0]} and "
            f"{control.seeds[1]}), run on the same sentences. Their linear CKA: "
            f"{widgets.number(control.cka)}.",
        )
    cells = card.columns([1, 1, 1.1, 1.8, 1.1])
    cells[0].metric("Spearman ρ", f"{rsa.spearman:.3f}" if rsa.defined else undefined)
    cells[1].metric("Pearson r", f"{rsa.pearson:.3f}" if rsa.defined else undefined)
    cells[2].metric(
        "p (permutation)",
        "…" if pending and rsa.defined else f"{rsa.p_value:.4f}" if rsa.defined else undefined,
        help=f"One-sided Mantel test: {rsa.permutations:,} random relabellings of the "
        "items of model B; p = (1 + #{r_perm ≥ r}) / (1 + permutations). " + rsa.null,
    )
    cells[3].metric(
        f"{rsa.ci_level:.0%} CI ({symbol})",
        undefined
        if not rsa.defined
        else "…"
        if pending
        else "none"
        if rsa.ci_note
        else f"[{rsa.ci_low:.2f}, {rsa.ci_high:.2f}]",
        help=rsa.ci_note or f"Percentile bootstrap over items ({rsa.bootstraps} resamples).",
    )
    cells[4].metric(
        "Linear CKA",
        widgets.number(comparison.cka),
        help=(
            f"Not defined: {comparison.cka_reason}. "
            if comparison.cka_reason
            else f"Debiased: {widgets.number(comparison.cka_debiased)}. "
        )
        + "Centred kernel alignment of the item vectors; 1 = same geometry up to rotation and scale.",
    )
    card.caption(pairs_caption(comparison, unit))
    if comparison.cka_reason:
        card.caption(f"CKA is not defined: {widgets.escape_markdown(comparison.cka_reason)}.")
    waiting = None
    if pending and rsa.defined:
        waiting = card.empty()
    else:
        control_rsa = None if control is None else control.rsa
        card.markdown(describe_rsa(rsa, names, unit, control=control_rsa))
        if rsa.defined and rsa.permutations:
            card.caption(rsa.null)
    shared = comparison.items_sharing_tokens
    if shared:
        st.info(shared_token_note(shared, comparison.labels, names), icon="ℹ️")
    widgets.sample_note(view, "RSA, its p-value, CI and CKA")
    return waiting


def undefined_card(reason: str) -> None:
    """Degenerate input (e.g. one sentence repeated): the same card, every number "not defined",
    and why (``reason``, already escaped for Markdown)."""
    card = st.container(border=True)
    labels = ("Spearman ρ", "Pearson r", "p", "Linear CKA")
    for cell, label in zip(card.columns(4), labels, strict=True):
        cell.metric(label, "not defined")
    card.markdown("Every score is **not defined** for these sentences:")
    card.info(reason)
