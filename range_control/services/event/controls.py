"""The organisers' controls over the exercise: start, pause, resume, extend, skip to the next
phase, end. Each is one transaction that records the change and bumps the control generation (the
scheduler re-derives its jobs); what the timeline says is due is then applied."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput
from range_control.domain import timeline
from range_control.services.audit import audit
from range_control.services.event.event import (
    EventView,
    ensure_event,
    view_of,
)
from range_control.services.event.scenario import _spec_of, apply, control_in, control_of, state
from range_control.specs.scenario import ScenarioSpec
from range_control.store.models import (
    Event,
)


# --- organiser control --------------------------------------------------------------------
def _control(ctx: Range, actor: Actor, action: str, change: Any, **detail: Any) -> EventView:
    now = ctx.clock.now()
    with ctx.store.write() as s:
        ev = ensure_event(s, ctx)
        change(ev, now)
        ev.control_generation += 1
        audit(s, ctx, actor, f"event.{action}", **detail)
    apply(ctx, now)
    return state(ctx, now)[0]


def _ex_now(ev: Event, now: datetime) -> tuple[ScenarioSpec, timeline.State]:
    spec = _spec_of(ev)
    if spec is None:
        raise Conflict("no scenario is loaded: `rangectl event load scenario.yml` first")
    s = Session.object_session(ev)
    ctl = control_in(s, ev, spec) if s is not None else control_of(ev, spec)
    return spec, timeline.state_at(spec, ctl, now)


def start(ctx: Range, actor: Actor) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if ev.state in ("running", "paused"):
            raise Conflict("the event is already {state}", state=ev.state)
        if ev.scenario is not None and ev.state == "ended":
            raise Conflict("the exercise has ended; load a scenario into a new event to run again")
        if ev.ends_at is not None and now >= ev.ends_at and ev.scenario is None:
            raise Conflict(
                "the event's end time {ends_at} has passed; set a new one",
                ends_at=ev.ends_at.isoformat(),
            )
        ev.state = "running"
        ev.started_at = now
        ev.ended_at = None

    return _control(ctx, actor, "start", change)


def pause(ctx: Range, actor: Actor) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if view_of(ev, now).state != "running":
            raise Conflict(
                "only a running event can be paused (state: {state})", state=view_of(ev, now).state
            )
        ev.pauses = [*ev.pauses, [now.isoformat(), None]]
        ev.state = "paused"

    return _control(ctx, actor, "pause", change)


def resume(ctx: Range, actor: Actor) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if ev.state != "paused" or not ev.pauses or ev.pauses[-1][1] is not None:
            raise Conflict("the event is not paused (state: {state})", state=ev.state)
        ev.pauses = [*ev.pauses[:-1], [ev.pauses[-1][0], now.isoformat()]]
        ev.state = "running"

    return _control(ctx, actor, "resume", change)


def extend(ctx: Range, by: timedelta, actor: Actor) -> EventView:
    if not timedelta(0) < by <= timedelta(days=7):
        raise InvalidInput("extend: a duration between 1s and 7d")
    phase_id: list[str] = []

    def change(ev: Event, now: datetime) -> None:
        _, st = _ex_now(ev, now)
        if st.phase is None:
            raise Conflict("no phase is current (state: {state})", state=st.state)
        phase_id.append(st.phase.id)
        ext = dict(ev.extensions)
        ext[st.phase.id] = ext.get(st.phase.id, 0) + by.total_seconds()
        ev.extensions = ext

    return _control(ctx, actor, "extend", change, by_seconds=by.total_seconds(), phase=phase_id)


def skip(ctx: Range, actor: Actor) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        _, st = _ex_now(ev, now)
        if st.phase is None:
            raise Conflict("no phase is current (state: {state})", state=st.state)
        ev.skips = {**ev.skips, st.phase.id: st.ex_now.total_seconds()}

    return _control(ctx, actor, "skip", change)


def end(ctx: Range, actor: Actor) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if view_of(ev, now).state not in ("running", "paused"):
            raise Conflict(
                "the event is not running (state: {state})", state=view_of(ev, now).state
            )
        if ev.pauses and ev.pauses[-1][1] is None:
            ev.pauses = [*ev.pauses[:-1], [ev.pauses[-1][0], now.isoformat()]]
        ev.state = "ended"
        ev.ended_at = now

    return _control(ctx, actor, "end", change)
