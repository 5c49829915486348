"""The defence, for the organisers: the grid with the checkers' private messages and checker
errors, each checker's health and timings, the checks paused and resumed, a past tick checked
again for a team, a team's service reset, the game network (closed, opened, a team cut off until
a tick)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from range_control.core.errors import InvalidInput
from range_control.core.permissions import Permission
from range_control.services.defence import actions, game, views
from range_control.services.people import teams
from range_control.services.redcell import actions as redcell
from range_control.specs.text import whole_number
from range_control.web.i18n import gettext
from range_control.web.pages.common import ctx, flash_errors
from range_control.web.pages.console import bp, page


@bp.get("/defence")
@page(Permission.LOOK)
def defence_page() -> str:
    grid = views.grid(ctx(), organiser=True)
    if grid is None:
        abort(404)
    return render_template(
        "console/defence.html",
        d=grid,
        health=views.health(ctx()),
        game=game.status(ctx()),
        red_log=redcell.actions(ctx()),
    )


@bp.post("/defence/<action>")
@page(Permission.CHANGE)
def defence_control(action: str) -> Response:
    if action not in ("pause", "resume"):
        abort(404)
    actions.set_paused(ctx(), action == "pause", g.actor)
    said = gettext("Checks paused.") if action == "pause" else gettext("Checks resumed.")
    flash(said, "ok")
    return redirect(url_for("console.defence_page"))


@bp.post("/defence/<slug>/recheck")
@page(Permission.CHANGE)
def defence_recheck(slug: str) -> Response:
    with flash_errors():
        try:
            tick = whole_number(request.form.get("tick", ""), "tick", 1, 1_000_000)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        actions.recheck(ctx(), request.form.get("team", "")[:100], slug[:100], tick, g.actor)
        flash(gettext("The check runs within seconds; its verdict replaces the tick's."), "ok")
    return redirect(url_for("console.defence_page"))


@bp.post("/defence/<slug>/reset")
@page(Permission.CHANGE)
def defence_reset(slug: str) -> Response:
    with flash_errors():
        with ctx().store.read() as s:
            team_id = teams.find(s, request.form.get("team", "")[:100]).id
        cost = actions.reset(ctx(), team_id, slug[:100], g.actor)
        flash(gettext("Reset asked: it costs the team %(cost)d points.", cost=cost), "ok")
    return redirect(url_for("console.defence_page"))


@bp.post("/game-network/<action>")
@page(Permission.CHANGE)
def game_control(action: str) -> Response:
    """Close or open the game network, cut a team off until a tick, restore it (audited)."""
    if action not in ("close", "open", "cut", "restore"):
        abort(404)
    with flash_errors():
        if action in ("close", "open"):
            game.set_closed(ctx(), action == "close", g.actor)
            said = (
                gettext("The game network is closed.")
                if action == "close"
                else gettext("The game network is open.")
            )
        else:
            team = request.form.get("team", "")[:100]
            if action == "restore":
                game.restore(ctx(), team, g.actor)
                said = gettext("%(team)s is back on the game network.", team=team)
            else:
                try:
                    until = whole_number(
                        request.form.get("until_tick", ""), "until_tick", 1, 1_000_000
                    )
                except ValueError as exc:
                    raise InvalidInput(str(exc)) from None
                game.cut(ctx(), team, until, g.actor, request.form.get("reason", "")[:500])
                said = gettext(
                    "%(team)s is cut off the game network until tick %(tick)d.",
                    team=team,
                    tick=until,
                )
        flash(said, "ok")
    return redirect(url_for("console.defence_page", _anchor="game-h"))
