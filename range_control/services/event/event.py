"""The event: its effective view as of now (state, times, freeze, the cache generation), its
configured times and scoring options, and the marker that tells pages something changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput
from range_control.services.audit import audit
from range_control.store.models import Announcement, Event, TimelineLog
from range_control.store.prepared import Prepared


@dataclass(frozen=True)
class EventView:
    slug: str
    name: str
    state: str  # effective: an event past its end time reads "ended"
    starts_at: datetime | None
    ends_at: datetime | None
    freeze_at: datetime | None
    points_fixed_at_solve: bool
    first_blood_bonus: int
    frozen: bool
    generation: int

    @property
    def running(self) -> bool:
        return self.state == "running"


def ensure_event(session: Session, ctx: Range) -> Event:
    ev = session.scalar(select(Event).where(Event.slug == ctx.event_slug))
    if ev is None:
        ev = Event(slug=ctx.event_slug, name=ctx.event_slug.upper(), state="not_started")
        session.add(ev)
        session.flush()
    return ev


def view_of(ev: Any, now: datetime) -> EventView:
    """The effective view of an event (an ORM object or a row with the same columns)."""
    state = ev.state
    if state == "running" and ev.ends_at is not None and now >= ev.ends_at:
        state = "ended"
    if state == "running" and ev.starts_at is not None and now < ev.starts_at:
        state = "not_started"
    return EventView(
        slug=ev.slug,
        name=ev.name,
        state=state,
        starts_at=ev.starts_at,
        ends_at=ev.ends_at,
        freeze_at=ev.freeze_at,
        points_fixed_at_solve=ev.points_fixed_at_solve,
        first_blood_bonus=ev.first_blood_bonus,
        frozen=ev.freeze_at is not None and now >= ev.freeze_at,
        generation=ev.score_generation,
    )


# Read on every request that needs the event: plain columns, run on the driver.
_EVENT = Prepared(select(*Event.__table__.c).where(Event.slug == bindparam("slug")))


def current_in(conn: Connection, ctx: Range, now: datetime) -> EventView:
    """The event as of ``now``, read in the caller's transaction (a session's: ``s.connection()``).

    Before anything has written the event (a fresh database) it is a not-started event with
    defaults; it is never created here, so this is safe inside any transaction."""
    ev = _EVENT.one_or_none(conn, slug=ctx.event_slug)
    if ev is None:
        return EventView(
            slug=ctx.event_slug,
            name=ctx.event_slug.upper(),
            state="not_started",
            starts_at=None,
            ends_at=None,
            freeze_at=None,
            points_fixed_at_solve=False,
            first_blood_bonus=0,
            frozen=False,
            generation=0,
        )
    return view_of(ev, now)


def current(ctx: Range) -> EventView:
    with ctx.store.read_conn() as c:
        return current_in(c, ctx, ctx.clock.now())


_MARKER = select(
    Event.score_generation,
    Event.control_generation,
    Event.state,
    Event.name,
    Event.starts_at,
    Event.ends_at,
    Event.freeze_at,
    select(func.max(Announcement.id)).scalar_subquery(),
    select(func.max(TimelineLog.id)).scalar_subquery(),
).where(Event.slug == bindparam("slug"))


def page_marker(ctx: Range) -> tuple[Any, ...]:
    """One read that changes whenever anything a public page shows may have changed: scores,
    control actions, the stored state, announcements, applied milestones, and the crossing of
    the start, end and freeze times."""
    now = ctx.clock.now()
    with ctx.store.read_conn() as c:
        row = c.execute(_MARKER, {"slug": ctx.event_slug}).one_or_none()
    if row is None:
        return ("no event",)
    crossed = tuple(t is not None and now >= t for t in (row.starts_at, row.ends_at, row.freeze_at))
    return (*row, *crossed)


def bump_generation(tx: Session | Connection, ctx: Range) -> None:
    """Invalidate every process's scoreboard cache, in the caller's transaction."""
    tx.execute(
        update(Event)
        .where(Event.slug == ctx.event_slug)
        .values(score_generation=Event.score_generation + 1)
    )


def configure(ctx: Range, actor: Actor, **changes: Any) -> EventView:
    """Set name, times and scoring options; ``None`` leaves a field alone, ``""`` clears a time."""
    allowed = {
        "name",
        "starts_at",
        "ends_at",
        "freeze_at",
        "points_fixed_at_solve",
        "first_blood_bonus",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput("unknown event field(s): {unknown}", unknown=", ".join(sorted(unknown)))
    with ctx.store.write() as s:
        ev = ensure_event(s, ctx)
        applied: dict[str, Any] = {}
        for key, value in changes.items():
            if value is None:
                continue
            if value == "" and key.endswith("_at"):
                value = None
            setattr(ev, key, value)
            applied[key] = value.isoformat() if isinstance(value, datetime) else value
        # The start is the planned one, or the one that happened (a manual start).
        start = ev.starts_at or ev.started_at
        if start and ev.ends_at and ev.ends_at <= start:
            raise InvalidInput("ends_at must be after the start")
        if ev.freeze_at and ev.ends_at and ev.freeze_at > ev.ends_at:
            raise InvalidInput("freeze_at must not be after ends_at")
        if ev.freeze_at and start and ev.freeze_at < start:
            raise InvalidInput("freeze_at must not be before the start")
        # Times and scoring options all change what the scoreboard shows.
        bump_generation(s, ctx)
        audit(s, ctx, actor, "event.configure", **applied)
        s.flush()
        return view_of(ev, ctx.clock.now())
