"""Timed releases: a challenge's state as its release time passes, what is due, what is
overdue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.store.models import Challenge


def released_state(state: str, release_at: datetime | None, now: datetime) -> str:
    """challenge.yml's state, or hidden while its release time (``scheduled_at``) is ahead."""
    return "hidden" if release_at is not None and release_at > now else state


def release_due(s: Session, now: datetime) -> list[tuple[str, datetime]]:
    """Challenges whose release time has come take the state their challenge.yml gives:
    ``(slug, release time)`` of each one released now (idempotent; the scheduler runs it at
    each release time and at every tick)."""
    released = []
    for ch in s.scalars(_due(now)):
        state = spec_state_of(ch)
        if ch.spec_state != state:
            ch.spec_state = state
            released.append((ch.slug, ch.release_at))
    return released  # type: ignore[return-value]  # release_at is set on these rows


def _due(now: datetime) -> Any:
    return select(Challenge).where(Challenge.release_at.is_not(None), Challenge.release_at <= now)


def spec_state_of(ch: Challenge) -> str:
    """The state challenge.yml gives a challenge once it is released."""
    return (ch.spec or {}).get("state", "visible")


def overdue_releases(s: Session, now: datetime) -> list[tuple[datetime, str]]:
    """Release times that have come without the release applied (read only)."""
    return [
        (ch.release_at, f"release:{ch.slug}")
        for ch in s.scalars(_due(now))
        if ch.spec_state != spec_state_of(ch)
    ]


def upcoming_releases(ctx: Range, now: datetime) -> list[tuple[datetime, str]]:
    """Release times still ahead, as the scheduler's milestones."""
    with ctx.store.read_conn() as c:
        rows = c.execute(
            select(Challenge.release_at, Challenge.slug).where(Challenge.release_at > now)
        ).all()
    return [(r.release_at, f"release:{r.slug}") for r in rows]
