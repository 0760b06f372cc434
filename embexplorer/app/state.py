"""Every setting of every page in the page's address, so a copied link reproduces the view.

Widget keys double as query-string names. The link is read once per session (the first run), and
written back after every run; between pages the values live in ``st.session_state``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import streamlit as st

from .. import align, geometry
from ..contextuality import DEFAULT_WORD
from ..figures import COLOUR_BY
from ..labels import PREPROCESSING_LABELS, PROJECTION_LABELS
from ..layers import LAYER_METHODS
from ..limits import load_limits
from ..models import default_model_names
from ..rsa import RSA_METHODS

DEFAULT_TEXTS = (
    "The bank raised its interest rates.",
    "We had a picnic on the river bank.",
    "She deposited the money at the bank.",
    "The river flooded the bank after the storm.",
    "A cat sat on the warm mat.",
)
# Texts longer than this stay out of the link (browsers and proxies cap URL length); the link
# then carries the settings only, and the share box says so.
MAX_TEXT_IN_URL = 2_000


@dataclass(frozen=True)
class UrlField:
    """One setting kept in the query string: how to read it back and its default."""

    default: Any
    choices: tuple | None = None

    def parse(self, raw: str) -> Any:
        """The value from a query-string entry, or None when it is not valid for this field."""
        if isinstance(self.default, bool):
            return {"1": True, "true": True, "0": False, "false": False}.get(raw.lower())
        if isinstance(self.default, int):
            try:
                value = int(raw)
            except ValueError:
                return None
        else:
            value = raw
        if self.choices is not None and value not in self.choices:
            return None
        return value

    @staticmethod
    def encode(value: Any) -> str:
        if isinstance(value, bool):
            return "1" if value else "0"
        return str(value)


def url_fields() -> dict[str, UrlField]:
    """Every setting of every page, by its widget key (which is also its query-string name)."""
    model_a, model_b = default_model_names()
    limits = load_limits()
    allowed = limits.allowed_models if limits.hosted else None
    return {
        "text": UrlField("\n".join(DEFAULT_TEXTS)),
        "model_a": UrlField(model_a, allowed),
        "model_b": UrlField(model_b, allowed),
        "layer_a": UrlField(-1),
        "layer_b": UrlField(-1),
        "unit": UrlField("word", tuple(align.UNITS)),
        "prep": UrlField("none", tuple(PREPROCESSING_LABELS)),
        "pooling": UrlField("mean", tuple(align.POOLINGS)),
        "special": UrlField(False),
        "present": UrlField(False),
        # Projection page
        "method": UrlField("pca", tuple(PROJECTION_LABELS)),
        "dims": UrlField(2, (2, 3)),
        "colour": UrlField("sentence", COLOUR_BY),
        "labels": UrlField(True),
        "lines": UrlField(False),
        "joint": UrlField(False),
        # Similarity page
        "metric": UrlField("cosine", geometry.METRICS),
        "rsa": UrlField("spearman", RSA_METHODS),
        "control": UrlField("auto", ("auto", "on", "off")),
        "exclude_same": UrlField(False),
        # Layers / Geometry / Context pages
        "layer_method": UrlField("spearman", LAYER_METHODS),
        "log_scree": UrlField(True),
        "rot_seed": UrlField(0),
        "exclude_first": UrlField(False),
        "word": UrlField(DEFAULT_WORD),
        "skip_first": UrlField(False),
        "layer_control": UrlField(False),
    }


IGNORED_KEY = "_ignored_link_settings"


def restore_state() -> None:
    """Seed widget state from the link once per session, then keep it across page switches.

    The names of link settings that are not valid here are kept for :func:`ignored_settings`.
    """
    fields = url_fields()
    state = st.session_state
    if not state.get("_url_applied"):
        state["_url_applied"] = True
        ignored = []
        for key, raw in st.query_params.items():
            field = fields.get(key)
            value = field.parse(raw) if field else None
            if value is not None:
                state[key] = value
            elif field is not None:
                ignored.append(key)
        state[IGNORED_KEY] = ignored
    for key, field in fields.items():
        # Re-assigning a widget's value keeps it when another page is opened (Streamlit drops
        # state of widgets that were not drawn in the previous run).
        state[key] = state[key] if key in state else field.default


def ignored_settings() -> list[str]:
    """The link settings that were not valid here (said once, on the first page shown)."""
    return st.session_state.pop(IGNORED_KEY, [])


def link_params() -> dict[str, str]:
    """Every setting as query parameters (the text only when it is short enough for a link)."""
    params = {
        key: UrlField.encode(st.session_state[key])
        for key in url_fields()
        if key in st.session_state
    }
    if len(params.get("text", "")) > MAX_TEXT_IN_URL:
        del params["text"]
    return params


def write_url() -> None:
    st.query_params.from_dict(link_params())


def share_link() -> str:
    """The full link to this view: the page's URL plus every setting."""
    base = st.context.url or ""
    return f"{base}?{urllib.parse.urlencode(link_params())}"
