"""English and French through the pages and the API (Flask's test client, CSRF on): which
language a request gets, the product's strings, dates and numbers, and the event's translated
content with its fallback. Content on both databases (JSON columns); the browser tests
(tests/browser/test_pages.py) read the same pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from range_control.services.event import controls, scenario
from tests.support.env import TEST, Env, make_env, migrated_sqlite
from tests.support.web import console, csrf, login, post, token_of

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
PACK = {
    "name": "Callsign",
    "description": "Find the **callsign**.",
    "hints": [
        {"title": "Where", "content": "In the briefing.", "cost": 0},
        {"title": "Paid", "content": "Costs points.", "cost": 10},
    ],
    "translations": {
        "fr": {
            "name": "Indicatif",
            "description": "Trouvez l'**indicatif**.",
            "hints": [
                {"title": "Où", "content": "Dans le briefing."},
                {"title": "Payant", "content": "Coûte des points."},
            ],
        }
    },
}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Env]:
    """SQLite only: what a request's language is does not depend on the database."""
    e = make_env(migrated_sqlite(tmp_path / "range.db"), tmp_path)
    yield e
    e.ctx.store.dispose()


def html_lang(body: str) -> str:
    m = re.search(r'<html lang="([a-z]+)"', body)
    assert m, body[:200]
    return m.group(1)


def test_the_default_is_english_and_accept_language_picks_french(site: Env) -> None:
    en = site.client.get("/").get_data(as_text=True)
    assert html_lang(en) == "en" and ">Ranking</h2>" in en
    fr = site.client.get("/", headers=FR).get_data(as_text=True)
    assert html_lang(fr) == "fr" and ">Classement</h2>" in fr and "Ranking" not in fr
    de = site.client.get("/", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert html_lang(de) == "en"


def test_the_chooser_sets_a_cookie_that_wins_over_the_browser(site: Env) -> None:
    c = site.app.test_client()
    r = c.get("/language/fr?next=/announcements")
    assert r.status_code == 303 and r.headers["Location"] == "/announcements"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("lang=fr;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = c.get("/announcements", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(page) == "fr" and "<h1>Annonces</h1>" in page
    c.get("/language/en")
    assert html_lang(c.get("/", headers=FR).get_data(as_text=True)) == "en"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil", "evil", "", "/%0d%0aSet-Cookie:x=y"],
)
def test_the_chooser_only_sends_back_to_this_site(site: Env, target: str) -> None:
    r = site.client.get("/language/fr", query_string={"next": target})
    assert r.status_code == 303
    location = r.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "\r" not in location and "\n" not in location


def test_an_unknown_language_is_404(site: Env) -> None:
    assert site.client.get("/language/xx").status_code == 404
    assert site.client.get("/language/" + "f" * 500).status_code == 404
    assert "lang=" not in site.client.get("/language/de").headers.get("Set-Cookie", "")


def test_the_chooser_is_on_every_page_with_each_language_named_in_itself(site: Env) -> None:
    for path in ("/", "/announcements", "/portal/login", "/console/login"):
        body = site.client.get(path, headers=FR).get_data(as_text=True)
        nav = body.split('<nav class="languages"', 1)[1].split("</nav>", 1)[0]
        assert 'lang="en" hreflang="en">English</a>' in nav, path
        assert '<span aria-current="true" lang="fr">Français</span>' in nav, path


def test_the_event_default_language(tmp_path: Path) -> None:
    e = make_env(migrated_sqlite(tmp_path / "range.db"), tmp_path, default_language="fr")
    try:
        assert html_lang(e.client.get("/").get_data(as_text=True)) == "fr"
        assert (
            html_lang(e.client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True))
            == "en"
        )
        # A scenario written in French: its phase announced in each reader's words.
        spec = {"event": "ICE", "phases": [{"id": "un", "title": "Détection", "duration": "1h"}]}
        scenario.load(e.ctx, scenario.parse(spec), TEST)
        controls.start(e.ctx, TEST)
        scenario.apply(e.ctx)
        fr = e.client.get("/announcements").get_data(as_text=True)
        assert "<h2>Phase : Détection</h2>" in fr
        en = e.client.get("/announcements", headers={"Accept-Language": "en"}).get_data(
            as_text=True
        )
        assert '<h2 lang="fr">Phase: Détection <small class="original">(original: Français)' in en
    finally:
        e.ctx.store.dispose()


def test_a_default_language_without_a_catalog_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"RANGE_DEFAULT_LANGUAGE: 'de' is not one of"):
        make_env(migrated_sqlite(tmp_path / "range.db"), tmp_path, default_language="de")


