"""The attempts record: every attempt, filtered by team, person, challenge and result, live."""

from __future__ import annotations

from typing import Any

from flask import (
    render_template,
    request,
)

from range_control.core.permissions import Permission
from range_control.services.organiser import records
from range_control.services.people import accounts, teams
from range_control.web.pages.common import (
    ctx,
)
from range_control.web.pages.console import bp, page


def _attempt_filter() -> records.AttemptFilter:
    return records.AttemptFilter(
        team=request.args.get("team") or None,
        person=(request.args.get("person") or None) and request.args["person"][:254],
        challenge=request.args.get("challenge") or None,
        result=request.args.get("result") or None,
        limit=100,
    )


@bp.get("/attempts")
@page(Permission.LOOK)
def attempts_page() -> str:
    f = _attempt_filter()
    return render_template(
        "console/attempts.html",
        rows=records.list_attempts(ctx(), f),
        f=f,
        teams=teams.list_teams(ctx()),
        people=_members(),
        challenges=records.list_challenges(ctx()),
    )


def _members() -> list[Any]:
    """The people who can submit (members and captains), for the attempts' person filter."""
    return [a for a in accounts.list_accounts(ctx()) if a.role in accounts.TEAM_ROLES]


@bp.get("/attempts/feed")
@page(Permission.LOOK)
def attempts_feed() -> str:
    """The rows alone, for the page's live refresh."""
    rows = records.list_attempts(ctx(), _attempt_filter())
    return render_template("console/_attempts.html", rows=rows)
