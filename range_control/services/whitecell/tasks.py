"""Graded tasks (``type: task``): teams submit a deliverable (markdown text, a file, or both)
and revise it until the due time; the white cell grades it against the task's rubric.

- **Submitting.** Every version is kept with its time and the member who sent it. After the
  due time (absolute, or relative to a phase as it actually runs) the task's ``late`` rule
  applies: ``refuse``, ``accept``, or ``penalty: 20%`` (of the graded points). A file must be
  of an allowed type by its extension *and* its content, and within the size limit; it is
  written and fsync'd under the data directory, named by its digest, before its row commits:
  a refusal stores nothing.
- **Grading.** Blind: a grader sees a code per team and task (an HMAC of the range's secret),
  not the team's name, until the task is published. Per criterion: points (0 to the
  criterion's) and a comment. With ``second_grader`` another person grades too; criteria on
  which the two differ by more than ``moderation_threshold`` go to moderation, else the grade
  is their mean (rounded half up). A moderator's card (role ``final``) settles it. Every card
  is kept; a newer one of the same role replaces the older (``replaced_at``).
- **Publishing.** Per task, once every submission has its grade: the grades become ledger
  entries ("graded by the white cell: criterion Accuracy 8/10") dated at publication, so the
  freeze holds them back from the public board as it does solves. A regrade after publishing
  is a ``final`` card, audited with the points before and after.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b32encode
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.errors import NotFound
from range_control.core.settings import secret
from range_control.services.event import scenario
from range_control.specs.api.whitecell import (
    CriterionOut,
    GradeLineOut,
    SubmissionOut,
    TaskGradeOut,
    TaskOut,
)
from range_control.specs.challenge import TASK_KEYS, DueSpec, TaskSpec
from range_control.store.models import (
    Account,
    Challenge,
    Grade,
    Submission,
    TaskRelease,
)

MAX_TEXT = 100_000
MAX_COMMENT = 5_000
ROLES = ("first", "second", "final")


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


# --- reading a task -------------------------------------------------------------------------
def task_of(ch: Challenge) -> TaskSpec | None:
    """The graded part of a challenge row (None: not a task)."""
    if ch.type != "task":
        return None
    return TaskSpec.model_validate({k: ch.spec[k] for k in TASK_KEYS if k in (ch.spec or {})})


def _task_row(s: Session, slug: str) -> tuple[Challenge, TaskSpec]:
    ch = s.scalars(select(Challenge).where(Challenge.slug == slug)).one_or_none()
    task = task_of(ch) if ch is not None else None
    if ch is None or task is None:
        raise NotFound("no graded task {slug!r}", slug=slug)
    return ch, task


def due_at(ctx: Range, task: TaskSpec, where: scenario.Where | None = None) -> datetime | None:
    """When the task is due: its absolute time, or its phase's start or end as the timeline
    runs (None until the exercise has started, or when the phase is not in the scenario)."""
    if task.due is None or isinstance(task.due, datetime):
        return task.due
    due: DueSpec = task.due
    for row in scenario.rows_of(where or scenario.where(ctx)):
        if row.id == due.phase:
            base = row.start if due.at == "start" else row.end
            return base + due.delta if base is not None else None
    return None


def blind_code(ctx: Range, challenge_id: int, team_id: int) -> str:
    """The team as graders see it for this task: stable, unguessable, not the same across
    tasks (graders cannot follow a team from one task to the next)."""
    mac = hmac.new(
        secret(ctx.settings.secret_key).encode(),
        f"blind:{ctx.event_slug}:{challenge_id}:{team_id}".encode(),
        hashlib.sha256,
    ).digest()
    return "T-" + b32encode(mac[:5]).decode()[:6]


def _names(s: Session, rows: list[Submission]) -> dict[int, str]:
    ids = {r.account_id for r in rows if r.account_id is not None}
    if not ids:
        return {}
    return dict(s.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())


def _submission_view(r: Submission, names: Mapping[int, str]) -> SubmissionOut:
    return SubmissionOut(
        id=r.id,
        version=r.version,
        created_at=r.created_at,
        late=r.late,
        text=r.text,
        file_name=r.file_name,
        file_size=r.file_size,
        by=names.get(r.account_id) if r.account_id else None,
    )


# --- grades: the effective one of a team --------------------------------------------------------
def _total(scores: Mapping[str, Any]) -> int:
    return sum(int(v.get("points", 0)) for v in scores.values())


Cards = dict[tuple[int, int], dict[str, Grade]]


def _lines(task: TaskSpec, scores: Mapping[str, Any]) -> list[GradeLineOut]:
    return [
        GradeLineOut(
            criterion=c.id,
            title=c.title,
            points=int(scores[c.id]["points"]),
            most=c.points,
            comment=scores[c.id].get("comment") or "",
        )
        for c in task.rubric
        if c.id in scores
    ]


def _penalty(task: TaskSpec, total: int, late: bool) -> int:
    return round(total * task.penalty / 100) if late and task.penalty else 0


# --- the team's view --------------------------------------------------------------------------
def team_view(ctx: Range, team_id: int, slug: str) -> TaskOut:
    """The task as its team sees it: its rules, its versions, its grade once published."""
    with ctx.store.read() as s:
        return team_view_in(s, ctx, team_id, slug)


def team_view_in(
    s: Session, ctx: Range, team_id: int, slug: str, where: scenario.Where | None = None
) -> TaskOut:
    """``team_view`` in the caller's transaction (``where``: the timeline, when read already)."""
    now = ctx.clock.now()
    ch, task = _task_row(s, slug)
    rows = list(
        s.scalars(
            select(Submission)
            .where(Submission.team_id == team_id, Submission.challenge_id == ch.id)
            .order_by(Submission.version.desc())
        )
    )
    names = _names(s, rows)
    release = s.get(TaskRelease, ch.id)
    grade = None
    if release is not None:
        result = outcome(task, _cards(s, ch.id).get((team_id, ch.id), {}))
        if result.scores is not None:
            total = _total(result.scores)
            late = next((r.late for r in rows if r.id == result.submission_id), False)
            penalty = _penalty(task, total, late)
            grade = TaskGradeOut(
                lines=_lines(task, result.scores),
                penalty=penalty,
                total=total - penalty,
                most=task.most,
            )
    due = due_at(ctx, task, where or scenario.where_in(s, ctx, now))
    return TaskOut(
        deliverable=task.deliverable,
        due_at=due,
        late_rule=task.late_rule,
        closed=due is not None and now > due and task.late == "refuse",
        upload_types=list(task.upload.types),
        upload_max_bytes=task.upload.max_bytes,
        rubric=[CriterionOut(id=c.id, title=c.title, points=c.points) for c in task.rubric],
        submissions=[_submission_view(r, names) for r in rows],
        published=release is not None,
        grade=grade,
    )


