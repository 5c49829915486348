"""The pages' and the API's language (Flask-Babel): chosen per request, applied to the
product's strings, dates, numbers and the event's translated content.

A request's language is the ``lang`` cookie (set by the chooser in the header), else the best
of ``Accept-Language`` the range speaks, else the event's default (``RANGE_DEFAULT_LANGUAGE``).
Catalogs: ``range_control/web/translations/<lang>/LC_MESSAGES/messages.po`` (adding a language:
docs/organiser/languages.md); the compiled ``.mo`` beside each is what Flask-Babel reads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from babel import Locale, dates, numbers
from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, get_translations
from markupsafe import Markup

from range_control.core.errors import ServiceError
from range_control.core.languages import (
    CATALOGS,
    N_,
    Localized,
    format_message,
    languages,
    localize,
    native_name,
    negotiate,
)
from range_control.services.event import scenario

COOKIE = "lang"  # the chooser's (range_control.web.pages.public.choose_language)


# The values the range shows as words (states, results, kinds): one translation each.
LABELS = {
    "not_started": N_("not started"),
    "running": N_("running"),
    "paused": N_("paused"),
    "ended": N_("ended"),
    "upcoming": N_("upcoming"),
    "done": N_("done"),
    "skipped": N_("skipped"),
    "correct": N_("correct"),
    "incorrect": N_("incorrect"),
    "already_solved": N_("already solved"),
    "partial": N_("partial"),
    "solve": N_("solve"),
    "first_blood": N_("first blood"),
    "award": N_("award"),
    "hint": N_("hint"),
    "grade": N_("grade"),
    "late": N_("late"),
    # a graded submission's status
    "ungraded": N_("ungraded"),
    "awaiting second grader": N_("awaiting second grader"),
    "to moderate": N_("to moderate"),
    "graded": N_("graded"),
    "agreed": N_("agreed"),
    "final": N_("final"),
    "first": N_("first grader"),
    "second": N_("second grader"),
    "inject": N_("inject"),
    "phase": N_("phase"),
    "organiser": N_("organiser"),
    "absent": N_("absent"),
    "pending": N_("pending"),
    "failed": N_("failed"),
    "unavailable": N_("unavailable"),
    "healthy": N_("healthy"),
    "unhealthy": N_("unhealthy"),
    "starting": N_("starting"),
    "enabled": N_("enabled"),
    "disabled": N_("disabled"),
    # people's roles
    "grader": N_("grader"),
    "observer": N_("observer"),
    "member": N_("member"),
    "captain": N_("captain"),
    "red": N_("red cell"),
    # a red cell action's outcome
    "success": N_("success"),
    "failure": N_("failure"),
    "unknown": N_("unknown"),
    # error codes, as the title of an error page
    "error": N_("error"),
    "invalid": N_("invalid"),
    "not_found": N_("not found"),
    "unauthorized": N_("unauthorized"),
    "forbidden": N_("forbidden"),
    "locked": N_("locked"),
    "event_not_running": N_("event not running"),
    "conflict": N_("conflict"),
    "rate_limited": N_("rate limited"),
    "engine_failed": N_("engine failed"),
    "schema_mismatch": N_("schema mismatch"),
    "busy": N_("busy"),
    "writer_busy": N_("database busy"),
    "read_only": N_("read-only"),
    "corrupt": N_("corrupt"),
    "internal": N_("internal error"),
    "bad_request": N_("bad request"),
    "method_not_allowed": N_("method not allowed"),
    "request_entity_too_large": N_("request too large"),
    "unsupported_media_type": N_("unsupported media type"),
    "too_many_requests": N_("too many requests"),
}


def label(value: str | None) -> str:
    """A state, result or kind as a word in the reader's language."""
    if not value:
        return ""
    return gettext(LABELS[value]) if value in LABELS else value.replace("_", " ")


def why(entry: Any) -> str:
    """A ledger entry's reason in the reader's language (the organisers' award reasons are
    shown as written)."""
    if not entry.reason:
        return entry.why
    return format_message(entry.reason, entry.values, gettext)


def announcement_title(a: Any) -> Localized:
    """An announcement's title as the reader sees it; a phase's is "Phase: <its title>" with
    the prefix in the reader's language, whatever the language of the title."""
    if a.source != "phase" or not a.title.startswith(scenario.PHASE_PREFIX):
        return tr(a.title, a.translations, "title")
    title = tr(a.title.removeprefix(scenario.PHASE_PREFIX), a.translations, "title")
    return replace(title, text=gettext("Phase: %(title)s", title=title.text))


def default_language() -> str:
    return current_app.extensions["range"].settings.default_language


def select_language() -> str:
    langs = languages()
    chosen = request.cookies.get(COOKIE)
    if chosen in langs:
        return chosen
    return negotiate(request.headers.get("Accept-Language"), langs) or default_language()


