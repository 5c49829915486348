"""Team routes: the catalog, attempts, hints and the team's own standing (Bearer team token)."""

from __future__ import annotations

from flask import Response, g, request
from spectree import Response as Doc

from range_control.services.environments import instances, team_access
from range_control.services.people import teams
from range_control.services.play import attempts, challenges, hints, scoreboard
from range_control.specs.api.base import ErrorOut
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
from range_control.web.api import ID, bp, ctx, ok, parse, spec, team_required

TEAM = {"team": []}


@bp.get("/challenges")
@spec.validate(
    resp=Doc(HTTP_200=ChallengeList, HTTP_401=ErrorOut),
    tags=["team"],
    security=TEAM,
    skip_validation=True,
)
@team_required
def list_challenges():
    """The visible challenges with their current value, solves and whether we solved them."""
    return ok(ChallengeList, challenges.team_challenges(ctx(), g.team.id))


@bp.get("/challenges/<slug>")
@spec.validate(
    resp=Doc(HTTP_200=ChallengeDetail, HTTP_401=ErrorOut, HTTP_404=ErrorOut),
    tags=["team"],
    security=TEAM,
    skip_validation=True,
)
@team_required
def get_challenge(slug: str):
    """One challenge: description, files, hints (content only once unlocked)."""
    return ok(ChallengeDetail, challenges.challenge_detail(ctx(), g.team.id, slug[:100]))


@bp.post("/challenges/<slug>/attempts")
@spec.validate(
    json=AttemptIn,
    resp=Doc(
        HTTP_200=AttemptOut,
        HTTP_400=ErrorOut,
        HTTP_401=ErrorOut,
        HTTP_403=ErrorOut,
        HTTP_404=ErrorOut,
        HTTP_429=ErrorOut,
    ),
    tags=["team"],
    security=TEAM,
    skip_validation=True,
)
@team_required
def submit_attempt(slug: str):
    """Submit a flag. 429 with Retry-After after too many wrong flags (per team, per minute)."""
    body = parse(AttemptIn)
    result = attempts.submit(ctx(), g.team.id, slug[:100], body.flag, request.remote_addr)
    return ok(AttemptOut, result)


@bp.post(f"/hints/<{ID}:hint_id>/unlock")
@spec.validate(
    resp=Doc(HTTP_200=HintOut, HTTP_401=ErrorOut, HTTP_403=ErrorOut, HTTP_404=ErrorOut),
    tags=["team"],
    security=TEAM,
    skip_validation=True,
)
@team_required
def unlock_hint(hint_id: int):
    """Unlock a hint; its cost is deducted once. Unlocking again costs nothing."""
    return ok(HintOut, hints.unlock(ctx(), g.team.id, hint_id))


INSTANCE_DOC = dict(tags=["team"], security=TEAM, skip_validation=True)


@bp.get("/challenges/<slug>/instance")
@spec.validate(resp=Doc(HTTP_200=InstanceOut, HTTP_401=ErrorOut, HTTP_404=ErrorOut), **INSTANCE_DOC)
@team_required
def get_instance(slug: str):
    """Our instance of a live challenge: state, health, expiry and connection info (ours only)."""
    return ok(InstanceOut, instances.instance_info(ctx(), g.team.id, slug[:100]))


@bp.post("/challenges/<slug>/instance")
@spec.validate(
    resp=Doc(
        HTTP_202=InstanceOut,
        HTTP_401=ErrorOut,
        HTTP_403=ErrorOut,
        HTTP_404=ErrorOut,
        HTTP_429=ErrorOut,
    ),
    **INSTANCE_DOC,
)
@team_required
def start_instance(slug: str):
    """Start our instance, or reset it to fresh containers; the reconciler does it shortly."""
    return ok(InstanceOut, instances.request_instance(ctx(), g.team.id, slug[:100], _actor()), 202)


