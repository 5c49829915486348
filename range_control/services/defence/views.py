"""What people see of the defence: the grid (public: the public messages, the freeze holding
back what came after it; the organisers: the private messages and the checker errors too), a
team's own defended services (their verdicts, how to reach them and their shell, the reset,
the unscored checks), and each checker's health (its timings and errors)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.settings import secret
from range_control.domain.defence.verdicts import Verdict
from range_control.domain.keys import shell_password
from range_control.orchestrator.types import SHELL_PORT
from range_control.services.defence import game
from range_control.services.defence.chains import host
from range_control.services.defence.plan import Plan, plan_in
from range_control.services.defence.ticks import probes_in_hour
from range_control.services.event.event import current_in
from range_control.specs.api.defence import (
    AttackDataOut,
    AttackTeamOut,
    CellOut,
    CheckerHealthOut,
    DefendedOut,
    GridOut,
    GridRowOut,
    ProbeOut,
    ServiceColOut,
    TeamDefenceOut,
    VerdictOut,
)
from range_control.store.models import (
    Challenge,
    DefenceCapture,
    DefenceFlag,
    DefenceProbe,
    DefenceVerdict,
    Instance,
    Team,
)

HISTORY = 10


def _verdict(v: DefenceVerdict, organiser: bool) -> VerdictOut:
    return VerdictOut(
        tick=v.tick,
        verdict=v.verdict,
        message=v.public,
        private=v.private if organiser else None,
        at=v.at,
        seconds=v.seconds,
        reruns=v.reruns,
    )


def _next_tick(plan: Plan) -> tuple[int | None, datetime | None]:
    now = plan.current()
    if not plan.checking:
        return (now.number if now else None), None
    for t in plan.ticks:
        if t.start > plan.ex_now:
            return (now.number if now else None), plan.wall(t.start)
    return (now.number if now else None), (plan.wall(now.end) if now else None)


def grid(ctx: Range, *, organiser: bool = False) -> GridOut | None:
    """The grid of teams and services (None: this event has no defence)."""
    with ctx.store.read() as s:
        plan = plan_in(s, ctx)
        if plan is None:
            return None
        ev = current_in(s.connection(), ctx, ctx.clock.now())
        cutoff = ev.freeze_at if (ev.frozen and not organiser) else None
        teams = list(s.execute(select(Team.id, Team.name).where(Team.disabled.is_(False))))
        ids = [svc.id for svc in plan.services.values()]
        newest = _newest_ticks(s, ids, HISTORY + 1)
        q = select(DefenceVerdict).where(
            DefenceVerdict.challenge_id.in_(ids), DefenceVerdict.tick.in_(newest)
        )
        if cutoff is not None:
            q = q.where(DefenceVerdict.at < cutoff)
        cells: dict[tuple[int, int], list[DefenceVerdict]] = defaultdict(list)
        for v in s.scalars(q.order_by(DefenceVerdict.tick.desc())):
            cells[(v.team_id, v.challenge_id)].append(v)
        tick, next_at = _next_tick(plan)
        attack = plan.spec.any_attack
        won, lost = _capture_counts(s, cutoff) if attack else ({}, {})
        rows = []
        for team_id, name in sorted(teams, key=lambda t: t[1].casefold()):
            row = []
            for svc in plan.services.values():
                seen = [_verdict(v, organiser) for v in cells.get((team_id, svc.id), [])]
                row.append(
                    CellOut(
                        service=svc.slug,
                        now=seen[0] if seen else None,
                        history=seen[1:],
                        captured=won.get((team_id, svc.id), 0),
                        lost=lost.get((team_id, svc.id), 0),
                    )
                )
            rows.append(GridRowOut(team_id=team_id, team=name, cells=row))
        return GridOut(
            tick=tick,
            ticks=len(plan.ticks),
            next_tick_at=next_at,
            tick_seconds=plan.spec.tick.total_seconds(),
            checking=plan.checking,
            paused=plan.paused,
            services=[
                ServiceColOut(slug=v.slug, name=v.name, value=v.value, weight=v.weight)
                for v in plan.services.values()
            ],
            rows=rows,
            frozen=cutoff is not None,
            attack_defence=attack,
        )


def _capture_counts(
    s: Session, cutoff: datetime | None
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Per (team, service): flags it captured; flags of its own captured (distinct flags)."""
    q = select(
        DefenceCapture.team_id,
        DefenceCapture.victim_id,
        DefenceCapture.challenge_id,
        DefenceCapture.tick,
        DefenceCapture.store,
    )
    if cutoff is not None:
        q = q.where(DefenceCapture.created_at < cutoff)
    won: dict[tuple[int, int], int] = defaultdict(int)
    lost_flags: set[tuple[int, int, int, int]] = set()
    for team, victim, ch, tick, store in s.execute(q):
        won[(team, ch)] += 1
        lost_flags.add((victim, ch, tick, store))
    lost: dict[tuple[int, int], int] = defaultdict(int)
    for victim, ch, _tick, _store in lost_flags:
        lost[(victim, ch)] += 1
    return won, lost


def _newest_ticks(s: Session, ids: list[int], n: int) -> list[int]:
    return list(
        s.scalars(
            select(DefenceVerdict.tick)
            .where(DefenceVerdict.challenge_id.in_(ids))
            .distinct()
            .order_by(DefenceVerdict.tick.desc())
            .limit(n)
        )
    )


