"""Languages: which the range speaks, and the fallback rules for translated content.

Two kinds of text are translated. The product's own strings (pages, API error messages) live in
gettext catalogs under ``range_control/web/translations/<lang>/LC_MESSAGES/messages.po``
(Flask-Babel reads them; ``range_control/web/i18n.py``). The event's content (challenge names,
descriptions and hints, phase titles and briefings, injects, announcements) is written by the
organisers in the event's default language (``RANGE_DEFAULT_LANGUAGE``) and may carry a
``translations:`` block per language; :func:`localize` picks the text a reader sees. Pure: no
Flask, no database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# The catalogs of the product's own strings: one directory per language, English being the
# source language (it has no catalog). Adding a language is adding its directory.
CATALOGS = Path(__file__).resolve().parent.parent / "web" / "translations"
SOURCE_LANGUAGE = "en"
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
# Names of languages in themselves, for the chooser (a language without one shows its code).
NATIVE_NAMES = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "nl": "Nederlands",
    "pl": "Polski",
    "it": "Italiano",
    "es": "Español",
    "pt": "Português",
}


def N_(text: str) -> str:
    """Marks a constant for the catalogs (``pybabel``'s keyword ``N_``); translated where it
    is shown, not where it is written."""
    return text


def format_message(
    template: str, values: Mapping[str, object], translate: Callable[[str], str]
) -> str:
    """``template`` (English, with ``str.format`` fields) in the language of ``translate`` (a
    gettext), filled with ``values``; a translation whose fields do not fit falls back to the
    English. Without values the text is used as it is (no braces to escape)."""
    text = translate(template)
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return template.format(**values)


@cache
def languages() -> tuple[str, ...]:
    """The languages the product speaks: English, then every catalog present, sorted."""
    found = sorted(
        p.name
        for p in CATALOGS.glob("*")
        if LANGUAGE_RE.match(p.name) and (p / "LC_MESSAGES" / "messages.po").is_file()
    )
    return (SOURCE_LANGUAGE, *[lang for lang in found if lang != SOURCE_LANGUAGE])


def native_name(lang: str) -> str:
    return NATIVE_NAMES.get(lang, lang)


@dataclass(frozen=True)
class Localized:
    """A text as one reader sees it: ``lang`` is the language it is written in; ``translated``
    when it is a translation; ``original`` when the reader asked for another language that has
    no translation of it (the pages then mark it as the original)."""

    text: str
    lang: str
    original: bool = False
    translated: bool = False

    def __str__(self) -> str:  # Jinja escapes it as it does any text
        return self.text


def localize(
    original: str | None,
    translations: Mapping[str, Any] | None,
    field: str,
    lang: str,
    default: str,
) -> Localized:
    """``original`` (written in ``default``) as a reader of ``lang`` sees it.

    ``translations`` is ``{lang: {field: text}}``. A missing or empty translation falls back to
    the original, marked as such (the reader asked for another language)."""
    text = original or ""
    if lang == default:
        return Localized(text, default)
    entry = (translations or {}).get(lang)
    value: Any = entry.get(field) if isinstance(entry, Mapping) else getattr(entry, field, None)
    if isinstance(value, str) and value.strip():
        return Localized(value, lang, translated=True)
    return Localized(text, default, original=bool(text))


def hint_translations(translations: Mapping[str, Any] | None, position: int) -> dict[str, Any]:
    """The translations of one hint, ``{lang: {title, content}}``, from a challenge's
    ``{lang: {hints: [str | {title, content}]}}`` (a bare string is the content)."""
    out: dict[str, Any] = {}
    for lang, entry in (translations or {}).items():
        hints = entry.get("hints") if isinstance(entry, Mapping) else None
        if not isinstance(hints, list) or position >= len(hints):
            continue
        item = hints[position]
        out[lang] = {"content": item} if isinstance(item, str) else dict(item)
    return out


def negotiate(accept: str | None, supported: tuple[str, ...]) -> str | None:
    """The best of ``supported`` for an ``Accept-Language`` header: q-values honoured, a
    regional tag matching its language (``fr-CA`` is ``fr``; Werkzeug's ``best_match`` prefers
    any exact match, so ``fr-CA,en;q=0.8`` would be English); None when none is acceptable."""
    best: tuple[float, int, str] | None = None
    for order, part in enumerate((accept or "")[:1000].split(",")[:50]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if q > 0 and lang in supported and (best is None or (q, -order) > best[:2]):
            best = (q, -order, lang)
    return best[2] if best else None
