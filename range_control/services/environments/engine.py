"""The engine a range runs on, chosen by the settings, as a ``Backend``."""

from __future__ import annotations

from collections.abc import Callable

from range_control.core.errors import Unavailable
from range_control.core.settings import Settings
from range_control.orchestrator import connect
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import BackendError

# The engine's protocol, for the interfaces (which do not import the orchestrator).
__all__ = ["Backend", "backend"]


def backend(
    settings: Settings, *, publish_ip: str | None = None, health_interval: float | None = None
) -> Backend:
    """The configured engine, known to answer; :class:`Unavailable` (one clear line) if not."""
    try:
        return connect(settings, publish_ip=publish_ip, health_interval=health_interval)
    except BackendError as exc:
        raise Unavailable("the engine cannot be used: {reason}", reason=str(exc)) from None


def image_checker(settings: Settings) -> Callable[[str], bool | None] | None:
    """Whether the configured engine has an image (the range pulls from no public registry):
    True, False, or None when no engine answers (connected on first use, once). None at all
    with environments off."""
    if not settings.environments_on:
        return None
    found: list[Backend | None] = []

    def present(ref: str) -> bool | None:
        if not found:
            try:
                found.append(backend(settings))
            except Unavailable:
                found.append(None)
        engine = found[0]
        if engine is None:
            return None
        try:
            return engine.image_present(ref)
        except BackendError:
            return None

    return present
