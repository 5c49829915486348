"""The engine a range runs on, chosen by the settings, as a ``Backend``."""

from __future__ import annotations

from range_control.orchestrator import connect
from range_control.orchestrator.backend import Backend, BackendError

__all__ = ["Backend", "backend"]
from range_control.errors import Unavailable
from range_control.settings import Settings


def backend(settings: Settings, *, publish_ip: str | None = None,
            health_interval: float | None = None) -> Backend:  # fmt: skip
    """The configured engine, known to answer; :class:`Unavailable` (one clear line) if not."""
    try:
        return connect(settings, publish_ip=publish_ip, health_interval=health_interval)
    except BackendError as exc:
        raise Unavailable(str(exc)) from None
