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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime


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
    kind: str  # "solve" | "first_blood" | "award" | "hint" | "grade" | "late"
    points: int
    at: datetime
    challenge: str | None
    why: str  # in English; ``reason`` with ``values`` is the same for a translation
    reason: str = ""  # an English template with str.format fields; "" when ``why`` is data
    values: dict[str, object] = field(default_factory=dict)


def _entry(
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
    cutoff: datetime | None = None,
    points_fixed_at_solve: bool = False,
    first_blood_bonus: int = 0,
) -> Board:
    """Standings and ledgers from the raw records, ignoring everything at or after ``cutoff``."""

    def kept(at: datetime) -> bool:
        return cutoff is None or at < cutoff

    by_id = {c.id: c for c in challenges}
    team_ids = {t.id for t in teams}
    ordered = sorted(
        (s for s in solves if kept(s.at) and s.challenge_id in by_id and s.team_id in team_ids),
        key=lambda s: (s.at, s.id),
    )
    per_challenge: dict[int, list[SolveRec]] = defaultdict(list)
    for s in ordered:
        per_challenge[s.challenge_id].append(s)

    states: dict[int, ChallengeState] = {}
    for ch in challenges:
        lst = per_challenge.get(ch.id, [])
        states[ch.id] = ChallengeState(
            value=decayed_value(ch, len(lst) - 1),
            solves=len(lst),
            first_blood_team_id=lst[0].team_id if lst else None,
        )

    ledgers: dict[int, list[LedgerEntry]] = defaultdict(list)
    for ch_id, lst in per_challenge.items():
        ch = by_id[ch_id]
        for k, s in enumerate(lst):
            n = len(lst) - 1 if not points_fixed_at_solve else k
            pts = decayed_value(ch, n)
            why, values = _why_value(ch, n, not points_fixed_at_solve)
            ledgers[s.team_id].append(_entry("solve", pts, s.at, ch.slug, why, **values))
            if k == 0 and first_blood_bonus:
                ledgers[s.team_id].append(
                    _entry("first_blood", first_blood_bonus, s.at, ch.slug, N_("first blood bonus"))
                )
    for a in awards:
        if kept(a.at) and a.team_id in team_ids:
            if a.reason:  # the organisers' own words, as written
                ledgers[a.team_id].append(LedgerEntry("award", a.value, a.at, None, a.reason))
            else:
                ledgers[a.team_id].append(
                    _entry("award", a.value, a.at, None, N_("award by the organisers"))
                )
    for u in unlocks:
        if kept(u.at) and u.team_id in team_ids and u.cost:
            ch = by_id.get(u.challenge_id)
            slug = ch.slug if ch else None
            if u.hint_title:
                entry = _entry(
                    "hint", -u.cost, u.at, slug, N_("hint '{title}' unlocked"), title=u.hint_title
                )
            else:
                entry = _entry("hint", -u.cost, u.at, slug, N_("hint unlocked"))
            ledgers[u.team_id].append(entry)
    for g in grades:
        ch = by_id.get(g.challenge_id)
        if not kept(g.at) or g.team_id not in team_ids or ch is None:
            continue
        if g.kind == "late":
            late = N_("late submission: penalty {percent:g}%")
            entry = _entry("late", g.points, g.at, ch.slug, late, percent=g.percent)
        else:
            entry = _entry(
                "grade",
                g.points,
                g.at,
                ch.slug,
                N_("graded by the white cell: criterion {criterion} {given}/{most}"),
                criterion=g.criterion,
                given=g.points,
                most=g.most,
            )
        ledgers[g.team_id].append(entry)

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
    ranked = [replace(row, pos=i) for i, row in enumerate(rows, start=1)]
    return Board(standings=ranked, challenges=states)


def _rank_key(s: Standing) -> tuple[int, int, float, str, int]:
    # Higher score first; among equal scores, the team that got there first; teams with no
    # record at all after every team that has one.
    reached = s.reached_at.timestamp() if s.reached_at is not None else math.inf
    return (-s.score, 0 if s.reached_at is not None else 1, reached, s.team.casefold(), s.team_id)
