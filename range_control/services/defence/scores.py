"""The defence's ledger entries: availability per tick, team and service, and resets' costs
(``domain.defence.scoring``), read once per board."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from range_control.domain.defence.scoring import ResetRec, TickRec, availability, resets
from range_control.domain.defence.verdicts import Verdict
from range_control.domain.scoring import LedgerEntry
from range_control.specs.scenario import ScenarioSpec
from range_control.store.models import Challenge, DefenceReset, DefenceVerdict, Event


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
    return [*availability(ticks, full), *resets(costs)]
