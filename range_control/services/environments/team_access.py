"""How a team's members reach their targets besides the jumpbox's password: their own SSH
public keys on the jumpbox, and WireGuard peers on the team's gateway.

Keys and peers are rows; the reconciler gives them to the running jumpbox and gateway on its
next pass (in place: nobody's session closes). Revoking a peer also pushes the gateway's peer
list at once, so a revoked device cannot handshake a second later. Rotating a team's token or
disabling the team removes every key and peer (:func:`revoke_all`), as it changes the
jumpbox's password."""

from __future__ import annotations

import ipaddress
import logging
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from range_control.core.settings import secret
from range_control.domain.keys import (
    clean_label,
    client_config,
    gateway_interface,
    gateway_keys,
    new_keypair,
    parse_ssh_key,
    tunnel_addresses,
)
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import BackendError, DesiredGateway, Observed
from range_control.services.audit import audit
from range_control.services.environments import engine
from range_control.services.environments.ports import WIREGUARD, PortPool
from range_control.specs.api.environments import (
    GatewayOut,
    GatewayPeerOut,
    NewPeerOut,
    PeerOut,
    SshKeyOut,
    TeamAccessOut,
    WireGuardOut,
)
from range_control.store.models import PortAllocation, SshKey, Team, WireGuardPeer

log = logging.getLogger("range_control.access")


def _label(label: str) -> str:
    try:
        return clean_label(label)
    except ValueError as exc:
        raise InvalidInput("label: {reason}", reason=exc) from None


# --- SSH keys ------------------------------------------------------------------------------
def _key_view(k: SshKey) -> SshKeyOut:
    return SshKeyOut(
        id=k.id,
        label=k.label,
        fingerprint=k.fingerprint,
        kind=k.public_key.split(" ", 1)[0],
        created_at=k.created_at,
    )


def ssh_keys(ctx: Range, team_id: int) -> list[SshKeyOut]:
    with ctx.store.read() as s:
        rows = s.scalars(select(SshKey).where(SshKey.team_id == team_id).order_by(SshKey.id))
        return [_key_view(k) for k in rows]


def add_ssh_key(ctx: Range, team_id: int, label: str, text: str, actor: Actor) -> SshKeyOut:
    """A member's public key for the team's jumpbox (in place on its next pass)."""
    label = _label(label)
    try:
        key = parse_ssh_key(text)
    except ValueError as exc:
        raise InvalidInput("public_key: {reason}", reason=exc) from None
    limit = ctx.settings.ssh_keys_per_team
    with ctx.store.write() as s:
        have = s.scalar(select(func.count()).where(SshKey.team_id == team_id)) or 0
        if have >= limit:
            raise Conflict(
                "your team has {count} SSH keys, the most it may have (remove one first)",
                count=limit,
            )
        if s.scalar(
            select(SshKey.id).where(
                SshKey.team_id == team_id, SshKey.fingerprint == key.fingerprint
            )
        ):
            raise Conflict(
                "this key is already on your jumpbox ({fingerprint})", fingerprint=key.fingerprint
            )
        row = SshKey(
            team_id=team_id,
            label=label,
            public_key=key.line,
            fingerprint=key.fingerprint,
            created_at=ctx.clock.now(),
        )
        s.add(row)
        s.flush()
        audit(
            s,
            ctx,
            actor,
            "team.ssh_key.add",
            team_id=team_id,
            label=label,
            fingerprint=key.fingerprint,
        )
        return _key_view(row)


def remove_ssh_key(ctx: Range, team_id: int, key_id: int, actor: Actor) -> None:
    with ctx.store.write() as s:
        row = s.get(SshKey, key_id)
        if row is None or row.team_id != team_id:
            raise NotFound("SSH key {key_id} not found", key_id=key_id)
        audit(
            s,
            ctx,
            actor,
            "team.ssh_key.remove",
            team_id=team_id,
            label=row.label,
            fingerprint=row.fingerprint,
        )
        s.delete(row)


# --- WireGuard -----------------------------------------------------------------------------
def _wireguard(ctx: Range) -> tuple[Backend | None, str | None]:
    """The engine, when teams can have WireGuard access on it; else why not (one connection
    for all a use case asks of it)."""
    if ctx.settings.wireguard != "on":
        return None, (
            "WireGuard access is off on this range (RANGE_WIREGUARD=off): use the SSH jumpbox"
        )
    if not ctx.settings.environments_on:
        return None, "this range runs no environments (RANGE_ENVIRONMENTS=off)"
    try:
        backend = engine.backend(ctx.settings)
    except Unavailable as exc:
        return None, exc.message
    problem = backend.wireguard_problem()
    return (None, problem) if problem is not None else (backend, None)


def _peer_view(p: WireGuardPeer, handshake: int = 0) -> PeerOut:
    seen = datetime.fromtimestamp(handshake, UTC) if handshake else None
    return PeerOut(
        id=p.id,
        label=p.label,
        address=p.address,
        public_key=p.public_key,
        created_at=p.created_at,
        latest_handshake=seen,
    )


