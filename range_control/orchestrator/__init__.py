"""Engines: the ``Backend`` protocol, its implementations, images and the reconciler."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from range_control.core.settings import Settings
    from range_control.orchestrator.protocols import Backend


def connect(
    settings: Settings, *, publish_ip: str | None = None, health_interval: float | None = None
) -> Backend:
    """The backend the settings choose (``RANGE_ENGINE``), connected; the Docker SDK is
    imported only here."""
    if settings.engine == "swarm":
        from range_control.orchestrator.swarm import SwarmBackend

        return SwarmBackend.from_settings(
            settings, publish_ip=publish_ip, health_interval=health_interval
        )
    from range_control.orchestrator.docker import DockerBackend

    return DockerBackend.from_settings(
        settings, publish_ip=publish_ip, health_interval=health_interval
    )
