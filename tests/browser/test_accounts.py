"""People in Debian's Chromium (Playwright), axe-core on every page visited: a delegation is
imported, its captain and a member open their invite links and set passwords, sign in, the
member solves (attributed by name in the portal and the console), the captain removes the
member, whose open session is refused on the next click; the captain adds a second factor and
signs in with its code; an observer's console is read-only and filters attempts by person; an
organiser makes a personal API token and revokes it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from range_control.context import Range
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls
from range_control.services.people import accounts
from tests.support.env import TEST
from tests.support.live import Live, audit, live_range, write_challenge

PASSWORD = "correct horse battery staple"


@pytest.fixture
def people(tmp_path: Path):
    links: dict[str, str] = {}

    def prepare(ctx: Range) -> dict[str, str]:
        pack = tmp_path / "pack"
        write_challenge(pack, "convoy", category="web", flags=["ICE{convoy}"])
        sync(ctx, lint([pack]).challenges, actor=TEST)
        sheet = tmp_path / "delegation.csv"
        sheet.write_text(
            "team,country,name,callsign,email,role\n"
            "Portugal,PT,Ana Silva,ANA,ana@pt.example,captain\n"
            "Portugal,PT,Rui Costa,RUI,,member\n"
            ",,Wanda White,WANDA,,observer\n"
            ",,Olga Org,OLGA,,organiser\n"
        )
        for inv in accounts.import_csv(ctx, sheet, TEST):
            links[inv.account.login] = "/invite/" + inv.token
        controls.start(ctx, TEST)
        return {}

    with live_range(tmp_path, "people", prepare) as served:
        yield served, links


def set_password(page: Page, live: Live, link: str) -> None:
    page.goto(live.url + link)
    audit(page)
    page.get_by_label("New password (12 characters or more)").fill(PASSWORD)
    page.get_by_label("The same again").fill(PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_text(re.compile("Password set: sign in with"))).to_be_visible()


def sign_in(page: Page, login: str, code: str | None = None) -> None:
    page.get_by_label("E-mail or callsign").fill(login)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    if code is not None:
        page.get_by_label("Code of your authenticator app (if you set one up)").fill(code)
    page.get_by_role("button", name="Sign in").click()


def test_a_delegation_signs_in_solves_and_its_captain_removes_a_member(
    browser: Browser, people
) -> None:
    live, links = people
    rui = browser.new_page(bypass_csp=True)
    set_password(rui, live, links["rui"])
    sign_in(rui, "rui")
    expect(rui.get_by_text("Logged in.")).to_be_visible()
    rui.goto(f"{live.url}/portal/challenges/convoy")
    rui.get_by_role("textbox", name="Flag").fill("ICE{convoy}")
    rui.get_by_role("button", name="Submit").click()
    expect(rui.get_by_text(re.compile(r"Correct! \+\d+ points"))).to_be_visible()
    rui.get_by_role("link", name="Our attempts").click()
    expect(rui.get_by_role("cell", name="Rui Costa", exact=True)).to_be_visible()
    audit(rui)

    ana = browser.new_page(bypass_csp=True)
    ana.on("dialog", lambda d: d.accept())
    set_password(ana, live, links["ana@pt.example"])
    sign_in(ana, "ana@pt.example")
    # Ana adds a second factor: the key from the page into "her app" (pyotp), its code back.
    ana.goto(f"{live.url}/portal/security")
    audit(ana)
    key = ana.locator("main p code").first.inner_text().strip()
    app = pyotp.TOTP(key)
    ana.get_by_label("Code from the app").fill(app.now())
    ana.get_by_role("button", name="Turn it on").click()
    expect(ana.get_by_text("Second factor on: sign-ins now ask for its code.")).to_be_visible()
    ana.get_by_role("button", name="Log out").click()
    sign_in(ana, "ana@pt.example")  # the password alone is not enough any more
    expect(ana.get_by_text("unknown account, wrong password or wrong code")).to_be_visible()
    audit(ana)
    sign_in(ana, "ana@pt.example", app.at(time.time() + 30))  # the app's next code
    expect(ana.get_by_text("Logged in.")).to_be_visible()
    ana.get_by_role("link", name="Our people").click()
    expect(ana.get_by_role("cell", name="Rui Costa", exact=True)).to_be_visible()
    audit(ana)
    ana.get_by_role("button", name="Remove Rui Costa").click()
    expect(ana.get_by_text("Rui Costa is no longer in the team.")).to_be_visible()
    audit(ana)
    # Rui's next click: his session is over.
    rui.get_by_role("link", name="Challenges").click()
    expect(rui.get_by_role("heading", name="Team login")).to_be_visible()
    expect(rui.get_by_text(re.compile("no longer a member|session has ended"))).to_be_visible()

    wanda = browser.new_page(bypass_csp=True)
    set_password(wanda, live, links["wanda"])
    sign_in(wanda, "wanda")
    expect(wanda.get_by_text(re.compile("Read-only: your role"))).to_be_visible()
    expect(wanda.locator("#event-pause")).to_be_disabled()
    audit(wanda)
    wanda.goto(f"{live.url}/console/attempts")
    expect(wanda.get_by_text("(Rui Costa)")).to_be_visible()
    audit(wanda)
    wanda.get_by_label("Person").select_option(label="Ana Silva (Portugal)")
    wanda.get_by_role("button", name="Filter").click()
    expect(wanda.get_by_text("No attempts.")).to_be_visible()  # Ana submitted none
    audit(wanda)

    # An organiser makes a personal API token (shown once) and revokes it.
    olga = browser.new_page(bypass_csp=True)
    olga.on("dialog", lambda d: d.accept())
    set_password(olga, live, links["olga"])
    sign_in(olga, "olga")
    olga.get_by_role("link", name="API tokens").click()
    audit(olga)
    olga.get_by_label("Name").fill("dashboard")
    olga.get_by_role("button", name="Create").click()
    expect(olga.locator("#new-token")).to_have_text(re.compile(r"^rco_"))
    audit(olga)
    olga.get_by_role("button", name="Revoke dashboard").click()
    expect(olga.get_by_text("Token revoked.")).to_be_visible()
    expect(olga.get_by_role("cell", name=re.compile("^revoked"))).to_be_visible()
    audit(olga)
