"""The scenario: load it, read where its timeline stands, apply it (the controls that drive it
are ``event.controls``; its announcements ``event.announcements``).

:func:`apply` is the one place where the timeline touches the world, and it is idempotent: it
computes the timeline at ``now`` (``domain.timeline``) and makes the database agree: event state
and projected end/freeze, which challenges are open, and every milestone that is due and not yet
in ``timeline_log`` (publishing injects and phase briefings as announcements, running inject
actions). A milestone key is unique in ``timeline_log``, so nothing is ever applied twice, however
often, late or concurrently ``apply`` runs. The scheduler only decides *when* to call it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import TIMELINE, Actor
from range_control.core.errors import InvalidInput
from range_control.core.permissions import EventState
from range_control.domain import timeline
from range_control.services.audit import audit
from range_control.services.catalog.releases import overdue_releases, release_due, upcoming_releases
from range_control.services.environments import instances
from range_control.services.event.event import (
    EventView,
    bump_generation,
    current_in,
    ensure_event,
    view_of,
)
from range_control.services.people import teams
from range_control.specs.api.event import EventOut, PhaseRowOut, ScenarioOut
from range_control.specs.defence import DefenceSpec
from range_control.specs.files import FileProblem, field_errors, read_yaml
from range_control.specs.scenario import PhaseSpec, ScenarioSpec
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
        data = read_yaml(path, MAX_SCENARIO_BYTES)
    except FileProblem as exc:
        raise InvalidInput(str(exc)) from None
    return parse(data, str(path))


def parse(data: Any, source: str = "scenario") -> ScenarioSpec:
    if not isinstance(data, dict):
        raise InvalidInput("{source}: must be a mapping of keys to values", source=source)
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {f.loc or '(top level)'}: {f.msg}" for f in field_errors(exc)]
        raise InvalidInput("\n".join(lines)) from None


def load(ctx: Range, spec: ScenarioSpec, actor: Actor, source: str = "scenario") -> timeline.State:
    """Store the scenario for the event; refuses challenge slugs that are not loaded."""
    with ctx.store.write() as s:
        known = set(s.scalars(select(Challenge.slug)))
        unknown = sorted(spec.challenge_slugs() - known)
        if unknown:
            raise InvalidInput(
                "{source}: unknown challenge slug(s): {unknown} (load them with `rangectl "
                "challenges sync` first)",
                source=source,
                unknown=", ".join(unknown),
            )
        _check_defence(s, spec, source)
        for p in spec.phases:
            for i, inj in enumerate(p.injects):
                uh = inj.action.unlock_hint if inj.action else None
                if uh is not None:
                    ch = s.scalar(select(Challenge).where(Challenge.slug == uh.challenge))
                    if ch is None or uh.hint >= len([h for h in ch.hints if not h.retired]):
                        raise InvalidInput(
                            "{source}: phases.{id}.injects.{i}.action.unlock_hint: {challenge!r} "
                            "has no hint {hint}",
                            source=source,
                            id=p.id,
                            i=i,
                            challenge=uh.challenge,
                            hint=uh.hint,
                        )
        ev = ensure_event(s, ctx)
        ev.scenario = spec.model_dump(mode="json")
        ev.name = spec.event
        if spec.start != "manual" and ev.started_at is None:
            ev.starts_at = spec.start
        ev.control_generation += 1
        audit(s, ctx, actor, "scenario.load", source=source, phases=[p.id for p in spec.phases])
    apply(ctx)
    return state(ctx)[1]  # type: ignore[return-value]


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


def control_in(s: Session, ev: Event, spec: ScenarioSpec) -> timeline.Control:
    """The control, with the moment the freeze happened once it has (``timeline_log``)."""
    ctl = control_of(ev, spec)
    due = s.scalar(select(TimelineLog.due_at).where(TimelineLog.key == "freeze"))
    if due is not None and ctl.started_at is not None:
        ctl = replace(ctl, frozen_at=timeline.exercise_time(ctl, due))
    return ctl


@dataclass(frozen=True)
class Where:
    """The event, its scenario and where the timeline stands at ``now``."""

    view: EventView
    spec: ScenarioSpec | None
    control: timeline.Control | None
    at: timeline.State | None
    now: datetime


def where_in(s: Session, ctx: Range, now: datetime) -> Where:
    """Read in the caller's transaction; no event row yet reads as a fresh, not started one."""
    ev = s.scalar(select(Event).where(Event.slug == ctx.event_slug))
    if ev is None:
        return Where(current_in(s.connection(), ctx, now), None, None, None, now)
    spec = _spec_of(ev)
    if spec is None:
        return Where(view_of(ev, now), None, None, None, now)
    ctl = control_in(s, ev, spec)
    return Where(view_of(ev, now), spec, ctl, timeline.state_at(spec, ctl, now), now)


