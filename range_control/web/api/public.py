"""Public routes: scoreboard (frozen during the freeze), CTFtime feed, event clock, OpenAPI."""

from __future__ import annotations

import copy
import json

from flask import Response, current_app, jsonify, request

from range_control.core.permissions import Permission
from range_control.services.event import announcements, scenario
from range_control.services.play import scoreboard
from range_control.specs.api.event import AnnouncementList, EventOut
from range_control.specs.api.play import CtftimeOut, LedgerOut, ScoreboardOut
from range_control.web.api import get, ok, spec
from range_control.web.common import ID, ctx, whole


@get("/scoreboard", Permission.PUBLIC, out=ScoreboardOut)
def get_scoreboard():
    """Standings: position, team, country, score, solves, last solve. Supports If-None-Match."""
    snap = scoreboard.snapshot(ctx(), public=True)
    etag = f'"{snap.etag}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    return Response(snap.body, mimetype="application/json", headers=headers)


@get(f"/scoreboard/teams/<{ID}:team_id>", Permission.PUBLIC, out=LedgerOut)
def get_team_ledger(team_id: int):
    """Why a team has its score: each solve, award and hint with the points it gives now."""
    return ok(LedgerOut, scoreboard.ledger(ctx(), team_id, public=True))


@get("/scoreboard/ctftime", Permission.PUBLIC, out=CtftimeOut)
def get_ctftime():
    """CTFtime's scoreboard feed format: every team has ``taskStats`` with keys among
    ``tasks``; names outside ASCII are written as ``\\uXXXX``, as CTFtime asks."""
    feed = scoreboard.ctftime(ctx())
    body = json.dumps(feed.model_dump(mode="json"), ensure_ascii=True)
    return Response(body, mimetype="application/json")


@get("/event", Permission.PUBLIC, out=EventOut)
def get_event():
    """State, current phase and its end, next transition and server time (for countdowns)."""
    return ok(EventOut, scenario.overview(ctx()))


@get("/announcements", Permission.PUBLIC, out=AnnouncementList)
def get_announcements():
    """Injects, phase briefings and organiser messages, newest first."""
    limit = whole(request.args.get("limit"), "limit", 1, 200, default=50)
    return ok(AnnouncementList, announcements.recent(ctx(), limit))


@get("/openapi.json", Permission.PUBLIC, documented=False)
def openapi():
    """This API's OpenAPI document, generated from the pydantic models."""
    return jsonify(document())


def document() -> dict:
    """spectree's document, with what holds for every operation said once: any answer not
    listed (a bad value anywhere, a body too large, a store that cannot answer now) is an
    ``ErrorOut``. Built once per process."""
    doc = current_app.extensions.get("openapi")
    if doc is None:
        doc = copy.deepcopy(spec.spec)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        name = next((n for n in schemas if n.endswith("ErrorOut")), None)
        error = {"$ref": f"#/components/schemas/{name}"} if name else {"type": "object"}
        default = {
            "description": "an error: {error: {code, message}}",
            "content": {"application/json": {"schema": error}},
        }
        for url, path in doc.get("paths", {}).items():
            for op in path.values():
                if isinstance(op, dict) and "responses" in op:
                    op["responses"].setdefault("default", default)
                    if url.endswith(".csv"):  # a download, not JSON
                        op["responses"]["200"] = {
                            "description": "CSV, a header row first",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        }
        current_app.extensions["openapi"] = doc
    return doc
