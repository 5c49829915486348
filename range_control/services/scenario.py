"""The scenario: load it, drive its timeline (start, pause, resume, extend, skip, end), apply it.

:func:`apply` is the one place where the timeline touches the world, and it is idempotent: it
computes the timeline at ``now`` (``domain.timeline``) and makes the database agree: event state
and projected end/freeze, which challenges are open, and every milestone that is due and not yet
in ``timeline_log`` (publishing injects and phase briefings as announcements, running inject
actions). A milestone key is unique in ``timeline_log``, so nothing is ever applied twice, however
often, late or concurrently ``apply`` runs. The scheduler only decides *when* to call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.domain import timeline
from range_control.services import environments
from range_control.services.context import Range
from range_control.services.errors import Conflict, InvalidInput
from range_control.services.events import EventView, audit, bump_generation, ensure_event, view_of
from range_control.specs.scenario import ScenarioSpec
from range_control.store.models import (
    Announcement,
    Award,
    Challenge,
    Event,
    Team,
    TimelineLog,
)

MAX_SCENARIO_BYTES = 1024 * 1024


# --- loading ------------------------------------------------------------------------------
def read_file(path: Path) -> ScenarioSpec:
    """Parse and validate a scenario file; errors name the file and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise InvalidInput(f"{path}: larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise InvalidInput(
            f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    return parse(data, str(path))


def parse(data: Any, source: str = "scenario") -> ScenarioSpec:
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: must be a mapping of keys to values")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{source}: {loc}: {msg.removeprefix('Value error, ')}")
        raise InvalidInput("\n".join(lines)) from None


def load(rng: Range, spec: ScenarioSpec, actor: str, source: str = "scenario") -> timeline.State:
    """Store the scenario for the event; refuses challenge slugs that are not loaded."""
    with rng.store.write() as s:
        known = set(s.scalars(select(Challenge.slug)))
        unknown = sorted(spec.challenge_slugs() - known)
        if unknown:
            raise InvalidInput(
                f"{source}: unknown challenge slug(s): {', '.join(unknown)} "
                "(load them with `rangectl challenges sync` first)"
            )
        for p in spec.phases:
            for i, inj in enumerate(p.injects):
                uh = inj.action.unlock_hint if inj.action else None
                if uh is not None:
                    ch = s.scalar(select(Challenge).where(Challenge.slug == uh.challenge))
                    if ch is None or uh.hint >= len([h for h in ch.hints if not h.retired]):
                        raise InvalidInput(
                            f"{source}: phases.{p.id}.injects.{i}.action.unlock_hint: "
                            f"{uh.challenge!r} has no hint {uh.hint}"
                        )
        ev = ensure_event(s, rng)
        ev.scenario = spec.model_dump(mode="json")
        ev.name = spec.event
        if spec.start != "manual" and ev.started_at is None:
            ev.starts_at = spec.start
        ev.control_generation += 1
        audit(s, rng, actor, "scenario.load", source=source, phases=[p.id for p in spec.phases])
    apply(rng)
    return state(rng)[1]  # type: ignore[return-value]


def _spec_of(ev: Event) -> ScenarioSpec | None:
    return ScenarioSpec.model_validate(ev.scenario) if ev.scenario else None


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def control_of(ev: Event, spec: ScenarioSpec) -> timeline.Control:
    started = ev.started_at
    if started is None and spec.start != "manual":
        started = spec.start
    return timeline.Control(
        started_at=started,
        pauses=tuple((_ts(a), _ts(b)) for a, b in ev.pauses),  # type: ignore[misc]
        extensions={k: timedelta(seconds=v) for k, v in ev.extensions.items()},
        skips={k: timedelta(seconds=v) for k, v in ev.skips.items()},
        ended_at=ev.ended_at,
    )


def state(rng: Range, now: datetime | None = None) -> tuple[EventView, timeline.State | None]:
    now = now or rng.clock.now()
    with rng.store.read() as s:
        ev = s.scalar(select(Event).where(Event.slug == rng.event_slug))
        if ev is None:
            from range_control.services.events import current

            return current(rng), None
        spec = _spec_of(ev)
        view = view_of(ev, now)
        return view, timeline.at(spec, control_of(ev, spec), now) if spec else None


def spec_phases(rng: Range) -> list[Any]:
    with rng.store.read() as s:
        ev = s.scalar(select(Event).where(Event.slug == rng.event_slug))
        spec = _spec_of(ev) if ev is not None else None
        return list(spec.phases) if spec else []


def control_generation(rng: Range) -> int:
    with rng.store.read() as s:
        gen = s.scalar(select(Event.control_generation).where(Event.slug == rng.event_slug))
        return int(gen or 0)


def _loaded(
    rng: Range, now: datetime | None
) -> tuple[ScenarioSpec, timeline.Control, timeline.State, datetime] | None:
    """The loaded scenario, the organisers' control over it and where the timeline stands at
    ``now`` (default: the clock's), or None without a scenario."""
    now = now or rng.clock.now()
    with rng.store.read() as s:
        ev = s.scalar(select(Event).where(Event.slug == rng.event_slug))
        spec = _spec_of(ev) if ev is not None else None
        if spec is None:
            return None
        ctl = control_of(ev, spec)
    return spec, ctl, timeline.at(spec, ctl, now), now


