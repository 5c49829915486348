"""The team's people: everyone sees them; the captain invites and removes members."""

from __future__ import annotations

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
from range_control.services.people import accounts
from range_control.web.common import ID
from range_control.web.i18n import gettext
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.portal import bp, page


# --- the team's people ----------------------------------------------------------------------
@bp.get("/team")
@page(Permission.PLAY)
def team_page() -> str:
    captain = g.account is not None and g.account.role == "captain"
    return render_template(
        "portal/team.html",
        people=accounts.list_accounts(ctx(), g.team.id),
        pending=accounts.pending_invites(ctx(), g.team.id) if captain else [],
    )


@bp.post("/team/invite")
@page(Permission.MANAGE_TEAM)
def invite_member() -> Response:
    """The captain adds a member: the invite link is in this answer only."""
    captain = g.account
    with flash_errors():
        new = accounts.invite_member(
            ctx(),
            captain,
            request.form.get("name", ""),
            request.form.get("email") or None,
            request.form.get("callsign") or None,
        )
        body = render_template("portal/invited.html", new=new)
        return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")
    return redirect(url_for("portal.team_page"))


@bp.post(f"/team/<{ID}:account_id>/remove")
@page(Permission.MANAGE_TEAM)
def remove_member(account_id: int) -> Response:
    captain = g.account
    with flash_errors():
        gone = accounts.remove_member(ctx(), captain, account_id)
        flash(gettext("%(name)s is no longer in the team.", name=gone.name), "ok")
    return redirect(url_for("portal.team_page"))


@bp.post(f"/team/invites/<{ID}:invite_id>/cancel")
@page(Permission.MANAGE_TEAM)
def cancel_invite(invite_id: int) -> Response:
    with flash_errors():
        gone = accounts.cancel_invite(ctx(), g.account, invite_id)
        flash(gettext("The invite of %(name)s no longer works.", name=gone.name), "ok")
    return redirect(url_for("portal.team_page"))
