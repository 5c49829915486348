"""A flag attempt, checked in CTFd's order and made safe under any concurrency.

Order: exists -> visible -> event running -> prerequisites -> rate limit -> max attempts ->
already solved -> compare. The whole attempt is one transaction that first locks the team's row
(``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` already serialises writers on
SQLite), so the per-team counters are exact across gunicorn workers. The unique constraint on
``solves(team_id, challenge_id)`` is what finally guarantees one solve per team and challenge.

The rate limit counts the team's *wrong* attempts in the last minute from the audit table
itself: it is shared by every worker, survives restarts, and limits by team, never by IP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from range_control.domain.flags import (
    MAX_SUBMISSION,
    DynamicFlag,
    Flag,
    check_submission,
)
from range_control.domain.scoring import decayed_value
from range_control.services.context import Range
from range_control.services.errors import (
    EventNotRunning,
    InvalidInput,
    Locked,
    NotFound,
    RateLimited,
)
from range_control.services.events import bump_generation, ensure_event, view_of
from range_control.services.scoreboard import value_of
from range_control.settings import secret
from range_control.store.models import (
    Attempt,
    Challenge,
    SharingAlert,
    Solve,
    Team,
)
from range_control.store.models import Flag as FlagRow

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class AttemptResult:
    status: str  # correct | incorrect | already_solved
    points: int
    attempts_left: int | None = None


def submit(
    rng: Range, team_id: int, slug: str, submission: str, source_ip: str | None
) -> AttemptResult:
    if len(submission) > MAX_SUBMISSION:
        raise InvalidInput(f"flag: at most {MAX_SUBMISSION} characters")
    now = rng.clock.now()
    with rng.store.write() as s:
        # Serialise this team's attempts (no-op on SQLite, where BEGIN IMMEDIATE did it).
        s.execute(select(Team.id).where(Team.id == team_id).with_for_update())
        ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
        if ch is None:
            raise NotFound(f"challenge {slug!r} not found")
        if not ch.visible:
            raise NotFound(f"challenge {slug!r} not found")
        event = view_of(ensure_event(s, rng), now)
        if not event.running:
            raise EventNotRunning(f"the event is not running (state: {event.state})")
        if ch.prerequisites:
            solved = set(
                s.scalars(
                    select(Challenge.slug)
                    .join(Solve, Solve.challenge_id == Challenge.id)
                    .where(Solve.team_id == team_id, Challenge.slug.in_(ch.prerequisites))
                )
            )
            missing = [p for p in ch.prerequisites if p not in solved]
            if missing:
                raise Locked(f"challenge {slug!r} is locked until you solve: {', '.join(missing)}")

        limit = rng.settings.attempts_per_minute
        recent = s.scalars(
            select(Attempt.created_at)
            .where(
                Attempt.team_id == team_id,
                Attempt.result == "incorrect",
                Attempt.created_at > now - WINDOW,
            )
            .order_by(Attempt.created_at.desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:
            retry = max(1, math.ceil((recent[-1] + WINDOW - now).total_seconds()))
            raise RateLimited(
                f"too many wrong flags: {limit} per minute per team; retry in {retry} s", retry
            )

        used = None
        if ch.max_attempts:
            used = s.scalar(
                select(func.count(Attempt.id)).where(
                    Attempt.team_id == team_id,
                    Attempt.challenge_id == ch.id,
                    Attempt.result != "already_solved",
                )
            )
            if used >= ch.max_attempts:
                raise Locked(f"no attempts left for {slug!r} ({ch.max_attempts} allowed per team)")

        attempt = Attempt(
            team_id=team_id,
            challenge_id=ch.id,
            submitted=submission,
            source_ip=(source_ip or "")[:45] or None,
            created_at=now,
        )
        already = s.scalar(
            select(Solve.id).where(Solve.team_id == team_id, Solve.challenge_id == ch.id)
        )
        if already is not None:
            attempt.result = "already_solved"
            s.add(attempt)
            return AttemptResult("already_solved", 0)

        flags = [
            Flag(f.type, f.content, f.case_insensitive)
            for f in s.scalars(select(FlagRow).where(FlagRow.challenge_id == ch.id))
        ]
        dynamic = DynamicFlag(ch.dynamic_prefix, ch.dynamic_length) if ch.dynamic_prefix else None
        others = s.scalars(select(Team.id)) if dynamic is not None else ()
        verdict = check_submission(
            submission,
            flags=flags,
            dynamic=dynamic,
            secret=secret(rng.settings.flag_secret),
            event=rng.event_slug,
            team_id=team_id,
            challenge=ch.slug,
            other_team_ids=others,
        )
        left = None if used is None else max(ch.max_attempts - used - 1, 0)
        if not verdict.correct:
            attempt.result = "incorrect"
            s.add(attempt)
            if verdict.shared_from_team is not None:
                s.flush()
                s.add(
                    SharingAlert(
                        attempt_id=attempt.id,
                        challenge_id=ch.id,
                        submitting_team_id=team_id,
                        owner_team_id=verdict.shared_from_team,
                        created_at=now,
                    )
                )
            # A wrong flag changes no score: the scoreboard cache is left alone.
            return AttemptResult("incorrect", 0, left)

        attempt.result = "correct"
        s.add(attempt)
        s.flush()
        try:
            with s.begin_nested():
                s.add(
                    Solve(
                        team_id=team_id, challenge_id=ch.id, attempt_id=attempt.id, created_at=now
                    )
                )
        except IntegrityError:
            # Another transaction solved it first (only reachable where rows are not locked).
            attempt.result = "already_solved"
            return AttemptResult("already_solved", 0)
        bump_generation(s, rng)
        # Worth now what the challenge is worth with this solve counted (in both scoring modes
        # the newest solver gets the current value), plus any first-blood bonus.
        solves = s.scalar(select(func.count(Solve.id)).where(Solve.challenge_id == ch.id)) or 1
        points = decayed_value(value_of(ch), solves - 1)
        if solves == 1:
            points += event.first_blood_bonus
        return AttemptResult("correct", points, left)
