"""Whether teams see a challenge: one rule, three sources, in order of precedence.

An organiser's override (hide/show) wins; otherwise the scenario's timeline decides for the
challenges it names; otherwise ``challenge.yml``'s ``state``.
"""

from __future__ import annotations

from typing import Any


def effective_state(admin: str | None, phase: str | None, spec: str) -> str:
    """Organiser override, then the scenario's timeline, then challenge.yml."""
    return admin or phase or spec


def is_visible(ch: Any) -> bool:
    """For anything with ``admin_state``, ``phase_state`` and ``spec_state`` (a row, a record)."""
    return effective_state(ch.admin_state, ch.phase_state, ch.spec_state) == "visible"
