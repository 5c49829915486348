"""The white cell: graded tasks, their grading queue, grades (a grade token may send them) and
publication."""

from __future__ import annotations

from flask import g

from range_control.core.permissions import Permission
from range_control.services.whitecell import grading, ground_truth, publication
from range_control.specs.api.whitecell import (
    DetectionIn,
    GradeCardOut,
    GradeIn,
    QueueList,
    TaskSheetOut,
    TaskSummaryList,
    TaskSummaryOut,
)
from range_control.web.api import get, ok, parse, post
from range_control.web.common import ctx


# --- graded tasks: the white cell's queue, grades and publication --------------------------
@get("/admin/tasks", Permission.LOOK, out=TaskSummaryList)
def admin_tasks():
    """Every graded task: due time, submissions, graded, to moderate, published."""
    return ok(TaskSummaryList, grading.summaries(ctx()))


@get("/admin/tasks/<slug>/submissions", Permission.LOOK, out=QueueList, errors=(404,))
def admin_task_queue(slug: str):
    """The grading queue: each team by its code (by name once published), its status."""
    return ok(QueueList, grading.queue(ctx(), slug[:100]))


@post(
    "/admin/tasks/<slug>/submissions/<code>/detections",
    Permission.GRADE,
    out=TaskSheetOut,
    json=DetectionIn,
    errors=(400, 404, 409),
)
def admin_mark_detection(slug: str, code: str):
    """An incident report: mark (or, ``named: false``, unmark) that a version of it names a red
    cell action; the first report naming an action is when the team detected it (audited)."""
    body = parse(DetectionIn)
    ground_truth.mark(ctx(), slug[:100], code[:20], body.action, body.version, body.named, g.actor)
    return ok(TaskSheetOut, grading.sheet(ctx(), slug[:100], code[:20]))


@post(
    "/admin/tasks/<slug>/grades",
    Permission.GRADE,
    out=GradeCardOut,
    status=201,
    json=GradeIn,
    errors=(400, 404, 409),
)
def admin_grade_task(slug: str):
    """A grade of the team's latest version: every criterion's points (0 to its points) and
    comment; ``moderate`` for the grade that counts."""
    body = parse(GradeIn)
    card = grading.grade(ctx(), slug[:100], body.code, body.scores, g.actor, body.moderate)
    return ok(GradeCardOut, card, 201)


@post("/admin/tasks/<slug>/publish", Permission.CHANGE, out=TaskSummaryOut, errors=(404, 409))
def admin_publish_task(slug: str):
    """Teams, the scoreboard and the CTFtime feed get the task's grades."""
    return ok(TaskSummaryOut, publication.publish(ctx(), slug[:100], g.actor))
