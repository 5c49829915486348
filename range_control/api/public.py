"""Public routes: scoreboard (frozen during the freeze), CTFtime feed, event clock, OpenAPI."""

from __future__ import annotations

from flask import Response, jsonify, request
from spectree import Response as Doc

from range_control.api import bp, ok, rng, spec
from range_control.services import events, scoreboard
from range_control.specs.api import CtftimeOut, EventOut, LedgerOut, ScoreboardOut


@bp.get("/scoreboard")
@spec.validate(resp=Doc(HTTP_200=ScoreboardOut), tags=["public"], skip_validation=True)
def get_scoreboard():
    """Standings: position, team, country, score, solves, last solve. Supports If-None-Match."""
    snap = scoreboard.snapshot(rng(), public=True)
    etag = f'"{snap.etag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    return Response(snap.body, mimetype="application/json", headers=headers)


@bp.get("/scoreboard/teams/<int:team_id>")
@spec.validate(resp=Doc(HTTP_200=LedgerOut), tags=["public"], skip_validation=True)
def get_team_ledger(team_id: int):
    """Why a team has its score: each solve, award and hint with the points it gives now."""
    return ok(LedgerOut, scoreboard.ledger(rng(), team_id, public=True))


@bp.get("/scoreboard/ctftime")
@spec.validate(resp=Doc(HTTP_200=CtftimeOut), tags=["public"], skip_validation=True)
def get_ctftime():
    """CTFtime's scoreboard feed format."""
    return ok(CtftimeOut, scoreboard.ctftime(rng()))


@bp.get("/event")
@spec.validate(resp=Doc(HTTP_200=EventOut), tags=["public"], skip_validation=True)
def get_event():
    """State, times and server time (for countdowns)."""
    return ok(EventOut, event_payload(events.current(rng())))


def event_payload(ev: events.EventView) -> dict:
    return {
        "slug": ev.slug,
        "name": ev.name,
        "state": ev.state,
        "starts_at": ev.starts_at,
        "ends_at": ev.ends_at,
        "freeze_at": ev.freeze_at,
        "frozen": ev.frozen,
        "points_fixed_at_solve": ev.points_fixed_at_solve,
        "first_blood_bonus": ev.first_blood_bonus,
        "server_time": rng().clock.now(),
    }


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI document, generated from the pydantic models."""
    return jsonify(spec.spec)
