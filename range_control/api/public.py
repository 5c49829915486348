"""Public routes: scoreboard (frozen during the freeze), CTFtime feed, event clock, OpenAPI."""

from __future__ import annotations

from flask import Response, jsonify, request
from spectree import Response as Doc

from range_control.api import bp, ctx, ok, spec
from range_control.errors import InvalidInput
from range_control.services import scenario, scoreboard
from range_control.specs.api import (
    AnnouncementList,
    CtftimeOut,
    EventOut,
    LedgerOut,
    ScoreboardOut,
)


@bp.get("/scoreboard")
@spec.validate(resp=Doc(HTTP_200=ScoreboardOut), tags=["public"], skip_validation=True)
def get_scoreboard():
    """Standings: position, team, country, score, solves, last solve. Supports If-None-Match."""
    snap = scoreboard.snapshot(ctx(), public=True)
    etag = f'"{snap.etag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    return Response(snap.body, mimetype="application/json", headers=headers)


@bp.get("/scoreboard/teams/<int:team_id>")
@spec.validate(resp=Doc(HTTP_200=LedgerOut), tags=["public"], skip_validation=True)
def get_team_ledger(team_id: int):
    """Why a team has its score: each solve, award and hint with the points it gives now."""
    return ok(LedgerOut, scoreboard.ledger(ctx(), team_id, public=True))


@bp.get("/scoreboard/ctftime")
@spec.validate(resp=Doc(HTTP_200=CtftimeOut), tags=["public"], skip_validation=True)
def get_ctftime():
    """CTFtime's scoreboard feed format."""
    return ok(CtftimeOut, scoreboard.ctftime(ctx()))


@bp.get("/event")
@spec.validate(resp=Doc(HTTP_200=EventOut), tags=["public"], skip_validation=True)
def get_event():
    """State, current phase and its end, next transition and server time (for countdowns)."""
    return ok(EventOut, scenario.overview(ctx()))


@bp.get("/announcements")
@spec.validate(resp=Doc(HTTP_200=AnnouncementList), tags=["public"], skip_validation=True)
def get_announcements():
    """Injects, phase briefings and organiser messages, newest first."""
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 200:
        raise InvalidInput("limit: a whole number from 1 to 200")
    return ok(AnnouncementList, scenario.announcements(ctx(), int(limit)))


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI document, generated from the pydantic models."""
    return jsonify(spec.spec)
