"""WireGuard: each team's gateway and its devices' last handshake; revoke any of them."""

from __future__ import annotations

from flask import (
    flash,
    g,
    redirect,
    render_template,
    url_for,
)
from werkzeug.wrappers import Response

from range_control.core.permissions import Permission
from range_control.services.environments import team_access
from range_control.web.common import ID
from range_control.web.i18n import gettext
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.console import bp, page


@bp.get("/wireguard")
@page(Permission.LOOK)
def wireguard_page() -> str:
    """Each team's gateway and its devices' last handshake; revoke any of them."""
    reason, gateways = team_access.gateways(ctx())
    return render_template("console/wireguard.html", reason=reason, gateways=gateways)


@bp.post(f"/wireguard/<{ID}:peer_id>/revoke")
@page(Permission.CHANGE)
def revoke_peer(peer_id: int) -> Response:
    with flash_errors():
        team_access.revoke_peer(ctx(), peer_id, g.actor)
        flash(gettext("Device revoked: it cannot connect any more."), "ok")
    return redirect(url_for("console.wireguard_page"))