def team_view(ctx: Range, team_id: int) -> TeamDefenceOut | None:
    """The team's own defended services (None: this event has no defence)."""
    now = ctx.clock.now()
    with ctx.store.read() as s:
        plan = plan_in(s, ctx, now)
        if plan is None:
            return None
        ids = [svc.id for svc in plan.services.values()]
        rows = {c.id: c for c in s.scalars(select(Challenge).where(Challenge.id.in_(ids)))}
        states = dict(
            s.execute(
                select(Instance.challenge_id, Instance.state).where(
                    Instance.team_id == team_id, Instance.challenge_id.in_(ids)
                )
            ).all()
        )
        tick, next_at = _next_tick(plan)
        out = []
        for svc in plan.services.values():
            verdicts = s.scalars(
                select(DefenceVerdict)
                .where(DefenceVerdict.team_id == team_id, DefenceVerdict.challenge_id == svc.id)
                .order_by(DefenceVerdict.tick.desc())
                .limit(HISTORY)
            )
            probes = s.scalars(
                select(DefenceProbe)
                .where(
                    DefenceProbe.team_id == team_id,
                    DefenceProbe.challenge_id == svc.id,
                    DefenceProbe.tick.is_(None),
                )
                .order_by(DefenceProbe.id.desc())
                .limit(3)
            )
            ch = rows[svc.id]
            out.append(
                DefendedOut(
                    slug=svc.slug,
                    name=svc.name,
                    description=ch.description,
                    reach=svc.target,
                    shell=f"ssh -p {SHELL_PORT} root@{svc.target}"
                    if svc.spec.shell is None or svc.target in svc.spec.shell
                    else None,
                    state=states.get(svc.id, "pending"),
                    verdicts=[_verdict(v, False) for v in verdicts],
                    reset_cost=plan.spec.reset_cost,
                    checks_left=max(
                        0, plan.spec.check_now - probes_in_hour(s, team_id, svc.id, now)
                    ),
                    probes=[
                        ProbeOut(
                            id=p.id,
                            verdict=p.verdict,
                            message=p.public,
                            created_at=p.created_at,
                            done_at=p.done_at,
                        )
                        for p in probes
                    ],
                )
            )
        password = shell_password(secret(ctx.settings.flag_secret), ctx.event_slug, team_id)
        return TeamDefenceOut(
            tick=tick,
            next_tick_at=next_at,
            checking=plan.checking,
            shell_password=password,
            services=out,
            attack_defence=plan.spec.any_attack,
        )


def health(ctx: Range) -> list[CheckerHealthOut]:
    """Each checker's timings and errors over every tick so far."""
    with ctx.store.read() as s:
        plan = plan_in(s, ctx)
        if plan is None:
            return []
        out = []
        for svc in plan.services.values():
            rows = list(
                s.execute(
                    select(DefenceVerdict.verdict, DefenceVerdict.seconds, DefenceVerdict.private)
                    .where(DefenceVerdict.challenge_id == svc.id)
                    .order_by(DefenceVerdict.tick)
                )
            )
            checked = [r for r in rows if r.verdict != Verdict.NOT_CHECKED]
            errors = [r for r in checked if r.verdict == Verdict.CHECKER_ERROR]
            times = sorted(r.seconds for r in checked if r.seconds > 0)
            out.append(
                CheckerHealthOut(
                    slug=svc.slug,
                    contract=svc.spec.checker.contract,
                    checks=len(checked),
                    checker_errors=len(errors),
                    mean_seconds=round(statistics.fmean(times), 3) if times else None,
                    p95_seconds=times[int(0.95 * (len(times) - 1))] if times else None,
                    timeout_seconds=svc.spec.checker.timeout.total_seconds(),
                    last_error=errors[-1].private if errors else None,
                )
            )
        return out


def attack_data(ctx: Range) -> AttackDataOut | None:
    """Per service, team and tick still valid: the public data each placed flag came with
    (ForcAD's ``attack_data``, EnoEngine's ``attack.json``). Never a flag, never a private
    flag id: with ForcAD's ``pfr`` tag only what the put printed on stdout; an exit-code
    checker without it gets its flag id published (ForcAD's own behaviour); an HTTP checker
    its ``attackInfo``."""
    with ctx.store.read() as s:
        plan = plan_in(s, ctx)
        if plan is None:
            return None
        t = plan.current()
        now = t.number if t is not None else 0
        low = now - plan.spec.flag_lifetime + 1
        teams = [(i, n) for i, n in s.execute(select(Team.id, Team.name).order_by(Team.id))]
        by_id = {svc.id: svc for svc in plan.services.values()}
        rows = s.execute(
            select(
                DefenceFlag.challenge_id,
                DefenceFlag.team_id,
                DefenceFlag.tick,
                DefenceFlag.flag_id,
                DefenceFlag.public_info,
            )
            .where(
                DefenceFlag.placed.is_(True),
                DefenceFlag.tick >= low,
                DefenceFlag.tick <= now,
            )
            .order_by(DefenceFlag.tick, DefenceFlag.store)
        ).all()
    where = game.addresses(plan, ctx.settings.game_subnet, [i for i, _n in teams])
    services: dict[str, dict[str, dict[str, list[str]]]] = {
        svc.slug: {} for svc in plan.services.values()
    }
    for cid, team_id, tick, fid, public in rows:
        svc = by_id.get(cid)
        if svc is None:
            continue
        checker = svc.spec.checker
        shown = public or (
            fid if checker.contract == "exit-code" and "pfr" not in checker.tags else ""
        )
        if shown:
            services[svc.slug].setdefault(str(team_id), {}).setdefault(str(tick), []).append(shown)
    return AttackDataOut(
        tick=t.number if t is not None else None,
        teams=[
            AttackTeamOut(
                id=i,
                name=n,
                hosts={
                    svc.slug: where.get((i, svc.slug)) or host(ctx.event_slug, i, svc)
                    for svc in plan.services.values()
                },
            )
            for i, n in teams
        ],
        services=services,
    )
