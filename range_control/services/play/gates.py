"""Whether a challenge is open to a team: its prerequisites.

A challenge whose prerequisites the team has not all solved is *locked*: the team sees its
name, category and value, and nothing else of it (description, attachments, hints, instance,
attempts), as in CTFd."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection

from range_control.core.errors import Locked
from range_control.store.models import Challenge, Solve


def missing_prerequisites(c: Connection, team_id: int, prerequisites: Sequence[str]) -> list[str]:
    """The prerequisites (slugs) the team has not solved yet, in their order."""
    if not prerequisites:
        return []
    solved = set(
        c.scalars(
            select(Challenge.slug)
            .join(Solve, Solve.challenge_id == Challenge.id)
            .where(Solve.team_id == team_id, Challenge.slug.in_(list(prerequisites)))
        )
    )
    return [p for p in prerequisites if p not in solved]


def require_unlocked(c: Connection, team_id: int, slug: str, prerequisites: Sequence[str]) -> None:
    missing = missing_prerequisites(c, team_id, prerequisites)
    if missing:
        raise Locked(
            "challenge {slug!r} is locked until you solve: {missing}",
            slug=slug,
            missing=", ".join(missing),
        )
