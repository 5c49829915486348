"""Values, decay, ranking, freeze and the ledger: pure, no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from range_control.domain.scoring import (
    AwardRec,
    ChallengeValue,
    SolveRec,
    TeamRec,
    UnlockRec,
    compute_board,
    decayed_value,
)

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


DYN = ChallengeValue(1, "beacon", "Beacon", "dynamic", 500, minimum=100, decay=10)
LIN = ChallengeValue(2, "lin", "Lin", "dynamic", 500, minimum=100, decay=30, function="linear")
STATIC = ChallengeValue(3, "static", "Static", "standard", 200)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 9, 10, 11, 50])
def test_logarithmic_matches_ctfd_formula(n: int) -> None:
    expected = max(math.ceil(((100 - 500) / (10**2)) * (n**2) + 500), 100)
    assert decayed_value(DYN, n) == expected


def test_known_values() -> None:
    assert [decayed_value(DYN, n) for n in (0, 1, 2, 5, 10, 11)] == [500, 496, 484, 400, 100, 100]
    assert [decayed_value(LIN, n) for n in (0, 1, 10, 14, 20)] == [500, 470, 200, 100, 100]
    assert decayed_value(STATIC, 99) == 200
    assert decayed_value(DYN, -1) == 500


TEAMS = [TeamRec(1, "Alpha", "NL"), TeamRec(2, "Bravo", "NO"), TeamRec(3, "Charlie", "PL")]


def solves_on(ch: int, *teams: int) -> list[SolveRec]:
    return [SolveRec(i + 100 * ch, t, ch, at(i + 1)) for i, t in enumerate(teams)]


def test_retroactive_everyone_gets_current_value() -> None:
    board = compute_board(teams=TEAMS, challenges=[DYN], solves=solves_on(1, 1, 2, 3))
    scores = {s.team: s.score for s in board.standings}
    assert scores == {"Alpha": 484, "Bravo": 484, "Charlie": 484}
    assert board.challenges[1].value == 484 and board.challenges[1].solves == 3


def test_fixed_at_solve_keeps_each_solvers_value() -> None:
    board = compute_board(
        teams=TEAMS, challenges=[DYN], solves=solves_on(1, 1, 2, 3), points_fixed_at_solve=True
    )
    scores = {s.team: s.score for s in board.standings}
    assert scores == {"Alpha": 500, "Bravo": 496, "Charlie": 484}


def test_tie_break_is_earlier_time_to_reach_score() -> None:
    solves = [SolveRec(1, 2, 3, at(5)), SolveRec(2, 1, 3, at(9))]
    board = compute_board(teams=TEAMS, challenges=[STATIC], solves=solves)
    assert [(s.team, s.pos, s.score) for s in board.standings] == [
        ("Bravo", 1, 200),
        ("Alpha", 2, 200),
        ("Charlie", 3, 0),
    ]


def test_award_reaching_the_same_score_later_ranks_lower() -> None:
    solves = [SolveRec(1, 1, 3, at(10))]
    awards = [AwardRec(1, 2, 200, at(20), "report")]
    board = compute_board(teams=TEAMS[:2], challenges=[STATIC], solves=solves, awards=awards)
    assert [s.team for s in board.standings] == ["Alpha", "Bravo"]


def test_freeze_cuts_solves_awards_hints_and_decay() -> None:
    solves = solves_on(1, 1, 2, 3)  # at minutes 1, 2, 3
    awards = [AwardRec(1, 1, 50, at(2.5))]
    unlocks = [UnlockRec(1, 2, 1, 30, at(2.5))]
    live = compute_board(
        teams=TEAMS, challenges=[DYN], solves=solves, awards=awards, unlocks=unlocks
    )
    frozen = compute_board(
        teams=TEAMS,
        challenges=[DYN],
        solves=solves,
        awards=awards,
        unlocks=unlocks,
        cutoff=at(2.2),
    )
    assert {s.team: s.score for s in live.standings} == {
        "Alpha": 534,
        "Bravo": 454,
        "Charlie": 484,
    }
    # Frozen: only two solves happened before the cut-off, so the value is 496, not 484.
    assert {s.team: s.score for s in frozen.standings} == {"Alpha": 496, "Bravo": 496, "Charlie": 0}
    assert frozen.challenges[1].solves == 2


def test_first_blood_bonus_and_ledger_explain_every_point() -> None:
    solves = solves_on(1, 2, 1)
    unlocks = [UnlockRec(1, 1, 1, 25, at(0.5), "Known plaintext")]
    awards = [AwardRec(1, 1, -10, at(3), "late SITREP")]
    board = compute_board(
        teams=TEAMS,
        challenges=[DYN],
        solves=solves,
        unlocks=unlocks,
        awards=awards,
        first_blood_bonus=20,
    )
    rows = {s.team: s for s in board.standings}
    assert board.challenges[1].first_blood_team_id == 2
    assert rows["Bravo"].score == 496 + 20
    alpha = rows["Alpha"]
    assert alpha.score == 496 - 25 - 10
    assert sum(e.points for e in alpha.ledger) == alpha.score
    kinds = [e.kind for e in alpha.ledger]
    assert kinds == ["hint", "solve", "award"]
    assert "Known plaintext" in alpha.ledger[0].why
    assert "1 earlier solve" in alpha.ledger[1].why
    assert [e.kind for e in rows["Bravo"].ledger] == ["solve", "first_blood"]


def test_unknown_teams_and_challenges_are_ignored() -> None:
    solves = [SolveRec(1, 99, 1, at(1)), SolveRec(2, 1, 99, at(1))]
    board = compute_board(teams=TEAMS, challenges=[DYN], solves=solves)
    assert all(s.score == 0 for s in board.standings)
    assert [s.team for s in board.standings] == ["Alpha", "Bravo", "Charlie"]