def current_language() -> str:
    """The request's language, resolved once per request."""
    lang = g.get("_lang")
    if lang is None:
        locale = get_locale()
        lang = g._lang = locale.language if locale is not None else default_language()
    return lang


def _catalog() -> Any:
    """The request's translations, looked up once per request: Flask-Babel resolves the
    locale and the domain again on every call, which a page of 30 cards calls hundreds of
    times."""
    found = g.get("_catalog")
    if found is None:
        found = g._catalog = get_translations()
    return found


def gettext(text: str, **values: Any) -> str:
    """Flask-Babel's ``gettext`` (``%(name)s`` fields), on the request's cached catalog."""
    out = _catalog().ugettext(text)
    return out % values if values else out


def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    values.setdefault("num", num)
    return _catalog().ungettext(singular, plural, num) % values


def tr(original: str | None, translations: Any, field: str) -> Localized:
    """A text of the event's content in the reader's language (fallback rules:
    ``range_control.core.languages.localize``)."""
    return localize(original, translations, field, current_language(), default_language())


def lang_attr(text: Localized) -> Markup:
    """`` lang="xx"`` on the element around a text written in another language than the
    page's (screen readers switch voice), nothing otherwise."""
    if text.lang == current_language():
        return Markup("")
    return Markup(' lang="{}"').format(text.lang)


def original_mark(text: Localized) -> Markup:
    """The discreet mark beside a text shown in its original language to a reader of another."""
    if not text.original:
        return Markup("")
    label = gettext("original: %(language)s", language=native_name(text.lang))
    return Markup(' <small class="original">({})</small>').format(label)


def when(value: datetime | None) -> Markup:
    """A time as the reader's locale writes it, in UTC (the range's clock), and a slot that the
    page's script fills with the reader's local time."""
    if value is None:
        return Markup("-")
    return _when(value.astimezone(UTC), current_language())


@lru_cache(maxsize=8192)
def _when(utc: datetime, lang: str) -> Markup:
    """Cached: a board of 500 teams writes 500 times on every render, nearly all as before
    (Babel's formatting costs ~10 us a call, more through Flask-Babel)."""
    shown = dates.format_datetime(utc, "medium", tzinfo=UTC, locale=lang)
    return Markup(
        '<span class="utc">{} UTC</span><span class="local" data-local="{}"></span>'
    ).format(shown, utc.isoformat())


def number(value: int | float | None) -> str:
    """A number as the reader's locale writes it (``12,345``, ``12 345``)."""
    if value is None:
        return ""
    lang = current_language()
    group = _thousands(lang)
    if isinstance(value, int) and group is not None:
        return f"{value:,}".replace(",", group)  # what Babel writes, at a fraction of its cost
    return numbers.format_decimal(value, locale=lang)


@lru_cache(maxsize=64)
def _thousands(lang: str) -> str | None:
    """The locale's group separator when it groups by threes (else None: Babel formats)."""
    locale = Locale.parse(lang)
    if locale.decimal_formats[None].grouping != (3, 3):
        return None
    return numbers.get_group_symbol(locale)


def filesize(value: int | None) -> str:
    """A size as people read it, the number in the reader's locale (``1.5 MB``, ``1,5 MB``)."""
    if value is None:
        return ""
    for unit, size in (("MB", 1_000_000), ("kB", 1_000)):
        if value >= size:
            shown = numbers.format_decimal(round(value / size, 1), locale=current_language())
            return f"{shown} {unit}"
    return ngettext("%(num)d byte", "%(num)d bytes", value)


def _translate(text: str) -> str:
    return gettext(text) if text else text


def message(exc: ServiceError) -> str:
    """A service's refusal in the reader's language."""
    return exc.localized(_translate)


def install(app: Flask) -> None:
    langs = languages()
    default = app.extensions["range"].settings.default_language
    if default not in langs:
        raise ValueError(
            f"RANGE_DEFAULT_LANGUAGE: {default!r} is not one of the range's languages "
            f"({', '.join(langs)}); a language is added by its catalog "
            "(docs/organiser/languages.md)"
        )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(CATALOGS)
    app.config["BABEL_DEFAULT_LOCALE"] = default
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    Babel(app, locale_selector=select_language)
    # Jinja's newstyle gettext fills the fields itself (escaped): it wants the bare lookups.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda text: _catalog().ugettext(text),
        lambda singular, plural, num: _catalog().ungettext(singular, plural, num),
        newstyle=True,
    )
    app.extensions["translate"] = _translate  # the API's error messages
    app.jinja_env.globals.update(
        current_language=current_language,
        languages=langs,
        native_name=native_name,
        default_language=default,
    )
    # Filters, not globals: Jinja calls a filter directly, a global through its context.
    app.jinja_env.filters.update(
        tr=tr,
        original_mark=original_mark,
        lang_attr=lang_attr,
        label=label,
        why=why,
        announcement_title=announcement_title,
        when=when,
        num=number,
        filesize=filesize,
    )
