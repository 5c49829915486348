"""Defence routes: the public grid of verdicts, and a team's defended services (Bearer team
token): their verdicts, a reset to the baseline, an unscored check now."""

from __future__ import annotations

from flask import g

from range_control.core.errors import NotFound
from range_control.core.permissions import Permission
from range_control.services.defence import actions, views
from range_control.specs.api.defence import GridOut, QueuedOut, TeamDefenceOut
from range_control.web.api import get, ok, post
from range_control.web.common import ctx

NO_DEFENCE = "this event has no defence (the scenario has no defence block)"


@get("/defence/grid", Permission.PUBLIC, out=GridOut, errors=(404,))
def defence_grid():
    """Every team's defended services: the latest tick's verdict and the ones before it, with
    the checkers' public messages (the freeze holds back what came after it)."""
    out = views.grid(ctx())
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(GridOut, out)


@get("/defence", Permission.PLAY, out=TeamDefenceOut, errors=(404,))
def my_defence():
    """Our defended services: their verdicts, how to reach them, our shell, the next tick."""
    out = views.team_view(ctx(), g.team.id)
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(TeamDefenceOut, out)


@post("/defence/<slug>/reset", Permission.PLAY, out=QueuedOut, status=202, errors=(404, 409))
def reset_my_service(slug: str):
    """Our copy back to its baseline (fresh containers, its data afresh): it costs the
    scenario's reset cost; the reconciler does it within seconds."""
    cost = actions.reset(ctx(), g.team.id, slug[:100], g.actor)
    return ok(QueuedOut, QueuedOut(id=0, message=f"reset asked: it costs {cost} points"), 202)


@post("/defence/<slug>/check", Permission.PLAY, out=QueuedOut, status=202, errors=(404, 409, 429))
def check_my_service(slug: str):
    """An unscored check of our copy now (rate limited per hour): its answer shows in
    ``GET /defence`` within seconds."""
    probe = actions.check_now(ctx(), g.team.id, slug[:100], g.actor)
    return ok(QueuedOut, QueuedOut(id=probe, message="the check runs within seconds"), 202)
