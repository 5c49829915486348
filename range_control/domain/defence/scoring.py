"""Availability points, one ledger entry per tick, team and defended service, with its why.

* OK: the service's value times its weight; RECOVERING: half of it (FAUST, EnoEngine, saarCTF);
  MUMBLE, CORRUPT, DOWN: nothing, with the checker's public message as the reason;
* a checker error or a tick not checked (no worker ran) is never the team's fault: the tick is
  credited as the team's last checked tick of that service was (full when there is none), and
  the entry says so; the organisers see the checker error with its private message;
* a reset to the baseline costs what the scenario says.

Points are whole numbers (rounded half up, per entry).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from range_control.domain.defence.verdicts import Verdict
from range_control.domain.scoring import N_, LedgerEntry, ledger_entry

SHARE = {Verdict.OK: 1.0, Verdict.RECOVERING: 0.5}


@dataclass(frozen=True, slots=True)
class TickRec:
    """A tick's verdict for one team and service, as recorded."""

    team_id: int
    service: str  # the defended challenge's slug
    tick: int
    at: datetime  # when the tick ended (the entry's time: the freeze holds it back after)
    verdict: Verdict
    public: str = ""


@dataclass(frozen=True, slots=True)
class ResetRec:
    team_id: int
    service: str
    at: datetime
    cost: int


def _points(full: float, share: float) -> int:
    return int(full * share + 0.5)


def availability(
    ticks: Iterable[TickRec], full: dict[str, float]
) -> Iterator[tuple[int, LedgerEntry]]:
    """The entries of ``ticks`` (any order); ``full``: per service, its value times its weight."""
    last: dict[tuple[int, str], tuple[int, Verdict]] = {}
    for t in sorted(ticks, key=lambda t: (t.team_id, t.service, t.tick)):
        worth = full.get(t.service)
        if worth is None:
            continue
        key = (t.team_id, t.service)
        if t.verdict.team_fault:
            share = SHARE.get(t.verdict, 0.0)
            last[key] = (t.tick, t.verdict)
            yield t.team_id, _checked(t, _points(worth, share))
            continue
        before = last.get(key)
        share = SHARE.get(before[1], 0.0) if before is not None else 1.0
        points = _points(worth, share)
        more: dict[str, object] = {}
        if before is None:
            why = N_("{service} {verdict} at tick {tick}: not the team's fault, credited in full")
        else:
            why = N_(
                "{service} {verdict} at tick {tick}: not the team's fault, credited as at tick "
                "{was} ({was_verdict})"
            )
            more = {"was": before[0], "was_verdict": str(before[1])}
        entry = ledger_entry(
            "availability",
            points,
            t.at,
            t.service,
            why,
            service=t.service,
            verdict=str(t.verdict),
            tick=t.tick,
            **more,
        )
        yield t.team_id, entry


def _checked(t: TickRec, points: int) -> LedgerEntry:
    if t.verdict is Verdict.OK:
        why = N_("availability: {service} OK at tick {tick}")
        return ledger_entry(
            "availability", points, t.at, t.service, why, service=t.service, tick=t.tick
        )
    if t.verdict is Verdict.RECOVERING:
        why = N_("availability: {service} RECOVERING at tick {tick} (an older flag is gone): half")
        return ledger_entry(
            "availability", points, t.at, t.service, why, service=t.service, tick=t.tick
        )
    why = N_("{service} {verdict} at tick {tick}: {message}")
    return ledger_entry(
        "availability",
        0,
        t.at,
        t.service,
        why,
        service=t.service,
        verdict=str(t.verdict),
        tick=t.tick,
        message=t.public or "no message",
    )


def resets(rows: Iterable[ResetRec]) -> Iterator[tuple[int, LedgerEntry]]:
    for r in rows:
        why = N_("{service} reset to its baseline")
        yield r.team_id, ledger_entry("reset", -r.cost, r.at, r.service, why, service=r.service)


def plants(rows: Iterable[ResetRec]) -> Iterator[tuple[int, LedgerEntry]]:
    """The red cell's plants (a ``ResetRec`` each: the team, the service, when, the cost)."""
    for r in rows:
        why = N_("a red cell plant left in our {service}: it was compromised")
        yield r.team_id, ledger_entry("red-plant", -r.cost, r.at, r.service, why, service=r.service)
