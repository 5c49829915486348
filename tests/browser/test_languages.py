"""English and French in a real browser (Debian's Chromium through Playwright, the app served
by waitress on loopback): a francophone team plays in French, the public scoreboard switches by
the chooser, the console works in French. axe-core on every page visited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from range_control.context import Range
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls, scenario
from range_control.services.people import teams
from tests.support.env import ADMIN, TEST
from tests.support.live import Live, audit, live_range, shot, write_challenge

FR_CONVOY = {
    "name": "Convoy Orders",
    "category": "web",
    "description": "Find the **convoy** orders.",
    "hints": [{"title": "Look closer", "content": "It is in the query.", "cost": 10}],
    "translations": {
        "fr": {
            "name": "Ordres de convoi",
            "description": "Trouvez les ordres du **convoi**.",
            "hints": [{"title": "Regardez mieux", "content": "C'est dans la requête."}],
        }
    },
}
SCENARIO = {
    "event": "ICE",
    "phases": [
        {
            "id": "one",
            "title": "Detection",
            "duration": "2h",
            "challenges": ["convoy", "plain"],
            "briefing": "Find the orders.",
            "translations": {"fr": {"title": "Détection", "briefing": "Trouvez les ordres."}},
            "injects": [
                {
                    "at": "0s",
                    "title": "FLASH: convoy 7 rerouted",
                    "message": "Check the orders.",
                    "translations": {
                        "fr": {
                            "title": "FLASH : convoi 7 dérouté",
                            "message": "Vérifiez les ordres.",
                        }
                    },
                }
            ],
        }
    ],
}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    def prepare(ctx: Range) -> dict[str, str]:
        pack = tmp_path / "pack"
        write_challenge(pack, "convoy", **FR_CONVOY)
        write_challenge(pack, "plain", name="Plain Text", description="Only in English.")
        sync(ctx, lint([pack]).challenges, actor=TEST)
        tokens = {
            name: teams.add_team(ctx, name, cc, actor=TEST).token
            for name, cc in (("Belgique", "BE"), ("Estonia", "EE"))
        }
        scenario.load(ctx, scenario.parse(SCENARIO), TEST)
        controls.start(ctx, TEST)
        scenario.apply(ctx)
        return tokens

    with live_range(tmp_path, "browser-fr", prepare) as served:
        yield served


def french_page(browser: Browser) -> Page:
    """A browser set to French in Paris: Accept-Language fr-FR, local time UTC+1/+2."""
    context = browser.new_context(bypass_csp=True, locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    return page


def test_a_francophone_team_plays_in_french(browser: Browser, live: Live) -> None:
    page = french_page(browser)
    page.goto(f"{live.url}/portal/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Connexion équipe")).to_be_visible()
    audit(page)
    page.get_by_label("Jeton d'équipe").fill(live.tokens["Belgique"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_text("Connecté en tant que Belgique.")).to_be_visible()
    # The list: the phase and the challenge in French, the untranslated one marked original.
    expect(page.get_by_role("heading", name="Détection")).to_be_visible()
    expect(page.get_by_role("link", name="Ordres de convoi")).to_be_visible()
    expect(page.locator(".card", has_text="Plain Text").locator(".original")).to_have_text(
        "(original : English)"
    )
    expect(page.locator(".banner")).to_contain_text("Phase : Détection")
    expect(page.locator(".banner .pill")).to_have_text("en cours")
    audit(page)
    page.get_by_role("link", name="Ordres de convoi").click()
    expect(page.get_by_role("heading", name=re.compile("Ordres de convoi"))).to_be_visible()
    expect(page.locator(".description")).to_have_text("Trouvez les ordres du convoi.")
    # A hint: its price and confirmation in French, its content in French once unlocked.
    page.get_by_label("Y consacrer 10 points").check()
    page.get_by_role("button", name="Débloquer").click()
    expect(page.get_by_text("Indice débloqué.")).to_be_visible()
    expect(page.get_by_text("C'est dans la requête.")).to_be_visible()
    # Flags: the results in French.
    page.get_by_role("textbox", name="Drapeau").fill("ICE{wrong}")
    page.get_by_role("button", name="Soumettre").click()
    expect(page.get_by_text("Drapeau incorrect.")).to_be_visible()
    page.get_by_role("textbox", name="Drapeau").fill("ICE{convoy}")
    page.get_by_role("button", name="Soumettre").click()
    expect(page.get_by_text("Correct ! +100 points.")).to_be_visible()
    audit(page)
    shot(page, "challenge-page-fr")
    # The announcements: the inject and the phase briefing in French.
    page.get_by_role("link", name="Annonces").click()
    expect(page.get_by_role("heading", name="FLASH : convoi 7 dérouté")).to_be_visible()
    expect(page.get_by_text("Vérifiez les ordres.")).to_be_visible()
    expect(page.get_by_role("heading", name="Phase : Détection")).to_be_visible()
    # Times in UTC, the reader's own time beside (Paris is not UTC).
    expect(page.locator(".announcement .local").first).to_contain_text("chez vous")
    audit(page)


def test_the_public_scoreboard_switches_language_by_the_chooser(
    browser: Browser, live: Live
) -> None:
    page = browser.new_page(bypass_csp=True, locale="en-GB")
    page.goto(f"{live.url}/")
    expect(page.get_by_role("heading", name="Ranking")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    audit(page)
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Français").click()
    expect(page.get_by_role("heading", name="Classement")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(".matrix thead")).to_contain_text("Ordres de convoi")
    expect(page.locator(".banner")).to_contain_text("Phase : Détection")
    audit(page)
    shot(page, "scoreboard-fr")
    # The live poll keeps the language (the fragment follows the cookie).
    live_etag = page.locator("#board").get_attribute("data-etag") or ""
    assert live_etag.endswith('-fr"'), live_etag
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Ranking")).to_be_visible()


def test_the_console_in_french(browser: Browser, live: Live) -> None:
    page = french_page(browser)
    page.goto(f"{live.url}/console/login")
    expect(page.get_by_role("heading", name="Console des organisateurs")).to_be_visible()
    audit(page)
    page.get_by_label("Jeton d'organisateur").fill(ADMIN)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Pilotage de l'événement")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_enabled()
    audit(page)
    form = page.locator("form", has=page.get_by_role("button", name="Publier maintenant"))
    form.get_by_label("Titre").first.fill("Convoy 9 delayed")
    form.get_by_label("Message (markdown)").first.fill("Expect it at 1400Z.")
    fr = form.get_by_role("group", name=re.compile("En Français"))
    fr.get_by_label("Titre").fill("Convoi 9 retardé")
    fr.get_by_label("Message (markdown)").fill("Attendez-le à 1400Z.")
    form.get_by_role("button", name="Publier maintenant").click()
    expect(page.get_by_text("Annonce publiée.")).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("C'est fait : l'événement est maintenant en pause.")).to_be_visible()
    audit(page)
    shot(page, "console-fr")
    team = french_page(browser)
    team.goto(f"{live.url}/announcements")
    expect(team.get_by_role("heading", name="Convoi 9 retardé")).to_be_visible()
    expect(team.get_by_text("Attendez-le à 1400Z.")).to_be_visible()
    english = browser.new_page(bypass_csp=True, locale="en-US")
    english.goto(f"{live.url}/announcements")
    expect(english.get_by_role("heading", name="Convoy 9 delayed")).to_be_visible()
