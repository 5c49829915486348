"""Host ports from ``RANGE_PORT_RANGE`` for jumpboxes and published services.

A port is recorded in ``port_allocations`` (in the caller's transaction) before any container
uses it, so a crash never loses or doubles one. Jumpbox ports live as long as their team; a
service's port as long as its instance (the rows cascade)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.errors import Unavailable
from range_control.store.models import PortAllocation

JUMPBOX = "jumpbox"
WIREGUARD = "wireguard"  # a UDP port (every other purpose is TCP)
RED_JUMPBOX = "red-jumpbox"  # the red cell's (held by no team)


def bindable(ip: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """A new allocation skips a port some other process on this host already uses (it would
    fail the container's start on every pass, "address already in use")."""
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def published(service: str, port: int) -> str:
    """The purpose of a published service port."""
    return f"{service}:{port}"


class PortPool:
    """The pool as one transaction sees it: what is held, and the free ports in order."""

    def __init__(self, s: Session, ctx: Range) -> None:
        self.s = s
        self.ctx = ctx
        self.held = {
            (a.team_id, a.instance_id, a.purpose): a.port for a in s.scalars(select(PortAllocation))
        }
        used = set(self.held.values())
        self._free = {
            kind: self._candidates(used, kind) for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
        }

    def _candidates(self, used: set[int], kind: int) -> Iterator[int]:
        """Free in the pool (a port is held for one purpose, TCP or UDP) and on this host."""
        ip = self.ctx.settings.publish_ip
        for p in self.ctx.settings.ports:
            if p not in used and bindable(ip, p, kind):
                used.add(p)
                yield p

    def get(self, team_id: int | None, instance_id: int | None, purpose: str) -> int:
        """The port held for this purpose, or a new one recorded now."""
        key = (team_id, instance_id, purpose)
        if key not in self.held:
            kind = socket.SOCK_DGRAM if purpose == WIREGUARD else socket.SOCK_STREAM
            port = next(self._free[kind], None)
            if port is None:
                raise Unavailable(
                    "the host port pool {port_range} is exhausted (RANGE_PORT_RANGE)",
                    port_range=self.ctx.settings.port_range,
                )
            self.s.add(
                PortAllocation(
                    port=port,
                    team_id=team_id,
                    instance_id=instance_id,
                    purpose=purpose,
                    created_at=self.ctx.clock.now(),
                )
            )
            self.held[key] = port
        return self.held[key]
