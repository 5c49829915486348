"""Defence, for the organisers: the grid with the checkers' private messages, each checker's
health, the checks paused and resumed, a past tick checked again for a team, a team's service
reset, the game network (closed, opened, a team cut off until a tick)."""

from __future__ import annotations

from flask import g
from pydantic import RootModel

from range_control.core.errors import NotFound
from range_control.core.permissions import Permission
from range_control.services.defence import actions, game, views
from range_control.services.people import teams
from range_control.specs.api.base import VIEW
from range_control.specs.api.defence import (
    CheckerHealthOut,
    GameControlIn,
    GameCutIn,
    GameNetworkOut,
    GridOut,
    QueuedOut,
    RecheckIn,
    ResetIn,
)
from range_control.web.api import delete, get, ok, parse, post
from range_control.web.api.defence import NO_DEFENCE
from range_control.web.common import ctx


class CheckerHealthList(RootModel[list[CheckerHealthOut]]):
    model_config = VIEW


@get("/admin/defence/grid", Permission.LOOK, out=GridOut, errors=(404,))
def admin_defence_grid():
    """The grid with the private messages and the checker errors."""
    out = views.grid(ctx(), organiser=True)
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(GridOut, out)


@get("/admin/defence/checkers", Permission.LOOK, out=CheckerHealthList)
def admin_checkers():
    """Each checker: checks run, checker errors (the latest one's private message), timings."""
    return ok(CheckerHealthList, views.health(ctx()))


@post("/admin/defence/pause", Permission.CHANGE, out=QueuedOut)
def admin_pause_checks():
    """Pause the checks (the event runs on): ticks are not checked, never charged."""
    actions.set_paused(ctx(), True, g.actor)
    return ok(QueuedOut, QueuedOut(id=0, message="checks paused"))


@post("/admin/defence/resume", Permission.CHANGE, out=QueuedOut)
def admin_resume_checks():
    """Resume the checks from the next tick."""
    actions.set_paused(ctx(), False, g.actor)
    return ok(QueuedOut, QueuedOut(id=0, message="checks resumed"))


@post(
    "/admin/defence/<slug>/recheck",
    Permission.CHANGE,
    out=QueuedOut,
    status=202,
    json=RecheckIn,
    errors=(400, 404),
)
def admin_recheck(slug: str):
    """Check a past tick of a team's service again: its verdict is replaced (audited)."""
    body = parse(RecheckIn)
    probe = actions.recheck(ctx(), body.team, slug[:100], body.tick, g.actor)
    return ok(QueuedOut, QueuedOut(id=probe, message="the check runs within seconds"), 202)


@post(
    "/admin/defence/<slug>/reset",
    Permission.CHANGE,
    out=QueuedOut,
    status=202,
    json=ResetIn,
    errors=(400, 404, 409),
)
def admin_reset(slug: str):
    """A team's copy back to its baseline (it costs the team the scenario's reset cost)."""
    body = parse(ResetIn)
    with ctx().store.read() as s:
        team_id = teams.find(s, body.team).id
    cost = actions.reset(ctx(), team_id, slug[:100], g.actor)
    return ok(
        QueuedOut, QueuedOut(id=0, message=f"reset asked: it costs the team {cost} points"), 202
    )


@get("/admin/game-network", Permission.LOOK, out=GameNetworkOut, errors=(404,))
def admin_game_network():
    """The game network now: its mode and tick, closed or open, the cuts, the game addresses."""
    return ok(GameNetworkOut, game.status(ctx()))


@post(
    "/admin/game-network",
    Permission.CHANGE,
    out=GameNetworkOut,
    json=GameControlIn,
    errors=(400, 404),
)
def admin_game_network_set():
    """Close the game network (no team reaches another's services) or open it (audited)."""
    body = parse(GameControlIn)
    game.set_closed(ctx(), body.closed, g.actor)
    return ok(GameNetworkOut, game.status(ctx()))


@post(
    "/admin/game-network/cuts",
    Permission.CHANGE,
    out=GameNetworkOut,
    json=GameCutIn,
    errors=(400, 404),
)
def admin_game_cut():
    """Cut a team off the game network until a tick: it reaches nobody and submits nothing,
    and stays a target (audited)."""
    body = parse(GameCutIn)
    game.cut(ctx(), body.team, body.until_tick, g.actor, body.reason)
    return ok(GameNetworkOut, game.status(ctx()))


@delete("/admin/game-network/cuts/<team>", Permission.CHANGE, out=GameNetworkOut, errors=(404,))
def admin_game_restore(team: str):
    """Take a cut back before its tick (audited)."""
    game.restore(ctx(), team[:100], g.actor)
    return ok(GameNetworkOut, game.status(ctx()))