@bp.post("/challenges/<slug>/instance/extend")
@spec.validate(
    resp=Doc(HTTP_200=InstanceOut, HTTP_404=ErrorOut, HTTP_409=ErrorOut, HTTP_429=ErrorOut),
    **INSTANCE_DOC,
)
@team_required
def extend_instance(slug: str):
    """In the last quarter of its lifetime, give our instance a full lifetime again."""
    return ok(InstanceOut, instances.extend_instance(ctx(), g.team.id, slug[:100], _actor()))


@bp.delete("/challenges/<slug>/instance")
@spec.validate(resp=Doc(HTTP_204=None, HTTP_404=ErrorOut, HTTP_429=ErrorOut), **INSTANCE_DOC)
@team_required
def delete_instance(slug: str):
    """Stop our instance; its containers are removed shortly."""
    instances.stop_instance(ctx(), g.team.id, slug[:100], _actor())
    return Response(status=204)


@bp.get("/me")
@spec.validate(
    resp=Doc(HTTP_200=MeOut, HTTP_401=ErrorOut), tags=["team"], security=TEAM, skip_validation=True
)
@team_required
def me():
    """Our team, position and ledger: every point explained."""
    t = g.team
    standing = scoreboard.ledger(ctx(), t.id, public=True)
    return ok(MeOut, MeOut(id=t.id, name=t.name, country=t.country, standing=standing))


# --- how we reach our targets: SSH keys, WireGuard devices ---------------------------------
ACCESS_DOC = dict(tags=["team"], security=TEAM, skip_validation=True)


def _actor() -> str:
    return teams.machine_actor(g.team.name)


@bp.get("/access")
@spec.validate(resp=Doc(HTTP_200=TeamAccessOut, HTTP_401=ErrorOut), **ACCESS_DOC)
@team_required
def get_access():
    """Our members' SSH keys on the jumpbox, whether WireGuard is on, and our devices."""
    return ok(TeamAccessOut, team_access.team_access(ctx(), g.team.id))


@bp.post("/access/ssh-keys")
@spec.validate(
    json=SshKeyIn,
    resp=Doc(HTTP_201=SshKeyOut, HTTP_400=ErrorOut, HTTP_401=ErrorOut, HTTP_409=ErrorOut),
    **ACCESS_DOC,
)
@team_required
def add_ssh_key():
    """Add a member's SSH public key to our jumpbox (it works there within seconds)."""
    body = parse(SshKeyIn)
    key = team_access.add_ssh_key(ctx(), g.team.id, body.label, body.public_key, _actor())
    return ok(SshKeyOut, key, 201)


@bp.delete(f"/access/ssh-keys/<{ID}:key_id>")
@spec.validate(resp=Doc(HTTP_204=None, HTTP_401=ErrorOut, HTTP_404=ErrorOut), **ACCESS_DOC)
@team_required
def remove_ssh_key(key_id: int):
    """Remove one of our SSH keys from the jumpbox."""
    team_access.remove_ssh_key(ctx(), g.team.id, key_id, _actor())
    return Response(status=204)


@bp.post("/access/wireguard")
@spec.validate(
    json=PeerIn,
    resp=Doc(
        HTTP_201=NewPeerOut,
        HTTP_400=ErrorOut,
        HTTP_401=ErrorOut,
        HTTP_409=ErrorOut,
        HTTP_503=ErrorOut,
    ),
    **ACCESS_DOC,
)
@team_required
def add_peer():
    """A WireGuard device: its configuration, with a private key shown this once."""
    body = parse(PeerIn)
    response = ok(NewPeerOut, team_access.add_peer(ctx(), g.team.id, body.label, _actor()), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete(f"/access/wireguard/<{ID}:peer_id>")
@spec.validate(resp=Doc(HTTP_204=None, HTTP_401=ErrorOut, HTTP_404=ErrorOut), **ACCESS_DOC)
@team_required
def revoke_peer(peer_id: int):
    """Revoke one of our devices: it cannot connect from now on."""
    team_access.revoke_peer(ctx(), peer_id, _actor(), team_id=g.team.id)
    return Response(status=204)
