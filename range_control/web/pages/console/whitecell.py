"""The white cell: graded tasks (queue, blind sheets, grades, moderation, publication, an
incident report's ground truth marked) and the after-action report."""

from __future__ import annotations

import json

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from range_control.core.errors import InvalidInput
from range_control.core.permissions import Permission
from range_control.services.whitecell import grading, ground_truth, publication
from range_control.specs.challenge import slugify
from range_control.specs.text import whole_number
from range_control.web.common import ID
from range_control.web.i18n import gettext, label
from range_control.web.pages.common import ctx, flash_errors, may
from range_control.web.pages.console import bp, page


# --- graded tasks: the white cell ------------------------------------------------------------
@bp.get("/tasks")
@page(Permission.LOOK)
def tasks_page() -> str:
    return render_template("console/tasks.html", tasks=grading.summaries(ctx()))


@bp.get("/tasks/<slug>")
@page(Permission.LOOK)
def task_queue(slug: str) -> str:
    slug = slug[:100]
    return render_template(
        "console/task_queue.html",
        task=grading.summary(ctx(), slug),
        rows=grading.queue(ctx(), slug),
    )


@bp.get("/tasks/<slug>/<code>")
@page(Permission.LOOK)
def task_sheet(slug: str, code: str) -> str:
    sheet = grading.sheet(ctx(), slug[:100], code[:20])
    mine = g.account.id if g.account is not None else None
    return render_template("console/task_sheet.html", s=sheet, mine=mine)


@bp.get(f"/tasks/<slug>/<code>/files/<{ID}:version>")
@page(Permission.LOOK)
def task_file(slug: str, code: str, version: int) -> Response:
    path, name = grading.file_by_code(ctx(), slug[:100], code[:20], version)
    return send_file(path, as_attachment=True, download_name=name)


def _scores_of_form() -> dict[str, dict[str, str]]:
    """``points:<criterion>`` and ``comment:<criterion>`` fields, as the service takes them."""
    out: dict[str, dict[str, str]] = {}
    for key, value in request.form.items():
        kind, _, criterion = key.partition(":")
        if kind in ("points", "comment") and criterion:
            out.setdefault(criterion[:40], {})[kind] = value[:6000]
    return out


def _grade(slug: str, code: str, moderate: bool) -> Response:
    with flash_errors():
        card = grading.grade(ctx(), slug[:100], code[:20], _scores_of_form(), g.actor, moderate)
        flash(
            gettext(
                "Grade saved (%(role)s): %(total)d points.", role=label(card.role), total=card.total
            ),
            "ok",
        )
    return redirect(url_for("console.task_sheet", slug=slug, code=code))


@bp.post("/tasks/<slug>/<code>/grade")
@page(Permission.GRADE)
def grade_task(slug: str, code: str) -> Response:
    return _grade(slug, code, moderate=False)


@bp.post("/tasks/<slug>/<code>/moderate")
@page(Permission.GRADE)
def moderate_task(slug: str, code: str) -> Response:
    return _grade(slug, code, moderate=True)


@bp.post("/tasks/<slug>/<code>/detections")
@page(Permission.GRADE)
def mark_detection(slug: str, code: str) -> Response:
    """Mark (or unmark) that a version of the incident report names a red cell action."""
    with flash_errors():
        try:
            action = whole_number(request.form.get("action", ""), "action", 1, 2**31 - 1)
            version = whole_number(request.form.get("version", ""), "version", 1, 10_000)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        named = request.form.get("named", "1") == "1"
        ground_truth.mark(ctx(), slug[:100], code[:20], action, version, named, g.actor)
        flash(
            gettext("Marked: version %(version)d names it.", version=version)
            if named
            else gettext("Mark taken back."),
            "ok",
        )
    return redirect(url_for("console.task_sheet", slug=slug[:100], code=code[:20]))


@bp.post("/tasks/<slug>/publish")
@page(Permission.CHANGE)
def publish_task(slug: str) -> Response:
    with flash_errors():
        publication.publish(ctx(), slug[:100], g.actor)
        flash(gettext("Grades published: teams and the scoreboard have them."), "ok")
    return redirect(url_for("console.task_queue", slug=slug))


# --- the after-action report -------------------------------------------------------------------
@bp.get("/report")
@page(Permission.LOOK)
def report_page() -> str:
    return render_template("console/report.html")


@bp.get("/report/download")
@page(Permission.LOOK)
def report_download() -> Response:
    """The report as one file (HTML, self-contained; or JSON), interim while the event runs."""
    from range_control.services.whitecell.report import build
    from range_control.services.whitecell.report.render import html

    kind = request.args.get("format", "html")
    if kind not in ("html", "json"):
        abort(404)
    team = (request.args.get("team") or "").strip()[:100] or None
    doc = build(
        ctx(),
        team=team,
        anonymise=request.args.get("anonymise") == "1",
        blind=not may(Permission.UNBLIND),
    )
    body = html(doc) if kind == "html" else json.dumps(doc, ensure_ascii=False, indent=1)
    who = "-" + slugify(doc["event"]["team"]) if doc["event"]["team"] else ""  # [a-z0-9-] only
    name = f"after-action-{ctx().event_slug}{who}.{kind}"
    return Response(
        body,
        mimetype="text/html" if kind == "html" else "application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
