"""Hints: a team sees title and cost, pays once to read one; the cost shows in its ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.domain.visibility import is_visible
from range_control.errors import EventNotRunning, NotFound
from range_control.services import access
from range_control.services.events import bump_generation, ensure_event, view_of
from range_control.specs.api import HintOut
from range_control.store.models import Challenge, Hint, HintUnlock


def _hint_view(h: Hint, unlocked: bool) -> HintOut:
    shown = unlocked or h.cost == 0 or h.released
    return HintOut(id=h.id, title=h.title, cost=h.cost, unlocked=shown,
                   content=h.content if shown else None)  # fmt: skip


def hints_for(s: Session, team_id: int, challenge_id: int) -> list[HintOut]:
    rows = s.scalars(
        select(Hint)
        .where(Hint.challenge_id == challenge_id, Hint.retired.is_(False))
        .order_by(Hint.position)
    ).all()
    paid = set(
        s.scalars(
            select(HintUnlock.hint_id).where(
                HintUnlock.team_id == team_id, HintUnlock.hint_id.in_([h.id for h in rows])
            )
        )
    )
    return [_hint_view(h, h.id in paid) for h in rows]


def unlock(ctx: Range, team_id: int, hint_id: int) -> HintOut:
    """Pay for a hint (once); unlocking again returns it without charging."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        hint = s.get(Hint, hint_id)
        if hint is None or hint.retired:
            raise NotFound(f"hint {hint_id} not found")
        ch = s.get(Challenge, hint.challenge_id)
        if ch is None or not is_visible(ch):
            raise NotFound(f"hint {hint_id} not found")
        access.require_unlocked(s.connection(), team_id, ch.slug, ch.prerequisites)
        existing = s.scalar(
            select(HintUnlock.id).where(
                HintUnlock.team_id == team_id, HintUnlock.hint_id == hint_id
            )
        )
        if existing is not None or hint.cost == 0 or hint.released:
            return _hint_view(hint, True)
        event = view_of(ensure_event(s, ctx), now)
        if not event.running:
            raise EventNotRunning(f"the event is not running (state: {event.state})")
        try:
            with s.begin_nested():
                s.add(HintUnlock(team_id=team_id, hint_id=hint_id, cost=hint.cost, created_at=now))
        except IntegrityError:
            return _hint_view(hint, True)
        bump_generation(s, ctx)
        return _hint_view(hint, True)
