"""English and Vietnamese: every text a person reads goes through gettext message catalogues.

How strings are marked (Babel extracts these keywords; see ``babel.cfg``):

- ``_("...")`` translates now, into the current visitor's language. Placeholders are named
  and filled after translation, ``_("{n:,} words").format(n=n)`` (never an f-string inside
  ``_()``: the catalogue must hold the text with its placeholders, not one filled-in copy).
- ``N_("...")`` only marks a text for extraction and returns it unchanged: for module-level
  constants (labels, defaults) that are translated with ``_()`` where they are shown.
- ``L_("...")`` is a text that becomes its translation when ``str()`` is called on it: for
  texts that a library reads later, in the visitor's script run (Streamlit's cache spinners).
- ``ngettext(singular, plural, n)`` for counts ("1 word" / "2 words"; Vietnamese has one form).

The catalogues are ``embexplorer/locale/<lang>/LC_MESSAGES/messages.po``, edited with the
standard tools, sorted and without source locations so that edits elsewhere never churn them::

    pybabel extract -F babel.cfg -k L_ --no-location --sort-output -o messages.pot .
    pybabel update -i messages.pot -d embexplorer/locale --no-fuzzy-matching --ignore-obsolete

then every new ``msgstr`` is filled in. The catalogue is compiled in memory at first use, so no
binary ``.mo`` file is kept in git. ``tests/test_i18n.py`` fails when a marked text has no
translation, when a translation loses a placeholder, and when a page shows English in Vietnamese.

The language belongs to a visitor, not to the process: it is a context variable that the app sets
at the start of every script run (Streamlit runs each session's script in its own thread). The
core, the CLI and the tests see English unless they set another language.
"""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from ._validation import check_choice

LANGUAGES = {"en": "English", "vi": "Tiếng Việt"}  # each named in its own language
DEFAULT_LANGUAGE = "en"  # the language the source texts are written in
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_language: ContextVar[str] = ContextVar("embexplorer_language", default=DEFAULT_LANGUAGE)


def set_language(code: str) -> None:
    """Use ``code`` ("en" or "vi") for every text translated from now on in this context."""
    check_choice(code, tuple(LANGUAGES), "language")
    _language.set(code)


def current_language() -> str:
    return _language.get()


@contextlib.contextmanager
def language(code: str) -> Iterator[None]:
    """Translate into ``code`` inside the ``with`` block, then go back.

    Examples
    --------
    >>> with language("vi"):
    ...     _("Layers")
    'Các lớp'
    >>> _("Layers")
    'Layers'
    """
    check_choice(code, tuple(LANGUAGES), "language")
    token = _language.set(code)
    try:
        yield
    finally:
        _language.reset(token)


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``code`` (the source language needs none)."""
    if code == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    # Babel is needed only here, so the English path (the CLI) never imports it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with catalogue_path(code).open("rb") as po_file:
        catalogue = read_po(po_file, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)  # a fuzzy entry is not a translation yet
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _(message: str) -> str:
    """``message`` in the current language (itself when it has no translation)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the current language."""
    return translations(_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (translate where it is shown)."""
    return message


class L_(str):
    """A text translated when it is read with ``str()``, in the language current then.

    For texts handed to a library at import time and read later, in the visitor's script run:
    Streamlit reads a cached function's ``show_spinner`` text with ``str()`` when the function
    has to compute (``streamlit.string_util.clean_text``). Anywhere else use ``_()``: formatting
    and concatenation see the English source text.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return _(str.__str__(self))


class Message(str):
    """A text built in the core, in English, that can be said again in any language.

    For what a cached result carries and every visitor reads (why a score is not defined): the
    cache is shared by visitors of both languages, so the result holds the English text (the CLI
    prints it as it is) together with its catalogue text and parameters, and the page shows
    :func:`translated` of it. Build one as ``Message(N_("... {which} ..."), which=...)``; a
    parameter may itself be a Message.

    Examples
    --------
    >>> which = Message(N_("model {name}"), name="B")
    >>> which
    'model B'
    >>> with language("vi"):
    ...     translated(which)
    'mô hình B'
    """

    msgid: str
    params: dict

    def __new__(cls, msgid: str, **params) -> Message:
        text = super().__new__(cls, msgid.format(**params))
        text.msgid, text.params = msgid, params
        return text

    def __reduce__(self):  # a copy (pickle, copy.deepcopy) keeps what it translates from
        return _message, (self.msgid, self.params)


def _message(msgid: str, params: dict) -> Message:
    return Message(msgid, **params)


def translated(text: str) -> str:
    """``text`` in the current language when it is a :class:`Message`, else ``text`` itself
    (a text from outside the catalogue: a model's name, a Python error)."""
    if not isinstance(text, Message):
        return text
    params = {name: translated(value) for name, value in text.params.items()}
    return _(text.msgid).format(**params)
