"""Flag submission, one logic behind every door (the TCP line protocol, the HTTP APIs, the
portal's form): each flag read by its MAC (no lookup for an invalid one), judged against the
game (``domain.defence.captures.judge``), the captures of a batch inserted at once under their
unique key (a second submission is a DUP, whichever door or process it came through) and
committed before any answer is given; a team's submissions limited per minute."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.settings import secret
from range_control.domain.defence import flags as flagging
from range_control.domain.defence.captures import MAX_FLAG, Answer, Code, Game, answer, judge
from range_control.services.defence.game import nop_id
from range_control.services.defence.game import state_in as game_state_in
from range_control.services.defence.plan import plan_in
from range_control.services.event.event import bump_generation
from range_control.store.models import DefenceCapture

MAX_BATCH = 1000  # flags judged and stored in one transaction
GAME_SECONDS = 1.0  # how long the game's state is reused between batches


@dataclass
class _Window:
    """A team's submissions in the last minute (a sliding window of counts per second)."""

    seconds: deque[tuple[int, int]]
    total: int = 0


class Submissions:
    """The submission logic of one process (its rate windows and the game's cached state)."""

    def __init__(self, ctx: Range) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._game: tuple[float, Game, int] | None = None
        self._windows: dict[int, _Window] = {}

    # --- the game ---------------------------------------------------------------------------
    def game(self, fresh: bool = False) -> tuple[Game, int]:
        """The game now and the per-minute limit, read at most once a second (``fresh``: now)."""
        now = time.monotonic()
        with self._lock:
            if not fresh and self._game is not None and now - self._game[0] < GAME_SECONDS:
                return self._game[1], self._game[2]
        with self.ctx.store.read() as s:
            game, rate = game_in(s, self.ctx)
        with self._lock:
            self._game = (now, game, rate)
        return game, rate

    def _allowed(self, team_id: int, n: int, rate: int) -> int:
        """How many of ``n`` flags the team may submit now."""
        second = int(time.monotonic())
        with self._lock:
            w = self._windows.setdefault(team_id, _Window(deque()))
            while w.seconds and w.seconds[0][0] <= second - 60:
                w.total -= w.seconds.popleft()[1]
            take = max(0, min(n, rate - w.total))
            if take:
                if w.seconds and w.seconds[-1][0] == second:
                    w.seconds[-1] = (second, w.seconds[-1][1] + take)
                else:
                    w.seconds.append((second, take))
                w.total += take
            return take

    # --- submitting -------------------------------------------------------------------------
    def submit(self, team_id: int, flags: list[str], door: str, source: str = "") -> list[Answer]:
        """One answer per flag, in order; the captures among them stored before returning."""
        out: list[Answer] = []
        for i in range(0, len(flags), MAX_BATCH):
            out.extend(self._batch(team_id, flags[i : i + MAX_BATCH], door, source))
        return out

    def _batch(self, team_id: int, flags: list[str], door: str, source: str) -> list[Answer]:
        game, rate = self.game()
        allowed = self._allowed(team_id, len(flags), rate)
        key = secret(self.ctx.settings.flag_secret)
        event = self.ctx.event_slug
        refreshed = False
        answers: list[Answer | None] = []
        wanted: dict[tuple[int, int, int, int], int] = {}  # capture key -> its first index
        for i, raw in enumerate(flags):
            flag = raw.strip()[:MAX_FLAG]
            if i >= allowed:
                answers.append(answer(flag, Code.ERR, f"at most {rate} flags a minute"))
                continue
            facts = flagging.read(key, event, flag) if len(raw.strip()) <= MAX_FLAG else None
            if facts is not None and not refreshed and facts.tick > (game.tick or 0):
                game, _rate = self.game(fresh=True)  # a tick may have begun this second
                refreshed = True
            verdict = judge(facts, team_id, game)
            if verdict is not None:
                answers.append(answer(flag, *verdict))
                continue
            assert facts is not None
            k = (facts.team_id, facts.service_id, facts.tick, facts.store)
            if k in wanted:
                answers.append(answer(flag, Code.DUP))
                continue
            wanted[k] = i
            answers.append(None)
        stored = self._store(team_id, list(wanted), door, source) if wanted else set()
        for k, i in wanted.items():
            flag = flags[i].strip()[:MAX_FLAG]
            answers[i] = answer(flag, Code.OK if k in stored else Code.DUP)
        return [a for a in answers if a is not None]

    def _store(
        self, team_id: int, keys: list[tuple[int, int, int, int]], door: str, source: str
    ) -> set[tuple[int, int, int, int]]:
        """Insert the captures not yet stored; the keys that are new (committed on return)."""
        now = self.ctx.clock.now()
        rows = [
            {
                "team_id": team_id,
                "victim_id": victim,
                "challenge_id": service,
                "tick": tick,
                "store": store,
                "door": door,
                "source": source[:64],
                "created_at": now,
            }
            for victim, service, tick, store in keys
        ]
        with self.ctx.store.write_conn() as c:
            insert = pg_insert if c.dialect.name == "postgresql" else sqlite_insert
            stmt = (
                insert(DefenceCapture)
                .on_conflict_do_nothing()
                .returning(
                    DefenceCapture.victim_id,
                    DefenceCapture.challenge_id,
                    DefenceCapture.tick,
                    DefenceCapture.store,
                )
            )
            # One statement compiled once, its rows sent in batches (insertmanyvalues).
            stored = {tuple(r) for r in c.execute(stmt, rows)}
            if stored:  # scores changed: every process's boards and pages are stale
                bump_generation(c, self.ctx)
            return stored  # type: ignore[return-value]


def game_in(s: Session, ctx: Range) -> tuple[Game, int]:
    """The game as a submission sees it now, and the per-minute limit."""
    plan = plan_in(s, ctx)
    if plan is None:
        return Game(None, 1, frozenset(), None, False, "this event has no defence"), 0
    spec = plan.spec
    t = plan.current()
    nop = nop_id(s, plan)
    services = frozenset(svc.id for svc in plan.services.values())
    if not spec.any_attack:
        why = "this event's defence has no attack-defence: no flags to submit"
        return Game(None, spec.flag_lifetime, services, nop, False, why), spec.submit_rate
    at = plan.where.at
    running = at is not None and at.state == "running"
    why = "no attack-defence tick runs now (game not started or paused)"
    if t is not None and spec.mode_of(t.phase) != "attack-defence":
        running, why = False, "this phase is a defence phase: no flags to submit"
    controls = game_state_in(s, ctx, plan)
    if controls is not None and controls.closed:
        running, why = False, "the organisers closed the game network"
    return (
        Game(
            t.number if t is not None else None,
            spec.flag_lifetime,
            services,
            nop,
            running and t is not None,
            why,
            controls.cut_now() if controls is not None else frozenset(),
        ),
        spec.submit_rate,
    )


_BY_RANGE: dict[int, tuple[Range, Submissions]] = {}
_BY_RANGE_LOCK = threading.Lock()


def submissions(ctx: Range) -> Submissions:
    """The process's submission logic for ``ctx`` (its rate windows shared by every door)."""
    with _BY_RANGE_LOCK:
        found = _BY_RANGE.get(id(ctx))
        if found is None or found[0] is not ctx:
            found = (ctx, Submissions(ctx))
            _BY_RANGE[id(ctx)] = found
        return found[1]
