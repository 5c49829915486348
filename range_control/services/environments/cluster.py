"""The operator's view of the engine's machines: one engine, or every node of a Swarm."""

from __future__ import annotations

from collections.abc import Callable

from range_control.context import Range
from range_control.core.errors import Unavailable
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import BackendError, NodeInfo

__all__ = ["NodeInfo", "prepare", "status"]


def status(ctx: Range, backend: Backend) -> list[NodeInfo]:
    """Each machine with its role, state, address, labels, and what this event runs there."""
    return sorted(backend.cluster(ctx.event_slug), key=lambda n: (n.role != "manager", n.name))


def prepare(backend: Backend, progress: Callable[[str], None]) -> None:
    """Make the engine ready to place a range's tasks (the host guard on every node), waiting
    for it; :class:`Unavailable` naming what is not ready."""
    try:
        backend.prepare(progress)
    except BackendError as exc:
        raise Unavailable("the engine cannot be used: {reason}", reason=str(exc)) from None
