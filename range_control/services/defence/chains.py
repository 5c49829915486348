"""A tick's flags and each team's chain of actions as a check batch, and what the checker's
answers mean.

A chain, in order: the service check (the exit-code contract's ``check``), then for each flag
store this tick's ``put`` and its ``get`` (EnoEngine: ``putflag`` and ``getflag``, then its
noise and havoc variants), then a ``get`` of one older flag per store still valid (placed at
one of the last ``flag_lifetime`` ticks, chosen at random): that one missing is RECOVERING.

Flag ids: the range gives each flag one (``domain.defence.flags.flag_id``). A Hackerdom
checker's ``put`` may print a new one on stdout (the checksystem's convention) and then that is
what its ``get`` is given; with ForcAD's ``pfr`` tag, ``put`` prints the public flag data on
stdout and the flag id on stderr. EnoEngine's ``attackInfo`` is kept as the public data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.settings import secret
from range_control.domain.defence import flags as flagging
from range_control.domain.defence.ticks import offset
from range_control.domain.defence.verdicts import (
    Answer,
    TickVerdict,
    Verdict,
    bounded,
    of_chain,
    of_eno,
    of_exit_code,
)
from range_control.orchestrator.types import (
    CheckBatch,
    CheckTarget,
    checker_state_volume,
    container_name,
    defence_network_name,
    dns_name,
)
from range_control.services.defence.plan import Service
from range_control.specs.environment import memory_bytes
from range_control.store.models import DefenceFlag

NOT_OURS = "the range could not check this service (not the team's fault)"
FLOOD = 1 << 20  # a checker that prints more than this on a stream breaks the contract


@dataclass(frozen=True)
class Team:
    id: int
    name: str


def host(event: str, team_id: int, svc: Service) -> str:
    """Where the checker reaches the team's copy (its name on the team's defence network)."""
    return dns_name(container_name(event, team_id, svc.slug, svc.target))


def flags_of_tick(
    s: Session, ctx: Range, svc: Service, tick: int, teams: Iterable[Team]
) -> dict[int, list[DefenceFlag]]:
    """This tick's flags of ``svc`` for ``teams``, one per store (made once: a second call,
    after a restart, finds them)."""
    key = secret(ctx.settings.flag_secret)
    fmt = svc.spec.checker.format
    have = {
        (f.team_id, f.store): f
        for f in s.scalars(
            select(DefenceFlag).where(DefenceFlag.tick == tick, DefenceFlag.challenge_id == svc.id)
        )
    }
    out: dict[int, list[DefenceFlag]] = {}
    now = ctx.clock.now()
    for team in teams:
        rows = []
        for store in range(1, svc.spec.checker.flag_stores + 1):
            row = have.get((team.id, store))
            if row is None:
                facts = flagging.FlagFacts(tick, team.id, svc.id, store)
                row = DefenceFlag(
                    tick=tick,
                    team_id=team.id,
                    challenge_id=svc.id,
                    store=store,
                    flag=flagging.make(key, ctx.event_slug, facts, fmt, svc.slug),
                    flag_id=flagging.flag_id(key, ctx.event_slug, facts),
                    public_info="",
                    placed=False,
                    created_at=now,
                )
                s.add(row)
            rows.append(row)
        out[team.id] = rows
    s.flush()
    return out


def older_flags(
    s: Session, svc: Service, tick: int, lifetime: int, teams: Iterable[Team], seed: str
) -> dict[int, list[DefenceFlag]]:
    """One placed flag per team and store from the ``lifetime - 1`` ticks before ``tick``."""
    ids = [t.id for t in teams]
    rows = s.scalars(
        select(DefenceFlag).where(
            DefenceFlag.challenge_id == svc.id,
            DefenceFlag.team_id.in_(ids),
            DefenceFlag.placed.is_(True),
            DefenceFlag.tick < tick,
            DefenceFlag.tick > tick - lifetime,
        )
    )
    pool: dict[tuple[int, int], list[DefenceFlag]] = {}
    for row in rows:
        pool.setdefault((row.team_id, row.store), []).append(row)
    rng = random.Random(f"{seed}:{tick}:{svc.slug}")
    out: dict[int, list[DefenceFlag]] = {}
    for (team_id, _store), choices in sorted(pool.items()):
        out.setdefault(team_id, []).append(rng.choice(sorted(choices, key=lambda f: f.tick)))
    return out


def exit_code_actions(now: list[DefenceFlag], older: list[DefenceFlag]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = [{"action": "check"}]
    for f in now:
        common = {"store": f.store, "flag": f.flag, "flag_id": f.flag_id, "tick": f.tick}
        out.append({"action": "put", **common, "current": True})
        out.append({"action": "get", **common, "current": True})
    for f in older:
        out.append(
            {
                "action": "get",
                "store": f.store,
                "flag": f.flag,
                "flag_id": f.flag_id,
                "tick": f.tick,
                "current": False,
            }
        )
    return out


def _task(
    svc: Service, team: Team, tick: int, address: str, round_ms: int, method: str, **extra: object
) -> dict[str, object]:
    """An EnoEngine CheckerTaskMessage (the runner sets its ``timeout``)."""
    variant = int(extra.pop("variant", 0))  # type: ignore[call-overload]
    related = int(extra.pop("related", tick))  # type: ignore[call-overload]
    kind = method.removeprefix("put").removeprefix("get")
    chain = f"{kind}_s{svc.id}_r{related}_t{team.id}_i{variant}"
    return {
        "taskId": (tick * 100_000 + team.id * 100 + variant) * 8 + _METHODS.index(method),
        "method": method,
        "address": address,
        "teamId": team.id,
        "teamName": team.name,
        "currentRoundId": tick,
        "relatedRoundId": related,
        "flag": extra.get("flag"),
        "variantId": variant,
        "timeout": 0,
        "roundLength": round_ms,
        "taskChainId": chain,
    }


_METHODS = ("putflag", "getflag", "putnoise", "getnoise", "havoc")


def http_actions(
    svc: Service,
    team: Team,
    tick: int,
    address: str,
    round_ms: int,
    now: list[DefenceFlag],
    older: list[DefenceFlag],
) -> list[dict[str, object]]:
    c = svc.spec.checker
    out: list[dict[str, object]] = []

    def add(method: str, current: bool, store: int = 0, **extra: object) -> None:
        task = _task(svc, team, tick, address, round_ms, method, **extra)
        out.append({"action": method, "store": store, "current": current, "task": task})

    for f in now:
        add("putflag", True, f.store, flag=f.flag, variant=f.store - 1)
        add("getflag", True, f.store, flag=f.flag, variant=f.store - 1)
    for v in range(c.noise_stores):
        add("putnoise", True, v + 1, variant=v)
        add("getnoise", True, v + 1, variant=v)
    for v in range(c.havoc):
        add("havoc", True, v + 1, variant=v)
    for f in older:
        add("getflag", False, f.store, flag=f.flag, variant=f.store - 1, related=f.tick)
    return out


@dataclass
class Placement:
    """Where and when a batch runs, as the tick decided it."""

    name: str
    tick: int
    length_seconds: float  # the tick's
    started: datetime  # wall time the batch starts
    deadline: float  # seconds after ``started``
    tick_start: datetime  # wall time the tick started (the offsets count from it)
    scored: bool = True


def batch(
    ctx: Range,
    svc: Service,
    place: Placement,
    teams: list[Team],
    now: dict[int, list[DefenceFlag]],
    older: dict[int, list[DefenceFlag]],
    networks: dict[int, str],
) -> CheckBatch:
    """The check batch of ``svc`` for ``teams`` (those with a defence network)."""
    c = svc.spec.checker
    key = secret(ctx.settings.flag_secret)
    event = ctx.event_slug
    round_ms = int(place.length_seconds * 1000)
    late = (place.started - place.tick_start).total_seconds()
    targets = []
    for team in teams:
        address = host(event, team.id, svc)
        if c.contract == "http":
            actions = http_actions(
                svc,
                team,
                place.tick,
                address,
                round_ms,
                now.get(team.id, []),
                older.get(team.id, []),
            )
        else:
            actions = exit_code_actions(now.get(team.id, []), older.get(team.id, []))
        start = 0.0
        if place.scored:
            length = place.length_seconds
            start = max(
                0.0,
                offset(key, event, place.tick, team.id, svc.slug, timedelta(seconds=length)) - late,
            )
        targets.append(CheckTarget(team.id, address, start, tuple(actions)))
    return CheckBatch(
        event=event,
        name=place.name,
        challenge=svc.slug,
        tick=place.tick,
        image=svc.checker_image,
        contract=c.contract,
        command=tuple(c.command or ()),
        port=c.port,
        timeout=c.timeout.total_seconds(),
        deadline=place.deadline,
        networks=tuple(networks[t.id] for t in teams if t.id in networks)
        or (defence_network_name(event, teams[0].id),),
        targets=tuple(targets),
        memory=memory_bytes(c.memory),
        cpus=c.cpus,
        state_volume=checker_state_volume(event, svc.slug),
        tags=tuple(c.tags),
        context=svc.checker_context,
    )


# --- the answers ------------------------------------------------------------------------------
@dataclass
class Ended:
    """A team's chain, ended: its verdict, its time, and what its puts changed."""

    team_id: int
    verdict: TickVerdict
    seconds: float
    placed: dict[int, tuple[str | None, str]] = field(default_factory=dict)  # store -> id, info


