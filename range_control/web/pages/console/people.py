"""Teams and their tokens (a new token is shown once, in the answer only), personal API
tokens."""

from __future__ import annotations

from typing import Any

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from range_control.core.permissions import Permission
from range_control.services.people import api_tokens, teams
from range_control.specs.api.people import TeamTokenOut
from range_control.web.common import ID
from range_control.web.i18n import gettext
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.console import _back, bp, page


@bp.post("/teams")
@page(Permission.CHANGE)
def add_team() -> Response | str:
    with flash_errors():
        nt = teams.add_team(
            ctx(), request.form.get("name", ""), request.form.get("country") or None, actor=g.actor
        )
        return _token_page(gettext("Team added"), nt)
    return _back()


def _token_page(what: str, nt: TeamTokenOut) -> Response:
    """The new token in this answer's body only: never in a cookie, a URL or a log."""
    body = render_template("console/token.html", what=what, team=nt.team, token=nt.token)
    return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")


@bp.post(f"/teams/<{ID}:team_id>/<action>")
@page(Permission.CHANGE)
def team_action(team_id: int, action: str) -> Response:
    with flash_errors():
        if action in ("disable", "enable"):
            t = teams.set_disabled(ctx(), team_id, action == "disable", g.actor)
            if t.disabled:
                flash(gettext("Team %(team)s disabled.", team=t.name), "ok")
            else:
                flash(gettext("Team %(team)s enabled.", team=t.name), "ok")
        elif action == "rotate":
            return _token_page(gettext("New token"), teams.rotate_token(ctx(), team_id, g.actor))
        else:
            flash(gettext("Unknown action."), "error")
    return _back()


@bp.get("/tokens")
@page(Permission.LOOK)
def tokens_page(new: Any = None) -> Response:
    """Personal organiser API tokens: create (shown once), see their last use, revoke."""
    body = render_template("console/tokens.html", tokens=api_tokens.list_tokens(ctx()), new=new)
    return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")


@bp.post("/tokens")
@page(Permission.CHANGE)
def create_token() -> Response:
    with flash_errors():
        new = api_tokens.create(
            ctx(), request.form.get("name", "")[:200], request.form.get("scope", "")[:20], g.actor
        )
        flash(gettext("Token created."), "ok")
        return tokens_page(new)
    return redirect(url_for("console.tokens_page"))


@bp.post(f"/tokens/<{ID}:token_id>/revoke")
@page(Permission.CHANGE)
def revoke_token(token_id: int) -> Response:
    with flash_errors():
        api_tokens.revoke(ctx(), token_id, g.actor)
        flash(gettext("Token revoked."), "ok")
    return redirect(url_for("console.tokens_page"))
