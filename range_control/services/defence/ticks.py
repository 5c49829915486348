"""The worker's defence loop: ticks as persisted facts, like milestones.

Every pass (each second, from the scheduler):

1. a tick of a defence phase that has begun and has no row, and is not the one running now
   (or is, with too little of it left), is recorded ``missed``: its verdicts are NOT CHECKED,
   never charged (no worker ran, or the checks were paused);
2. the tick running now gets its row (the tick's number is the key: two schedulers cannot both
   run it), its flags, and one check batch per defended service, each run in a thread of this
   process that records every team's verdict as its chain ends;
3. a row left ``running`` by an earlier process is picked up: its batches' jobs are found by
   name and read again from the start (recording is idempotent), or started if they never were
   and time is left; once they have all ended, the row is ``done`` and any verdict still missing
   is NOT CHECKED;
4. a pause (of the event, or of the checks by the organisers) cancels the running batches: what
   they had not answered is NOT CHECKED;
5. the checks asked for between ticks (a team's "check now", an organiser's re-check of a past
   tick) run the same way.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core import metrics
from range_control.core.actors import Actor
from range_control.domain.defence.ticks import MARGIN, TickWindow
from range_control.domain.defence.verdicts import TickVerdict, Verdict
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import (
    BackendError,
    Cancel,
    CheckBatch,
    check_job_name,
    defence_network_name,
)
from range_control.services.audit import audit
from range_control.services.defence.chains import (
    Collector,
    Ended,
    Placement,
    Team,
    batch,
    flags_of_tick,
    older_flags,
)
from range_control.services.defence.plan import Plan, Service, plan_in
from range_control.services.event.event import bump_generation
from range_control.store.models import (
    DefenceFlag,
    DefenceProbe,
    DefenceTick,
    DefenceVerdict,
    Instance,
)
from range_control.store.models import Team as TeamRow

log = logging.getLogger("range_control.defence")

PAUSED = "the checks were paused (not the team's fault)"
UNCHECKED = "not checked: no worker ran (not the team's fault)"
STARTING = "not checked: the range is still bringing the service up"
CUT = "the checker's job ended before this team's chain did"


@dataclass
class Run:
    """A batch running in a thread of this process."""

    batch: CheckBatch
    cancel: Cancel
    thread: threading.Thread
    tick: int | None  # None: a probe
    probe: int | None = None


@dataclass
class DefenceTicks:
    ctx: Range
    backend: Backend
    runs: dict[str, Run] = field(default_factory=dict)  # by batch name
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the pass -----------------------------------------------------------------------------
    def step(self) -> None:
        with self.lock:
            self._reap()
            with self.ctx.store.write() as s:
                plan = plan_in(s, self.ctx)
                if plan is None or not plan.services:
                    return
                self._missed(s, plan)
                todo = self._begin(s, plan) if plan.checking else []
            if not plan.checking:
                self._cancel_all()
            for b, svc, tick in todo:
                self._launch(b, svc, tick)
            self._resume(plan)
            self._probes(plan)

    def stop(self) -> None:
        """Cancel what runs (the process is stopping: a restart picks the ticks up again)."""
        with self.lock:
            for run in self.runs.values():
                run.cancel.set()

    # --- 1: ticks nobody checked ---------------------------------------------------------------
    def _missed(self, s: Session, plan: Plan) -> None:
        have = set(s.scalars(select(DefenceTick.number)))
        now_tick = plan.current()
        for t in plan.ticks:
            if t.start > plan.ex_now or t.number in have:
                continue
            if now_tick is not None and t.number == now_tick.number and self._time_left(plan, t):
                continue
            s.add(_tick_row(plan, t, "missed", finished_at=plan.now))
            s.flush()
            for svc in plan.services.values():
                for team in _teams(s):
                    end = plan.wall(t.end)
                    _record(s, svc, t.number, team.id, _not_checked(UNCHECKED), 0.0, end, plan.now)
            bump_generation(s, self.ctx)
            log.info("tick %d missed (no worker ran): not checked", t.number)

    def _time_left(self, plan: Plan, t: TickWindow) -> bool:
        """Enough of the tick is left to check it: every checker's timeout, and a margin."""
        longest = max(svc.spec.checker.timeout for svc in plan.services.values())
        return t.end - plan.ex_now > longest + MARGIN

    # --- 2: the tick running now --------------------------------------------------------------
    def _begin(self, s: Session, plan: Plan) -> list[tuple[CheckBatch, Service, int]]:
        t = plan.current()
        if t is None or s.get(DefenceTick, t.number) is not None:
            return []
        try:
            with s.begin_nested():
                s.add(_tick_row(plan, t, "running"))
        except IntegrityError:  # another scheduler has it
            return []
        bump_generation(s, self.ctx)  # the pages show the new tick
        return [(b, svc, t.number) for svc, b in self._batches(s, plan, t)]

    def _batches(self, s: Session, plan: Plan, t: TickWindow) -> list[tuple[Service, CheckBatch]]:
        teams = _teams(s)
        ready, waiting = _checkable(s, self.ctx, self.backend, plan, teams)
        out = []
        end = plan.wall(t.end)
        for svc in plan.services.values():
            mine = [team for team in teams if (team.id, svc.id) in ready]
            for team in teams:
                if (team.id, svc.id) in waiting:
                    _record(s, svc, t.number, team.id, _not_checked(STARTING), 0.0, end, plan.now)
            if not mine:
                continue
            now = flags_of_tick(s, self.ctx, svc, t.number, mine)
            older = older_flags(
                s, svc, t.number, plan.spec.flag_lifetime, mine, self.ctx.event_slug
            )
            start = plan.now
            place = Placement(
                name=check_job_name(self.ctx.event_slug, svc.slug, t.number),
                tick=t.number,
                length_seconds=plan.spec.tick.total_seconds(),
                started=start,
                deadline=max(1.0, (end - start - MARGIN).total_seconds()),
                tick_start=plan.wall(t.start),
            )
            nets = {team.id: defence_network_name(self.ctx.event_slug, team.id) for team in mine}
            out.append((svc, batch(self.ctx, svc, place, mine, now, older, nets)))
        return out

    def _launch(
        self, b: CheckBatch, svc: Service, tick: int | None, probe: int | None = None
    ) -> None:
        if b.name in self.runs:
            return
        cancel = Cancel()
        thread = threading.Thread(
            target=self._run, args=(b, svc, tick, cancel, probe), name=b.name, daemon=True
        )
        self.runs[b.name] = Run(b, cancel, thread, tick, probe)
        thread.start()

    def _run(
        self, b: CheckBatch, svc: Service, tick: int | None, cancel: Cancel, probe: int | None
    ) -> None:
        """One batch to its end: every team's verdict recorded (a probe's in its row)."""
        collector = Collector(svc, b.tags)
        started = self.ctx.clock.now()
        at = started if tick is None else _tick_end(self.ctx, tick, started)

        def on_line(raw: str) -> None:
            ended = collector.feed(raw)
            if ended is not None:
                self._store(svc, tick, ended, at, probe)

        try:
            self.backend.run_checks(b, cancel, on_line)
        except (BackendError, OSError) as exc:
            collector.fatal = f"the check job could not run: {exc}"[:1000]
            log.warning("%s: %s", b.name, collector.fatal)
        except Exception:
            log.exception("%s failed", b.name)
            collector.fatal = "the check job failed (see the worker's log)"
        for target in b.targets:
            if target.team_id not in collector.ended:
                if cancel.is_set():
                    self._store(
                        svc, tick, Ended(target.team_id, _not_checked(PAUSED), 0.0), at, probe
                    )
                else:
                    self._store(svc, tick, collector.end(target.team_id, CUT), at, probe)
        metrics.DEFENCE_BATCH_SECONDS.labels(svc.slug).observe(
            (self.ctx.clock.now() - started).total_seconds()
        )

    def _store(
        self, svc: Service, tick: int | None, ended: Ended, at: datetime, probe: int | None
    ) -> None:
        try:
            with self.ctx.store.write() as s:
                if probe is not None:
                    _answer_probe(s, self.ctx, svc, probe, ended)
                    return
                assert tick is not None
                now = self.ctx.clock.now()
                _record(s, svc, tick, ended.team_id, ended.verdict, ended.seconds, at, now)
                _placed(s, svc, tick, ended)
                bump_generation(s, self.ctx)
        except Exception:
            log.exception("verdict of team %s at tick %s not recorded", ended.team_id, tick)
        metrics.DEFENCE_VERDICTS.labels(svc.slug, str(ended.verdict.verdict)).inc()

    # --- 3: ticks an earlier process left running ---------------------------------------------
    def _resume(self, plan: Plan) -> None:
        with self.ctx.store.write() as s:
            rows = list(s.scalars(select(DefenceTick).where(DefenceTick.status == "running")))
            mine = {run.tick for run in self.runs.values() if run.tick is not None}
            jobs = {o.name for o in self.backend.check_jobs(self.ctx.event_slug)}
            for row in rows:
                if row.number in mine:
                    continue
                names = {
                    check_job_name(self.ctx.event_slug, svc.slug, row.number): svc
                    for svc in plan.services.values()
                }
                found = [name for name in names if name in jobs]
                if found:
                    t = plan.tick(row.number)
                    if t is not None:
                        for svc, b in self._batches(s, plan, t):
                            if b.name in found:
                                self._launch(b, svc, row.number)
                        continue
                self._close(s, plan, row)

    def _close(self, s: Session, plan: Plan, row: DefenceTick) -> None:
        """A tick whose batches have all ended: done, whatever is missing NOT CHECKED."""
        for svc in plan.services.values():
            for team in _teams(s):
                _record(
                    s, svc, row.number, team.id, _not_checked(UNCHECKED), 0.0, row.ends_at, plan.now
                )
        row.status = "done"
        row.finished_at = plan.now
        bump_generation(s, self.ctx)

    def _reap(self) -> None:
        """Forget the runs that ended; a tick whose runs have all ended is closed."""
        ended = [name for name, run in self.runs.items() if not run.thread.is_alive()]
        ticks = {self.runs[name].tick for name in ended} - {None}
        for name in ended:
            del self.runs[name]
        still = {run.tick for run in self.runs.values()}
        done = [t for t in ticks if t not in still]
        if not done:
            return
        with self.ctx.store.write() as s:
            plan = plan_in(s, self.ctx)
            for number in done:
                row = s.get(DefenceTick, number)
                if row is not None and row.status == "running" and plan is not None:
                    self._close(s, plan, row)

    def _cancel_all(self) -> None:
        for run in self.runs.values():
            if run.tick is not None:
                run.cancel.set()

    # --- 5: checks asked for between ticks ----------------------------------------------------
    def _probes(self, plan: Plan) -> None:
        from range_control.services.defence.actions import probe_batch

        with self.ctx.store.read() as s:
            waiting = list(s.scalars(select(DefenceProbe).where(DefenceProbe.verdict.is_(None))))
            todo = []
            for p in waiting:
                svc = next((v for v in plan.services.values() if v.id == p.challenge_id), None)
                name = check_job_name(self.ctx.event_slug, svc.slug if svc else "x", f"p{p.id}")
                if svc is not None and name not in self.runs:
                    todo.append((p.id, svc, probe_batch(s, self.ctx, plan, svc, p, name)))
        for probe_id, svc, b in todo:
            self._launch(b, svc, None, probe_id)


