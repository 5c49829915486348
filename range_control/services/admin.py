"""Organiser use cases: awards, the attempts record, sharing alerts, the challenge list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from range_control.clock import iso
from range_control.services.context import Range
from range_control.services.errors import InvalidInput, NotFound
from range_control.services.events import audit, bump_generation
from range_control.store.models import Attempt, Award, Challenge, SharingAlert, Solve, Team

MAX_PAGE = 1000


def add_award(
    rng: Range, team_ref: int | str, value: int, reason: str, actor: str
) -> dict[str, Any]:
    if not -1_000_000 <= value <= 1_000_000 or value == 0:
        raise InvalidInput("value: a non-zero whole number between -1000000 and 1000000")
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        raise InvalidInput("reason: 1 to 500 characters (teams see it in their ledger)")
    with rng.store.write() as s:
        team = None
        if isinstance(team_ref, int) or str(team_ref).isdigit():
            team = s.get(Team, int(team_ref))
        if team is None:
            team = s.scalar(select(Team).where(Team.name == str(team_ref)))
        if team is None:
            raise NotFound(f"team {team_ref!r} not found")
        award = Award(
            team_id=team.id,
            value=value,
            reason=reason,
            created_by=actor,
            created_at=rng.clock.now(),
        )
        s.add(award)
        s.flush()
        audit(s, rng, actor, "award.add", team=team.name, value=value, reason=reason)
        bump_generation(s, rng)
        return _award(award, team.name)


def _award(a: Award, team: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "team": team,
        "team_id": a.team_id,
        "value": a.value,
        "reason": a.reason,
        "created_by": a.created_by,
        "created_at": iso(a.created_at),
    }


def list_awards(rng: Range) -> list[dict[str, Any]]:
    with rng.store.read() as s:
        rows = s.execute(
            select(Award, Team.name).join(Team, Team.id == Award.team_id).order_by(Award.id)
        )
        return [_award(a, name) for a, name in rows]


@dataclass(frozen=True)
class AttemptFilter:
    team: str | None = None
    challenge: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    before_id: int | None = None

    def __post_init__(self) -> None:
        if self.result not in (None, "correct", "incorrect", "already_solved"):
            raise InvalidInput("result: one of correct, incorrect, already_solved")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"limit: between 1 and {MAX_PAGE}")


def _attempt_query(f: AttemptFilter, limit: int | None):  # noqa: ANN202
    q = (
        select(Attempt, Team.name, Challenge.slug)
        .join(Team, Team.id == Attempt.team_id)
        .join(Challenge, Challenge.id == Attempt.challenge_id)
        .order_by(Attempt.id.desc())
    )
    if f.team:
        q = q.where(Team.name == f.team)
    if f.challenge:
        q = q.where(Challenge.slug == f.challenge)
    if f.result:
        q = q.where(Attempt.result == f.result)
    if f.since:
        q = q.where(Attempt.created_at >= f.since)
    if f.until:
        q = q.where(Attempt.created_at < f.until)
    if f.before_id:
        q = q.where(Attempt.id < f.before_id)
    if limit:
        q = q.limit(limit)
    return q


def _attempt(a: Attempt, team: str, slug: str) -> dict[str, Any]:
    return {
        "id": a.id,
        "team": team,
        "challenge": slug,
        "result": a.result,
        "submitted": a.submitted,
        "source_ip": a.source_ip,
        "created_at": iso(a.created_at),
    }


def list_attempts(rng: Range, f: AttemptFilter) -> list[dict[str, Any]]:
    with rng.store.read() as s:
        return [_attempt(*row) for row in s.execute(_attempt_query(f, f.limit))]


def attempts_csv(rng: Range, f: AttemptFilter) -> Iterator[str]:
    """Every matching attempt (no page limit), streamed in chunks."""
    fields = ["id", "created_at", "team", "challenge", "result", "submitted", "source_ip"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    with rng.store.read() as s:
        for i, row in enumerate(s.execute(_attempt_query(f, None)), start=1):
            w.writerow(_attempt(*row))
            if i % 500 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


def sharing_alerts(rng: Range) -> list[dict[str, Any]]:
    owner = aliased(Team)
    with rng.store.read() as s:
        rows = s.execute(
            select(SharingAlert, Team.name, owner.name, Challenge.slug, Attempt.submitted)
            .join(Team, Team.id == SharingAlert.submitting_team_id)
            .join(owner, owner.id == SharingAlert.owner_team_id)
            .join(Challenge, Challenge.id == SharingAlert.challenge_id)
            .join(Attempt, Attempt.id == SharingAlert.attempt_id)
            .order_by(SharingAlert.id.desc())
        )
        return [
            {
                "id": a.id,
                "challenge": slug,
                "submitting_team": sub,
                "flag_owner_team": own,
                "attempt_id": a.attempt_id,
                "submitted": text,
                "created_at": iso(a.created_at),
            }
            for a, sub, own, slug, text in rows
        ]


def list_challenges(rng: Range) -> list[dict[str, Any]]:
    with rng.store.read() as s:
        counts: dict[int, int] = {}
        for (cid,) in s.execute(select(Solve.challenge_id)):
            counts[cid] = counts.get(cid, 0) + 1
        return [
            {
                "slug": c.slug,
                "name": c.name,
                "category": c.category,
                "type": c.type,
                "value": c.value,
                "visible": c.visible,
                "spec_state": c.spec_state,
                "admin_state": c.admin_state,
                "solves": counts.get(c.id, 0),
                "dynamic_flag": c.dynamic_prefix is not None,
                "max_attempts": c.max_attempts,
                "requires": list(c.prerequisites),
                "version": c.version,
            }
            for c in s.scalars(select(Challenge).order_by(Challenge.category, Challenge.slug))
        ]
