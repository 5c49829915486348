"""The scenario's defence block and its defended services, and which tick it is now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.permissions import EventState
from range_control.domain import timeline
from range_control.domain.defence.ticks import TickWindow, current, tick_windows
from range_control.services.catalog.lint import CHECKER
from range_control.services.event import scenario
from range_control.specs.defence import DefencePlan, DefenceSpec
from range_control.store.models import Challenge, Event


@dataclass(frozen=True)
class Service:
    """A defended service as a tick checks it."""

    id: int
    slug: str
    name: str
    value: int
    weight: float
    spec: DefenceSpec
    checker_image: str
    target: str  # the service (of its environment) the checker reaches
    checker_context: str | None = None  # where its image builds from (the challenge's dir)

    @property
    def full(self) -> float:
        """What an OK tick is worth: its value times its weight."""
        return self.value * self.weight


@dataclass(frozen=True)
class Plan:
    spec: DefencePlan
    services: dict[str, Service]  # by slug, in the scenario's order
    ticks: list[TickWindow]
    where: scenario.Where
    paused: bool  # the organisers paused the checks

    @property
    def checking(self) -> bool:
        """Ticks run now: the event runs (not paused) and the checks are not paused."""
        at = self.where.at
        return at is not None and at.state == EventState.RUNNING and not self.paused

    @property
    def now(self) -> datetime:
        return self.where.now

    @property
    def ex_now(self) -> timedelta:
        return self.where.at.ex_now if self.where.at is not None else timedelta(0)

    def current(self) -> TickWindow | None:
        return current(self.ticks, self.ex_now) if self.checking else None

    def wall(self, ex: timedelta) -> datetime:
        """The wall-clock time of exercise time ``ex`` (the future assumes no more pauses)."""
        w = self.where
        assert w.control is not None
        when = timeline.wall_time(w.control, ex, w.now, self.ex_now)
        assert when is not None
        return when

    def tick(self, number: int) -> TickWindow | None:
        return self.ticks[number - 1] if 0 < number <= len(self.ticks) else None


def services_in(s: Session, plan: DefencePlan) -> dict[str, Service]:
    rows = {
        c.slug: c
        for c in s.scalars(select(Challenge).where(Challenge.slug.in_(list(plan.services))))
        if c.type == "defended"
    }
    out = {}
    for slug, weight in plan.services.items():
        ch = rows.get(slug)
        if ch is None:
            continue
        spec = DefenceSpec.model_validate((ch.spec or {}).get("defence") or {})
        names = [svc["name"] for svc in (ch.environment or {}).get("services", [])]
        out[slug] = Service(
            id=ch.id,
            slug=slug,
            name=ch.name,
            value=ch.value,
            weight=weight,
            spec=spec,
            checker_image=(ch.images or {}).get(CHECKER, ""),
            target=spec.target or (names[0] if names else ""),
            checker_context=str(Path(ch.source_dir) / spec.checker.build)
            if ch.source_dir
            else None,
        )
    return out


def plan_in(s: Session, ctx: Range, now: datetime | None = None) -> Plan | None:
    """The defence plan now; None without a scenario that has one."""
    w = scenario.where_in(s, ctx, now or ctx.clock.now())
    if w.spec is None or w.spec.defence is None or w.at is None:
        return None
    spec = w.spec.defence
    paused = bool(s.scalar(select(Event.defence_paused).where(Event.slug == ctx.event_slug)))
    ticks = tick_windows(spec.phases, spec.tick, w.at.windows)
    return Plan(spec, services_in(s, spec), ticks, w, paused)


def plan(ctx: Range, now: datetime | None = None) -> Plan | None:
    with ctx.store.read() as s:
        return plan_in(s, ctx, now)