def test_public_pages_are_cached_per_language(site: Env) -> None:
    en = site.client.get("/board")
    fr = site.client.get("/board", headers=FR)
    assert en.headers["ETag"] != fr.headers["ETag"]
    assert "Accept-Language" in fr.headers["Vary"] and "Cookie" in fr.headers["Vary"]
    again = site.client.get("/board", headers={**FR, "If-None-Match": fr.headers["ETag"]})
    assert again.status_code == 304
    other = site.client.get("/board", headers={"If-None-Match": fr.headers["ETag"]})
    assert other.status_code == 200 and "Ranking" in other.get_data(as_text=True)


def test_api_errors_follow_the_request_language_with_the_same_code(env: Env) -> None:
    _, h = env.team()
    r_en = env.client.get("/api/v1/challenges/nope", headers=h)
    r_fr = env.client.get("/api/v1/challenges/nope", headers={**h, **FR})
    assert r_en.status_code == r_fr.status_code == 404
    assert r_en.json["error"] == {"code": "not_found", "message": "challenge 'nope' not found"}
    assert r_fr.json["error"] == {"code": "not_found", "message": "défi 'nope' introuvable"}
    r = env.client.get("/api/v1/challenges", headers=FR)
    assert r.json["error"] == {
        "code": "unauthorized",
        "message": "un jeton d'équipe valide est requis",
    }
    r = env.client.get("/api/v1/nowhere", headers=FR)
    assert r.status_code == 404 and r.json["error"]["message"] == "page ou ressource introuvable"
    # A body that fails validation: each field's problem, in the request's language.
    bad = {"title": "x" * 201, "message": 5, "colour": "red"}
    r_en = env.client.post("/api/v1/admin/announcements", headers=env.admin(), json=bad)
    r_fr = env.client.post("/api/v1/admin/announcements", headers={**env.admin(), **FR}, json=bad)
    assert r_en.status_code == r_fr.status_code == 400
    assert r_en.json["error"] == {
        "code": "invalid",
        "message": "title: too long (maximum length 200); "
        "message: must be text; colour: unknown field",
    }
    assert r_fr.json["error"] == {
        "code": "invalid",
        "message": "title : trop long (longueur maximale 200); "
        "message : doit être du texte; colour : champ inconnu",
    }


def test_a_french_team_reads_the_portal_in_french(env: Env) -> None:
    _, h = env.team()
    env.challenge("callsign", **PACK)
    env.challenge("plain", name="Plain", description="Only in English.")
    env.start()
    c = login(env, token_of(h))
    c.get("/language/fr")
    listing = c.get("/portal/").get_data(as_text=True)
    assert "<strong>Indicatif</strong>" in listing and "Callsign" not in listing
    assert (
        '<strong lang="en">Plain</strong></a> <small class="original">(original : English)'
        in listing
    )
    assert "Défis" in listing and "Se déconnecter" in listing
    page = c.get("/portal/challenges/callsign").get_data(as_text=True)
    assert "<h1><span>Indicatif</span>" in page and "Trouvez l'<strong>indicatif</strong>" in page
    assert "Dans le briefing." in page and "In the briefing." not in page
    assert "Payant" in page and "Coûte des points." not in page  # not unlocked: no content
    assert "Soumettre un drapeau" in page and "10 points" in page
    plain = c.get("/portal/challenges/plain").get_data(as_text=True)
    assert '<div class="description" lang="en"><p>Only in English.</p>' in plain
    assert "(original : English)" in plain
    missing = c.get("/portal/challenges/nope")
    assert missing.status_code == 404
    assert "<h1>404: introuvable</h1>\n<p>défi &#39;nope&#39; introuvable</p>" in missing.get_data(
        as_text=True
    )
    r = post(
        c, "/portal/challenges/callsign", "/portal/challenges/callsign/attempt", {"flag": "wrong"}
    )
    assert "Drapeau incorrect." in r.get_data(as_text=True)
    r = post(
        c,
        "/portal/challenges/callsign",
        "/portal/challenges/callsign/attempt",
        {"flag": "ICE{callsign}"},
    )
    assert "Correct ! +100 points." in r.get_data(as_text=True)


def test_translations_in_the_api_never_show_what_the_team_may_not_read(env: Env) -> None:
    _, h = env.team()
    env.challenge("first")
    env.challenge("callsign", requirements=["first"], **PACK)
    env.start()
    locked = env.client.get("/api/v1/challenges/callsign", headers=h).json
    assert locked["locked"] and locked["translations"] == {"fr": {"name": "Indicatif"}}
    env.attempt(h, "first", "ICE{first}")
    detail = env.client.get("/api/v1/challenges/callsign", headers=h).json
    assert detail["translations"]["fr"]["description"] == "Trouvez l'**indicatif**."
    free, paid = detail["hints"]
    assert free["translations"] == {"fr": {"title": "Où", "content": "Dans le briefing."}}
    assert paid["content"] is None and paid["translations"] == {"fr": {"title": "Payant"}}
    listed = env.client.get("/api/v1/challenges", headers=h).json
    assert {c["slug"]: c["translations"] for c in listed}["callsign"] == {
        "fr": {"name": "Indicatif"}
    }


