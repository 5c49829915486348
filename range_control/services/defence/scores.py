"""The defence's ledger entries: availability per tick, team and service, resets' costs and
the red cell's plants (``domain.defence.scoring``), captures; read once per board."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.engine import Connection

from range_control.domain.defence.captures import CaptureRec, captures
from range_control.domain.defence.scoring import (
    ResetRec,
    TickRec,
    availability,
    plants,
    resets,
)
from range_control.domain.defence.verdicts import Verdict
from range_control.domain.scoring import LedgerEntry
from range_control.specs.defence import DefencePlan
from range_control.specs.scenario import ScenarioSpec
from range_control.store.models import (
    Challenge,
    DefenceCapture,
    DefenceReset,
    DefenceVerdict,
    Event,
    RedPlant,
    Team,
)


def ledger(c: Connection, event: str) -> list[tuple[int, LedgerEntry]]:
    """Every defence entry of ``event`` (none without a defence block)."""
    scenario = c.scalar(select(Event.scenario).where(Event.slug == event))
    if not scenario or not scenario.get("defence"):
        return []
    plan = ScenarioSpec.model_validate(scenario).defence
    assert plan is not None
    slugs = {
        cid: (slug, value)
        for cid, slug, value in c.execute(
            select(Challenge.id, Challenge.slug, Challenge.value).where(
                Challenge.slug.in_(list(plan.services))
            )
        )
    }
    full = {slug: value * plan.services[slug] for slug, value in slugs.values()}
    ticks = [
        TickRec(team, slugs[ch][0], tick, at, Verdict(verdict), public)
        for team, ch, tick, at, verdict, public in c.execute(
            select(
                DefenceVerdict.team_id,
                DefenceVerdict.challenge_id,
                DefenceVerdict.tick,
                DefenceVerdict.at,
                DefenceVerdict.verdict,
                DefenceVerdict.public,
            )
        )
        if ch in slugs
    ]
    costs = [
        ResetRec(team, slugs[ch][0], at, cost)
        for team, ch, at, cost in c.execute(
            select(
                DefenceReset.team_id,
                DefenceReset.challenge_id,
                DefenceReset.created_at,
                DefenceReset.cost,
            )
        )
        if ch in slugs
    ]
    planted = [
        ResetRec(team, slugs[ch][0], at, cost)
        for team, ch, at, cost in c.execute(
            select(RedPlant.target_id, RedPlant.challenge_id, RedPlant.at, RedPlant.points)
        )
        if ch in slugs
    ]
    avail = list(availability(ticks, full))
    out = [*avail, *resets(costs), *plants(planted)]
    if plan.any_attack:
        out.extend(_captures(c, plan, {cid: slug for cid, (slug, _v) in slugs.items()}, avail))
    return out


def _captures(
    c: Connection,
    plan: DefencePlan,
    slugs: dict[int, str],
    avail: list[tuple[int, LedgerEntry]],
) -> Iterator[tuple[int, LedgerEntry]]:
    """The captures' entries, with the formula the scenario chose."""
    names = dict(c.execute(select(Team.id, Team.name)).all())
    nop = next((i for i, n in names.items() if n == plan.nop_team), None)
    rows = [
        CaptureRec(team, victim, names.get(victim, "?"), slugs[ch], tick, store, at)
        for team, victim, ch, tick, store, at in c.execute(
            select(
                DefenceCapture.team_id,
                DefenceCapture.victim_id,
                DefenceCapture.challenge_id,
                DefenceCapture.tick,
                DefenceCapture.store,
                DefenceCapture.created_at,
            ).order_by(DefenceCapture.id)
        )
        if ch in slugs
    ]
    if not rows:
        return iter(())
    active = len([i for i in names if i != nop])
    rank = _ranks(avail, {(r.victim_id, r.tick) for r in rows}, names)
    scoring = plan.captures
    return captures(rows, scoring.formula, scoring.value, active_teams=active, rank=rank)


def _ranks(
    avail: list[tuple[int, LedgerEntry]], wanted: set[tuple[int, int]], names: dict[int, str]
) -> dict[tuple[int, int], int]:
    """(team, tick) -> the team's place by availability points before that tick (1: best;
    teams level share a place)."""
    per_tick: dict[int, dict[int, int]] = {}
    for team, e in avail:
        tick = int(e.values.get("tick", 0))  # type: ignore[call-overload]
        per_tick.setdefault(tick, {})
        per_tick[tick][team] = per_tick[tick].get(team, 0) + e.points
    totals = dict.fromkeys(names, 0)
    out: dict[tuple[int, int], int] = {}
    needed = sorted({t for _team, t in wanted})
    ticks = sorted(per_tick)
    i = 0
    for t in needed:
        while i < len(ticks) and ticks[i] < t:
            for team, pts in per_tick[ticks[i]].items():
                totals[team] = totals.get(team, 0) + pts
            i += 1
        for team, tick in wanted:
            if tick == t:
                mine = totals.get(team, 0)
                out[(team, tick)] = 1 + sum(1 for v in totals.values() if v > mine)
    return out
