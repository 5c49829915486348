"""Environments: the grid of team instances, bringing them up, down or fresh, and the WireGuard
gateways."""

from __future__ import annotations

from typing import Any

from flask import Response, g

from range_control.core.permissions import Permission
from range_control.services.environments import instances, team_access
from range_control.specs.api.environments import EnvChangeOut, EnvList, EnvSelectionIn, GatewaysOut
from range_control.web.api import delete, get, ok, parse, post
from range_control.web.common import ID, ctx


# --- environments -------------------------------------------------------------------------
@get("/admin/environments", Permission.LOOK, out=EnvList)
def admin_environments():
    """Every desired instance with what the reconciler last saw (state, health, restarts)."""
    return ok(EnvList, instances.status(ctx()))


def _env_change(action: str, change: Any, summary: str) -> None:
    """``POST /admin/environments/<action>``: one selection body, one service call."""

    def view():
        body = parse(EnvSelectionIn)
        sel = instances.Selection(team=body.team, challenge=body.challenge)
        return ok(EnvChangeOut, {"changed": change(ctx(), sel, g.actor)})

    view.__name__ = f"admin_environments_{action}"
    view.__doc__ = summary
    post(
        f"/admin/environments/{action}",
        Permission.CHANGE,
        out=EnvChangeOut,
        json=EnvSelectionIn,
        errors=(404,),
    )(view)


_env_change(
    "up", instances.up, "Make instances desired (all teams x open live challenges, or filtered)."
)
_env_change(
    "down",
    instances.down,
    "Remove instances from the desired state (with no filter: every one of the event).",
)
_env_change(
    "reset",
    instances.reset,
    "Fresh containers for the selected existing instances (a new generation each).",
)


# --- WireGuard ------------------------------------------------------------------------------
@get("/admin/wireguard", Permission.LOOK, out=GatewaysOut)
def admin_gateways():
    """Every team with WireGuard devices: its gateway and each device's last handshake."""
    reason, gateways = team_access.gateways(ctx())
    return ok(GatewaysOut, GatewaysOut(reason=reason, gateways=gateways))


@delete(f"/admin/wireguard/<{ID}:peer_id>", Permission.CHANGE, out=None, status=204, errors=(404,))
def admin_revoke_peer(peer_id: int):
    """Revoke a team's device: its gateway forgets it at once."""
    team_access.revoke_peer(ctx(), peer_id, g.actor)
    return Response(status=204)