# --- recording ------------------------------------------------------------------------------
def _not_checked(why: str) -> TickVerdict:
    return TickVerdict(Verdict.NOT_CHECKED, why, why, "")


def _tick_row(
    plan: Plan, t: TickWindow, status: str, finished_at: datetime | None = None
) -> DefenceTick:
    """The persisted fact of tick ``t``, its times as planned now."""
    return DefenceTick(
        number=t.number,
        phase=t.phase,
        starts_at=plan.wall(t.start),
        ends_at=plan.wall(t.end),
        status=status,
        finished_at=finished_at,
    )


def _teams(s: Session) -> list[Team]:
    rows = s.execute(
        select(TeamRow.id, TeamRow.name).where(TeamRow.disabled.is_(False)).order_by(TeamRow.id)
    )
    return [Team(i, n) for i, n in rows]


def _checkable(
    s: Session, ctx: Range, backend: Backend, plan: Plan, teams: list[Team]
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(team, service) pairs to check now, and those whose copy the range has not brought up
    yet (not checked: a pending instance is the range's doing, a failed one the team's)."""
    ids = [svc.id for svc in plan.services.values()]
    states = {
        (team, ch): state
        for team, ch, state in s.execute(
            select(Instance.team_id, Instance.challenge_id, Instance.state).where(
                Instance.challenge_id.in_(ids)
            )
        )
    }
    networks = set(backend.networks(ctx.event_slug))
    ready, waiting = set(), set()
    for team in teams:
        has_net = defence_network_name(ctx.event_slug, team.id) in networks
        for ch in ids:
            state = states.get((team.id, ch))
            if has_net and state in ("running", "failed"):
                ready.add((team.id, ch))
            else:
                waiting.add((team.id, ch))
    return ready, waiting


def _record(
    s: Session,
    svc: Service,
    tick: int,
    team_id: int,
    v: TickVerdict,
    seconds: float,
    at: datetime,
    now: datetime,
    replace: bool = False,
) -> bool:
    """The verdict of (tick, team, service), once (``replace``: a re-check's)."""
    row = s.scalar(
        select(DefenceVerdict).where(
            DefenceVerdict.tick == tick,
            DefenceVerdict.team_id == team_id,
            DefenceVerdict.challenge_id == svc.id,
        )
    )
    if row is not None and not replace:
        return False
    if row is None:
        row = DefenceVerdict(tick=tick, team_id=team_id, challenge_id=svc.id, at=at, reruns=0)
        s.add(row)
    else:
        row.reruns += 1
    row.verdict = str(v.verdict)
    row.public, row.private, row.cause = v.public, v.private, v.cause
    row.seconds, row.checked_at = seconds, now
    try:
        with s.begin_nested():
            s.flush()
    except IntegrityError:  # recorded by another pass in the meantime
        return False
    return True


def _placed(s: Session, svc: Service, tick: int, ended: Ended) -> None:
    """The flags its puts placed, with the id and public data the checker gave."""
    for store, (flag_id, info) in ended.placed.items():
        row = s.scalar(
            select(DefenceFlag).where(
                DefenceFlag.tick == tick,
                DefenceFlag.team_id == ended.team_id,
                DefenceFlag.challenge_id == svc.id,
                DefenceFlag.store == store,
            )
        )
        if row is None:
            continue
        row.placed = True
        if flag_id and len(flag_id) <= 200 and "\n" not in flag_id:
            row.flag_id = flag_id
        if info:
            row.public_info = info[:4000]


def _answer_probe(s: Session, ctx: Range, svc: Service, probe_id: int, ended: Ended) -> None:
    """A probe's answer in its row; a re-check of a past tick replaces that tick's verdict
    (and says so in the audit log)."""
    p = s.get(DefenceProbe, probe_id)
    if p is None:
        return
    now = ctx.clock.now()
    p.verdict = str(ended.verdict.verdict)
    p.public, p.private, p.seconds = ended.verdict.public, ended.verdict.private, ended.seconds
    p.done_at = now
    row = s.get(DefenceTick, p.tick) if p.tick is not None else None
    if row is None:
        return
    before = s.scalar(
        select(DefenceVerdict.verdict).where(
            DefenceVerdict.tick == row.number,
            DefenceVerdict.team_id == p.team_id,
            DefenceVerdict.challenge_id == p.challenge_id,
        )
    )
    _record(s, svc, row.number, p.team_id, ended.verdict, ended.seconds, row.ends_at, now, True)
    audit(
        s,
        ctx,
        Actor.range("defence"),
        "defence.recheck.done",
        service=svc.slug,
        team_id=p.team_id,
        tick=row.number,
        was=before,
        now=str(ended.verdict.verdict),
    )
    bump_generation(s, ctx)


def _tick_end(ctx: Range, tick: int, fallback: datetime) -> datetime:
    with ctx.store.read() as s:
        row = s.get(DefenceTick, tick)
        return row.ends_at if row is not None else fallback


def probes_in_hour(s: Session, team_id: int, challenge_id: int, now: datetime) -> int:
    return int(
        s.scalar(
            select(func.count()).where(
                DefenceProbe.team_id == team_id,
                DefenceProbe.challenge_id == challenge_id,
                DefenceProbe.tick.is_(None),
                DefenceProbe.created_at > now - timedelta(hours=1),
            )
        )
        or 0
    )
