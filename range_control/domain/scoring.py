"""Challenge values, standings and the per-team ledger. Pure: the caller passes every record.

Values follow CTFd's dynamic challenges so that organisers coming from CTFd see the same numbers:

* ``logarithmic`` (CTFd's name for a parabola): ``ceil(((minimum - initial) / decay**2) * n**2
  + initial)``
* ``linear``: ``ceil(initial - decay * n)``

both floored at ``minimum``, with ``n`` the number of solves before the one being valued.
Retroactive mode (CTFd's behaviour) gives every solver the value the challenge has now
(``n = solves - 1``); ``points_fixed_at_solve`` gives each solver the value at its own solve.
A freeze is a cut-off applied to *every* record before anything is computed, so decay freezes too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import chain


@dataclass(frozen=True, slots=True)
class ChallengeValue:
    id: int
    slug: str
    name: str
    type: str  # "standard" | "dynamic"
    value: int  # standard value, or dynamic initial
    minimum: int = 0
    decay: float = 0.0
    function: str = "logarithmic"


@dataclass(frozen=True, slots=True)
class TeamRec:
    id: int
    name: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class SolveRec:
    id: int
    team_id: int
    challenge_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class AwardRec:
    id: int
    team_id: int
    value: int
    at: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class UnlockRec:
    id: int
    team_id: int
    challenge_id: int
    cost: int
    at: datetime
    hint_title: str = ""


@dataclass(frozen=True, slots=True)
class GradeRec:
    """A published grade's line: one criterion (``kind`` "grade") or the late penalty ("late",
    negative ``points``), dated when it became public (publication, or a later regrade)."""

    team_id: int
    challenge_id: int
    kind: str  # grade | late
    points: int
    at: datetime
    criterion: str = ""  # the criterion's title
    most: int = 0
    percent: float = 0.0


def N_(text: str) -> str:
    """Marks a constant for the message catalogs (pages show it in the reader's language)."""
    return text


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    kind: str  # solve first_blood award hint grade late availability reset capture flag-lost
    points: int
    at: datetime
    challenge: str | None
    why: str  # in English; ``reason`` with ``values`` is the same for a translation
    reason: str = ""  # an English template with str.format fields; "" when ``why`` is data
    values: dict[str, object] = field(default_factory=dict)


def ledger_entry(
    kind: str, points: int, at: datetime, challenge: str | None, reason: str, **values: object
) -> LedgerEntry:
    return LedgerEntry(kind, points, at, challenge, reason.format(**values), reason, values)


@dataclass(frozen=True, slots=True)
class Standing:
    pos: int
    team_id: int
    team: str
    country: str | None
    score: int
    solves: int
    last_solve_at: datetime | None
    reached_at: datetime | None
    ledger: list[LedgerEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChallengeState:
    value: int  # what the challenge is worth now (what a solver holds in retroactive mode)
    solves: int
    first_blood_team_id: int | None


@dataclass(frozen=True, slots=True)
class Board:
    standings: list[Standing]
    challenges: dict[int, ChallengeState]


def decayed_value(ch: ChallengeValue, n: int) -> int:
    """Value of ``ch`` for a solve that has ``n`` solves before it."""
    if ch.type != "dynamic":
        return ch.value
    n = max(n, 0)
    if ch.function == "linear":
        raw = ch.value - ch.decay * n
    else:
        decay = ch.decay or 1.0  # CTFd reads a logarithmic decay of 0 as 1 (no division by 0)
        raw = ((ch.minimum - ch.value) / (decay**2)) * (n**2) + ch.value
    return max(math.ceil(raw), ch.minimum)


# How a dynamic challenge's value came about: (retroactive, one earlier solve) -> the reason.
_WHY_DYNAMIC = {
    (True, True): N_(
        "current value: {function} decay from {value} (minimum {minimum}, decay "
        "{decay:g}) with {n} earlier solve"
    ),
    (True, False): N_(
        "current value: {function} decay from {value} (minimum {minimum}, decay "
        "{decay:g}) with {n} earlier solves"
    ),
    (False, True): N_(
        "value at solve: {function} decay from {value} (minimum {minimum}, decay "
        "{decay:g}) with {n} earlier solve"
    ),
    (False, False): N_(
        "value at solve: {function} decay from {value} (minimum {minimum}, "
        "decay {decay:g}) with {n} earlier solves"
    ),
}


def _why_value(ch: ChallengeValue, n: int, retroactive: bool) -> tuple[str, dict[str, object]]:
    if ch.type != "dynamic":
        return N_("static value {value}"), {"value": ch.value}
    values = {
        "function": ch.function,
        "value": ch.value,
        "minimum": ch.minimum,
        "decay": ch.decay,
        "n": n,
    }
    return _WHY_DYNAMIC[retroactive, n == 1], values


def compute_board(
    *,
    teams: Sequence[TeamRec],
    challenges: Sequence[ChallengeValue],
    solves: Iterable[SolveRec],
    awards: Iterable[AwardRec] = (),
    unlocks: Iterable[UnlockRec] = (),
    grades: Iterable[GradeRec] = (),
    entries: Iterable[tuple[int, LedgerEntry]] = (),
    cutoff: datetime | None = None,
    points_fixed_at_solve: bool = False,
    first_blood_bonus: int = 0,
) -> Board:
    """Standings and ledgers from the raw records, ignoring everything at or after ``cutoff``.

    Each kind of record becomes ledger entries on its own (solves with their first bloods,
    awards, hint unlocks, published grades; ``entries``: ones already made, ``(team id,
    entry)``, by a source of points of its own); the board is the teams ranked by them."""
    by_id = {c.id: c for c in challenges}
    team_ids = {t.id for t in teams}

    def kept(team_id: int, at: datetime) -> bool:
        return team_id in team_ids and (cutoff is None or at < cutoff)

    per_challenge: dict[int, list[SolveRec]] = defaultdict(list)
    for sv in sorted(solves, key=lambda sv: (sv.at, sv.id)):
        if kept(sv.team_id, sv.at) and sv.challenge_id in by_id:
            per_challenge[sv.challenge_id].append(sv)
    ledgers: dict[int, list[LedgerEntry]] = defaultdict(list)
    for team_id, entry in chain(
        _solve_entries(per_challenge, by_id, points_fixed_at_solve, first_blood_bonus),
        _award_entries(awards),
        _unlock_entries(unlocks, by_id),
        _grade_entries(grades, by_id),
        entries,
    ):
        if kept(team_id, entry.at):
            ledgers[team_id].append(entry)
    return Board(standings=_ranked(teams, ledgers), challenges=_states(challenges, per_challenge))


def _states(
    challenges: Sequence[ChallengeValue], per_challenge: dict[int, list[SolveRec]]
) -> dict[int, ChallengeState]:
    out = {}
    for ch in challenges:
        lst = per_challenge.get(ch.id, [])
        out[ch.id] = ChallengeState(
            value=decayed_value(ch, len(lst) - 1),
            solves=len(lst),
            first_blood_team_id=lst[0].team_id if lst else None,
        )
    return out


Entries = Iterator[tuple[int, LedgerEntry]]


def _solve_entries(
    per_challenge: dict[int, list[SolveRec]],
    by_id: dict[int, ChallengeValue],
    fixed: bool,
    first_blood_bonus: int,
) -> Entries:
    for ch_id, lst in per_challenge.items():
        ch = by_id[ch_id]
        for k, sv in enumerate(lst):
            n = k if fixed else len(lst) - 1
            why, values = _why_value(ch, n, not fixed)
            yield (
                sv.team_id,
                ledger_entry("solve", decayed_value(ch, n), sv.at, ch.slug, why, **values),
            )
            if k == 0 and first_blood_bonus:
                bonus = N_("first blood bonus")
                yield (
                    sv.team_id,
                    ledger_entry("first_blood", first_blood_bonus, sv.at, ch.slug, bonus),
                )


def _award_entries(awards: Iterable[AwardRec]) -> Entries:
    for a in awards:
        if a.reason:  # the organisers' own words, as written
            yield a.team_id, LedgerEntry("award", a.value, a.at, None, a.reason)
        else:
            yield (
                a.team_id,
                ledger_entry("award", a.value, a.at, None, N_("award by the organisers")),
            )


def _unlock_entries(unlocks: Iterable[UnlockRec], by_id: dict[int, ChallengeValue]) -> Entries:
    for u in unlocks:
        if not u.cost:
            continue
        ch = by_id.get(u.challenge_id)
        slug = ch.slug if ch else None
        if u.hint_title:
            why = N_("hint '{title}' unlocked")
            yield u.team_id, ledger_entry("hint", -u.cost, u.at, slug, why, title=u.hint_title)
        else:
            yield u.team_id, ledger_entry("hint", -u.cost, u.at, slug, N_("hint unlocked"))


def _grade_entries(grades: Iterable[GradeRec], by_id: dict[int, ChallengeValue]) -> Entries:
    for g in grades:
        ch = by_id.get(g.challenge_id)
        if ch is None:
            continue
        if g.kind == "late":
            late = N_("late submission: penalty {percent:g}%")
            yield g.team_id, ledger_entry("late", g.points, g.at, ch.slug, late, percent=g.percent)
        else:
            why = N_("graded by the white cell: criterion {criterion} {given}/{most}")
            yield (
                g.team_id,
                ledger_entry(
                    "grade",
                    g.points,
                    g.at,
                    ch.slug,
                    why,
                    criterion=g.criterion,
                    given=g.points,
                    most=g.most,
                ),
            )


def _ranked(teams: Sequence[TeamRec], ledgers: dict[int, list[LedgerEntry]]) -> list[Standing]:
    rows: list[Standing] = []  # positions are given once sorted
    for t in teams:
        ledger = sorted(ledgers.get(t.id, []), key=lambda e: e.at)
        solve_times = [e.at for e in ledger if e.kind == "solve"]
        rows.append(
            Standing(
                pos=0,
                team_id=t.id,
                team=t.name,
                country=t.country,
                score=sum(e.points for e in ledger),
                solves=len(solve_times),
                last_solve_at=max(solve_times) if solve_times else None,
                reached_at=max((e.at for e in ledger), default=None),
                ledger=ledger,
            )
        )
    rows.sort(key=_rank_key)
    return [replace(row, pos=i) for i, row in enumerate(rows, start=1)]


def _rank_key(s: Standing) -> tuple[int, int, float, str, int]:
    # Higher score first; among equal scores, the team that got there first; teams with no
    # record at all after every team that has one.
    reached = s.reached_at.timestamp() if s.reached_at is not None else math.inf
    return (-s.score, 0 if s.reached_at is not None else 1, reached, s.team.casefold(), s.team_id)
