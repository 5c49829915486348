"""The language rules (pure): content fallback, Accept-Language, translated service errors,
and the catalogs: every string of the code translated into every language the range speaks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from range_control.core import errors
from range_control.core.languages import (
    Localized,
    hint_translations,
    languages,
    localize,
    negotiate,
)
from range_control.web import catalogs
from tests.support import REPO

ROOT = REPO


def test_a_translation_is_shown_in_its_language() -> None:
    t = {"fr": {"name": "Indicatif"}}
    assert localize("Callsign", t, "name", "fr", "en") == Localized(
        "Indicatif", "fr", translated=True
    )


def test_the_default_language_reads_the_original_unmarked() -> None:
    t = {"fr": {"name": "Indicatif"}}
    assert localize("Callsign", t, "name", "en", "en") == Localized("Callsign", "en")


@pytest.mark.parametrize(
    "translations",
    [
        None,
        {},
        {"de": {"name": "Rufzeichen"}},
        {"fr": {}},
        {"fr": {"name": ""}},
        {"fr": {"name": "   "}},
        {"fr": {"description": "autre champ"}},
        {"fr": "not a mapping"},
    ],
)
def test_a_missing_translation_falls_back_to_the_original_marked(translations: object) -> None:
    got = localize("Callsign", translations, "name", "fr", "en")  # type: ignore[arg-type]
    assert got == Localized("Callsign", "en", original=True)


def test_an_empty_original_is_not_marked() -> None:
    assert localize("", None, "description", "fr", "en") == Localized("", "en")


def test_a_french_event_falls_back_to_french_for_an_english_reader() -> None:
    got = localize("Indicatif", {"en": {"name": "Callsign"}}, "name", "de", "fr")
    assert got == Localized("Indicatif", "fr", original=True)


def test_translations_may_be_models_too() -> None:
    class T:
        title = "Détection"
        briefing = None

    assert localize("Detection", {"fr": T()}, "title", "fr", "en").text == "Détection"
    assert localize("Brief", {"fr": T()}, "briefing", "fr", "en").original


def test_hints_are_matched_by_position() -> None:
    t = {"fr": {"hints": ["premier", {"title": "T", "content": "second"}]}, "de": {"hints": []}}
    assert hint_translations(t, 0) == {"fr": {"content": "premier"}}
    assert hint_translations(t, 1) == {"fr": {"title": "T", "content": "second"}}
    assert hint_translations(t, 2) == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,en;q=0.8", "fr"),
        ("en-GB,fr;q=0.9", "en"),
        ("de,fr;q=0.5", "fr"),
        ("de, nl", None),
        ("", None),
        (None, None),
        ("fr;q=0, en;q=0.1", "en"),
        ("en;q=0.5, fr;q=0.7", "fr"),
        ("fr;q=abc, en", "en"),
        ("*", None),
        ("FR", "fr"),
        ("x" * 5000, None),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert negotiate(header, ("en", "fr")) == expected


def test_a_service_error_is_a_template_with_fields() -> None:
    exc = errors.NotFound("challenge {slug!r} not found", slug="a{b}")
    assert exc.message == str(exc) == "challenge 'a{b}' not found"
    fr = {"challenge {slug!r} not found": "défi {slug!r} introuvable"}
    assert exc.localized(lambda t: fr.get(t, t)) == "défi 'a{b}' introuvable"


def test_an_error_inside_an_error_is_translated_too() -> None:
    inner = errors.NotFound("team {ref!r} not found", ref="x")
    outer = errors.InvalidInput(
        "{source}:{lineno}: {detail}", source="t.csv", lineno=2, detail=inner
    )
    assert outer.message == "t.csv:2: team 'x' not found"
    fr = {"team {ref!r} not found": "équipe {ref!r} introuvable"}
    assert outer.localized(lambda t: fr.get(t, t)) == "t.csv:2: équipe 'x' introuvable"


def test_a_message_without_fields_keeps_its_braces_and_a_broken_translation_the_original() -> None:
    assert errors.InvalidInput("body: {not a field}").message == "body: {not a field}"
    exc = errors.NotFound("hint {hint_id} not found", hint_id=3)
    assert exc.localized(lambda t: "indice {oops} introuvable") == "hint 3 not found"


@pytest.mark.parametrize("lang", [lang for lang in languages() if lang != "en"])
def test_every_string_is_translated(lang: str) -> None:
    """The catalog extracted from the code now: nothing missing, empty or fuzzy, the same
    placeholders, and the compiled .mo current (`python -m range_control.web.catalogs update`,
    then translate, then `compile`)."""
    assert catalogs.problems(lang) == []


def test_french_is_spoken() -> None:
    assert languages() == ("en", "fr")


def _raises_of_errors() -> list[tuple[Path, int, ast.expr]]:
    names = {
        n
        for n, v in vars(errors).items()
        if isinstance(v, type) and issubclass(v, errors.ServiceError)
    }
    found = []
    for path in ROOT.glob("range_control/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args:
                f = node.func
                name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
                if name in names:
                    found.append((path.relative_to(ROOT), node.lineno, node.args[0]))
    return found


def test_no_error_message_is_formatted_before_translation() -> None:
    """An f-string, ``%`` or ``.format`` message cannot be found in a catalog: the fields go
    as keyword arguments (``NotFound("team {ref!r} not found", ref=ref)``)."""
    found = _raises_of_errors()
    assert len(found) > 100
    bad = [
        f"{path}:{line}"
        for path, line, arg in found
        if isinstance(arg, ast.JoinedStr)
        or (isinstance(arg, ast.BinOp) and isinstance(arg.left, (ast.Constant, ast.JoinedStr)))
        or (isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "format")
    ]
    assert bad == []


def test_a_country_flag_is_a_vendored_svg_or_nothing() -> None:
    from flask import Blueprint, Flask

    from range_control.web.filters import FLAGS, country_flag

    assert (FLAGS / "nl.svg").is_file() and (FLAGS / "LICENSE").is_file(), "infra/setup.sh"
    app = Flask(__name__, static_folder=None)
    web = Blueprint("web", __name__, static_folder=str(FLAGS.parent), static_url_path="/assets")
    app.register_blueprint(web)
    with app.test_request_context():
        img = str(country_flag("NL"))
        assert img == '<img class="flag" src="/assets/flags/nl.svg" alt="" width="20" height="15">'
        assert str(country_flag("NLD")) == "" and str(country_flag("ZZ")) == ""
        assert str(country_flag(None)) == "" and str(country_flag("1<")) == ""