def test_the_scenario_and_announcements_in_french(env: Env) -> None:
    _, h = env.team()
    spec = {
        "event": "ICE",
        "phases": [
            {
                "id": "one",
                "title": "Detection",
                "briefing": "Find them.",
                "duration": "1h",
                "translations": {"fr": {"title": "Détection", "briefing": "Trouvez-les."}},
                "injects": [
                    {
                        "at": "0s",
                        "title": "FLASH",
                        "message": "Convoy rerouted.",
                        "translations": {"fr": {"title": "FLASH", "message": "Convoi dérouté."}},
                    },
                    {"at": "0s", "title": "English only", "message": "No translation."},
                ],
            }
        ],
    }
    scenario.load(env.ctx, scenario.parse(spec), TEST)
    controls.start(env.ctx, TEST)
    scenario.apply(env.ctx)
    c = login(env, token_of(h))
    c.get("/language/fr")
    page = c.get("/portal/announcements").get_data(as_text=True)
    assert "<h2>Phase : Détection</h2>" in page and "Trouvez-les." in page
    assert "Convoi dérouté." in page and "Convoy rerouted." not in page
    assert '<h2 lang="en">English only <small class="original">(original : English)' in page
    assert "Phase :</span>" not in page and "Phase : <strong>Détection</strong>" in page
    board = c.get("/").get_data(as_text=True)
    assert "Phase : <strong>Détection</strong>" in board
    api = env.client.get("/api/v1/event", headers=h).json
    assert api["phase"]["translations"] == {
        "fr": {"title": "Détection", "briefing": "Trouvez-les."}
    }


def test_the_console_posts_an_announcement_in_both_languages(env: Env) -> None:
    _, h = env.team()
    env.start()
    c = console(env)
    c.get("/language/fr")
    index = c.get("/console/").get_data(as_text=True)
    assert "<h2>Pilotage de l'événement</h2>" in index and "En Français (facultatif" in index
    r = post(
        c,
        "/console/",
        "/console/announcements",
        {"title": "Convoy 7", "body": "Rerouted.", "title_fr": "Convoi 7", "body_fr": "Dérouté."},
    )
    assert "Annonce publiée." in r.get_data(as_text=True)
    items = env.client.get("/api/v1/announcements", headers=h).json
    assert items[0]["title"] == "Convoy 7"
    assert items[0]["translations"] == {"fr": {"title": "Convoi 7", "body": "Dérouté."}}
    r = env.client.post(
        "/api/v1/admin/announcements",
        headers=env.admin(),
        json={"title": "T", "translations": {"fr": {"title": ""}}},
    )
    assert r.status_code == 400 and "translations" in r.json["error"]["message"]
    r = env.client.post(
        "/api/v1/admin/announcements",
        headers=env.admin(),
        json={"title": "T", "translations": {"FR!": {"title": "x"}}},
    )
    assert r.status_code == 400
    assert r.json["error"]["message"] == "translations key 'FR!': must match ^[a-z]{2,3}$"


def test_dates_and_numbers_per_language(env: Env) -> None:
    a, h = env.team()
    env.challenge("big", value=12345)
    env.start()
    env.attempt(h, "big", "ICE{big}")
    en = env.client.get(f"/teams/{a}").get_data(as_text=True)
    fr = env.client.get(f"/teams/{a}", headers=FR).get_data(as_text=True)
    assert "<strong>12,345</strong> points" in en
    assert "<strong>12\u202f345</strong> points" in fr
    # The solve at the test clock's 2026-07-01 09:00 UTC, as each language writes it.
    assert re.search(r'<span class="utc">Jul 1, 2026, 9:00:00\sAM UTC</span>', en)
    assert '<span class="utc">1 juil. 2026, 09:00:00 UTC</span>' in fr
    assert re.search(r'<span class="local" data-local="[0-9T:+-]+"></span>', fr)
    # Why this score: the reason in the reader's language; the API sends the English only.
    assert "<td>valeur fixe 12345</td>" in fr and "<td>static value 12345</td>" in en
    entry = env.client.get(f"/api/v1/scoreboard/teams/{a}").json["entries"][0]
    assert entry["why"] == "static value 12345" and set(entry) == {
        "kind",
        "challenge",
        "points",
        "at",
        "why",
    }


def test_csrf_stays_on_every_form_in_french(env: Env) -> None:
    c = env.app.test_client()
    c.get("/language/fr")
    assert csrf(c, "/portal/login") and csrf(c, "/console/login")
    r = c.post("/portal/login", data={"token": "x"})
    assert r.status_code == 400