def _latest(s: Session, challenge_id: int, team_id: int | None = None) -> dict[int, Submission]:
    """Each team's newest version (only ``team_id``'s, if given), without reading the older
    ones."""
    where = [Submission.challenge_id == challenge_id]
    if team_id is not None:
        where.append(Submission.team_id == team_id)
    newest = (
        select(Submission.team_id, func.max(Submission.version).label("version"))
        .where(*where)
        .group_by(Submission.team_id)
        .subquery()
    )
    same = (Submission.team_id == newest.c.team_id) & (Submission.version == newest.c.version)
    q = select(Submission).join(newest, same).where(*where)
    return {r.team_id: r for r in s.scalars(q)}


@dataclass(frozen=True)
class Outcome:
    """Where a team's submission stands: its status, the grade that counts (if any) and the
    card that dates it, the criteria to moderate."""

    status: str  # ungraded | awaiting second grader | to moderate | graded | agreed | final
    scores: dict[str, dict[str, Any]] | None
    dated: datetime | None
    submission_id: int | None
    disagreements: tuple[str, ...] = ()


def outcome(task: TaskSpec, cards: Mapping[str, Grade]) -> Outcome:
    final, first, second = cards.get("final"), cards.get("first"), cards.get("second")
    if final is not None:
        return Outcome("final", final.scores, final.created_at, final.submission_id)
    if first is None:
        return Outcome("ungraded", None, None, None)
    if not task.second_grader:
        return Outcome("graded", first.scores, first.created_at, first.submission_id)
    if second is None:
        return Outcome("awaiting second grader", None, None, None)
    limit = task.moderation_threshold
    apart = tuple(
        c.id for c in task.rubric if abs(_points(first, c.id) - _points(second, c.id)) > limit
    )
    if apart:
        return Outcome("to moderate", None, None, None, apart)
    mean = {}
    for c in task.rubric:
        a, b = _points(first, c.id), _points(second, c.id)
        notes = [
            n for n in (first.scores[c.id].get("comment"), second.scores[c.id].get("comment")) if n
        ]
        mean[c.id] = {"points": (a + b + 1) // 2, "comment": "\n\n".join(notes)}
    latest = max(first, second, key=lambda g: g.created_at)
    return Outcome("agreed", mean, latest.created_at, latest.submission_id)


def _points(card: Grade, criterion: str) -> int:
    return int(card.scores.get(criterion, {}).get("points", 0))


def _cards(s: Session, challenge_id: int | None = None) -> Cards:
    """The current (not replaced) card of each role, per (team, challenge)."""
    q = select(Grade).where(Grade.replaced_at.is_(None))
    if challenge_id is not None:
        q = q.where(Grade.challenge_id == challenge_id)
    out: Cards = defaultdict(dict)
    for g in s.scalars(q):
        out[g.team_id, g.challenge_id][g.role] = g
    return out


def team_by_code(ctx: Range, s: Session, challenge_id: int, code: str) -> int:
    """The team behind a task's blind code (each compared in constant time)."""
    for team_id in s.scalars(
        select(Submission.team_id).where(Submission.challenge_id == challenge_id).distinct()
    ):
        if hmac.compare_digest(blind_code(ctx, challenge_id, team_id), code):
            return team_id
    raise NotFound("no submission {code!r} for this task", code=code[:20])
