"""The audit log: who did what, when. Every change a person, a token or the range itself makes
is written in the transaction of the change, with its actor as columns (``core.actors``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.specs.api.event import AuditOut
from range_control.store.models import AuditLog


def audit(session: Session, ctx: Range, actor: Actor, action: str, **detail: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, detail=detail, created_at=ctx.clock.now()))


def view(a: AuditLog) -> AuditOut:
    who = a.actor
    return AuditOut(
        id=a.id,
        actor=who.label,
        actor_kind=who.kind,
        actor_id=who.id,
        team_id=who.team_id,
        action=a.action,
        detail=a.detail,
        created_at=a.created_at,
    )


def audit_log(ctx: Range, limit: int = 200) -> list[AuditOut]:
    with ctx.store.read() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
        return [view(a) for a in rows]
