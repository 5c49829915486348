"""The defence over the real databases and the in-memory engine: every team gets its copy of each
defended service when the event starts; ticks are persisted facts (run once, a missed one not
checked and never charged, a pause cancelling the checks, a service the range has not brought
up yet not checked); verdicts become ledger entries with their why, held back by the freeze;
resets cost, unscored checks are rate limited and never score, a re-check replaces a verdict
and is audited; the scenario is refused when it names an unknown service or a tick shorter
than a checker's timeout. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from range_control.core.errors import InvalidInput, NotFound, RateLimited
from range_control.orchestrator.fake import FakeBackend
from range_control.services.defence import actions, views
from range_control.services.defence.ticks import DefenceTicks
from range_control.services.environments import engine
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.event import controls, scenario
from range_control.services.play import scoreboard
from range_control.store.models import (
    AuditLog,
    Challenge,
    DefenceFlag,
    DefenceTick,
    DefenceVerdict,
    Instance,
)
from tests.support.defence import answers, load_defence, run_tick, write_defended
from tests.support.env import TEST, Env


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBackend]:
    backend = FakeBackend()
    monkeypatch.setattr(engine, "backend", lambda *_a, **_k: backend)
    yield backend


@pytest.fixture
def defended(env: Env, fake: FakeBackend) -> tuple[Env, FakeBackend, dict[str, int]]:
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    write_defended(env.tmp / "pack", "tracker", flag_stores=2, timeout="10s")
    write_defended(env.tmp / "pack", "hub", "http", timeout="10s")
    load_defence(env, {"tracker": 1, "hub": 2}, reset_cost=30, check_now=2)
    EnvironmentReconciler(env.ctx, fake).run_once()
    return env, fake, ids


def verdicts(env: Env, tick: int) -> dict[tuple[int, str], str]:
    with env.ctx.store.read() as s:
        rows = s.execute(
            select(DefenceVerdict.team_id, Challenge.slug, DefenceVerdict.verdict)
            .join(Challenge, Challenge.id == DefenceVerdict.challenge_id)
            .where(DefenceVerdict.tick == tick)
        )
        return {(team, slug): verdict for team, slug, verdict in rows}


def test_every_team_defends_its_copy_from_the_start(defended) -> None:
    env, fake, ids = defended
    with env.ctx.store.read() as s:
        have = sorted((i.team_id, i.state) for i in s.scalars(select(Instance)))
    assert have == sorted((t, "running") for t in ids.values() for _ in (1, 2))
    nets = sorted(n for n in fake.networks(env.ctx.event_slug) if n.endswith("-def"))
    assert nets == sorted(f"rc-{env.ctx.event_slug}-t{t}-def" for t in ids.values())
    data = [v for v in fake.volume_labels if "-data0-g0" in v]
    assert len(data) == 4  # each team's copy of each service keeps its data in a volume


def test_a_tick_checks_everyone_once_and_scores_with_a_reason(defended) -> None:
    env, fake, ids = defended
    fake.checks = answers(
        lambda team, action: (
            {"code": 101, "result": "OK"}
            if team == ids["Alpha"]
            else {
                "code": 104,
                "result": "OFFLINE",
                "stdout": "Connection refused",
                "message": "gone",
            }
        )
    )
    ticks = DefenceTicks(env.ctx, fake)
    run_tick(ticks)
    assert verdicts(env, 1) == {
        (ids["Alpha"], "tracker"): "OK",
        (ids["Alpha"], "hub"): "OK",
        (ids["Bravo"], "tracker"): "DOWN",
        (ids["Bravo"], "hub"): "DOWN",
    }
    with env.ctx.store.read() as s:
        assert s.get(DefenceTick, 1).status == "done"
        flags = list(s.scalars(select(DefenceFlag).where(DefenceFlag.tick == 1)))
    # Two flag stores on the tracker, one on the hub, per team; Alpha's puts placed them.
    assert len(flags) == 6 and {f.placed for f in flags if f.team_id == ids["Alpha"]} == {True}
    assert len({f.flag for f in flags}) == 6
    names = [b.name for b in fake.batches]
    assert sorted(names) == sorted(
        f"rc-{env.ctx.event_slug}-check-{s}-1" for s in ("hub", "tracker")
    )
    # A second pass in the same tick starts nothing again.
    ticks.step()
    assert len(fake.batches) == 2
    ledger = scoreboard.ledger(env.ctx, ids["Alpha"], public=True)
    why = sorted((e.points, e.why) for e in ledger.entries)
    assert why == [
        (10, "availability: tracker OK at tick 1"),
        (20, "availability: hub OK at tick 1"),
    ]
    bravo = scoreboard.ledger(env.ctx, ids["Bravo"], public=True)
    assert sorted(e.why for e in bravo.entries) == [
        "hub DOWN at tick 1: gone",
        "tracker DOWN at tick 1: Connection refused",
    ]
    assert bravo.score == 0


def test_ticks_nobody_checked_are_recorded_and_never_charged(defended) -> None:
    env, fake, ids = defended
    fake.checks = answers(lambda team, action: {"code": 101, "result": "OK"})
    env.clock.advance(minutes=3, seconds=30)  # no worker ran for ticks 1 to 3
    ticks = DefenceTicks(env.ctx, fake)
    run_tick(ticks)
    with env.ctx.store.read() as s:
        status = {t.number: t.status for t in s.scalars(select(DefenceTick))}
    assert status == {1: "missed", 2: "missed", 3: "missed", 4: "done"}
    assert set(verdicts(env, 2).values()) == {"NOT CHECKED"}
    entries = scoreboard.ledger(env.ctx, ids["Alpha"], public=True).entries
    missed = [e for e in entries if "NOT CHECKED" in e.why]
    assert len(missed) == 6 and all(
        "not the team's fault, credited in full" in e.why for e in missed
    )
    assert scoreboard.ledger(env.ctx, ids["Alpha"], public=True).score == 4 * 30


def test_a_pause_cancels_the_checks_and_a_pending_copy_is_not_checked(defended) -> None:
    env, fake, ids = defended
    fake.checks = answers(lambda team, action: {"code": 101, "result": "OK"})
    with env.ctx.store.write() as s:
        inst = s.scalar(select(Instance).where(Instance.team_id == ids["Bravo"]).limit(1))
        inst.state = "pending"  # the range is bringing it up (a reset, a new team)
        pending = inst.challenge_id
    ticks = DefenceTicks(env.ctx, fake)
    run_tick(ticks)
    got = verdicts(env, 1)
    starting = [v for (team, _s), v in got.items() if team == ids["Bravo"]]
    assert "NOT CHECKED" in starting and "OK" in starting
    with env.ctx.store.read() as s:
        why = s.scalar(
            select(DefenceVerdict.public).where(
                DefenceVerdict.team_id == ids["Bravo"], DefenceVerdict.challenge_id == pending
            )
        )
    assert "still bringing the service up" in why
    # The organisers pause the checks: the tick that passes meanwhile is not checked.
    actions.set_paused(env.ctx, True, TEST)
    env.clock.advance(minutes=1)
    run_tick(ticks)
    assert set(verdicts(env, 2).values()) == {"NOT CHECKED"}
    actions.set_paused(env.ctx, False, TEST)
    # A pause of the event cancels the checks running: what they had not answered is not
    # checked either.
    gate = threading.Event()
    ok = answers(lambda team, action: {"code": 101, "result": "OK"})

    def slow(batch):  # the checker answers only once the test lets it
        gate.wait(10)
        yield from ok(batch)

    fake.checks = slow
    env.clock.advance(minutes=1)
    ticks.step()
    assert ticks.runs
    controls.pause(env.ctx, TEST)
    ticks.step()
    gate.set()
    for run in list(ticks.runs.values()):
        run.thread.join()
    assert set(verdicts(env, 3).values()) == {"NOT CHECKED"}
    with env.ctx.store.read() as s:
        said = set(s.scalars(select(DefenceVerdict.public).where(DefenceVerdict.tick == 3)))
    assert "the checks were paused (not the team's fault)" in said
    assert said <= {
        "the checks were paused (not the team's fault)",
        "not checked: the range is still bringing the service up",  # Bravo's pending copy
    }
    with env.ctx.store.read() as s:
        acts = [a.action for a in s.scalars(select(AuditLog))]
    assert "defence.pause" in acts and "defence.resume" in acts


def test_resets_cost_checks_now_are_rate_limited_and_rechecks_replace(defended) -> None:
    env, fake, ids = defended
    fake.checks = answers(lambda team, action: {"code": 103, "stdout": "bad"})
    ticks = DefenceTicks(env.ctx, fake)
    run_tick(ticks)
    assert actions.reset(env.ctx, ids["Alpha"], "tracker", TEST) == 30
    with env.ctx.store.read() as s:
        inst = s.scalar(
            select(Instance)
            .join(Challenge, Challenge.id == Instance.challenge_id)
            .where(Instance.team_id == ids["Alpha"], Challenge.slug == "tracker")
        )
    assert inst.generation == 1 and inst.state == "pending"
    entries = scoreboard.ledger(env.ctx, ids["Alpha"], public=True).entries
    assert any(e.kind == "reset" and e.points == -30 for e in entries)
    with pytest.raises(NotFound):
        actions.reset(env.ctx, ids["Alpha"], "no-such-service", TEST)
    # Unscored checks: two an hour here; the worker runs them; they score nothing.
    fake.checks = answers(lambda team, action: {"code": 101, "result": "OK"})
    actions.check_now(env.ctx, ids["Bravo"], "hub", TEST)
    actions.check_now(env.ctx, ids["Bravo"], "hub", TEST)
    with pytest.raises(RateLimited) as exc:
        actions.check_now(env.ctx, ids["Bravo"], "hub", TEST)
    assert exc.value.retry_after == 60
    ticks.step()
    for run in list(ticks.runs.values()):
        run.thread.join()
    mine = views.team_view(env.ctx, ids["Bravo"])
    hub = next(s for s in mine.services if s.slug == "hub")
    assert [p.verdict for p in hub.probes] == ["OK", "OK"] and hub.checks_left == 0
    before = scoreboard.ledger(env.ctx, ids["Bravo"], public=True).score
    # A re-check of tick 1 for Bravo's tracker: its verdict is replaced, audited.
    actions.recheck(env.ctx, "Bravo", "tracker", 1, TEST)
    ticks.step()
    for run in list(ticks.runs.values()):
        run.thread.join()
    with env.ctx.store.read() as s:
        row = s.scalar(
            select(DefenceVerdict)
            .join(Challenge, Challenge.id == DefenceVerdict.challenge_id)
            .where(
                DefenceVerdict.tick == 1,
                DefenceVerdict.team_id == ids["Bravo"],
                Challenge.slug == "tracker",
            )
        )
        done = s.scalar(select(AuditLog).where(AuditLog.action == "defence.recheck.done"))
    assert done.detail["was"] == "MUMBLE" and done.detail["now"] == "OK"
    assert (row.verdict, row.reruns) == ("OK", 1)
    assert scoreboard.ledger(env.ctx, ids["Bravo"], public=True).score == before + 10
    with pytest.raises(InvalidInput, match="not been checked yet"):
        actions.recheck(env.ctx, "Bravo", "tracker", 99, TEST)


def test_the_grid_shows_public_messages_and_the_organisers_the_private_ones(defended) -> None:
    env, fake, ids = defended
    fake.checks = answers(
        lambda team, action: {"code": 102, "stdout": "flag gone", "stderr": "row 7 missing"}
    )
    run_tick(DefenceTicks(env.ctx, fake))
    public = views.grid(env.ctx)
    cell = public.rows[0].cells[0]
    assert (cell.now.verdict, cell.now.message, cell.now.private) == ("CORRUPT", "flag gone", None)
    organiser = views.grid(env.ctx, organiser=True)
    assert organiser.rows[0].cells[0].now.private == "row 7 missing"
    assert [s.slug for s in public.services] == ["tracker", "hub"]
    r = env.client.get("/api/v1/defence/grid")
    assert r.status_code == 200 and "row 7 missing" not in r.get_data(as_text=True)
    r = env.client.get("/api/v1/admin/defence/grid", headers=env.admin())
    assert r.status_code == 200 and "row 7 missing" in r.get_data(as_text=True)
    assert env.client.get("/api/v1/admin/defence/grid").status_code == 401
    page = env.client.get("/defence")
    assert page.status_code == 200 and "flag gone" in page.get_data(as_text=True)
    assert "row 7 missing" not in page.get_data(as_text=True)


def test_the_scenario_is_refused_for_an_unknown_service_or_a_short_tick(env: Env, fake) -> None:
    write_defended(env.tmp / "pack", "tracker", timeout="20s")
    env.challenge("plain")
    from range_control.services.catalog.lint import lint
    from range_control.services.catalog.sync import sync

    sync(env.ctx, lint([env.tmp / "pack"]).challenges, actor=TEST)

    def load(**defence: object) -> None:
        spec = scenario.parse(
            {
                "event": "x",
                "phases": [{"id": "a", "title": "A", "duration": "1h"}],
                "defence": {"phases": ["a"], **defence},
            }
        )
        scenario.load(env.ctx, spec, TEST, source="s.yml")

    with pytest.raises(InvalidInput, match="unknown challenge slug"):
        load(services={"nope": 1})
    with pytest.raises(InvalidInput, match=r"defence.services.plain: not a defended service"):
        load(services={"plain": 1})
    with pytest.raises(InvalidInput, match=r"defence.tick: 0:00:10 is shorter than the checker"):
        load(services={"tracker": 1}, tick="10s")
    load(services={"tracker": 1}, tick="20s")
