"""The pages in a real browser: Debian's Chromium driven by Playwright, against the real app
served by waitress on loopback (SQLite, the real clock). Screenshots of the scoreboard, a
challenge page and the console go to ``test-artifacts/`` (or ``$RANGE_TEST_ARTIFACTS``)."""

from __future__ import annotations

import re
import socket

from playwright.sync_api import Browser, expect

from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances
from range_control.services.environments.desired import desired_state
from range_control.services.people import teams
from tests.support.env import ADMIN, TEST
from tests.support.live import Live, audit, doc_shot, shot, team_login
from tests.support.live import write_challenge as _challenge


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_solve_reaches_the_open_scoreboard_within_5_s(browser: Browser, live: Live) -> None:
    board = browser.new_page(bypass_csp=True)
    board.goto(f"{live.url}/")
    audit(board)
    row = board.locator("tr", has=board.get_by_role("link", name="Estonia"))
    expect(row.locator("td.score")).to_have_text("0")
    team = browser.new_page(bypass_csp=True)
    team_login(team, live, "Estonia")
    doc_shot(team, "portal")
    team.get_by_role("link", name="Convoy").click()
    expect(team.get_by_role("heading", name=re.compile("Convoy"))).to_be_visible()
    expect(team.locator(".description strong")).to_have_text("convoy")
    team.get_by_role("textbox", name="Flag").fill("ICE{wrong}")
    team.get_by_role("button", name="Submit").click()
    expect(team.get_by_text("Incorrect flag.")).to_be_visible()
    team.get_by_role("textbox", name="Flag").fill("ICE{convoy}")
    team.get_by_role("button", name="Submit").click()
    expect(team.get_by_text("Correct! +100 points.")).to_be_visible()
    audit(team)
    shot(team, "challenge-page")
    # The open scoreboard page was not reloaded: the live poll brings the new score.
    expect(row.locator("td.score")).to_have_text("100", timeout=5_000)
    expect(board.locator(".matrix td.fb")).to_have_count(1)
    shot(board, "scoreboard")
    doc_shot(board, "scoreboard")
    # "Why this score": the team's row opens its ledger.
    board.get_by_role("link", name="Estonia").click()
    expect(board.get_by_role("cell", name="solve", exact=True)).to_be_visible()
    expect(board.locator("tfoot td.num")).to_have_text("100")
    audit(board)
    # The projector's view of the same board.
    board.goto(f"{live.url}/?large=1")
    expect(row.locator("td.score")).to_have_text("100")
    audit(board)
    doc_shot(board, "projector")


def test_organiser_pause_shows_in_the_portal_and_refuses_flags(
    browser: Browser, live: Live
) -> None:
    org = browser.new_page(bypass_csp=True)
    org.on("dialog", lambda d: d.accept())  # the confirmation of the pause
    org.goto(f"{live.url}/console/")
    audit(org)
    org.get_by_label("Organiser token").fill(ADMIN)
    org.get_by_role("button", name="Log in").click()
    expect(org.get_by_role("heading", name="Event control")).to_be_visible()
    org.locator("#event-pause").click()
    expect(org.get_by_text("Done: the event is now paused.")).to_be_visible()
    audit(org)
    shot(org, "console")
    doc_shot(org, "console")
    org.goto(f"{live.url}/console/attempts")
    audit(org)
    team = browser.new_page(bypass_csp=True)
    team_login(team, live, "Latvia")
    expect(team.locator(".banner .pill")).to_have_text("paused")
    team.goto(f"{live.url}/portal/challenges/convoy")
    audit(team)
    team.get_by_role("textbox", name="Flag").fill("ICE{convoy}")
    team.get_by_role("button", name="Submit").click()
    expect(
        team.get_by_text(re.compile(r"Not now: the event is not running \(state: paused\)"))
    ).to_be_visible()
    # The team's session does not open the console.
    resp = team.goto(f"{live.url}/console/")
    assert resp is not None and resp.status == 403


