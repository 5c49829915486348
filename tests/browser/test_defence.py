"""The defence in Debian's Chromium (Playwright), axe-core on every page visited: the public
status grid (public messages only, live as the scoreboard), a team's defended services in the
portal (its verdicts, its shell, "check my service now", the reset with its cost), and the
console's grid with the private messages, the checkers' health and the pause of the checks.
The verdicts are written as a tick's checks would write them (the checks themselves run in
tests/system/test_defence.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from range_control.context import Range
from range_control.core.settings import secret
from range_control.domain.defence import flags as flagging
from range_control.domain.defence.flags import FlagFacts
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls, scenario
from range_control.services.event.event import bump_generation
from range_control.services.people import accounts, teams
from range_control.services.redcell import commands
from range_control.store.models import (
    Challenge,
    DefenceTick,
    DefenceVerdict,
    Instance,
    PortAllocation,
)
from tests.support.defence import write_defended
from tests.support.env import ADMIN, TEST
from tests.support.live import Live, audit, live_range, team_login
from tests.support.people import PASSWORD


def verdict(ctx: Range, tick: int, team: str, slug: str, v: str, public: str, private: str) -> None:
    now = ctx.clock.now()
    with ctx.store.write() as s:
        team_id = teams.find(s, team).id
        ch = s.scalar(select(Challenge.id).where(Challenge.slug == slug))
        if s.get(DefenceTick, tick) is None:
            s.add(DefenceTick(number=tick, phase="hold", starts_at=now, ends_at=now, status="done"))
        s.add(
            DefenceVerdict(
                tick=tick,
                team_id=team_id,
                challenge_id=ch,
                verdict=v,
                public=public,
                private=private,
                cause="check",
                seconds=1.5,
                checked_at=now,
                at=now,
                reruns=0,
            )
        )
        bump_generation(s, ctx)


@pytest.fixture
def defence(tmp_path: Path):
    def prepare(ctx: Range) -> dict[str, str]:
        pack = tmp_path / "pack"
        write_defended(pack, "convoy-tracker", timeout="10s")
        write_defended(pack, "message-hub", "http", timeout="10s")
        sync(ctx, lint([pack]).challenges, actor=TEST)
        tokens = {
            n: teams.add_team(ctx, n, cc, actor=TEST).token
            for n, cc in (("Estonia", "EE"), ("Latvia", "LV"))
        }
        spec = scenario.parse(
            {
                "event": "defence",
                "phases": [{"id": "hold", "title": "Hold the line", "duration": "2h"}],
                "defence": {
                    "phases": ["hold"],
                    "tick": "60s",
                    "services": {"convoy-tracker": 1, "message-hub": 2},
                    "reset_cost": 30,
                    "mode": "attack-defence",
                },
            }
        )
        scenario.load(ctx, spec, TEST)
        controls.start(ctx, TEST)
        invited = accounts.add(ctx, "Rex Red", "red", TEST, callsign="REX")
        accounts.accept_invite(ctx, invited.token, PASSWORD)
        return tokens

    # No engine: the copies and the verdicts are written here as the range would write them.
    with live_range(tmp_path, "defence", prepare, environments="off") as served:
        ctx = served.ctx
        with ctx.store.write() as s:  # the copies the reconciler would have brought up
            for team in ("Estonia", "Latvia"):
                for ch in s.scalars(select(Challenge).where(Challenge.type == "defended")):
                    s.add(
                        Instance(
                            team_id=teams.find(s, team).id,
                            challenge_id=ch.id,
                            origin="scenario",
                            created_at=ctx.clock.now(),
                            state="running",
                        )
                    )
        with ctx.store.write() as s:  # the red cell's jumpbox's port, and what it saw run
            s.add(
                PortAllocation(
                    port=23999, team_id=None, purpose="red-jumpbox", created_at=ctx.clock.now()
                )
            )
        rex = next(p for p in accounts.list_accounts(ctx) if p.callsign == "REX")
        now = int(ctx.clock.now().timestamp())
        commands.record(ctx, [f"range-command red{rex.id} {now} nmap -sV 10.60.2.1"])
        verdict(ctx, 1, "Estonia", "convoy-tracker", "OK", "", "")
        verdict(ctx, 1, "Latvia", "convoy-tracker", "CORRUPT", "Convoy is gone", "row 7 deleted")
        verdict(ctx, 1, "Estonia", "message-hub", "OK", "", "")
        verdict(ctx, 1, "Latvia", "message-hub", "CHECKER ERROR", "not ours", "Traceback: KeyError")
        yield served


def test_the_grid_the_portal_and_the_console(browser: Browser, defence: Live) -> None:
    live = defence
    public = browser.new_page(bypass_csp=True)
    public.goto(f"{live.url}/defence")
    expect(public.get_by_role("heading", name="Defended services")).to_be_visible()
    grid = public.locator("table.defence-grid")
    expect(grid.get_by_role("rowheader", name="Latvia")).to_be_visible()
    expect(grid.get_by_text("Convoy is gone")).to_be_visible()
    expect(public.get_by_text("row 7 deleted")).to_have_count(0)  # private stays private
    expect(public.get_by_text("Traceback")).to_have_count(0)
    audit(public)
    # Live: a new tick's verdict shows without a reload.
    verdict(live.ctx, 2, "Latvia", "convoy-tracker", "DOWN", "Connection refused", "ECONNREFUSED")
    expect(grid.get_by_text("Connection refused")).to_be_visible(timeout=10_000)

    team = browser.new_page(bypass_csp=True)
    team_login(team, live, "Latvia")
    team.get_by_role("link", name="Defence").click()
    expect(team.get_by_role("heading", name="Our defended services")).to_be_visible()
    expect(team.get_by_text(re.compile("password"))).to_be_visible()
    expect(team.get_by_text("ssh -p 2222 root@app").first).to_be_visible()
    audit(team)
    team.get_by_role("button", name=re.compile(r"Check my service now.*Convoy Tracker")).click()
    expect(team.get_by_text("The check runs within seconds")).to_be_visible()
    expect(team.get_by_text("running...")).to_be_visible()
    team.once("dialog", lambda d: d.accept())
    team.get_by_role("button", name=re.compile(r"Reset to the baseline .*: Convoy Tracker")).click()
    expect(team.get_by_text(re.compile("goes back to its baseline.*30 points"))).to_be_visible()
    audit(team)
    # The portal's door of flag submission: Estonia's flag of this tick, captured.
    with live.ctx.store.read() as s:
        svc = s.scalar(select(Challenge.id).where(Challenge.slug == "convoy-tracker"))
    key = secret(live.ctx.settings.flag_secret)
    stolen = flagging.make(
        key, live.ctx.event_slug, FlagFacts(1, _id(live, "Estonia"), svc, 1), "forcad", "c"
    )
    team.get_by_label("Flags, one per line (at most 200)").fill(f"{stolen}\nnot-a-flag")
    team.get_by_role("button", name="Submit", exact=True).click()
    answers = team.get_by_role("table", name="The answers")
    expect(answers.get_by_text("accepted")).to_be_visible()
    expect(answers.get_by_text("invalid flag")).to_be_visible()
    audit(team)
    public.reload()  # the grid counts the capture: Latvia captured one, Estonia lost one
    expect(public.get_by_text("captured 1, lost 0")).to_be_visible()
    expect(public.get_by_text("captured 0, lost 1")).to_be_visible()
    audit(public)
    team.goto(f"{live.url}/teams/{_id(live, 'Latvia')}")
    expect(team.get_by_text("convoy-tracker reset to its baseline")).to_be_visible()
    expect(team.get_by_text("convoy-tracker CORRUPT at tick 1: Convoy is gone")).to_be_visible()
    audit(team)

    console = browser.new_page(bypass_csp=True)
    console.goto(f"{live.url}/console/login")
    console.get_by_label("Organiser token").fill(ADMIN)
    console.get_by_role("button", name="Log in").click()
    console.get_by_role("link", name="Defence").click()
    expect(console.get_by_text("ECONNREFUSED")).to_be_visible()  # the private message
    expect(console.get_by_text("Traceback: KeyError").first).to_be_visible()
    expect(console.get_by_role("heading", name="Checkers")).to_be_visible()
    audit(console)
    console.get_by_role("button", name="Pause the checks").click()
    expect(console.get_by_text("Checks paused.")).to_be_visible()
    expect(console.get_by_text("The checks are paused by the organisers.")).to_be_visible()
    audit(console)
    # The game network: its addresses, closed and opened, a team cut off and restored.
    expect(console.get_by_role("heading", name="Game network")).to_be_visible()
    expect(console.get_by_role("cell", name="10.60.2.2")).to_be_visible()
    console.get_by_role("button", name="Close the game network").click()
    expect(console.get_by_text("The game network is closed.")).to_be_visible()
    console.get_by_role("button", name="Open the game network").click()
    console.get_by_label("Until tick").fill("5")
    console.get_by_label("Team", exact=True).last.fill("Latvia")
    console.get_by_label("Reason (kept in the audit log)").fill("scanning the control plane")
    console.get_by_role("button", name="Cut off", exact=True).click()
    expect(console.get_by_text("Latvia is cut off the game network until tick 5.")).to_be_visible()
    audit(console)
    console.get_by_role("button", name="Restore Latvia").click()
    expect(console.get_by_text("Latvia is back on the game network.")).to_be_visible()
    console.get_by_label("Until tick").fill("0")
    console.get_by_label("Team", exact=True).last.fill("Latvia")
    console.get_by_role("button", name="Cut off", exact=True).click()
    expect(console.get_by_text("until_tick", exact=False).first).to_be_visible()
    audit(console)


def test_the_red_cell_s_own_page(browser: Browser, defence: Live) -> None:
    """A red cell member signs in to its own page: the targets at their game addresses, an
    action declared (a wrong technique named first), its log; nothing else of the console."""
    live = defence
    page = browser.new_page(bypass_csp=True)
    page.goto(f"{live.url}/console/login")
    page.get_by_label("E-mail or callsign").fill("REX")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Red cell", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="10.60.2.2")).to_be_visible()
    expect(page.get_by_role("link", name="Attempts")).to_have_count(0)
    audit(page)
    page.get_by_label("Target team").fill("Latvia")
    page.get_by_label("Service (optional)").fill("convoy-tracker")
    page.get_by_label("MITRE ATT&CK technique (T1190, optional)").fill("T1190")
    page.get_by_label("Outcome").select_option("success")
    page.get_by_label("What was done").fill("SQL injection in the callsign search")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_text(re.compile(r"Action \d+ recorded against Latvia"))).to_be_visible()
    log = page.get_by_role("table", name="The red cell's actions, newest first")
    expect(log.get_by_text("SQL injection in the callsign search")).to_be_visible()
    # Its own login on the red cell's jumpbox, and a command observed there.
    expect(page.get_by_text("ssh -p 23999 red")).to_be_visible()
    ran = page.get_by_role("table", name="Commands run on the red cell's jumpbox, newest first")
    expect(ran.get_by_text("nmap -sV 10.60.2.1")).to_be_visible()
    # A plant: the token to leave, in the plants' table.
    page.get_by_label("Team compromised").fill("Latvia")
    page.get_by_label("Its defended service").fill("message-hub")
    page.get_by_label("Where in the service").fill("the hub's message of the day")
    page.get_by_role("button", name="Record the plant").click()
    done = re.compile(r"Plant \d+ recorded in Latvia's message-hub")
    expect(page.get_by_text(done)).to_be_visible()
    planted = page.get_by_role("table", name="Plants, newest first")
    expect(planted.get_by_text(re.compile(r"^RED-"))).to_be_visible()
    audit(page)
    page.goto(f"{live.url}/console/")
    expect(page.get_by_text("Read-only", exact=False)).to_be_visible()  # not its console


def _id(live: Live, team: str) -> int:
    with live.ctx.store.read() as s:
        return teams.find(s, team).id
