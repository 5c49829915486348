"""Publishing a task's grades into the ledger (dated at publication, so the freeze holds them
back), and the published grades as scoring and the report read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.clock import iso
from range_control.core.errors import Conflict
from range_control.domain.scoring import GradeRec
from range_control.services.audit import audit
from range_control.services.event.event import bump_generation
from range_control.services.whitecell.grading import summary
from range_control.services.whitecell.tasks import (
    _cards,
    _lines,
    _penalty,
    _task_row,
    _total,
    blind_code,
    outcome,
    task_of,
)
from range_control.specs.api.whitecell import TaskSummaryOut
from range_control.specs.challenge import TaskSpec
from range_control.store.models import (
    Challenge,
    Submission,
    TaskRelease,
)


def publish(ctx: Range, slug: str, actor: Actor) -> TaskSummaryOut:
    """Teams, the scoreboard and the CTFtime feed get the task's grades; refused while a
    submission has none (ungraded, awaiting its second grader, or to moderate)."""
    with ctx.store.write() as s:
        ch, task = _task_row(s, slug)
        if s.get(TaskRelease, ch.id) is not None:
            raise Conflict("{slug!r} is published already: a change now is a regrade", slug=slug)
        cards = _cards(s, ch.id)
        submitted = list(
            s.scalars(select(Submission.team_id).where(Submission.challenge_id == ch.id).distinct())
        )
        if not submitted:
            raise Conflict("{slug!r} has no submission to publish", slug=slug)
        waiting = []
        for team_id in submitted:
            result = outcome(task, cards.get((team_id, ch.id), {}))
            if result.scores is None:
                waiting.append(f"{blind_code(ctx, ch.id, team_id)} ({result.status})")
        if waiting:
            raise Conflict(
                "not every submission has its grade yet: {waiting}",
                waiting=", ".join(sorted(waiting)[:20]),
            )
        s.add(TaskRelease(challenge_id=ch.id, published_at=ctx.clock.now(), published_by=actor))
        audit(s, ctx, actor, "task.publish", task=ch.slug, grades=len(cards))
        bump_generation(s, ctx)
    return summary(ctx, slug)


# --- the ledger's lines ---------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    team_id: int
    challenge_id: int
    task: TaskSpec
    scores: dict[str, dict[str, Any]]
    at: datetime  # when it became public: the publication, or a later regrade
    penalty: int


def _published(s: Session) -> Iterator[Published]:
    """Every team's grade on every published task."""
    releases = {r.challenge_id: r.published_at for r in s.scalars(select(TaskRelease))}
    if not releases:
        return
    challenges = {
        ch.id: ch for ch in s.scalars(select(Challenge).where(Challenge.id.in_(list(releases))))
    }
    late = dict(
        s.execute(
            select(Submission.id, Submission.late).where(
                Submission.challenge_id.in_(list(releases))
            )
        ).all()
    )
    for (team_id, challenge_id), mine in _cards(s).items():
        ch = challenges.get(challenge_id)
        task = task_of(ch) if ch is not None else None
        if task is None:
            continue
        result = outcome(task, mine)
        if result.scores is None:
            continue
        at = max(releases[challenge_id], result.dated or releases[challenge_id])
        penalty = _penalty(task, _total(result.scores), bool(late.get(result.submission_id)))
        yield Published(team_id, challenge_id, task, result.scores, at, penalty)


def grade_records(s: Session) -> list[GradeRec]:
    """Every published grade as ledger lines (per criterion, and the late penalty)."""
    out: list[GradeRec] = []
    for p in _published(s):
        for c in p.task.rubric:
            points = int(p.scores[c.id]["points"])
            out.append(
                GradeRec(p.team_id, p.challenge_id, "grade", points, p.at, c.title, c.points)
            )
        if p.penalty:
            out.append(
                GradeRec(
                    p.team_id, p.challenge_id, "late", -p.penalty, p.at, percent=p.task.penalty
                )
            )
    return out


def published_totals(s: Session) -> dict[tuple[int, int], dict[str, Any]]:
    """Per (team, task): the published grade's lines, penalty and total (for the report)."""
    return {
        (p.team_id, p.challenge_id): {
            "at": iso(p.at),
            "total": _total(p.scores) - p.penalty,
            "most": p.task.most,
            "penalty": p.penalty,
            "lines": [line.model_dump() for line in _lines(p.task, p.scores)],
        }
        for p in _published(s)
    }
