"""Team routes: the catalog, attempts, hints and the team's own standing (Bearer team token)."""

from __future__ import annotations

from flask import Response, g, request

from range_control.core.permissions import Permission
from range_control.services.environments import instances, team_access
from range_control.services.play import attempts, challenges, hints, scoreboard
from range_control.specs.api.environments import (
    InstanceOut,
    NewPeerOut,
    PeerIn,
    SshKeyIn,
    SshKeyOut,
    TeamAccessOut,
)
from range_control.specs.api.play import (
    AttemptIn,
    AttemptOut,
    ChallengeDetail,
    ChallengeList,
    HintOut,
    MeOut,
)
from range_control.web.api import delete, get, ok, parse, post
from range_control.web.common import ID, ctx


@get("/challenges", Permission.PLAY, out=ChallengeList)
def list_challenges():
    """The visible challenges with their current value, solves and whether we solved them."""
    return ok(ChallengeList, challenges.team_challenges(ctx(), g.team.id))


@get("/challenges/<slug>", Permission.PLAY, out=ChallengeDetail, errors=(404,))
def get_challenge(slug: str):
    """One challenge: description, files, hints (content only once unlocked)."""
    return ok(ChallengeDetail, challenges.challenge_detail(ctx(), g.team.id, slug[:100]))


@post(
    "/challenges/<slug>/attempts",
    Permission.PLAY,
    out=AttemptOut,
    json=AttemptIn,
    errors=(400, 403, 404, 429),
)
def submit_attempt(slug: str):
    """Submit a flag. 429 with Retry-After after too many wrong flags (per team, per minute)."""
    body = parse(AttemptIn)
    result = attempts.submit(ctx(), g.team.id, slug[:100], body.flag, request.remote_addr)
    return ok(AttemptOut, result)


@post(f"/hints/<{ID}:hint_id>/unlock", Permission.PLAY, out=HintOut, errors=(403, 404))
def unlock_hint(hint_id: int):
    """Unlock a hint; its cost is deducted once. Unlocking again costs nothing."""
    return ok(HintOut, hints.unlock(ctx(), g.team.id, hint_id))


@get("/challenges/<slug>/instance", Permission.PLAY, out=InstanceOut, errors=(404,))
def get_instance(slug: str):
    """Our instance of a live challenge: state, health, expiry and connection info (ours only)."""
    return ok(InstanceOut, instances.instance_info(ctx(), g.team.id, slug[:100]))


@post(
    "/challenges/<slug>/instance",
    Permission.PLAY,
    out=InstanceOut,
    status=202,
    errors=(403, 404, 429),
)
def start_instance(slug: str):
    """Start our instance, or reset it to fresh containers; the reconciler does it shortly."""
    return ok(InstanceOut, instances.request_instance(ctx(), g.team.id, slug[:100], g.actor), 202)


@post(
    "/challenges/<slug>/instance/extend", Permission.PLAY, out=InstanceOut, errors=(404, 409, 429)
)
def extend_instance(slug: str):
    """In the last quarter of its lifetime, give our instance a full lifetime again."""
    return ok(InstanceOut, instances.extend_instance(ctx(), g.team.id, slug[:100], g.actor))


@delete("/challenges/<slug>/instance", Permission.PLAY, out=None, status=204, errors=(404, 429))
def delete_instance(slug: str):
    """Stop our instance; its containers are removed shortly."""
    instances.stop_instance(ctx(), g.team.id, slug[:100], g.actor)
    return Response(status=204)


@get("/me", Permission.PLAY, out=MeOut)
def me():
    """Our team, position and ledger: every point explained."""
    t = g.team
    standing = scoreboard.ledger(ctx(), t.id, public=True)
    return ok(MeOut, MeOut(id=t.id, name=t.name, country=t.country, standing=standing))


# --- how we reach our targets: SSH keys, WireGuard devices ---------------------------------


@get("/access", Permission.PLAY, out=TeamAccessOut)
def get_access():
    """Our members' SSH keys on the jumpbox, whether WireGuard is on, and our devices."""
    return ok(TeamAccessOut, team_access.team_access(ctx(), g.team.id))


@post(
    "/access/ssh-keys", Permission.PLAY, out=SshKeyOut, status=201, json=SshKeyIn, errors=(400, 409)
)
def add_ssh_key():
    """Add a member's SSH public key to our jumpbox (it works there within seconds)."""
    body = parse(SshKeyIn)
    key = team_access.add_ssh_key(ctx(), g.team.id, body.label, body.public_key, g.actor)
    return ok(SshKeyOut, key, 201)


@delete(f"/access/ssh-keys/<{ID}:key_id>", Permission.PLAY, out=None, status=204, errors=(404,))
def remove_ssh_key(key_id: int):
    """Remove one of our SSH keys from the jumpbox."""
    team_access.remove_ssh_key(ctx(), g.team.id, key_id, g.actor)
    return Response(status=204)


@post(
    "/access/wireguard",
    Permission.PLAY,
    out=NewPeerOut,
    status=201,
    json=PeerIn,
    errors=(400, 409, 503),
)
def add_peer():
    """A WireGuard device: its configuration, with a private key shown this once."""
    body = parse(PeerIn)
    response = ok(NewPeerOut, team_access.add_peer(ctx(), g.team.id, body.label, g.actor), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@delete(f"/access/wireguard/<{ID}:peer_id>", Permission.PLAY, out=None, status=204, errors=(404,))
def revoke_peer(peer_id: int):
    """Revoke one of our devices: it cannot connect from now on."""
    team_access.revoke_peer(ctx(), peer_id, g.actor, team_id=g.team.id)
    return Response(status=204)