def _endpoint(ctx: Range, alloc: PortAllocation | None) -> str | None:
    if alloc is None:
        return None
    return f"{alloc.host or ctx.settings.public_host}:{alloc.port}"


def _gateway_port(s: Session, team_id: int) -> PortAllocation | None:
    return s.scalar(
        select(PortAllocation).where(
            PortAllocation.team_id == team_id, PortAllocation.purpose == WIREGUARD
        )
    )


def team_access(ctx: Range, team_id: int) -> TeamAccessOut:
    """Everything the portal's access page shows: keys, WireGuard's state and the peers (with
    their last handshake when the gateway runs)."""
    backend, problem = _wireguard(ctx)
    with ctx.store.read() as s:
        rows = list(
            s.scalars(
                select(WireGuardPeer)
                .where(WireGuardPeer.team_id == team_id)
                .order_by(WireGuardPeer.id)
            )
        )
        endpoint = _endpoint(ctx, _gateway_port(s, team_id))
    seen = _handshakes(backend, ctx.event_slug, [team_id]).get(team_id, {}) if rows else {}
    return TeamAccessOut(
        ssh_keys=ssh_keys(ctx, team_id),
        ssh_keys_limit=ctx.settings.ssh_keys_per_team,
        wireguard=WireGuardOut(
            enabled=problem is None,
            reason=problem,
            endpoint=endpoint,
            peers_limit=ctx.settings.wireguard_peers_per_team,
        ),
        peers=[_peer_view(p, seen.get(p.public_key, (None, 0, 0, 0))[1]) for p in rows],
    )


