"""Environments: team instances and how to reach them, the environment grid, SSH keys and WireGuard
devices and gateways."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, RootModel

from range_control.specs.api.base import VIEW, Body, View


# --- environments -------------------------------------------------------------------------
class JumpboxOut(View):
    host: str
    port: int
    user: str
    password: str
    command: str


class TeamJumpboxOut(View):
    team: str
    jumpbox: JumpboxOut


class ServicePortsOut(View):
    name: str
    ports: list[int]


class PublishedOut(View):
    service: str
    port: int
    address: str


class ConnectionOut(View):
    jumpbox: JumpboxOut | None = Field(description="null until the reconciler gave it a port")
    services: list[ServicePortsOut] = Field(description="reachable by name from the jumpbox")
    published: list[PublishedOut]


class InstanceOut(View):
    challenge: str
    state: Literal["absent", "pending", "running", "failed", "unavailable"]
    health: str | None
    expires_at: datetime | None
    can_extend_from: datetime | None
    connection: ConnectionOut | None


class EnvSelectionIn(Body):
    team: str | None = Field(
        default=None, max_length=100, description='a name or "#<id>"; null: all'
    )
    challenge: str | None = Field(default=None, max_length=63, description="slug; null: all open")


class EnvChangeOut(View):
    changed: int = Field(description="instances added, reset or removed (desired state)")


class EnvRowOut(View):
    id: int
    team: str
    challenge: str
    state: str
    health: str | None
    restarts: int
    expires_at: datetime | None
    last_error: str | None
    node: str | None = Field(default=None, description="where it runs (Swarm); null: one engine")


class EnvList(RootModel[list[EnvRowOut]]):
    model_config = VIEW


# --- team access: SSH keys, WireGuard -----------------------------------------------------
class SshKeyIn(Body):
    label: str = Field(min_length=1, max_length=64, description="whose key (a member's name)")
    public_key: str = Field(
        min_length=1, max_length=8192, description="one OpenSSH public key line (.pub)"
    )


class SshKeyOut(View):
    id: int
    label: str
    fingerprint: str
    kind: str
    created_at: datetime


class PeerIn(Body):
    label: str = Field(min_length=1, max_length=64, description="whose device")


class PeerOut(View):
    id: int
    label: str
    address: str
    public_key: str
    created_at: datetime
    latest_handshake: datetime | None = None  # as the gateway reports it, when it runs


class NewPeerOut(View):
    """Shown once: the private key is in ``config`` and nowhere on the range."""

    peer: PeerOut
    config: str
    filename: str


class WireGuardOut(View):
    enabled: bool
    reason: str | None = Field(default=None, description="why it is off, when it is")
    endpoint: str | None = None
    peers_limit: int


class TeamAccessOut(View):
    ssh_keys: list[SshKeyOut]
    ssh_keys_limit: int
    wireguard: WireGuardOut
    peers: list[PeerOut]


class GatewayPeerOut(View):
    id: int
    label: str
    address: str
    endpoint: str | None
    latest_handshake: datetime | None
    received: int
    sent: int


class GatewayOut(View):
    team: str
    team_id: int
    port: int | None
    state: str  # running | absent (no environment yet) | <engine state>
    error: str | None = None
    peers: list[GatewayPeerOut]


class GatewaysOut(View):
    reason: str | None = Field(default=None, description="why WireGuard is off, when it is")
    gateways: list[GatewayOut]
