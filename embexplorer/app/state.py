"""Every setting of every page in the page's address, so a copied link reproduces the view.

Widget keys double as query-string names. The link is read once per session (the first run), and
written back after every run; between pages the values live in ``st.session_state``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import zlib
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
MAX_NEIGHBOURS = 20  # the Explore page's k slider goes this far (fewer with few items)
MAX_SAVED_VIEWS = 10  # saved views kept in the link
MAX_VIEWS_IN_URL = 6_000  # characters of the encoded list; a longer list is refused


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
        # Layers / Geometry / Context pages
        "layer_method": UrlField("spearman", LAYER_METHODS),
        "log_scree": UrlField(True),
        "rot_seed": UrlField(0),
        "exclude_first": UrlField(False),
        "word": UrlField(DEFAULT_WORD),
        # Explore page
        "q": UrlField(""),
        "regex": UrlField(False),
        "k": UrlField(5, tuple(range(1, MAX_NEIGHBOURS + 1))),
        "overlap": UrlField(False),
        "views": UrlField(""),
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


# --- saved views (a named list of links, kept in the link itself) ---------------------------------


@dataclass(frozen=True)
class SavedView:
    """A named view: the page's URL path and the settings that differ from the defaults (the
    text always, when it fits in a link)."""

    name: str
    page: str
    params: dict

    def link(self, base: str = "", views: str = "") -> str:
        """``base/page?settings`` (``views`` appended, so the link carries the whole list)."""
        params = {**self.params, **({"views": views} if views else {})}
        return f"{base.rstrip('/')}/{self.page}?{urllib.parse.urlencode(params)}"


def view_params(params: dict[str, str]) -> dict[str, str]:
    """The settings of a link worth saving: those that differ from their defaults, and the text."""
    fields = url_fields()
    return {
        key: value
        for key, value in params.items()
        if key in fields
        and key != "views"
        and (key == "text" or value != UrlField.encode(fields[key].default))
    }


def encode_views(views: list[SavedView]) -> str:
    """The list as one short query value: JSON, zlib-compressed (a text repeated in every view
    costs little), base64url without padding. Empty for no views."""
    if not views:
        return ""
    data = json.dumps([[v.name, v.page, v.params] for v in views], separators=(",", ":"))
    packed = base64.urlsafe_b64encode(zlib.compress(data.encode("utf-8"), 9))
    return packed.decode("ascii").rstrip("=")


def decode_views(encoded: str) -> list[SavedView]:
    """The list from :func:`encode_views`; an empty list for anything that does not decode
    (a hand-edited or truncated link), never an error. At most :data:`MAX_SAVED_VIEWS`."""
    if not encoded:
        return []
    try:
        packed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        rows = json.loads(zlib.decompress(packed, bufsize=2**16).decode("utf-8"))
        views = [
            SavedView(str(name), str(page), {str(k): str(v) for k, v in params.items()})
            for name, page, params in rows
        ]
    except (ValueError, TypeError, AttributeError, zlib.error):
        return []
    return views[:MAX_SAVED_VIEWS]


def apply_view(view: SavedView) -> None:
    """Put a saved view's settings into the session (callback: before any widget is drawn);
    a setting it does not name goes back to its default, the text stays when it has none."""
    state = st.session_state
    for key, field in url_fields().items():
        if key in ("views", "text") and key not in view.params:
            continue
        value = field.parse(view.params[key]) if key in view.params else None
        state[key] = field.default if value is None else value
