"""Captured flags (attack-defence): what a submitted flag is worth an answer of, and how
captures score.

**Answers** are the codes the A/D community agreed on (enowars/specification, used by FAUST,
ENOWARS and others): ``OK``, ``DUP``, ``OWN``, ``OLD``, ``INV``, ``ERR``. Each answer line is
``<flag> <CODE> <message>``; the message carries the words attack farms sort answers by
(DestructiveFarm's protocol modules look for "accepted", "already submitted", "your own",
"too old", "invalid flag", "try again later"), so the same line reads right to both: a farm
that matches no word resends the flag forever.

**Scoring** (``captures.formula`` in the scenario), per captured flag, with ``n`` the teams that
captured that flag and ``value`` the event's unit:

* ``faust`` (FAUST CTF's gameserver): the attacker gets ``value x (1 + 1/n)``; the victim loses
  ``value x n^0.75`` once per flag lost;
* ``saarctf`` (saarCTF's): the attacker gets ``value x (1 + sqrt(1/n) + sqrt(1/rank))``, ``rank``
  the victim's place by availability points before the flag's tick (1 = best); the victim loses
  ``value x (n / active teams)^0.3`` once per flag lost.

Points are whole numbers, rounded half up per entry, as every ledger entry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from range_control.domain.defence.flags import FlagFacts
from range_control.domain.scoring import N_, LedgerEntry, ledger_entry


class Code(StrEnum):
    OK = "OK"
    DUP = "DUP"
    OWN = "OWN"
    OLD = "OLD"
    INV = "INV"
    ERR = "ERR"


# The message after the code: the agreed protocol reads the code, a farm reads these words.
WORDS = {
    Code.OK: "accepted",
    Code.DUP: "already submitted",
    Code.OWN: "your own flag",
    Code.OLD: "too old",
    Code.INV: "invalid flag",
}
MAX_FLAG = 100  # characters of a submitted line looked at


@dataclass(frozen=True, slots=True)
class Answer:
    flag: str
    code: Code
    message: str

    def line(self) -> str:
        return f"{self.flag} {self.code} {self.message}"


def answer(flag: str, code: Code, detail: str = "") -> Answer:
    """``code``'s words, then ``detail`` (an ERR's reason: it must say "try again later" for a
    farm to resend)."""
    words = WORDS.get(code, "try again later")
    return Answer(flag[:MAX_FLAG], code, f"{words}: {detail}" if detail else words)


@dataclass(frozen=True, slots=True)
class Game:
    """What a submission is judged against: the current tick, how long a flag lives, the
    defended services (challenge ids), the NOP team, and whether captures count now."""

    tick: int | None  # the tick running now (None: none yet)
    lifetime: int
    services: frozenset[int]
    nop_team: int | None
    open: bool  # an attack-defence tick runs and the event is not paused
    closed_why: str = "no attack-defence phase now"
    cut: frozenset[int] = frozenset()  # teams cut off from the game network now


def judge(facts: FlagFacts | None, team_id: int, game: Game) -> tuple[Code, str] | None:
    """The answer a flag gets before it is stored, or None when it is a capture to store (a
    DUP is known only from the store)."""
    if not game.open or game.tick is None:
        return Code.ERR, game.closed_why
    if team_id in game.cut:
        return Code.ERR, "your team is cut off from the game network for now"
    if facts is None or facts.service_id not in game.services or facts.tick > game.tick:
        return Code.INV, ""
    if facts.team_id == game.nop_team:
        return Code.INV, "the NOP team's flags do not count"
    if facts.team_id == team_id:
        return Code.OWN, ""
    if game.tick - facts.tick >= game.lifetime:
        return Code.OLD, f"flags live {game.lifetime} ticks"
    return None


# --- scoring -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CaptureRec:
    team_id: int  # who captured
    victim_id: int
    victim: str  # the victim's name, for the why
    service: str  # the defended service's slug
    tick: int
    store: int
    at: datetime


def _points(x: float) -> int:
    return math.floor(x + 0.5)


def captures(
    rows: Iterable[CaptureRec],
    formula: str,
    value: int,
    *,
    active_teams: int = 1,
    rank: dict[tuple[int, int], int] | None = None,
) -> Iterator[tuple[int, LedgerEntry]]:
    """The ledger entries of ``rows``: one per capture for the attacker, one per flag lost for
    the victim (at the time of the flag's last capture so far). ``rank``: (victim, tick) ->
    the victim's place before that tick (saarctf)."""
    by_flag: dict[tuple[int, str, int, int], list[CaptureRec]] = {}
    for r in rows:
        by_flag.setdefault((r.victim_id, r.service, r.tick, r.store), []).append(r)
    for group in by_flag.values():
        n = len(group)
        first = group[0]
        for r in group:
            if formula == "saarctf":
                place = (rank or {}).get((r.victim_id, r.tick), 1)
                gain = value * (1 + math.sqrt(1 / n) + math.sqrt(1 / max(1, place)))
            else:
                gain = value * (1 + 1 / n)
            why = N_("captured {victim}'s {service} flag of tick {tick}, {n} teams captured it")
            yield (
                r.team_id,
                ledger_entry(
                    "capture",
                    _points(gain),
                    r.at,
                    r.service,
                    why,
                    victim=r.victim,
                    service=r.service,
                    tick=r.tick,
                    n=n,
                ),
            )
        if formula == "saarctf":
            loss = value * (n / max(1, active_teams)) ** 0.3
        else:
            loss = value * n**0.75
        why = N_("our {service} flag of tick {tick} captured by {n} teams")
        last = max(r.at for r in group)
        yield (
            first.victim_id,
            ledger_entry(
                "flag-lost",
                -_points(loss),
                last,
                first.service,
                why,
                service=first.service,
                tick=first.tick,
                n=n,
            ),
        )
