"""The exercise timeline, computed: where the exercise is at a given instant. Pure, no clock.

Everything is measured in *exercise time*: time since the start during which the exercise was
running (pauses do not count). A phase runs from the sum of the effective durations of the
phases before it; its effective duration is its planned duration plus any extensions, or, when
it was skipped, the exercise time at which it was cut. Injects, the freeze and the end are
points in exercise time too. Converting back to wall-clock time uses the pause history for the
past and "from now on, no more pauses" for the future.

Nothing is stored as a pile of timers: given the scenario, the start, the pauses, the
extensions and the skips, :func:`at` says which phase is current, which challenges are open,
which milestones are due and when the next transition is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from range_control.core.permissions import EventState
from range_control.specs.scenario import ScenarioSpec

ZERO = timedelta(0)


@dataclass(frozen=True)
class Control:
    """What the organisers did to the timeline (all wall-clock, UTC)."""

    started_at: datetime | None = None
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()  # (paused, resumed or None)
    extensions: dict[str, timedelta] = field(default_factory=dict)  # phase id -> extra
    skips: dict[str, timedelta] = field(default_factory=dict)  # phase id -> cut (exercise time)
    ended_at: datetime | None = None
    # The exercise time at which the freeze happened, once it has: it stays there whatever is
    # done afterwards (the freeze is "so long before the end", and extending a phase moves the
    # end, but a freeze that happened cannot un-happen).
    frozen_at: timedelta | None = None


@dataclass(frozen=True)
class Milestone:
    key: str  # unique and stable: "phase:<id>:start", "inject:<id>:<n>", "freeze", "end", ...
    kind: str  # phase_start | phase_end | inject | warmup | freeze | end
    ex: timedelta  # exercise time
    phase: str | None = None
    inject: int | None = None


@dataclass(frozen=True)
class PhaseWindow:
    id: str
    title: str
    start: timedelta
    end: timedelta


@dataclass(frozen=True)
class State:
    state: EventState
    ex_now: timedelta
    phase: PhaseWindow | None
    phase_ends_at: datetime | None  # wall clock (projected: no more pauses)
    open_challenges: frozenset[str]
    managed_challenges: frozenset[str]  # every challenge the scenario names
    environments: frozenset[str]  # challenges whose environments should exist now
    due: tuple[Milestone, ...]  # every milestone reached so far
    next_at: datetime | None  # wall clock of the next milestone (None: none, or paused)
    next_milestone: Milestone | None
    ends_at: datetime | None
    freeze_at: datetime | None  # wall clock; None when not reached and paused, or no freeze
    total: timedelta
    windows: tuple[PhaseWindow, ...]


def windows(spec: ScenarioSpec, ctl: Control) -> tuple[PhaseWindow, ...]:
    out = []
    t = ZERO
    for p in spec.phases:
        if p.id in ctl.skips:
            length = max(ctl.skips[p.id] - t, ZERO)
        else:
            length = p.duration + ctl.extensions.get(p.id, ZERO)
        out.append(PhaseWindow(p.id, p.title, t, t + length))
        t += length
    return tuple(out)


def milestones(spec: ScenarioSpec, ctl: Control) -> list[Milestone]:
    wins = windows(spec, ctl)
    total = wins[-1].end
    out: list[Milestone] = []
    for p, w in zip(spec.phases, wins, strict=True):
        if p.warmup > ZERO:
            # May be negative: environments of the first phase warm up before the start.
            out.append(Milestone(f"warmup:{p.id}", "warmup", w.start - p.warmup, p.id))
        out.append(Milestone(f"phase:{p.id}:start", "phase_start", w.start, p.id))
        for i, inj in enumerate(p.injects):
            # An inject past the point where its phase was cut short never fires.
            if w.start + inj.at < w.end or (inj.at == ZERO and w.end == w.start):
                out.append(Milestone(f"inject:{p.id}:{i}", "inject", w.start + inj.at, p.id, i))
        out.append(Milestone(f"phase:{p.id}:end", "phase_end", w.end, p.id))
    freeze = freeze_ex(spec, ctl, total)
    if freeze is not None:
        out.append(Milestone("freeze", "freeze", freeze))
    out.append(Milestone("end", "end", total))
    order = {"phase_end": 0, "warmup": 1, "phase_start": 2, "inject": 3, "freeze": 4, "end": 5}
    out.sort(key=lambda m: (m.ex, order[m.kind]))
    return out


def freeze_ex(spec: ScenarioSpec, ctl: Control, total: timedelta) -> timedelta | None:
    """When the freeze happens (or happened), in exercise time; None without a freeze."""
    if ctl.frozen_at is not None:
        return ctl.frozen_at
    if spec.freeze is None:
        return None
    return max(total - spec.freeze, ZERO)


def exercise_time(ctl: Control, now: datetime) -> timedelta:
    if ctl.started_at is None or now < ctl.started_at:
        return ZERO
    until = min(now, ctl.ended_at) if ctl.ended_at else now
    paused = ZERO
    for start, end in ctl.pauses:
        if start >= until:
            continue
        paused += min(end or until, until) - start
    return max(until - ctl.started_at - paused, ZERO)


def wall_time(ctl: Control, ex: timedelta, now: datetime, ex_now: timedelta) -> datetime | None:
    """Wall-clock time of exercise time ``ex``; for the future, assumes no more pauses."""
    if ctl.started_at is None:
        return None
    if ex > ex_now:
        return now + (ex - ex_now)
    # Walk the pauses in order: a pause that began before the instant was reached shifts it by
    # the pause's length (an instant reached exactly when a pause began happened before it).
    wall = ctl.started_at + ex
    for start, end in sorted(ctl.pauses, key=lambda p: p[0]):  # an open pause ends None
        if start < wall:
            wall += (end or now) - start
    return wall


def state_at(spec: ScenarioSpec, ctl: Control, now: datetime) -> State:
    """Where the exercise is at ``now``."""
    wins = windows(spec, ctl)
    total = wins[-1].end
    ms = milestones(spec, ctl)
    paused = any(end is None for _, end in ctl.pauses)
    state, ex_now = _state_and_time(ctl, now, paused, total)
    scheduled = ctl.started_at is not None
    due = tuple(m for m in ms if m.ex <= ex_now) if scheduled else ()
    phase = None
    if state in (EventState.RUNNING, EventState.PAUSED):
        phase = next((w for w in wins if w.start <= ex_now < w.end), None)
    open_, envs = _open_and_warm(spec, wins, due, state, phase, ex_now, scheduled)
    upcoming = [m for m in ms if m.ex > ex_now]
    running_or_not_yet = state in (EventState.RUNNING, EventState.NOT_STARTED)
    next_m = upcoming[0] if upcoming and scheduled and running_or_not_yet else None
    next_at = wall_time(ctl, next_m.ex, now, ex_now) if next_m is not None else None
    phase_ends_at = None
    if phase is not None and not paused:
        phase_ends_at = wall_time(ctl, phase.end, now, ex_now)
    return State(
        state=state,
        ex_now=ex_now,
        phase=phase,
        phase_ends_at=phase_ends_at,
        open_challenges=frozenset(open_),
        managed_challenges=frozenset(spec.challenge_slugs()),
        environments=frozenset(envs),
        due=due,
        next_at=next_at,
        next_milestone=next_m,
        ends_at=_ends_at(ctl, state, paused, now, ex_now, total),
        freeze_at=_freeze_at(spec, ctl, state, paused, now, ex_now, total),
        total=total,
        windows=wins,
    )


def _state_and_time(
    ctl: Control, now: datetime, paused: bool, total: timedelta
) -> tuple[EventState, timedelta]:
    """The state at ``now`` and the exercise time (before a scheduled start it is negative:
    warm-ups happen then; past the end it stops at the end)."""
    if ctl.started_at is None or now < ctl.started_at:
        state = EventState.NOT_STARTED
    elif ctl.ended_at is not None and now >= ctl.ended_at:
        state = EventState.ENDED
    else:
        state = EventState.PAUSED if paused else EventState.RUNNING
    if ctl.started_at is not None and now < ctl.started_at:
        ex_now = now - ctl.started_at
    else:
        ex_now = exercise_time(ctl, now)
    if state in (EventState.RUNNING, EventState.PAUSED) and ex_now >= total:
        state, ex_now = EventState.ENDED, total
    if state == EventState.ENDED and ctl.ended_at is not None:
        ex_now = min(ex_now, total)
    return state, ex_now


def _open_and_warm(
    spec: ScenarioSpec,
    wins: tuple[PhaseWindow, ...],
    due: tuple[Milestone, ...],
    state: EventState,
    phase: PhaseWindow | None,
    ex_now: timedelta,
    scheduled: bool,
) -> tuple[set[str], set[str]]:
    """The challenges open to teams (their phase runs, or stays open, or an inject unlocked
    them), and those whose environments are up (warm-up begun, not torn down)."""
    by_id = {p.id: p for p in spec.phases}
    started = state != EventState.NOT_STARTED
    open_: set[str] = set()
    envs: set[str] = set()
    for w in wins:
        p = by_id[w.id]
        current = phase is not None and phase.id == w.id
        if started and w.start <= ex_now and (current or p.keep_open):
            open_.update(p.challenges)
        warm = scheduled and w.start - p.warmup <= ex_now and state != EventState.ENDED
        if warm and (ex_now < w.end or not p.teardown):
            envs.update(p.challenges)
    for m in due:
        if m.kind == "inject" and m.phase is not None and m.inject is not None:
            action = by_id[m.phase].injects[m.inject].action
            if action and action.unlock_challenge:
                open_.add(action.unlock_challenge)
    return open_, envs


def _freeze_at(
    spec: ScenarioSpec,
    ctl: Control,
    state: EventState,
    paused: bool,
    now: datetime,
    ex_now: timedelta,
    total: timedelta,
) -> datetime | None:
    freeze = freeze_ex(spec, ctl, total)
    if freeze is None or ctl.started_at is None:
        return None
    started = state != EventState.NOT_STARTED
    if started and freeze <= ex_now:
        return wall_time(ctl, freeze, now, ex_now)
    if not paused and state != EventState.ENDED:  # an event that ended first never froze
        return wall_time(ctl, freeze, now, ex_now) if started else ctl.started_at + freeze
    return None


def _ends_at(
    ctl: Control,
    state: EventState,
    paused: bool,
    now: datetime,
    ex_now: timedelta,
    total: timedelta,
) -> datetime | None:
    if state == EventState.ENDED:
        if ctl.ended_at and ex_now < total:
            return ctl.ended_at
        return wall_time(ctl, total, now, ex_now)
    if ctl.started_at is not None and not paused:
        if state != EventState.NOT_STARTED:
            return wall_time(ctl, total, now, ex_now)
        return ctl.started_at + total
    return None