def test_a_team_cannot_open_another_teams_instance(browser: Browser, live: Live) -> None:
    instances.up(live.ctx, instances.Selection(challenge="beacon"), TEST)
    desired_state(live.ctx)  # ports, no engine
    ids = {t.name: t.id for t in teams.list_teams(live.ctx)}
    pw = {n: instances.team_jumpbox(live.ctx, i).password for n, i in ids.items()}
    page = browser.new_page(bypass_csp=True)
    team_login(page, live, "Latvia")
    page.goto(f"{live.url}/portal/challenges/beacon")
    expect(page.get_by_role("heading", name="Your instance")).to_be_visible()
    expect(page.locator("code.secret")).to_have_text(pw["Latvia"])
    audit(page)
    for path in ("/portal/attempts", "/portal/announcements", "/announcements"):
        page.goto(f"{live.url}{path}")
        audit(page)
    assert pw["Estonia"] not in page.content()
    resp = page.goto(f"{live.url}/portal/challenges/beacon/instance?team={ids['Estonia']}")
    assert resp is not None and resp.status == 405


def test_the_scoreboard_reads_without_javascript_and_on_a_phone(
    browser: Browser, live: Live
) -> None:
    # A delegation's name may be one long word: it must not widen the page on a phone.
    teams.add_team(live.ctx, "Reserveoffiziersgesellschaftsdelegation1", "DE", actor=TEST)
    bctx = browser.new_context(
        java_script_enabled=False, viewport={"width": 390, "height": 844}, bypass_csp=True
    )
    page = bctx.new_page()
    page.goto(f"{live.url}/")
    expect(page.get_by_role("table").first.get_by_role("link", name="Estonia")).to_be_visible()
    expect(page.locator(".banner .pill")).to_have_text("running")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, width  # no sideways scrolling of the page itself
    bctx.close()
    phone = browser.new_page(bypass_csp=True, viewport={"width": 390, "height": 844})
    phone.goto(f"{live.url}/")
    audit(phone)
    large = browser.new_page(bypass_csp=True)
    large.goto(f"{live.url}/?large=1")
    audit(large)
    assert "large" in (large.locator("body").get_attribute("class") or "")
    # Country flags are the range's own SVGs (no emoji font needed), loaded, beside the code.
    flag = large.locator('img.flag[src$="/de.svg"]').first
    expect(flag).to_be_visible()
    assert large.evaluate("(img) => img.naturalWidth", flag.element_handle()) > 0
    assert flag.get_attribute("alt") == ""


def test_a_challenge_that_needs_all_its_flags_and_ordered_hints(
    browser: Browser, live: Live
) -> None:
    """ctfcli's logic: all and hint requirements, as a team meets them in the portal."""
    extra = live.tmp / "extra"
    _challenge(
        extra,
        "cipher",
        category="crypto",
        logic="all",
        flags=["ICE{part-one}", "ICE{part-two}"],
        hints=[
            {"key": "a", "title": "First", "content": "Start here.", "cost": 5},
            {"title": "Second", "content": "Then this.", "cost": 0, "requirements": ["a"]},
        ],
    )
    sync(live.ctx, lint([extra]).challenges, actor=TEST)
    team = browser.new_page(bypass_csp=True)
    team_login(team, live, "Latvia")
    team.get_by_role("link", name="Cipher").click()
    expect(team.get_by_text("Unlock the hint it builds on first.")).to_be_visible()
    expect(team.get_by_text("Then this.")).to_have_count(0)  # free, but it waits for "First"
    audit(team)
    team.get_by_role("textbox", name="Flag").fill("ICE{part-one}")
    team.get_by_role("button", name="Submit").click()
    expect(
        team.get_by_text("Right, and more flags are needed to solve this challenge.")
    ).to_be_visible()
    audit(team)
    team.get_by_role("textbox", name="Flag").fill("ICE{part-two}")
    team.get_by_role("button", name="Submit").click()
    expect(team.get_by_text("Correct! +100 points.")).to_be_visible()
