"""The white cell in Debian's Chromium (Playwright), axe-core on every page visited: a team
submits and revises its report, misses the due time and sees the late rule applied; a grader
grades blind, a second grader disagrees, the moderator settles it, the grades are published;
the open public scoreboard and the team's ledger show the points within 5 s; the console's
after-action report downloads."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from range_control.context import Range
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls
from range_control.services.people import accounts, teams
from tests.support.env import TEST
from tests.support.live import Live, audit, doc_shot, live_range, team_login, write_challenge

PASSWORD = "correct horse battery staple"
DUE_IN = 30  # seconds after the range is ready (its start, under load, has taken more than 8)


@pytest.fixture
def white_cell(tmp_path: Path):
    due: list[float] = []

    def prepare(ctx: Range) -> dict[str, str]:
        pack = tmp_path / "pack"
        when = ctx.clock.now() + timedelta(seconds=DUE_IN)
        due.append(time.monotonic() + DUE_IN)
        write_challenge(
            pack,
            "report-to-jfc",
            name="Report to JFC",
            type="task",
            flags=[],
            value=0,
            deliverable="text",
            due=when.isoformat(),
            late={"penalty": "20%"},
            second_grader=True,
            moderation_threshold=2,
            rubric=[
                {
                    "id": "accuracy",
                    "title": "Accuracy",
                    "points": 10,
                    "guidance": "The **callsign** and the entry point.",
                },
                {"id": "clarity", "title": "Clarity", "points": 5},
            ],
        )
        sync(ctx, lint([pack]).challenges, actor=TEST)
        tokens = {
            n: teams.add_team(ctx, n, cc, actor=TEST).token
            for n, cc in (("Estonia", "EE"), ("Latvia", "LV"))
        }
        for name, role, login in (
            ("Gina Grader", "grader", "GINA"),
            ("Hugo Grader", "grader", "HUGO"),
            ("Olga Org", "organiser", "OLGA"),
        ):
            invited = accounts.add(ctx, name, role, TEST, callsign=login)
            accounts.accept_invite(ctx, invited.token, PASSWORD)
        controls.start(ctx, TEST)
        return tokens

    with live_range(tmp_path, "whitecell", prepare) as served:
        yield served, due[0]


def console_sign_in(page: Page, live: Live, login: str) -> None:
    page.goto(f"{live.url}/console/login")
    page.get_by_label("E-mail or callsign").fill(login)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def grade(page: Page, accuracy: int, clarity: int, comment: str = "") -> None:
    page.get_by_label("Points for Accuracy").fill(str(accuracy))
    page.get_by_label("Points for Clarity").fill(str(clarity))
    if comment:
        page.get_by_label("Comment on Accuracy").fill(comment)
    page.get_by_role("button", name=re.compile("Save")).click()


def test_a_report_is_submitted_late_graded_blind_moderated_and_published(
    browser: Browser, white_cell
) -> None:
    live, due = white_cell
    team = browser.new_page(bypass_csp=True)
    team_login(team, live, "Estonia")
    team.goto(f"{live.url}/portal/challenges/report-to-jfc")
    expect(team.get_by_role("heading", name="Your deliverable")).to_be_visible()
    expect(team.get_by_role("textbox", name="Flag")).to_have_count(0)  # a task without flags
    audit(team)
    team.get_by_label("Your report (markdown)").fill("# SITREP\nCallsign: *IRON GATE*.")
    team.get_by_role("button", name="Send").click()
    expect(team.get_by_text("Version 1 received.")).to_be_visible()
    team.get_by_label("Your report (markdown)").fill(
        "# SITREP\nCallsign **IRON GATE**; entry via the diagnostics panel."
    )
    team.get_by_role("button", name="Send a new version").click()
    expect(team.get_by_text("Version 2 received.")).to_be_visible()
    time.sleep(max(0.0, due - time.monotonic()) + 1)  # the due time passes
    team.get_by_role("button", name="Send a new version").click()
    expect(team.get_by_text(re.compile("Version 3 received, after the due time"))).to_be_visible()
    expect(team.locator(".pill.warn")).to_have_count(1)  # version 3 is marked late
    audit(team)

    # Gina grades blind: a code, not "Estonia".
    gina = browser.new_page(bypass_csp=True)
    console_sign_in(gina, live, "gina")
    gina.get_by_role("link", name="Graded tasks").click()
    audit(gina)
    gina.get_by_role("link", name="Report to JFC").click()
    expect(gina.get_by_text("blind: teams shown as codes until published")).to_be_visible()
    expect(gina.get_by_text("Estonia")).to_have_count(0)
    audit(gina)
    gina.locator("a code").first.click()
    expect(gina.get_by_role("heading", name=re.compile(r"Report to JFC: T-"))).to_be_visible()
    expect(gina.locator(".deliverable, .description strong").first).to_be_visible()
    audit(gina)
    doc_shot(gina, "graded-task")
    grade(gina, 9, 4, "Callsign and entry point, well supported.")
    expect(gina.get_by_text("Grade saved (first grader): 13 points.")).to_be_visible()
    sheet = gina.url

    # Hugo disagrees on accuracy (4 against 9): to moderation.
    hugo = browser.new_page(bypass_csp=True)
    console_sign_in(hugo, live, "hugo")
    hugo.goto(sheet)
    grade(hugo, 4, 4)
    expect(hugo.get_by_text("Grade saved (second grader): 8 points.")).to_be_visible()
    expect(hugo.get_by_text("graders differ on: accuracy")).to_be_visible()

    # Olga moderates and publishes; the open board and the ledger show it within 5 s.
    board = browser.new_page(bypass_csp=True)
    board.goto(f"{live.url}/")
    row = board.locator("tr", has=board.get_by_role("link", name="Estonia"))
    expect(row.locator("td.score")).to_have_text("0")
    olga = browser.new_page(bypass_csp=True)
    olga.on("dialog", lambda d: d.accept())
    console_sign_in(olga, live, "olga")
    olga.goto(sheet)
    expect(olga.get_by_role("heading", name="Moderate: the grade that counts")).to_be_visible()
    audit(olga)
    grade(olga, 7, 4, "Settled: the entry point lacks evidence.")
    expect(olga.get_by_text("Grade saved (final): 11 points.")).to_be_visible()
    olga.get_by_role("link", name="Back to the submissions").click()
    olga.get_by_role("button", name="Publish the grades").click()
    expect(
        olga.get_by_text("Grades published: teams and the scoreboard have them.")
    ).to_be_visible()
    expect(olga.get_by_role("cell", name=re.compile("Estonia"))).to_be_visible()  # unblinded
    audit(olga)
    # 11 points, less 20 % for a late report (2): 9.
    expect(row.locator("td.score")).to_have_text("9", timeout=5_000)
    board.get_by_role("link", name="Estonia").click()
    expect(board.get_by_text("graded by the white cell: criterion Accuracy 7/10")).to_be_visible()
    expect(board.get_by_text("late submission: penalty 20%")).to_be_visible()
    audit(board)
    team.reload()
    expect(team.get_by_role("heading", name="Our grade: 9 of 15")).to_be_visible()
    expect(team.get_by_text("Settled: the entry point lacks evidence.")).to_be_visible()
    audit(team)

    # The after-action report, from the console.
    olga.get_by_role("link", name="Report").click()
    audit(olga)
    doc_shot(olga, "report")
    with olga.expect_download() as dl:
        olga.get_by_role("button", name="Download").click()
    assert "INTERIM" in Path(dl.value.path()).read_text()
