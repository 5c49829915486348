"""The organisers' records: attempts (also as CSV), sharing alerts, awards, the audit log and the
live scoreboard."""

from __future__ import annotations

from flask import Response, g, request, stream_with_context

from range_control.core.permissions import Permission
from range_control.services.audit import audit_log
from range_control.services.organiser import awards, records
from range_control.services.play import scoreboard
from range_control.specs.api.event import (
    AuditList,
)
from range_control.specs.api.organiser import (
    AttemptList,
    AttemptQuery,
    AwardIn,
    AwardList,
    AwardOut,
    SharingAlertList,
)
from range_control.specs.api.play import ScoreboardOut
from range_control.web.api import get, ok, parse, post
from range_control.web.common import ctx


def _attempt_filter() -> records.AttemptFilter:
    q = parse(AttemptQuery, dict(request.args))
    return records.AttemptFilter(**q.model_dump())


@get("/admin/attempts", Permission.LOOK, out=AttemptList, query=AttemptQuery, errors=(400,))
def admin_list_attempts():
    """Attempts, newest first, filtered by team, challenge, result and time; paged by before_id."""
    return ok(AttemptList, records.list_attempts(ctx(), _attempt_filter()))


@get("/admin/attempts.csv", Permission.LOOK, query=AttemptQuery)
def admin_attempts_csv():
    """Every matching attempt as CSV (no page limit): the after-action record."""
    f = _attempt_filter()
    return Response(
        stream_with_context(records.attempts_csv(ctx(), f)),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=attempts.csv"},
    )


@get("/admin/sharing-alerts", Permission.LOOK, out=SharingAlertList)
def admin_sharing_alerts():
    """Attempts that carried another team's dynamic flag: both teams named."""
    return ok(SharingAlertList, records.sharing_alerts(ctx()))


@get("/admin/awards", Permission.LOOK, out=AwardList)
def admin_list_awards():
    """Awards and penalties given by the organisers."""
    return ok(AwardList, awards.list_awards(ctx()))


@post("/admin/awards", Permission.CHANGE, out=AwardOut, status=201, json=AwardIn, errors=(400, 404))
def admin_add_award():
    """Give points (or take them, with a negative value); the reason shows in the ledger."""
    body = parse(AwardIn)
    return ok(AwardOut, awards.add_award(ctx(), body.team, body.value, body.reason, g.actor), 201)


@get("/admin/audit", Permission.LOOK, out=AuditList)
def admin_audit():
    """Organiser actions, newest first: who did what, when."""
    return ok(AuditList, audit_log(ctx()))


@get("/admin/scoreboard", Permission.LOOK, out=ScoreboardOut)
def admin_scoreboard():
    """The live scoreboard, ignoring the freeze."""
    snap = scoreboard.snapshot(ctx(), public=False)
    return Response(snap.body, mimetype="application/json")
