"""The audit log: who did what, when. Every change a person, a token or the range itself makes
is written in the transaction of the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.specs.api.event import AuditOut
from range_control.store.models import AuditLog


def audit(session: Session, ctx: Range, actor: str, action: str, **detail: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, detail=detail, created_at=ctx.clock.now()))


def audit_log(ctx: Range, limit: int = 200) -> list[AuditOut]:
    with ctx.store.read() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
        return [AuditOut.model_validate(a) for a in rows]
