"""Captures: the answer a flag gets, its line as both the agreed A/D protocol and
DestructiveFarm's protocol modules read it, and the two scoring formulas worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from range_control.domain.defence.captures import (
    CaptureRec,
    Code,
    Game,
    answer,
    captures,
    judge,
)
from range_control.domain.defence.flags import FlagFacts
from tests.support.defence import farm_reads

GAME = Game(tick=10, lifetime=3, services=frozenset({7}), nop_team=9, open=True)
AT = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("facts", "want"),
    [
        (FlagFacts(10, 2, 7, 1), None),  # a capture
        (FlagFacts(8, 2, 7, 1), None),  # still valid: 3 ticks
        (FlagFacts(7, 2, 7, 1), Code.OLD),
        (FlagFacts(10, 1, 7, 1), Code.OWN),
        (FlagFacts(10, 9, 7, 1), Code.INV),  # the NOP team's
        (FlagFacts(10, 2, 8, 1), Code.INV),  # not a defended service of this event
        (FlagFacts(11, 2, 7, 1), Code.INV),  # a tick to come
        (None, Code.INV),  # its MAC did not check
    ],
)
def test_judge(facts: FlagFacts | None, want: Code | None) -> None:
    got = judge(facts, 1, GAME)
    assert (got[0] if got else None) == want


def test_a_closed_game_is_an_error_to_retry() -> None:
    closed = Game(None, 3, frozenset({7}), None, False, "game not started")
    assert judge(FlagFacts(1, 2, 7, 1), 1, closed) == (Code.ERR, "game not started")


@pytest.mark.parametrize(
    ("code", "farm"),
    [
        (Code.OK, "ACCEPTED"),
        (Code.DUP, "REJECTED"),
        (Code.OWN, "REJECTED"),
        (Code.OLD, "REJECTED"),
        (Code.INV, "REJECTED"),
        (Code.ERR, "QUEUED"),
    ],
)
def test_every_answer_reads_right_to_the_protocol_and_the_farm(code: Code, farm: str) -> None:
    flag = "A" * 31 + "="
    a = answer(flag, code, "detail")
    fields = a.line().split(" ", 2)
    assert fields[0] == flag and fields[1] == str(code)  # the agreed protocol's reading
    assert farm_reads(a.line(), a.flag) == farm


def recs(*who: tuple[int, int]) -> list[CaptureRec]:
    return [CaptureRec(team, victim, f"T{victim}", "tracker", 4, 1, AT) for team, victim in who]


def test_faust_by_hand() -> None:
    # Teams 1 and 2 capture team 3's flag of tick 4: each gets 10 x (1 + 1/2) = 15; team 3
    # loses 10 x 2^0.75 = 16.8 -> 17. Team 1 alone captures team 2's: 10 x 2 = 20; -10.
    got = list(captures([*recs((1, 3), (2, 3)), *recs((1, 2))], "faust", 10))
    points = sorted((team, e.kind, e.points) for team, e in got)
    assert points == [
        (1, "capture", 15),
        (1, "capture", 20),
        (2, "capture", 15),
        (2, "flag-lost", -10),
        (3, "flag-lost", -17),
    ]
    why = {e.why for _t, e in got}
    assert "captured T3's tracker flag of tick 4, 2 teams captured it" in why
    assert "our tracker flag of tick 4 captured by 2 teams" in why


def test_saarctf_by_hand() -> None:
    # Two captures of team 3's flag, team 3 in 2nd place before tick 4, 4 active teams:
    # each attacker 10 x (1 + sqrt(1/2) + sqrt(1/2)) = 24.1 -> 24; team 3 loses
    # 10 x (2/4)^0.3 = 8.1 -> 8.
    got = list(captures(recs((1, 3), (2, 3)), "saarctf", 10, active_teams=4, rank={(3, 4): 2}))
    assert sorted((t, e.points) for t, e in got) == [(1, 24), (2, 24), (3, -8)]
