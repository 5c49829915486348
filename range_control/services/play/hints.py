"""Hints: a team sees title and cost, pays once to read one; the cost shows in its ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.errors import EventNotRunning, Locked, NotFound
from range_control.core.languages import hint_translations
from range_control.domain.visibility import is_visible
from range_control.services.event.event import bump_generation, ensure_event, view_of
from range_control.services.play import gates
from range_control.specs.api.play import HintOut
from range_control.store.models import Challenge, Hint, HintUnlock


def _hint_view(h: Hint, shown: bool, waiting_for: list[int], translations: Any) -> HintOut:
    """A hint as a team sees it: its content (in every language) only once open."""
    langs = {
        lang: {k: v for k, v in t.items() if v and (k == "title" or shown)}
        for lang, t in hint_translations(translations, h.position).items()
    }
    return HintOut(
        id=h.id,
        title=h.title,
        cost=h.cost,
        unlocked=shown,
        content=h.content if shown else None,
        requires=waiting_for,
        translations={lang: t for lang, t in langs.items() if t},
    )


def _open_hints(rows: Sequence[Hint], paid: set[int]) -> dict[int, list[int]]:
    """Hint id -> the ids of the prerequisite hints (challenge.yml's hint ``requirements``)
    this team has not opened yet; a hint is open when paid for, free or released, and all its
    prerequisites are open."""
    by_pos = {h.position: h for h in rows}
    memo: dict[int, bool] = {}

    def is_open(h: Hint, seen: frozenset[int]) -> bool:
        if h.id not in memo:
            own = h.id in paid or h.cost == 0 or h.released
            memo[h.id] = own and all(
                p not in seen and is_open(by_pos[p], seen | {p})
                for p in h.requires or []
                if p in by_pos
            )
        return memo[h.id]

    return {
        h.id: [
            by_pos[p].id
            for p in h.requires or []
            if p in by_pos and not is_open(by_pos[p], frozenset({h.position, p}))
        ]
        for h in rows
    }


def _paid(s: Session, team_id: int, rows: Sequence[Hint]) -> set[int]:
    return set(
        s.scalars(
            select(HintUnlock.hint_id).where(
                HintUnlock.team_id == team_id, HintUnlock.hint_id.in_([h.id for h in rows])
            )
        )
    )


def _hints_of(s: Session, challenge_id: int) -> Sequence[Hint]:
    return s.scalars(
        select(Hint)
        .where(Hint.challenge_id == challenge_id, Hint.retired.is_(False))
        .order_by(Hint.position)
    ).all()


def hints_for(s: Session, team_id: int, challenge_id: int, translations: Any) -> list[HintOut]:
    rows = _hints_of(s, challenge_id)
    paid = _paid(s, team_id, rows)
    waiting = _open_hints(rows, paid)
    return [
        _hint_view(
            h,
            not waiting[h.id] and (h.id in paid or h.cost == 0 or h.released),
            waiting[h.id],
            translations,
        )
        for h in rows
    ]


def unlock(ctx: Range, team_id: int, hint_id: int, account_id: int | None = None) -> HintOut:
    """Pay for a hint (once); unlocking again returns it without charging. ``account_id``: the
    member who bought it (None: the team's token)."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        hint = s.get(Hint, hint_id)
        if hint is None or hint.retired:
            raise NotFound("hint {hint_id} not found", hint_id=hint_id)
        ch = s.get(Challenge, hint.challenge_id)
        if ch is None or not is_visible(ch):
            raise NotFound("hint {hint_id} not found", hint_id=hint_id)
        gates.require_unlocked(s.connection(), team_id, ch.slug, ch.prerequisites)
        rows = _hints_of(s, ch.id)
        paid = _paid(s, team_id, rows)
        waiting = _open_hints(rows, paid).get(hint.id, [])
        if waiting:
            raise Locked(
                "hint {hint_id} needs hint(s) {waiting} unlocked first",
                hint_id=hint_id,
                waiting=", ".join(map(str, waiting)),
            )
        if hint.id in paid or hint.cost == 0 or hint.released:
            return _hint_view(hint, True, [], ch.translations)
        event = view_of(ensure_event(s, ctx), now)
        if not event.running:
            raise EventNotRunning("the event is not running (state: {state})", state=event.state)
        try:
            with s.begin_nested():
                s.add(
                    HintUnlock(
                        team_id=team_id,
                        hint_id=hint_id,
                        cost=hint.cost,
                        created_at=now,
                        account_id=account_id,
                    )
                )
        except IntegrityError:
            return _hint_view(hint, True, [], ch.translations)
        bump_generation(s, ctx)
        return _hint_view(hint, True, [], ch.translations)