def add_peer(ctx: Range, team_id: int, label: str, actor: Actor) -> NewPeerOut:
    """A member's device: a fresh key pair, its tunnel address and the gateway's port held
    now; the configuration (with the private key) is returned once and not kept."""
    label = _label(label)
    backend, problem = _wireguard(ctx)
    if backend is None:
        raise Unavailable("{reason}", reason=problem)
    routes = backend.address_pools()
    clash = check_subnet(ctx.settings.wireguard_subnet, routes)
    if clash is not None:
        raise Unavailable("{reason}", reason=clash)
    subnet = ctx.settings.wireguard_subnet
    gateway_ip, member_ips = tunnel_addresses(subnet)
    limit = min(ctx.settings.wireguard_peers_per_team, len(member_ips))
    private, public = new_keypair()
    with ctx.store.write() as s:
        taken = set(
            s.scalars(select(WireGuardPeer.address).where(WireGuardPeer.team_id == team_id))
        )
        if len(taken) >= limit:
            raise Conflict(
                "your team has {count} WireGuard devices, the most it may have (revoke one first)",
                count=limit,
            )
        address = next(ip for ip in member_ips if ip not in taken)
        PortPool(s, ctx).get(team_id, None, WIREGUARD)
        row = WireGuardPeer(
            team_id=team_id,
            label=label,
            public_key=public,
            address=address,
            created_at=ctx.clock.now(),
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # another device of the team took that address just now
            raise Conflict("another device was added at the same moment: try again") from None
        endpoint = _endpoint(ctx, _gateway_port(s, team_id))
        team_name = s.scalar(select(Team.name).where(Team.id == team_id)) or str(team_id)
        audit(
            s,
            ctx,
            actor,
            "team.wireguard.add",
            team_id=team_id,
            label=label,
            address=address,
            public_key=public,
        )
        view = _peer_view(row)
    config = client_config(
        private_key=private,
        address=address,
        endpoint=endpoint or "",
        gateway_public_key=gateway_keys(secret(ctx.settings.flag_secret), ctx.event_slug, team_id)[
            1
        ],
        routes=[*routes, ctx.settings.game_subnet],
        gateway_address=gateway_ip,
        label=f"{label} ({team_name})",
    )
    return NewPeerOut(peer=view, config=config, filename=_filename(label))


def _filename(label: str) -> str:
    """wg-quick names the interface after the file: at most 15 characters, [a-zA-Z0-9_=+.-]."""
    safe = "".join(ch for ch in label if ch.isascii() and (ch.isalnum() or ch in "-_"))
    return (safe[:15] or "range") + ".conf"


def revoke_peer(ctx: Range, peer_id: int, actor: Actor, team_id: int | None = None) -> None:
    """Remove a device (a team its own, an organiser any): the gateway forgets it at once."""
    with ctx.store.write() as s:
        row = s.get(WireGuardPeer, peer_id)
        if row is None or (team_id is not None and row.team_id != team_id):
            raise NotFound("WireGuard device {peer_id} not found", peer_id=peer_id)
        owner = row.team_id
        audit(
            s,
            ctx,
            actor,
            "team.wireguard.revoke",
            team_id=owner,
            label=row.label,
            address=row.address,
            public_key=row.public_key,
        )
        s.delete(row)
    push(ctx, owner)


def revoke_all(s: Session, team_id: int) -> None:
    """Every key and peer of the team goes (its token rotated, or it was disabled), in the
    caller's transaction; the caller pushes the gateway after it commits."""
    s.execute(delete(SshKey).where(SshKey.team_id == team_id))
    s.execute(delete(WireGuardPeer).where(WireGuardPeer.team_id == team_id))


def desired_gateway(
    ctx: Range, team_id: int, port: int, peers: list[tuple[str, str]]
) -> DesiredGateway:
    """The team's gateway as it should run (the reconciler's and :func:`push`'s view)."""
    private = gateway_keys(secret(ctx.settings.flag_secret), ctx.event_slug, team_id)[0]
    return DesiredGateway(
        ctx.event_slug,
        team_id,
        port,
        private,
        gateway_interface(ctx.settings.wireguard_subnet),
        tuple(sorted(peers)),
        ctx.settings.game_subnet,
    )


def _gateways(backend: Backend, event: str) -> dict[int, Observed]:
    return {
        o.team_id: o
        for o in backend.containers(event)
        if o.role == "gateway" and o.team_id is not None and o.status == "running"
    }


def push(ctx: Range, team_id: int) -> bool:
    """Give the team's running gateway its peers now (the reconciler does it on its next pass
    anyway): True when it was done here."""
    with ctx.store.read() as s:
        alloc = _gateway_port(s, team_id)
        query = select(WireGuardPeer.public_key, WireGuardPeer.address).where(
            WireGuardPeer.team_id == team_id
        )
        peers = [(k, a) for k, a in s.execute(query)]
    if alloc is None:
        return False  # never had a gateway
    backend, _problem = _wireguard(ctx)
    if backend is None:
        return False
    try:
        obs = _gateways(backend, ctx.event_slug).get(team_id)
        if obs is None:
            return False
        backend.sync_access(obs, desired_gateway(ctx, team_id, alloc.port, peers))
    except BackendError as exc:
        log.warning("gateway of team %s not updated now (the reconciler retries): %s", team_id, exc)
        return False
    return True


# What a gateway says of each device, by public key: (endpoint, latest handshake, rx, tx).
Seen = dict[str, tuple[str | None, int, int, int]]


def _handshakes(backend: Backend | None, event: str, teams: list[int]) -> dict[int, Seen]:
    """Per team, per public key: (endpoint, latest handshake, received, sent) as the running
    gateways report them (nothing where WireGuard is off or the engine does not answer)."""
    if backend is None or not teams:
        return {}
    out: dict[int, Seen] = {}
    try:
        running = _gateways(backend, event)
        for team in teams:
            if team in running:
                out[team] = {
                    p.public_key: (p.endpoint, p.latest_handshake, p.received, p.sent)
                    for p in backend.gateway_peers(running[team])
                }
    except BackendError as exc:
        log.warning("gateways not read: %s", exc)
    return out


def gateways(ctx: Range) -> tuple[str | None, list[GatewayOut]]:
    """The console's view: why WireGuard is off (if it is), and every team with devices: its
    gateway's state and each device's last handshake."""
    backend, problem = _wireguard(ctx)
    with ctx.store.read() as s:
        teams = {t.id: t.name for t in s.scalars(select(Team))}
        peers = list(
            s.scalars(select(WireGuardPeer).order_by(WireGuardPeer.team_id, WireGuardPeer.id))
        )
        ports = {
            a.team_id: a.port
            for a in s.scalars(select(PortAllocation).where(PortAllocation.purpose == WIREGUARD))
        }
    by_team: dict[int, list[WireGuardPeer]] = {}
    for p in peers:
        by_team.setdefault(p.team_id, []).append(p)
    seen = _handshakes(backend, ctx.event_slug, sorted(by_team))
    out = []
    for team_id, rows in sorted(by_team.items(), key=lambda kv: teams.get(kv[0], "")):
        live = seen.get(team_id)
        peer_views = []
        for p in rows:
            endpoint, handshake, rx, tx = (live or {}).get(p.public_key, (None, 0, 0, 0))
            peer_views.append(
                GatewayPeerOut(
                    id=p.id,
                    label=p.label,
                    address=p.address,
                    endpoint=endpoint,
                    latest_handshake=datetime.fromtimestamp(handshake, UTC) if handshake else None,
                    received=rx,
                    sent=tx,
                )
            )
        out.append(
            GatewayOut(
                team=teams.get(team_id, str(team_id)),
                team_id=team_id,
                port=ports.get(team_id),
                state="running" if live is not None else "absent",
                error=problem,
                peers=peer_views,
            )
        )
    return problem, out


def check_subnet(subnet: str, pools: list[str]) -> str | None:
    """The tunnel subnet must not overlap the engine's address pools (a member's tunnel would
    shadow the teams' networks)."""
    tunnel = ipaddress.ip_network(subnet)
    for pool in pools:
        if tunnel.overlaps(ipaddress.ip_network(pool)):
            return (
                f"RANGE_WIREGUARD_SUBNET {tunnel} overlaps the engine's address pool "
                f"{pool}: members' tunnels would shadow teams' networks"
            )
    return None