def upcoming(rng: Range, now: datetime | None = None) -> list[tuple[datetime, str]]:
    """Wall-clock times of the milestones still to come (none while paused or not scheduled)."""
    loaded = _loaded(rng, now)
    if loaded is None or loaded[2].next_at is None:
        return []
    spec, ctl, st, now = loaded
    return [
        (timeline.wall_time(ctl, m.ex, now, st.ex_now), m.key)  # type: ignore[misc]
        for m in timeline.milestones(spec, ctl)
        if m.ex > st.ex_now
    ]


def timeline_rows(rng: Range, now: datetime | None = None) -> list[dict[str, Any]]:
    """The phases with absolute start/end (offsets while a manual start has not happened)."""
    loaded = _loaded(rng, now)
    if loaded is None:
        return []
    spec, ctl, st, now = loaded
    rows = []
    for p, w in zip(spec.phases, st.windows, strict=True):
        if ctl.started_at is None:
            start: Any = w.start
            end: Any = w.end
        else:
            start = timeline.wall_time(ctl, w.start, now, st.ex_now)
            end = timeline.wall_time(ctl, w.end, now, st.ex_now)
        status = "upcoming"
        if st.phase is not None and st.phase.id == w.id:
            status = st.state  # running or paused
        elif ctl.started_at is not None and st.ex_now >= w.end and st.state != "not_started":
            status = "done" if w.id not in ctl.skips else "skipped"
        rows.append(
            {
                "id": p.id,
                "title": p.title,
                "start": start,
                "end": end,
                "challenges": list(p.challenges),
                "injects": len(p.injects),
                "status": status,
                "extended_by": ctl.extensions.get(p.id),
            }
        )
    return rows


# --- applying -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied:
    key: str
    kind: str
    due_at: datetime | None
    applied_at: datetime


def apply(rng: Range, now: datetime | None = None) -> list[Applied]:
    """Make the database agree with the timeline at ``now``; returns what was newly applied."""
    now = now or rng.clock.now()
    applied: list[Applied] = []
    with rng.store.write() as s:
        ev = ensure_event(s, rng)
        spec = _spec_of(ev)
        if spec is None:
            return []
        ctl = control_of(ev, spec)
        st = timeline.at(spec, ctl, now)
        scores_changed = False
        if ev.state != st.state:
            ev.state = st.state
        if ev.started_at is None and st.state != "not_started":
            ev.started_at = ctl.started_at
        if st.state == "ended" and ev.ended_at is None:
            ev.ended_at = st.ends_at
        if (ev.ends_at, ev.freeze_at) != (st.ends_at, st.freeze_at):
            ev.ends_at, ev.freeze_at = st.ends_at, st.freeze_at
            scores_changed = True
        for ch in s.scalars(select(Challenge).where(Challenge.slug.in_(st.managed_challenges))):
            want = "visible" if ch.slug in st.open_challenges else "hidden"
            if ch.phase_state != want:
                ch.phase_state = want
                scores_changed = True
        done = set(s.scalars(select(TimelineLog.key)))
        phases = {p.id: p for p in spec.phases}
        for m in st.due:
            if m.key in done:
                continue
            due_at = timeline.wall_time(ctl, m.ex, now, st.ex_now)
            try:
                with s.begin_nested():
                    s.add(TimelineLog(key=m.key, kind=m.kind, due_at=due_at, applied_at=now))
                    scores_changed |= _effects(s, rng, m, phases, now)
            except IntegrityError:
                continue  # another process applied it first
            applied.append(Applied(m.key, m.kind, due_at, now))
        environments.follow_scenario(s, st.environments, now)
        if scores_changed:
            bump_generation(s, rng)
    return applied


def _effects(s: Session, rng: Range, m: timeline.Milestone, phases: dict, now: datetime) -> bool:
    """Publish and act for one milestone; True when scores may have changed."""
    if m.kind == "phase_start":
        p = phases[m.phase]
        s.add(Announcement(title=f"Phase: {p.title}", body=p.briefing, source="phase",
                           key=m.key, created_by="timeline", created_at=now))  # fmt: skip
        return False
    if m.kind != "inject":
        return False
    inj = phases[m.phase].injects[m.inject]
    s.add(Announcement(title=inj.title, body=inj.message, source="inject", key=m.key,
                       created_by="timeline", created_at=now))  # fmt: skip
    action = inj.action
    if action is None or action.unlock_challenge:
        return False  # unlocking a challenge is part of the timeline's open set
    if action.unlock_hint:
        ch = s.scalar(select(Challenge).where(Challenge.slug == action.unlock_hint.challenge))
        live = [h for h in ch.hints if not h.retired] if ch else []
        if action.unlock_hint.hint < len(live):
            live[action.unlock_hint.hint].released = True
        return False
    award = action.award
    q = select(Team).where(Team.disabled.is_(False))
    if award.team != "*":
        q = q.where(Team.name == award.team)
    for team in s.scalars(q):
        s.add(Award(team_id=team.id, value=award.value, reason=award.reason,
                    created_by="timeline", created_at=now))  # fmt: skip
    return True