def where(ctx: Range, now: datetime | None = None) -> Where:
    with ctx.store.read() as s:
        return where_in(s, ctx, now or ctx.clock.now())


def state(ctx: Range, now: datetime | None = None) -> tuple[EventView, timeline.State | None]:
    w = where(ctx, now)
    return w.view, w.at


def spec_phases(ctx: Range) -> list[PhaseSpec]:
    spec = where(ctx).spec
    return list(spec.phases) if spec else []


def phase_translations(w: Where) -> dict[str, dict[str, str]]:
    """The translations of the current phase's title and briefing (none between phases)."""
    if w.spec is None or w.at is None or w.at.phase is None:
        return {}
    found = next((p for p in w.spec.phases if p.id == w.at.phase.id), None)
    return _texts(found.translations) if found is not None else {}


def _texts(translations: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A ``translations:`` block of the scenario as plain texts, ``{lang: {field: text}}``."""
    return {lang: t.model_dump(exclude_none=True) for lang, t in translations.items()}


def control_generation(ctx: Range) -> int:
    with ctx.store.read_conn() as c:
        gen = c.scalar(select(Event.control_generation).where(Event.slug == ctx.event_slug))
        return int(gen or 0)


def upcoming(ctx: Range, now: datetime | None = None) -> list[tuple[datetime, str]]:
    """Wall-clock times of the milestones still to come (the timeline's: none while paused or
    not scheduled) and of the challenges' release times."""
    w = where(ctx, now)
    releases = upcoming_releases(ctx, w.now)
    if w.spec is None or w.control is None or w.at is None or w.at.next_at is None:
        return releases
    ctl, st = w.control, w.at
    return releases + [
        (timeline.wall_time(ctl, m.ex, w.now, st.ex_now), m.key)  # type: ignore[misc]
        for m in timeline.milestones(w.spec, ctl)
        if m.ex > st.ex_now
    ]


def overdue(ctx: Range, now: datetime | None = None) -> list[tuple[datetime, str]]:
    """Milestones and releases that were due but are not applied yet (read only): what a
    running scheduler applies within a second, so anything here long is a scheduler missing."""
    now = now or ctx.clock.now()
    with ctx.store.read() as s:
        late = overdue_releases(s, now)
        ev = s.scalars(select(Event)).first()
        spec = _spec_of(ev) if ev is not None else None
        if spec is not None and ev is not None:
            ctl = control_in(s, ev, spec)
            late += [
                (due_at, m.key)
                for m, due_at in _pending(s, ctl, timeline.state_at(spec, ctl, now), now)
            ]
    return sorted(late)


def _pending(
    s: Session, ctl: timeline.Control, st: timeline.State, now: datetime
) -> list[tuple[timeline.Milestone, datetime]]:
    """The due milestones not applied yet, with when each was due (wall clock)."""
    done = set(s.scalars(select(TimelineLog.key)))
    return [(m, timeline.wall_time(ctl, m.ex, now, st.ex_now)) for m in st.due if m.key not in done]


def rows_of(w: Where) -> list[PhaseRowOut]:
    """The phases with their offsets from the start and, once started, their wall-clock times."""
    if w.spec is None or w.control is None or w.at is None:
        return []
    ctl, st = w.control, w.at
    started = ctl.started_at is not None
    rows = []
    for p, win in zip(w.spec.phases, st.windows, strict=True):
        status = "upcoming"
        if st.phase is not None and st.phase.id == win.id:
            status = st.state  # running or paused
        elif started and st.ex_now >= win.end and st.state != "not_started":
            status = "done" if win.id not in ctl.skips else "skipped"
        rows.append(
            PhaseRowOut(
                id=p.id,
                title=p.title,
                start=timeline.wall_time(ctl, win.start, w.now, st.ex_now) if started else None,
                end=timeline.wall_time(ctl, win.end, w.now, st.ex_now) if started else None,
                start_offset=win.start,
                end_offset=win.end,
                challenges=list(p.challenges),
                injects=len(p.injects),
                status=status,
                extended_by=ctl.extensions.get(p.id),
                translations=_texts(p.translations),
            )
        )
    return rows


def with_timeline(ctx: Range) -> ScenarioOut:
    """The event and its computed timeline, from one read."""
    w = where(ctx)
    return ScenarioOut(event=overview_of(w), timeline=rows_of(w))


def overview(ctx: Range, ev: EventView | None = None) -> EventOut:
    """The event as teams and organisers see it: state, times, current phase, next transition."""
    return overview_of(where(ctx), ev)


def overview_of(w: Where, ev: EventView | None = None) -> EventOut:
    ev = ev or w.view
    st = w.at
    phase = next_transition = None
    if st is not None and st.phase is not None and w.spec is not None:
        p = next(p for p in w.spec.phases if p.id == st.phase.id)
        phase = {
            "id": st.phase.id,
            "title": st.phase.title,
            "briefing": p.briefing,
            "ends_at": st.phase_ends_at,
            "translations": _texts(p.translations),
        }
    if st is not None and st.next_at is not None and st.next_milestone is not None:
        next_transition = {"at": st.next_at, "milestone": st.next_milestone.key}
    return EventOut.model_validate(
        {
            "slug": ev.slug,
            "name": ev.name,
            "state": ev.state,
            "starts_at": ev.starts_at,
            "ends_at": ev.ends_at,
            "freeze_at": ev.freeze_at,
            "frozen": ev.frozen,
            "points_fixed_at_solve": ev.points_fixed_at_solve,
            "first_blood_bonus": ev.first_blood_bonus,
            "server_time": w.now,
            "phase": phase,
            "next_transition": next_transition,
        }
    )


# --- applying -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Applied:
    key: str
    kind: str
    due_at: datetime | None
    applied_at: datetime


def apply(ctx: Range, now: datetime | None = None) -> list[Applied]:
    """Make the database agree with the timeline at ``now``; returns what was newly applied."""
    now = now or ctx.clock.now()
    with ctx.store.write() as s:
        ev = ensure_event(s, ctx)
        # Challenges released by their challenge.yml's scheduled_at: with or without a scenario.
        released = release_due(s, now)
        applied = [Applied(f"release:{slug}", "release", at, now) for slug, at in released]
        spec = _spec_of(ev)
        changed = bool(released)
        if spec is not None:
            ctl = control_in(s, ev, spec)
            st = timeline.state_at(spec, ctl, now)
            changed |= _event_follows(ev, ctl, st)
            changed |= _challenges_follow(s, st)
            done, scored = _milestones(s, ctx, spec, ctl, st, now)
            applied += done
            changed |= scored
            if ctx.settings.environments_on:
                instances.follow_scenario(s, st.environments | _defended(spec, st), now)
        if changed:
            bump_generation(s, ctx)
    return applied


def _defended(spec: ScenarioSpec, st: timeline.State) -> frozenset[str]:
    """Every team has its copy of each defended service from the start to the end."""
    if spec.defence is None or st.state not in (EventState.RUNNING, EventState.PAUSED):
        return frozenset()
    return frozenset(spec.defence.services)


def _check_defence(s: Session, spec: ScenarioSpec, source: str) -> None:
    """Each service the defence block names is a defended one whose checker fits in a tick."""
    plan = spec.defence
    if plan is None:
        return
    rows = {
        c.slug: c for c in s.scalars(select(Challenge).where(Challenge.slug.in_(plan.services)))
    }
    for slug in plan.services:
        ch = rows.get(slug)
        if ch is None or ch.type != "defended":
            raise InvalidInput(
                "{source}: defence.services.{slug}: not a defended service (type: defended)",
                source=source,
                slug=slug,
            )
        timeout = DefenceSpec.model_validate(ch.spec["defence"]).checker.timeout
        if plan.tick < timeout:
            raise InvalidInput(
                "{source}: defence.tick: {tick} is shorter than the checker timeout of {slug} "
                "({timeout})",
                source=source,
                tick=str(plan.tick),
                slug=slug,
                timeout=str(timeout),
            )


def _event_follows(ev: Event, ctl: timeline.Control, st: timeline.State) -> bool:
    """The event row takes the timeline's state and times; True when what scores show moved
    (the end, the freeze)."""
    if ev.state != st.state:
        ev.state = st.state
    if ev.started_at is None and st.state != EventState.NOT_STARTED:
        ev.started_at = ctl.started_at
    if st.state == EventState.ENDED and ev.ended_at is None:
        ev.ended_at = st.ends_at
    if (ev.ends_at, ev.freeze_at) != (st.ends_at, st.freeze_at):
        ev.ends_at, ev.freeze_at = st.ends_at, st.freeze_at
        return True
    return False


def _challenges_follow(s: Session, st: timeline.State) -> bool:
    """The scenario's challenges open and close with their phases; True when one did."""
    changed = False
    for ch in s.scalars(select(Challenge).where(Challenge.slug.in_(st.managed_challenges))):
        want = "visible" if ch.slug in st.open_challenges else "hidden"
        if ch.phase_state != want:
            ch.phase_state = want
            changed = True
    return changed


def _milestones(
    s: Session,
    ctx: Range,
    spec: ScenarioSpec,
    ctl: timeline.Control,
    st: timeline.State,
    now: datetime,
) -> tuple[list[Applied], bool]:
    """Every milestone due and not applied yet, applied once (a unique key: another process
    that applied it first wins); True when one changed scores."""
    phases = {p.id: p for p in spec.phases}
    applied, changed = [], False
    for m, due_at in _pending(s, ctl, st, now):
        try:
            with s.begin_nested():
                s.add(TimelineLog(key=m.key, kind=m.kind, due_at=due_at, applied_at=now))
                changed |= _effects(s, ctx, m, phases, now)
        except IntegrityError:
            continue  # another process applied it first
        applied.append(Applied(m.key, m.kind, due_at, now))
    return applied, changed


# A phase's announcement is titled "Phase: <title>" (pages write the prefix in their reader's
# language; its translations carry the phase's title alone).
PHASE_PREFIX = "Phase: "


def _announced(translations: dict[str, Any], body: str) -> dict[str, dict[str, str]]:
    """A phase's or an inject's translations as its announcement's: ``{lang: {title, body}}``."""
    return {
        lang: {k: t[f] for f, k in (("title", "title"), (body, "body")) if t.get(f)}
        for lang, t in _texts(translations).items()
    }


def _effects(s: Session, ctx: Range, m: timeline.Milestone, phases: dict, now: datetime) -> bool:
    """Publish and act for one milestone; True when scores may have changed."""
    if m.kind == "phase_start":
        p = phases[m.phase]
        langs = _announced(p.translations, "briefing")
        s.add(
            Announcement(
                title=PHASE_PREFIX + p.title,
                body=p.briefing,
                source="phase",
                key=m.key,
                created_by=TIMELINE,
                created_at=now,
                translations=langs,
            )
        )
        return False
    if m.kind != "inject":
        return False
    inj = phases[m.phase].injects[m.inject]
    langs = _announced(inj.translations, "message")
    s.add(
        Announcement(
            title=inj.title,
            body=inj.message,
            source="inject",
            key=m.key,
            created_by=TIMELINE,
            created_at=now,
            translations=langs,
        )
    )
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
    if award.team == "*":
        chosen = list(s.scalars(select(Team).where(Team.disabled.is_(False))))
    else:
        one = teams.lookup(s, award.team)
        chosen = [one] if one is not None and not one.disabled else []
        if one is None:
            audit(s, ctx, TIMELINE, "award.skipped", team=award.team, reason="no such team")
    for team in chosen:
        s.add(
            Award(
                team_id=team.id,
                value=award.value,
                reason=award.reason,
                created_by=TIMELINE,
                created_at=now,
            )
        )
    return True
