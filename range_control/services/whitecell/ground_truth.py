"""The white cell with the ground truth: an incident-report task (``incident_report: true``)
shows its grader, blind (no team), the red cell's actions against the team up to the report,
and the grader marks which of them the report names. The first report naming an action is when
the team detected it: the after-action report's time to detect."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, NotFound
from range_control.services.audit import audit
from range_control.services.redcell import commands
from range_control.services.whitecell.tasks import _task_row, team_by_code
from range_control.specs.api.whitecell import GroundTruthOut, ObservedOut
from range_control.specs.challenge import TaskSpec
from range_control.store.models import Challenge, RedAction, RedDetection, Submission


def for_sheet(s: Session, team_id: int, challenge_id: int, task: TaskSpec) -> list[GroundTruthOut]:
    """The red cell's actions against the team up to its latest report, oldest first, each
    with the versions marked naming it (none for a task that is no incident report)."""
    if not task.incident_report:
        return []
    subs = dict(
        s.execute(
            select(Submission.id, Submission.version).where(
                Submission.team_id == team_id, Submission.challenge_id == challenge_id
            )
        ).all()
    )
    until = s.scalar(select(func.max(Submission.created_at)).where(Submission.id.in_(list(subs))))
    if until is None:
        return []
    named: dict[int, list[int]] = {}
    for action_id, sub_id in s.execute(
        select(RedDetection.action_id, RedDetection.submission_id).where(
            RedDetection.submission_id.in_(list(subs))
        )
    ):
        named.setdefault(action_id, []).append(subs[sub_id])
    rows = s.execute(
        select(RedAction, Challenge.slug)
        .outerjoin(Challenge, Challenge.id == RedAction.challenge_id)
        .where(RedAction.target_id == team_id, RedAction.at <= until)
        .order_by(RedAction.at, RedAction.id)
    )
    return [
        GroundTruthOut(
            id=a.id,
            at=a.at,
            service=slug,
            technique=a.technique,
            outcome=a.outcome,
            summary=a.summary,
            named_in=sorted(named.get(a.id, [])),
        )
        for a, slug in rows
    ]


def observed_for_sheet(
    s: Session, ctx: Range, team_id: int, challenge_id: int, task: TaskSpec
) -> list[ObservedOut]:
    """The commands the red cell ran against the team up to its latest report (none for a
    task that is no incident report)."""
    if not task.incident_report:
        return []
    until = s.scalar(
        select(func.max(Submission.created_at)).where(
            Submission.team_id == team_id, Submission.challenge_id == challenge_id
        )
    )
    return [] if until is None else commands.against(s, ctx, team_id, until)


def mark(
    ctx: Range, slug: str, code: str, action_id: int, version: int, named: bool, actor: Actor
) -> None:
    """Mark (or unmark) that version ``version`` of the report ``code`` names the red cell's
    action ``action_id`` (audited)."""
    with ctx.store.write() as s:
        ch, task = _task_row(s, slug)
        if not task.incident_report:
            raise Conflict("{slug!r} is not an incident report", slug=slug[:100])
        team_id = team_by_code(ctx, s, ch.id, code)
        action = s.get(RedAction, action_id)
        if action is None or action.target_id != team_id:
            raise NotFound("no red cell action {action} against this team", action=action_id)
        sub_id = s.scalar(
            select(Submission.id).where(
                Submission.team_id == team_id,
                Submission.challenge_id == ch.id,
                Submission.version == version,
            )
        )
        if sub_id is None:
            raise NotFound("no version {version} of this report", version=version)
        there = s.scalar(
            select(RedDetection.id).where(
                RedDetection.action_id == action_id, RedDetection.submission_id == sub_id
            )
        )
        if named and there is None:
            s.add(
                RedDetection(
                    action_id=action_id,
                    submission_id=sub_id,
                    marked_by=actor,
                    created_at=ctx.clock.now(),
                )
            )
        elif not named and there is not None:
            s.execute(delete(RedDetection).where(RedDetection.id == there))
        audit(
            s,
            ctx,
            actor,
            "task.detection",
            task=slug,
            code=code,
            red_action=action_id,
            version=version,
            named=named,
        )


def detected_at(s: Session) -> dict[int, datetime]:
    """Each red cell action some report names: when the first report naming it was sent."""
    return dict(
        s.execute(
            select(RedDetection.action_id, func.min(Submission.created_at))
            .join(Submission, Submission.id == RedDetection.submission_id)
            .group_by(RedDetection.action_id)
        ).all()
    )