# --- organiser control --------------------------------------------------------------------
def _control(rng: Range, actor: str, action: str, change: Any, **detail: Any) -> EventView:
    now = rng.clock.now()
    with rng.store.write() as s:
        ev = ensure_event(s, rng)
        change(ev, now)
        ev.control_generation += 1
        audit(s, rng, actor, f"event.{action}", **detail)
    apply(rng, now)
    return state(rng, now)[0]


def _ex_now(ev: Event, now: datetime) -> tuple[ScenarioSpec, timeline.State]:
    spec = _spec_of(ev)
    if spec is None:
        raise Conflict("no scenario is loaded: `rangectl event load scenario.yml` first")
    return spec, timeline.at(spec, control_of(ev, spec), now)


def start(rng: Range, actor: str) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if ev.state in ("running", "paused"):
            raise Conflict(f"the event is already {ev.state}")
        if ev.scenario is not None and ev.state == "ended":
            raise Conflict("the exercise has ended; load a scenario into a new event to run again")
        if ev.ends_at is not None and now >= ev.ends_at and ev.scenario is None:
            raise Conflict(
                f"the event's end time {ev.ends_at.isoformat()} has passed; set a new one"
            )
        ev.state = "running"
        ev.started_at = now
        ev.ended_at = None

    return _control(rng, actor, "start", change)


def pause(rng: Range, actor: str) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if view_of(ev, now).state != "running":
            raise Conflict(f"only a running event can be paused (state: {view_of(ev, now).state})")
        ev.pauses = [*ev.pauses, [now.isoformat(), None]]
        ev.state = "paused"

    return _control(rng, actor, "pause", change)


def resume(rng: Range, actor: str) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if ev.state != "paused" or not ev.pauses or ev.pauses[-1][1] is not None:
            raise Conflict(f"the event is not paused (state: {ev.state})")
        ev.pauses = [*ev.pauses[:-1], [ev.pauses[-1][0], now.isoformat()]]
        ev.state = "running"

    return _control(rng, actor, "resume", change)


def extend(rng: Range, by: timedelta, actor: str) -> EventView:
    if not timedelta(0) < by <= timedelta(days=7):
        raise InvalidInput("extend: a duration between 1s and 7d")
    phase_id: list[str] = []

    def change(ev: Event, now: datetime) -> None:
        _, st = _ex_now(ev, now)
        if st.phase is None:
            raise Conflict(f"no phase is current (state: {st.state})")
        phase_id.append(st.phase.id)
        ext = dict(ev.extensions)
        ext[st.phase.id] = ext.get(st.phase.id, 0) + by.total_seconds()
        ev.extensions = ext

    return _control(rng, actor, "extend", change, by_seconds=by.total_seconds(), phase=phase_id)


def skip(rng: Range, actor: str) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        _, st = _ex_now(ev, now)
        if st.phase is None:
            raise Conflict(f"no phase is current (state: {st.state})")
        ev.skips = {**ev.skips, st.phase.id: st.ex_now.total_seconds()}

    return _control(rng, actor, "skip", change)


def end(rng: Range, actor: str) -> EventView:
    def change(ev: Event, now: datetime) -> None:
        if view_of(ev, now).state not in ("running", "paused"):
            raise Conflict(f"the event is not running (state: {view_of(ev, now).state})")
        if ev.pauses and ev.pauses[-1][1] is None:
            ev.pauses = [*ev.pauses[:-1], [ev.pauses[-1][0], now.isoformat()]]
        ev.state = "ended"
        ev.ended_at = now

    return _control(rng, actor, "end", change)


# --- announcements ------------------------------------------------------------------------
def announcements(rng: Range, limit: int = 50) -> list[dict[str, Any]]:
    from range_control.clock import iso

    with rng.store.read() as s:
        rows = s.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit))
        return [
            {"id": a.id, "title": a.title, "body": a.body, "source": a.source,
             "created_at": iso(a.created_at)}
            for a in rows
        ]  # fmt: skip


def post_announcement(rng: Range, title: str, body: str, actor: str) -> dict[str, Any]:
    title, body = title.strip(), body.strip()
    if not 1 <= len(title) <= 200:
        raise InvalidInput("title: 1 to 200 characters")
    if len(body) > 20_000:
        raise InvalidInput("body: at most 20000 characters")
    with rng.store.write() as s:
        a = Announcement(title=title, body=body, source="organiser", created_by=actor,
                         created_at=rng.clock.now())  # fmt: skip
        s.add(a)
        audit(s, rng, actor, "announcement.post", title=title)
    return announcements(rng, 1)[0]


def audit_log(rng: Range, limit: int = 200) -> list[dict[str, Any]]:
    from range_control.clock import iso
    from range_control.store.models import AuditLog

    with rng.store.read() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
        return [
            {"id": a.id, "actor": a.actor, "action": a.action, "detail": a.detail,
             "created_at": iso(a.created_at)}
            for a in rows
        ]  # fmt: skip
