"""A flag attempt, checked in CTFd's order and made safe under any concurrency.

Order: exists -> visible -> event running -> prerequisites -> rate limit -> max attempts ->
already solved -> compare. The checks that do not depend on this team's other attempts (and the
comparison itself, HMACs included) run in a read transaction; the rest runs in a short write
transaction that first locks the team's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
single writer already serialises), so the per-team counters are exact across gunicorn workers.
Keeping the write short is what lets many workers share one SQLite file. The unique constraint
on ``solves(team_id, challenge_id)`` is what finally guarantees one solve per team and
challenge.

The rate limit counts the team's *wrong* attempts in the last minute from the audit table
itself: it is shared by every worker, survives restarts, and limits by team, never by IP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from range_control.context import Range
from range_control.core import metrics
from range_control.core.errors import EventNotRunning, InvalidInput, Locked, NotFound
from range_control.core.settings import secret
from range_control.domain.flags import (
    DYNAMIC,
    MAX_SUBMISSION,
    DynamicFlag,
    Flag,
    Verdict,
    check_submission,
)
from range_control.domain.scoring import ChallengeValue, decayed_value
from range_control.domain.visibility import is_visible
from range_control.services.event import event as events
from range_control.services.event.event import bump_generation
from range_control.services.play import gates, limits
from range_control.services.play.scoreboard import value_of
from range_control.specs.api.play import AttemptOut
from range_control.store.models import Attempt, Challenge, SharingAlert, Solve, Team
from range_control.store.models import Flag as FlagRow
from range_control.store.prepared import Prepared

# Hot-path statements: built once, run on the driver (store/prepared.py), and as few as can
# be. A wrong flag costs five statements on SQLite: the team's token, the challenge with its
# flags, the event; then, under the write lock, every check in one statement and the audit row.
_CHALLENGE_FLAGS = Prepared(
    select(
        Challenge.id,
        Challenge.slug,
        Challenge.name,
        Challenge.type,
        Challenge.value,
        Challenge.minimum,
        Challenge.decay,
        Challenge.decay_function,
        Challenge.spec_state,
        Challenge.admin_state,
        Challenge.phase_state,
        Challenge.prerequisites,
        Challenge.max_attempts,
        Challenge.dynamic_prefix,
        Challenge.dynamic_length,
        Challenge.logic,
        FlagRow.type.label("flag_type"),
        FlagRow.content.label("flag_content"),
        FlagRow.case_insensitive.label("flag_case_insensitive"),
    )
    .outerjoin(FlagRow, FlagRow.challenge_id == Challenge.id)
    .where(Challenge.slug == bindparam("slug"))
    .order_by(FlagRow.position, FlagRow.id)
)
# PostgreSQL: this team's attempts queue behind its row lock (SQLite's writer lock already
# serialises every write, so there it is not sent at all).
_LOCK_TEAM = Prepared(select(Team.id).where(Team.id == bindparam("team")).with_for_update())
# Every flag that did not score counts: wrong ones, and repeats of one already solved (a team
# re-sending a solved flag in a loop would otherwise fill the audit table).
_NTH_UNSCORED = limits.nth_latest(
    Attempt.created_at,
    Attempt.team_id == bindparam("team"),
    Attempt.result != "correct",
    Attempt.created_at > bindparam("since"),
)
# Attempts used: wrong flags and the solve; neither repeats nor the parts of a logic-all one.
_USED = select(func.count(Attempt.id)).where(
    Attempt.team_id == bindparam("team"),
    Attempt.challenge_id == bindparam("cid"),
    Attempt.result != "already_solved",
    Attempt.result != "partial",  # (no IN list: a prepared statement has fixed parameters)
)
_SOLVED = select(Solve.id).where(
    Solve.team_id == bindparam("team"), Solve.challenge_id == bindparam("cid")
)


def _checks(*, counted: bool) -> Prepared:
    """Rate limit, attempts used (only where they are limited) and an earlier solve: one read."""
    columns = [
        _NTH_UNSCORED.scalar_subquery().label("nth"),
        _SOLVED.limit(1).scalar_subquery().label("solved"),
    ]
    if counted:
        columns.append(_USED.scalar_subquery().label("used"))
    return Prepared(select(*columns))


_CHECKS, _CHECKS_COUNTED = _checks(counted=False), _checks(counted=True)
_SOLVES_OF = select(func.count(Solve.id)).where(Solve.challenge_id == bindparam("cid"))
_SOLVES_BEFORE = select(func.count(Solve.id)).where(
    Solve.challenge_id == bindparam("cid"), Solve.created_at < bindparam("at")
)
_RECORD = Prepared(
    insert(Attempt)
    .values(
        team_id=bindparam("team"),
        challenge_id=bindparam("cid"),
        result=bindparam("result"),
        submitted=bindparam("submitted"),
        source_ip=bindparam("ip"),
        created_at=bindparam("now"),
        account_id=bindparam("account"),
    )
    .returning(Attempt.id)
)
_SOLVE = insert(Solve).values(
    team_id=bindparam("team"),
    challenge_id=bindparam("cid"),
    attempt_id=bindparam("attempt"),
    created_at=bindparam("now"),
)
_TEAM_IDS = Prepared(select(Team.id))
_PARTS = select(Attempt.submitted).where(
    Attempt.team_id == bindparam("team"),
    Attempt.challenge_id == bindparam("cid"),
    Attempt.result == "partial",
)


def _team_ids(c: Connection) -> Iterator[int]:
    """Every team's id, read only if the comparison gets as far as looking for sharing."""
    yield from (row.id for row in _TEAM_IDS.rows(c))


