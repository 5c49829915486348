"""How a team's members reach their targets: the jumpbox, their SSH keys, their WireGuard devices
(a new device's configuration is in one answer only)."""

from __future__ import annotations

import base64

from flask import (
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response

from range_control.core.permissions import Permission
from range_control.services.environments import instances, team_access
from range_control.web.common import ID
from range_control.web.i18n import gettext
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.portal import bp, page


# --- how we reach our targets --------------------------------------------------------------
@bp.get("/access")
@page(Permission.PLAY)
def access() -> str:
    team_id = g.team.id
    return render_template(
        "portal/access.html",
        jumpbox=instances.team_jumpbox(ctx(), team_id),
        access=team_access.team_access(ctx(), team_id),
    )


def _back_to_access() -> Response:
    return redirect(url_for("portal.access"))


@bp.post("/access/ssh-keys")
@page(Permission.PLAY)
def add_ssh_key() -> Response:
    with flash_errors():
        key = team_access.add_ssh_key(
            ctx(),
            g.team.id,
            request.form.get("label", ""),
            request.form.get("public_key", ""),
            g.actor,
        )
        flash(
            gettext(
                "Key %(fingerprint)s added: it works on your jumpbox within seconds.",
                fingerprint=key.fingerprint,
            ),
            "ok",
        )
    return _back_to_access()


@bp.post(f"/access/ssh-keys/<{ID}:key_id>/remove")
@page(Permission.PLAY)
def remove_ssh_key(key_id: int) -> Response:
    with flash_errors():
        team_access.remove_ssh_key(ctx(), g.team.id, key_id, g.actor)
        flash(gettext("Key removed."), "ok")
    return _back_to_access()


@bp.post("/access/wireguard")
@page(Permission.PLAY)
def add_peer() -> Response:
    """The new device's configuration in this answer only (its private key is nowhere else)."""
    with flash_errors():
        new = team_access.add_peer(ctx(), g.team.id, request.form.get("label", ""), g.actor)
        body = render_template(
            "portal/wireguard_new.html",
            new=new,
            qr=_qr_svg(new.config),
            download=_data_uri(new.config),
        )
        return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")
    return _back_to_access()


@bp.post(f"/access/wireguard/<{ID}:peer_id>/revoke")
@page(Permission.PLAY)
def revoke_peer(peer_id: int) -> Response:
    with flash_errors():
        team_access.revoke_peer(ctx(), peer_id, g.actor, team_id=g.team.id)
        flash(gettext("Device revoked: it cannot connect any more."), "ok")
    return _back_to_access()


def _qr_svg(text: str) -> Markup:
    """The configuration as a QR code for the WireGuard mobile apps, inline SVG (no request
    leaves the page, the code exists only in this answer)."""
    import segno

    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=3, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # noqa: S704 - segno's own SVG of our text, no markup of a user's


def _data_uri(text: str) -> str:
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()
