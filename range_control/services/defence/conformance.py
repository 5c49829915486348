"""The checker gate: ``rangectl challenges check --live`` on a defended service runs its checker
against a live copy of the service, the way enochecker_test and saarCTF's test-checkerscript do,
with the range's own runner and the image every team will get:

1. **put and get**: every flag store's put, then its get, answer OK;
2. **unknown flag**: a get of a flag that was never placed is not OK;
3. **concurrent**: 16 chains at once all answer OK;
4. **time**: the slowest chain fits the tick (``tick``: the scenario's; at most half of it);
5. **down**: with the service's container gone, the verdict is DOWN;
6. **wiped**: after a restart with its data wiped (a reset to the baseline), the get of the
   flag placed before is CORRUPT or MUMBLE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from range_control.context import Range
from range_control.core.settings import secret
from range_control.domain.defence import flags as flagging
from range_control.domain.defence.verdicts import Verdict
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import (
    Cancel,
    CheckBatch,
    CheckTarget,
    checker_state_volume,
    defence_network_name,
)
from range_control.services.catalog.lint import CHECKER, Loaded, image_refs
from range_control.services.defence.chains import (
    Collector,
    Ended,
    Team,
    exit_code_actions,
    host,
    http_actions,
)
from range_control.services.defence.plan import Service
from range_control.specs.environment import memory_bytes
from range_control.store.models import DefenceFlag

DOWN_TRIES = 3
CASES = ("put and get", "unknown flag", "concurrent", "time", "down", "wiped")
CONCURRENT = 16
DEFAULT_TICK = timedelta(seconds=60)


class Failed(Exception):
    pass


@dataclass
class Conformance:
    """One defended service's checker against the validation team's live copy."""

    ctx: Range
    backend: Backend
    svc: Service
    team: int
    cancel: Cancel
    tick: timedelta = DEFAULT_TICK
    placed: list[DefenceFlag] | None = None
    slowest: float = 0.0
    _n: int = 0

    def _flags(self, tick: int) -> list[DefenceFlag]:
        key = secret(self.ctx.settings.flag_secret)
        out = []
        for store in range(1, self.svc.spec.checker.flag_stores + 1):
            facts = flagging.FlagFacts(tick, self.team, self.svc.id, store)
            fmt = self.svc.spec.checker.format
            out.append(
                DefenceFlag(
                    tick=tick,
                    team_id=self.team,
                    challenge_id=self.svc.id,
                    store=store,
                    flag=flagging.make(key, self.ctx.event_slug, facts, fmt, self.svc.slug),
                    flag_id=flagging.flag_id(key, self.ctx.event_slug, facts),
                )
            )
        return out

    def _actions(self, now: list[DefenceFlag], older: list[DefenceFlag], tick: int) -> list[dict]:
        if self.svc.spec.checker.contract == "http":
            t = Team(self.team, "validation")
            address = host(self.ctx.event_slug, self.team, self.svc)
            ms = int(self.tick.total_seconds() * 1000)
            return http_actions(self.svc, t, tick, address, ms, now, older)
        return exit_code_actions(now, older)

    def _run(self, chains: list[list[dict]]) -> list[Ended]:
        """Each chain as a target of one batch (the same team's copy); their verdicts."""
        self._n += 1
        c = self.svc.spec.checker
        address = host(self.ctx.event_slug, self.team, self.svc)
        targets = tuple(
            CheckTarget(i + 1, address, 0.0, tuple(actions)) for i, actions in enumerate(chains)
        )
        deadline = max(2 * c.timeout.total_seconds() * c.actions, 30.0)
        batch = CheckBatch(
            event=self.ctx.event_slug,
            name=f"rc-{self.ctx.event_slug}-conform-{self._n}",
            challenge=self.svc.slug,
            tick=0,
            image=self.svc.checker_image,
            contract=c.contract,
            command=tuple(c.command or ()),
            port=c.port,
            timeout=c.timeout.total_seconds(),
            deadline=deadline,
            networks=(defence_network_name(self.ctx.event_slug, self.team),),
            targets=targets,
            memory=memory_bytes(c.memory),
            cpus=c.cpus,
            state_volume=checker_state_volume(self.ctx.event_slug, self.svc.slug),
            tags=tuple(c.tags),
            parallel=len(targets),
        )
        collector = Collector(self.svc, batch.tags)
        ended: dict[int, Ended] = {}

        def on_line(raw: str) -> None:
            done = collector.feed(raw)
            if done is not None:
                ended[done.team_id] = done

        self.backend.run_checks(batch, self.cancel, on_line)
        for t in targets:
            if t.team_id not in ended:
                ended[t.team_id] = collector.end(t.team_id, "the checker's job ended first")
        return [ended[t.team_id] for t in targets]

    # --- the cases ------------------------------------------------------------------------------
    def put_and_get(self) -> str:
        flags = self._flags(1)
        done = self._run([self._actions(flags, [], 1)])[0]
        self.slowest = max(self.slowest, done.seconds)
        if done.verdict.verdict is not Verdict.OK:
            raise Failed(_said(done))
        for f in flags:
            given = done.placed.get(f.store)
            if given is not None and given[0]:
                f.flag_id = given[0]
        self.placed = flags
        return f"{len(flags)} flag store(s) in {done.seconds:.1f} s"

    def unknown_flag(self) -> str:
        never = self._flags(999_999)
        actions = [a for a in self._actions([], never, 2) if a["action"] in ("get", "getflag")]
        for a in actions:
            a["current"] = True
        done = self._run([actions])[0]
        if done.verdict.verdict is Verdict.OK:
            raise Failed("a get of a flag never placed answered OK")
        if not done.verdict.verdict.team_fault:
            raise Failed(f"a get of a flag never placed is a checker error: {_said(done)}")
        return f"{done.verdict.verdict} ({done.verdict.public[:80]})"

    def concurrent(self) -> str:
        chains = [self._actions(self._flags(10 + i), [], 10 + i) for i in range(CONCURRENT)]
        t0 = time.monotonic()
        results = self._run(chains)
        bad = [r for r in results if r.verdict.verdict is not Verdict.OK]
        if bad:
            raise Failed(f"{len(bad)} of {CONCURRENT} concurrent chains failed: {_said(bad[0])}")
        self.slowest = max([self.slowest, *(r.seconds for r in results)])
        return f"{CONCURRENT} chains in {time.monotonic() - t0:.1f} s"

    def time(self) -> str:
        budget = self.tick.total_seconds() / 2
        if self.slowest > budget:
            raise Failed(f"the slowest chain took {self.slowest:.1f} s, more than half a tick")
        return f"slowest chain {self.slowest:.1f} s of {budget:.0f} s"

    def down(self, stop: Callable[[], None], start: Callable[[], None]) -> str:
        stop()
        try:
            # An engine may take a few seconds to stop a removed service (a Swarm drains its
            # task): the checker gets DOWN_TRIES chances to see it gone, never more.
            for attempt in range(DOWN_TRIES):
                done = self._run([self._actions(self._flags(3), [], 3)])[0]
                if done.verdict.verdict is not Verdict.OK:
                    break
                time.sleep(2 * (attempt + 1))
        finally:
            start()
        if done.verdict.verdict is not Verdict.DOWN:
            raise Failed(f"with the service gone, {done.verdict.verdict}: {_said(done)}")
        return "DOWN"

    def wiped(self, reset: Callable[[], None]) -> str:
        if not self.placed:
            raise Failed("nothing was placed to read back")
        reset()
        older = self.placed
        actions = [a for a in self._actions([], older, 4) if a["action"] in ("get", "getflag")]
        for a in actions:
            a["current"] = True
        done = self._run([actions])[0]
        if done.verdict.verdict not in (Verdict.CORRUPT, Verdict.MUMBLE):
            raise Failed(f"after a wipe, {done.verdict.verdict}: {_said(done)}")
        return str(done.verdict.verdict)


def _said(done: Ended) -> str:
    v = done.verdict
    return f"{v.verdict} at {v.cause or 'the chain'}: {v.public} / {v.private}"[:500]


def conformance_of(
    ctx: Range, backend: Backend, item: Loaded, team: int, cancel: Cancel
) -> Conformance:
    """The gate of a synced defended challenge ``item`` (its row in ``ctx``)."""
    from sqlalchemy import select

    from range_control.store.models import Challenge

    spec = item.spec.defence
    assert spec is not None and item.spec.environment is not None
    with ctx.store.read() as s:
        ch = s.scalar(select(Challenge).where(Challenge.slug == item.slug))
    assert ch is not None
    svc = Service(
        id=ch.id,
        slug=item.slug,
        name=item.spec.name,
        value=ch.value,
        weight=1.0,
        spec=spec,
        checker_image=image_refs(item)[CHECKER],
        target=spec.target or item.spec.environment.services[0].name,
    )
    return Conformance(ctx, backend, svc, team, cancel)