@dataclass(frozen=True)
class _Checked:
    """What the read phase learnt: the challenge passed the first checks; the verdict."""

    challenge_id: int
    value: ChallengeValue
    max_attempts: int
    correct: bool
    shared_from_team: int | None
    first_blood_bonus: int
    freeze_at: datetime | None  # set while the scoreboard is frozen
    # logic "all": the flags a solve needs (DYNAMIC for the dynamic one), which one this is,
    # and how to tell which one an earlier part was.
    needs: frozenset[int] = frozenset()
    matched: int | None = None
    recheck: Callable[[str], int | None] | None = None


def submit(
    ctx: Range,
    team_id: int,
    slug: str,
    submission: str,
    source_ip: str | None,
    account_id: int | None = None,
) -> AttemptOut:
    """Judge and record a flag. ``account_id``: the person who submitted it (a portal login
    with an account); None for the team's token."""
    if len(submission) > MAX_SUBMISSION:
        raise InvalidInput("flag: at most {limit} characters", limit=MAX_SUBMISSION)
    if not submission.strip():
        raise InvalidInput("flag: empty (only white space)")
    now = ctx.clock.now()
    checked = _read_phase(ctx, team_id, slug, submission, now)
    out = _write_phase(ctx, team_id, slug, submission, source_ip, now, checked, account_id)
    metrics.attempt_recorded(out.status)
    if out.status == "correct":
        metrics.SOLVES.inc()
    elif out.status == "incorrect" and checked.shared_from_team is not None:
        metrics.SHARING_ALERTS.inc()
    return out


def _read_phase(ctx: Range, team_id: int, slug: str, submission: str, now: datetime) -> _Checked:
    """exists -> visible -> event running -> prerequisites, and the comparison itself.

    None of these depends on this team's other attempts, so they run outside the write lock;
    the HMACs of a dynamic flag (one per team when checking for sharing) do too.
    """
    # No snapshot needed: whatever changes between these reads (a phase, a solve) the write
    # transaction reads again under the lock, or it did not change the verdict.
    with ctx.store.read_conn(snapshot=False) as c:
        rows = _CHALLENGE_FLAGS.rows(c, slug=slug)
        ch = rows[0] if rows else None
        if ch is None or not is_visible(ch):
            raise NotFound("challenge {slug!r} not found", slug=slug)
        event = events.current_in(c, ctx, now)
        if not event.running:
            raise EventNotRunning("the event is not running (state: {state})", state=event.state)
        gates.require_unlocked(c, team_id, slug, ch.prerequisites)
        flags = [
            Flag(r.flag_type, r.flag_content, r.flag_case_insensitive)
            for r in rows
            if r.flag_type is not None
        ]
        dynamic = DynamicFlag(ch.dynamic_prefix, ch.dynamic_length) if ch.dynamic_prefix else None

        def judge(text: str, others: Iterable[int] = ()) -> Verdict:
            return check_submission(
                text,
                flags=flags,
                dynamic=dynamic,
                secret=secret(ctx.settings.flag_secret),
                event=ctx.event_slug,
                team_id=team_id,
                challenge=ch.slug,
                other_team_ids=others,
            )

        verdict = judge(submission, _team_ids(c) if dynamic is not None else ())
        # logic "all": every flag (the dynamic one counts as one) is needed, if there are two.
        needs: frozenset[int] = frozenset()
        if ch.logic == "all":
            parts = frozenset(range(len(flags))) | ({DYNAMIC} if dynamic is not None else set())
            needs = parts if len(parts) > 1 else needs
        return _Checked(
            ch.id,
            value_of(ch),
            ch.max_attempts,
            verdict.correct,
            verdict.shared_from_team,
            event.first_blood_bonus,
            event.freeze_at if event.frozen else None,
            needs,
            verdict.matched,
            (lambda text: judge(text).matched) if needs else None,
        )


