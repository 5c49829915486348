"""Blind grading: a grader sees a code per team and task, never the team, until the task is
published. Cards per criterion; a second grader and moderation where the task asks for them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from range_control.context import Range
from range_control.core.actors import Actor, ActorKind
from range_control.core.errors import Conflict, InvalidInput, NotFound
from range_control.services.audit import audit
from range_control.services.event import scenario
from range_control.services.event.event import bump_generation
from range_control.services.whitecell import ground_truth
from range_control.services.whitecell.submissions import submission_file
from range_control.services.whitecell.tasks import (
    MAX_COMMENT,
    ROLES,
    _cards,
    _latest,
    _submission_view,
    _task_row,
    _total,
    blind_code,
    due_at,
    outcome,
    task_of,
    team_by_code,
)
from range_control.specs.api.whitecell import (
    CriterionOut,
    GradeCardOut,
    QueueRowOut,
    TaskSheetOut,
    TaskSummaryOut,
)
from range_control.specs.challenge import TaskSpec
from range_control.store.models import (
    Challenge,
    Grade,
    Submission,
    TaskRelease,
    Team,
)


def file_by_code(ctx: Range, slug: str, code: str, version: int) -> tuple[Path, str]:
    """A version's file for a grader: its path, and a download name that does not name the
    team (the code and the version)."""
    with ctx.store.read() as s:
        ch, _task = _task_row(s, slug)
        team_id = team_by_code(ctx, s, ch.id, code)
    path, _name, kind = submission_file(ctx, slug, version, team_id)
    return path, f"{code}-v{version}.{kind}"


# --- the white cell's view ------------------------------------------------------------------
def summaries(ctx: Range, slug: str | None = None) -> list[TaskSummaryOut]:
    """Every graded task's counts (or only ``slug``'s)."""
    where = scenario.where(ctx)
    out = []
    q = select(Challenge).where(Challenge.type == "task").order_by(Challenge.slug)
    if slug is not None:
        q = q.where(Challenge.slug == slug)
    with ctx.store.read() as s:
        for ch in s.scalars(q):
            task = task_of(ch)
            assert task is not None
            teams_in = set(
                s.scalars(select(Submission.team_id).where(Submission.challenge_id == ch.id)).all()
            )
            results = [outcome(task, c) for c in _cards(s, ch.id).values()]
            release = s.get(TaskRelease, ch.id)
            out.append(
                TaskSummaryOut(
                    slug=ch.slug,
                    name=ch.name,
                    due_at=due_at(ctx, task, where),
                    submitted=len(teams_in),
                    graded=sum(r.scores is not None for r in results),
                    to_moderate=sum(r.status == "to moderate" for r in results),
                    published_at=release.published_at if release else None,
                )
            )
    return out


def summary(ctx: Range, slug: str) -> TaskSummaryOut:
    found = summaries(ctx, slug)
    if not found:
        raise NotFound("no graded task {slug!r}", slug=slug)
    return found[0]


def queue(ctx: Range, slug: str) -> list[QueueRowOut]:
    """Every team that submitted, by its code (and name once published): where its grade is."""
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        published = s.get(TaskRelease, ch.id) is not None
        cards = _cards(s, ch.id)
        names = dict(s.execute(select(Team.id, Team.name)).all())
        rows = []
        for team_id, sub in _latest(s, ch.id).items():
            mine = cards.get((team_id, ch.id), {})
            result = outcome(task, mine)
            rows.append(
                QueueRowOut(
                    code=blind_code(ctx, ch.id, team_id),
                    team=names.get(team_id) if published else None,
                    version=sub.version,
                    submitted_at=sub.created_at,
                    late=sub.late,
                    status=result.status,
                    graders=[mine[r].grader for r in ROLES if r in mine],
                    total=_total(result.scores) if result.scores is not None else None,
                    disagreements=list(result.disagreements),
                )
            )
    return sorted(rows, key=lambda r: (r.status != "to moderate", r.status != "ungraded", r.code))


def _card_view(g: Grade) -> GradeCardOut:
    return GradeCardOut(
        id=g.id,
        role=g.role,
        grader=g.grader,
        scores=g.scores,
        total=_total(g.scores),
        created_at=g.created_at,
        replaced_at=g.replaced_at,
    )


def sheet(ctx: Range, slug: str, code: str) -> TaskSheetOut:
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        team_id = team_by_code(ctx, s, ch.id, code)
        release = s.get(TaskRelease, ch.id)
        subs = list(
            s.scalars(
                select(Submission)
                .where(Submission.team_id == team_id, Submission.challenge_id == ch.id)
                .order_by(Submission.version.desc())
            )
        )
        history = list(
            s.scalars(
                select(Grade)
                .where(Grade.team_id == team_id, Grade.challenge_id == ch.id)
                .order_by(Grade.id)
            )
        )
        current = {g.role: g for g in history if g.replaced_at is None}
        result = outcome(task, current)
        team = s.get(Team, team_id)
        return TaskSheetOut(
            slug=ch.slug,
            name=ch.name,
            code=code,
            team=team.name if release is not None and team is not None else None,
            rubric=[
                CriterionOut(id=c.id, title=c.title, points=c.points, guidance=c.guidance)
                for c in task.rubric
            ],
            second_grader=task.second_grader,
            moderation_threshold=task.moderation_threshold,
            published_at=release.published_at if release else None,
            submissions=[_submission_view(r, {}) for r in subs],  # blind: no member's name
            cards=[_card_view(g) for g in history],
            status=result.status,
            disagreements=list(result.disagreements),
            ground_truth=ground_truth.for_sheet(s, team_id, ch.id, task),
            observed=ground_truth.observed_for_sheet(s, ctx, team_id, ch.id, task),
        )


def _clean_scores(task: TaskSpec, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    known = {c.id: c for c in task.rubric}
    for key in given:
        if key not in known:
            raise InvalidInput(
                "unknown criterion {criterion!r} (the rubric has: {ids})",
                criterion=str(key)[:40],
                ids=", ".join(known),
            )
    out = {}
    for c in task.rubric:
        if c.id not in given:
            raise InvalidInput("criterion {criterion!r}: no points given", criterion=c.id)
        raw = given[c.id] if isinstance(given[c.id], Mapping) else {"points": given[c.id]}
        points = raw.get("points")
        if isinstance(points, str) and re.fullmatch(r"\s*[0-9]{1,6}\s*", points):
            points = int(points)
        if not isinstance(points, int) or isinstance(points, bool):
            raise InvalidInput(
                "criterion {criterion!r}: points must be a whole number", criterion=c.id
            )
        if points < 0 or points > c.points:
            raise InvalidInput(
                "criterion {criterion!r}: {points} is outside 0 to {most}",
                criterion=c.id,
                points=points,
                most=c.points,
            )
        comment = str(raw.get("comment") or "").strip()
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(
                "criterion {criterion!r}: a comment of at most {most} characters",
                criterion=c.id,
                most=MAX_COMMENT,
            )
        out[c.id] = {"points": points, "comment": comment}
    return out


def grade(
    ctx: Range,
    slug: str,
    code: str,
    scores: Mapping[str, Any],
    grader: Actor,
    moderate: bool = False,
) -> GradeCardOut:
    """A grader's card for the team's latest version. Its role: the first grade, the second
    (another person, when the task has a second grader), or with ``moderate`` (and for any
    change once the task is published) the final one."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        ch, task = _task_row(s, slug)
        team_id = team_by_code(ctx, s, ch.id, code)
        clean = _clean_scores(task, scores)
        sub = _latest(s, ch.id, team_id)[team_id]
        current = _cards(s, ch.id).get((team_id, ch.id), {})
        published = s.get(TaskRelease, ch.id) is not None
        before = outcome(task, current)
        role = _role_for(task, current, grader, moderate or published)
        if role in current:
            current[role].replaced_at = now
        card = Grade(
            team_id=team_id,
            challenge_id=ch.id,
            submission_id=sub.id,
            role=role,
            grader=grader.label,
            account_id=_account_of(grader),
            scores=clean,
            created_at=now,
        )
        s.add(card)
        s.flush()
        detail = {"task": ch.slug, "code": code, "role": role, "total": _total(clean)}
        if published:
            was = _total(before.scores) if before.scores is not None else None
            audit(s, ctx, grader, "task.regrade", **detail, was=was)
            bump_generation(s, ctx)
        else:
            audit(s, ctx, grader, "task.grade", **detail)
        return _card_view(card)


def _account_of(grader: Actor) -> int | None:
    """The grader's account (a person); None for a token, which is known by its name."""
    return grader.id if grader.kind is ActorKind.PERSON else None


def _role_for(task: TaskSpec, current: Mapping[str, Grade], grader: Actor, final: bool) -> str:
    if final:
        return "final"
    if "final" in current:
        raise Conflict("a moderator has settled this grade: a change now is a moderation")

    def mine(card: Grade | None) -> bool:
        if card is None:
            return False
        account = _account_of(grader)
        if account is not None:
            return card.account_id == account
        return card.account_id is None and card.grader == grader.label

    first, second = current.get("first"), current.get("second")
    if first is None or mine(first):
        return "first"
    if not task.second_grader:
        raise Conflict(
            "{grader} graded it already: a change now is a moderation", grader=first.grader
        )
    if second is None or mine(second):
        return "second"
    raise Conflict(
        "{first} and {second} graded it already: a change now is a moderation",
        first=first.grader,
        second=second.grader,
    )
