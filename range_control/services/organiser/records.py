"""The organisers' records: the attempts record (also as CSV), sharing alerts, the challenge
list with solves and overrides, solutions."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from range_control.context import Range
from range_control.core.clock import iso
from range_control.core.errors import InvalidInput, NotFound
from range_control.domain.visibility import is_visible
from range_control.specs.api.organiser import (
    AdminChallenge,
    AttemptRecord,
    SharingAlertOut,
    SolutionOut,
)
from range_control.specs.text import CsvWriter
from range_control.store.models import (
    Account,
    Attempt,
    Challenge,
    SharingAlert,
    Solve,
    Team,
)

MAX_PAGE = 1000


@dataclass(frozen=True)
class AttemptFilter:
    team: str | None = None
    person: str | None = None  # an account's login: what that person submitted
    challenge: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    before_id: int | None = None

    def __post_init__(self) -> None:
        if self.result not in (None, "correct", "incorrect", "already_solved", "partial"):
            raise InvalidInput("result: one of correct, incorrect, already_solved, partial")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput("limit: between 1 and {most}", most=MAX_PAGE)


def _attempt_query(f: AttemptFilter, limit: int | None) -> Select[Any]:
    q = (
        select(
            Attempt.id,
            Team.name.label("team"),
            Challenge.slug.label("challenge"),
            Attempt.result,
            Attempt.submitted,
            Attempt.source_ip,
            Attempt.created_at,
            Account.name.label("by"),
        )
        .join(Team, Team.id == Attempt.team_id)
        .join(Challenge, Challenge.id == Attempt.challenge_id)
        .outerjoin(Account, Account.id == Attempt.account_id)
        .order_by(Attempt.id.desc())
    )
    if f.team:
        q = q.where(Team.name == f.team)
    if f.challenge:
        q = q.where(Challenge.slug == f.challenge)
    if f.person:
        q = q.where(Account.login == f.person.lower())
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


def list_attempts(ctx: Range, f: AttemptFilter) -> list[AttemptRecord]:
    with ctx.store.read_conn() as c:
        return [AttemptRecord.model_validate(row) for row in c.execute(_attempt_query(f, f.limit))]


CSV_FIELDS = ("id", "created_at", "team", "challenge", "result", "submitted", "source_ip")


def attempts_csv(ctx: Range, f: AttemptFilter) -> Iterator[str]:
    """Every matching attempt (no page limit), streamed in chunks."""
    buf = io.StringIO()
    w = CsvWriter(buf)
    w.writerow(CSV_FIELDS)
    with ctx.store.read_conn() as c:
        for i, row in enumerate(c.execute(_attempt_query(f, None)), start=1):
            values = row._mapping
            w.writerow([iso(values[k]) if k == "created_at" else values[k] for k in CSV_FIELDS])
            if i % 500 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


def sharing_alerts(ctx: Range) -> list[SharingAlertOut]:
    with ctx.store.read() as s:
        return sharing_alerts_in(s)


def sharing_alerts_in(s: Session, limit: int | None = None) -> list[SharingAlertOut]:
    owner = aliased(Team)
    q = (
        select(
            SharingAlert.id,
            Challenge.slug.label("challenge"),
            Team.name.label("submitting_team"),
            owner.name.label("flag_owner_team"),
            SharingAlert.attempt_id,
            Attempt.submitted,
            SharingAlert.created_at,
        )
        .join(Team, Team.id == SharingAlert.submitting_team_id)
        .join(owner, owner.id == SharingAlert.owner_team_id)
        .join(Challenge, Challenge.id == SharingAlert.challenge_id)
        .join(Attempt, Attempt.id == SharingAlert.attempt_id)
        .order_by(SharingAlert.id.desc())
        .limit(limit)
    )
    return [SharingAlertOut.model_validate(row) for row in s.execute(q)]


def list_challenges(ctx: Range) -> list[AdminChallenge]:
    with ctx.store.read() as s:
        return challenges_in(s)


def challenges_in(s: Session) -> list[AdminChallenge]:
    per = select(Solve.challenge_id, func.count()).group_by(Solve.challenge_id)
    counts = {cid: n for cid, n in s.execute(per)}
    return [
        AdminChallenge(
            slug=c.slug,
            name=c.name,
            category=c.category,
            type=c.type,
            value=c.value,
            visible=is_visible(c),
            spec_state=c.spec_state,
            admin_state=c.admin_state,
            solves=counts.get(c.id, 0),
            dynamic_flag=c.dynamic_prefix is not None,
            max_attempts=c.max_attempts,
            requires=list(c.prerequisites),
            version=c.version,
            services=len((c.environment or {}).get("services") or []),
            logic="all" if c.logic == "all" else "any",
            release_at=c.release_at,
            solution_state=c.solution_state if c.solution is not None else None,
        )
        for c in s.scalars(select(Challenge).order_by(Challenge.category, Challenge.slug))
    ]


def solution(ctx: Range, slug: str) -> SolutionOut:
    """A challenge's write-up (challenge.yml's ``solution``), for organisers."""
    with ctx.store.read_conn() as c:
        row = c.execute(
            select(Challenge.solution, Challenge.solution_state).where(Challenge.slug == slug)
        ).one_or_none()
    if row is None:
        raise NotFound("challenge {slug!r} not found", slug=slug)
    if row.solution is None:
        raise NotFound(
            "challenge {slug!r} has no solution loaded (challenge.yml: solution)", slug=slug
        )
    return SolutionOut(slug=slug, state=row.solution_state or "hidden", content=row.solution)