@dataclass
class Collector:
    """Reads a batch's lines; a team's verdict is ready when its chain ends."""

    svc: Service
    tags: tuple[str, ...] = ()
    answers: dict[int, list[Answer]] = field(default_factory=dict)
    placed: dict[int, dict[int, tuple[str | None, str]]] = field(default_factory=dict)
    ended: set[int] = field(default_factory=set)
    fatal: str | None = None

    def feed(self, raw: str) -> Ended | None:
        try:
            line = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(line, dict):
            return None
        if "fatal" in line:
            self.fatal = bounded(line["fatal"])
            return None
        team = line.get("team")
        if not isinstance(team, int) or team in self.ended:
            return None
        if line.get("end"):
            return self.end(team)
        if line.get("late"):
            answer = Answer(
                str(line.get("action", "")),
                Verdict.CHECKER_ERROR,
                NOT_OURS,
                "the tick ended before the checker finished",
            )
            self.answers.setdefault(team, []).append(answer)
            return None
        answer, placed = self._answer(line)
        self.answers.setdefault(team, []).append(answer)
        if placed is not None:
            self.placed.setdefault(team, {})[answer.store] = placed
        return None

    def end(self, team: int, why: str | None = None) -> Ended:
        """The team's verdict from what it answered (``why``: the chain was cut short)."""
        self.ended.add(team)
        answers = self.answers.get(team, [])
        if why is not None or self.fatal is not None:
            answers = [
                *answers,
                Answer("check", Verdict.CHECKER_ERROR, NOT_OURS, why or self.fatal or ""),
            ]
        elif not answers:
            answers = [Answer("check", Verdict.CHECKER_ERROR, NOT_OURS, "the checker said nothing")]
        seconds = round(sum(a.seconds for a in answers), 3)
        return Ended(team, of_chain(answers), seconds, self.placed.get(team, {}))

    def _answer(self, line: dict[str, object]) -> tuple[Answer, tuple[str | None, str] | None]:
        action = str(line.get("action", ""))
        store = int(line.get("store") or 0)  # type: ignore[call-overload]
        current = bool(line.get("current", True))
        seconds = float(line.get("seconds") or 0.0)  # type: ignore[arg-type]
        if self.svc.spec.checker.contract == "http":
            return self._eno(line, action, store, current, seconds)
        return self._exit_code(line, action, store, current, seconds)

    def _exit_code(
        self, line: dict[str, object], action: str, store: int, current: bool, seconds: float
    ) -> tuple[Answer, tuple[str | None, str] | None]:
        code = line.get("code")
        verdict = of_exit_code(code if isinstance(code, int) else None)
        out, err = str(line.get("stdout") or ""), str(line.get("stderr") or "")
        private = err
        printed = line.get("printed")
        if isinstance(printed, int) and printed > FLOOD:
            verdict = Verdict.CHECKER_ERROR
            private = f"printed {printed} bytes (the contract's messages are short); {err}"
        elif line.get("timed_out"):
            private = f"timed out after {self.svc.spec.checker.timeout}; stderr: {err}"
        elif verdict is Verdict.CHECKER_ERROR and code not in (110, None):
            private = f"exit code {code} (not in the contract); stderr: {err}"
        public = out if verdict.team_fault else NOT_OURS
        placed = None
        if action == "put" and verdict is Verdict.OK:
            if "pfr" in self.tags:
                placed = (err.strip() or None, out.strip())
            else:
                placed = (out.strip() or None, "")
            public = ""
        answer = Answer(
            action,
            verdict,
            bounded(public.strip()),
            bounded(private.strip()),
            store,
            current,
            seconds,
        )
        return answer, placed

    def _eno(
        self, line: dict[str, object], action: str, store: int, current: bool, seconds: float
    ) -> tuple[Answer, tuple[str | None, str] | None]:
        verdict = of_eno(line.get("result"))
        message = line.get("message") if isinstance(line.get("message"), str) else ""
        private = str(message or "")
        if verdict is Verdict.CHECKER_ERROR:
            detail = line.get("error") or (
                "timed out"
                if line.get("timed_out")
                else f"HTTP {line.get('code')}: {line.get('raw')!s}"
            )
            private = f"{private} {detail}".strip()
        public = str(message or "") if verdict.team_fault else NOT_OURS
        placed = None
        if action == "putflag" and verdict is Verdict.OK:
            info = line.get("attack_info")
            placed = (None, info if isinstance(info, str) else "")
        return Answer(
            action, verdict, bounded(public), bounded(private), store, current, seconds
        ), placed