def _write_phase(
    ctx: Range,
    team_id: int,
    slug: str,
    submission: str,
    source_ip: str | None,
    now: datetime,
    c: _Checked,
    account_id: int | None = None,
) -> AttemptOut:
    """rate limit -> max attempts -> already solved -> record, in one short write transaction.

    On PostgreSQL the team's row is locked first, so that this team's attempts are serialised
    and its counters exact across workers; on SQLite the write lock already does that.
    """
    # A wrong flag may skip the sync of its commit when the range allows it (relaxed): its
    # loss in a power cut costs no team a point. A right one never does.
    with ctx.store.write_conn(relaxed=not c.correct) as conn:  # plain statements, no ORM
        if conn.dialect.name != "sqlite":
            _LOCK_TEAM.run(conn, team=team_id)
        limit = ctx.settings.attempts_per_minute
        ids = {"team": team_id, "cid": c.challenge_id}
        # The limit-th most recent unscored flag inside the window, if there is one, decides
        # both the refusal and when the window frees up again (one index range scan).
        checks = (_CHECKS_COUNTED if c.max_attempts else _CHECKS).one_or_none(
            conn, **ids, **limits.params(now, limit)
        )
        limits.enforce(checks.nth, now, limit, "attempts")
        left = None
        if c.max_attempts:
            used = checks.used or 0
            if used >= c.max_attempts:
                raise Locked(
                    "no attempts left for {slug!r} ({max_attempts} allowed per team)",
                    slug=slug,
                    max_attempts=c.max_attempts,
                )
            left = max(c.max_attempts - used - 1, 0)
        row = {
            **ids,
            "submitted": submission,
            "ip": (source_ip or "")[:45] or None,
            "now": now,
            "account": account_id,
        }
        if checks.solved is not None:
            _RECORD.run(conn, **row, result="already_solved")
            return AttemptOut(status="already_solved", points=0)
        if not c.correct:
            attempt_id = _RECORD.scalar(conn, **row, result="incorrect")
            if c.shared_from_team is not None:
                conn.execute(
                    insert(SharingAlert).values(
                        attempt_id=attempt_id,
                        challenge_id=c.challenge_id,
                        submitting_team_id=team_id,
                        owner_team_id=c.shared_from_team,
                        created_at=now,
                    )
                )
            # A wrong flag changes no score: the scoreboard cache is left alone.
            return AttemptOut(status="incorrect", points=0, attempts_left=left)
        if c.needs and c.recheck is not None:
            earlier = conn.execute(_PARTS, ids).scalars()
            found = {c.recheck(text) for text in earlier} | {c.matched}
            if not c.needs <= found:
                _RECORD.run(conn, **row, result="partial")
                part_left = None if left is None else left + 1  # a part uses no attempt
                return AttemptOut(status="partial", points=0, attempts_left=part_left)
        attempt_id = _RECORD.scalar(conn, **row, result="correct")
        try:
            with conn.begin_nested():
                conn.execute(_SOLVE, {**ids, "attempt": attempt_id, "now": now})
        except IntegrityError:
            # Another transaction solved it first (only reachable where rows are not locked).
            conn.execute(
                update(Attempt).where(Attempt.id == attempt_id).values(result="already_solved")
            )
            return AttemptOut(status="already_solved", points=0)
        bump_generation(conn, ctx)
        if c.freeze_at is not None:
            # Frozen: worth what the frozen board says with this solve added to it. The count
            # of solves since the freeze (and so the first blood) stays hidden until the end.
            before = conn.execute(_SOLVES_BEFORE, {**ids, "at": c.freeze_at}).scalar() or 0
            points = decayed_value(c.value, before)
            return AttemptOut(status="correct", points=points, attempts_left=left, frozen=True)
        # Worth now what the challenge is worth with this solve counted (in both scoring modes
        # the newest solver gets the current value), plus any first-blood bonus.
        solves = conn.execute(_SOLVES_OF, ids).scalar() or 1
        points = decayed_value(c.value, solves - 1)
        if solves == 1:
            points += c.first_blood_bonus
        return AttemptOut(status="correct", points=points, attempts_left=left)
