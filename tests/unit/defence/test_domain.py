"""The defence's pure parts: self-verifying flags in the three shapes checkers expect, what a
checker's answer means and a tick's verdict, the ticks of the defence phases, and the
availability points of each tick with their why. No database, no engine."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from range_control.domain.defence import flags
from range_control.domain.defence.scoring import ResetRec, TickRec, availability, resets
from range_control.domain.defence.ticks import current, offset, started, tick_windows
from range_control.domain.defence.verdicts import (
    Answer,
    Verdict,
    bounded,
    of_chain,
    of_eno,
    of_exit_code,
)
from range_control.domain.timeline import PhaseWindow

AT = datetime(2026, 7, 1, 9, tzinfo=UTC)
M = timedelta(minutes=1)


# --- flags ------------------------------------------------------------------------------------
@given(
    tick=st.integers(0, 2**32 - 1),
    team=st.integers(1, 2**16 - 1),
    service=st.integers(1, 2**16 - 1),
    store=st.integers(1, 255),
    fmt=st.sampled_from(flags.FORMATS),
)
def test_a_flag_says_whose_it_is_and_nothing_else_reads_it(tick, team, service, store, fmt) -> None:
    facts = flags.FlagFacts(tick, team, service, store)
    flag = flags.make("secret", "ice", facts, fmt, "convoy-tracker")
    assert re.fullmatch(flags.regex(fmt), flag), flag
    assert flags.read("secret", "ice", flag) == facts
    assert flags.read("other-secret", "ice", flag) is None
    assert flags.read("secret", "other-event", flag) is None


def test_flags_have_the_shapes_checkers_expect_and_hide_their_numbers() -> None:
    a = flags.make("k", "ice", flags.FlagFacts(1, 1, 1, 1), "forcad", "tracker")
    b = flags.make("k", "ice", flags.FlagFacts(2, 1, 1, 1), "forcad", "tracker")
    assert re.fullmatch(r"[A-Z0-9]{31}=", a) and a[0] == "T"  # ForcAD: the service's initial
    assert a[1:8] != b[1:8]  # consecutive ticks share no visible prefix (the numbers are masked)
    eno = flags.make("k", "ice", flags.FlagFacts(1, 1, 1, 1), "eno")
    assert eno.startswith("ENO") and len(eno) == 43
    assert flags.make("k", "ice", flags.FlagFacts(1, 1, 1, 1), "event", prefix="CIOR").startswith(
        "CIOR{"
    )
    with pytest.raises(ValueError, match="unknown flag format"):
        flags.make("k", "ice", flags.FlagFacts(1, 1, 1, 1), "saar")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * 200,
        "ENO" + "A" * 40,
        "T" + "0" * 30 + "=",
        "ICE{" + "A" * 22 + "}",
        "Z" * 31 + "=",
    ],
)
def test_anything_the_range_did_not_make_reads_as_nobody_s(text) -> None:
    assert flags.read("k", "ice", text) is None


def test_a_flag_id_is_stable_and_unguessable() -> None:
    facts = flags.FlagFacts(5, 2, 3, 1)
    one = flags.flag_id("k", "ice", facts)
    assert one == flags.flag_id("k", "ice", facts) and re.fullmatch(r"[a-z0-9]{16}", one)
    assert one != flags.flag_id("k", "ice", flags.FlagFacts(5, 2, 3, 2))


# --- verdicts ---------------------------------------------------------------------------------
def test_the_two_contracts_answers_mean_what_they_publish() -> None:
    assert [of_exit_code(c) for c in (101, 102, 103, 104, 110)] == [
        Verdict.OK,
        Verdict.CORRUPT,
        Verdict.MUMBLE,
        Verdict.DOWN,
        Verdict.CHECKER_ERROR,
    ]
    for odd in (0, 1, 2, 42, 100, 105, 255, -9, None):
        assert of_exit_code(odd) is Verdict.CHECKER_ERROR
    assert [of_eno(r) for r in ("OK", "MUMBLE", "OFFLINE", "INTERNAL_ERROR")] == [
        Verdict.OK,
        Verdict.MUMBLE,
        Verdict.DOWN,
        Verdict.CHECKER_ERROR,
    ]
    for garbage in (None, "ok", "<html>", 101, {"result": "OK"}):
        assert of_eno(garbage) is Verdict.CHECKER_ERROR
    assert not Verdict.CHECKER_ERROR.team_fault and not Verdict.NOT_CHECKED.team_fault
    assert Verdict.DOWN.team_fault


def test_a_message_is_bounded_text() -> None:
    assert bounded("a\x00b") == "ab"
    assert len(bounded("x" * 10_000_000)) == 1024
    assert bounded(None) == ""


def test_a_tick_s_verdict_is_its_first_failure_and_recovering_for_an_older_flag() -> None:
    ok = Answer("check", Verdict.OK)
    put = Answer("put", Verdict.OK, store=1)
    gone = Answer("get", Verdict.CORRUPT, "flag gone", "private", 1, current=False)
    assert of_chain([ok, put]).verdict is Verdict.OK
    assert of_chain([ok, put, gone]).verdict is Verdict.RECOVERING
    assert of_chain([ok, put, gone]).public == "flag gone"
    down = of_chain([Answer("check", Verdict.DOWN, "refused", "ECONNREFUSED")])
    assert (down.verdict, down.cause, down.private) == (Verdict.DOWN, "check", "ECONNREFUSED")
    # A checker error on an older flag is not the team's: it does not make RECOVERING.
    broken_old = Answer("get", Verdict.CHECKER_ERROR, current=False)
    assert of_chain([ok, put, broken_old]).verdict is Verdict.OK
    crash = of_chain([ok, Answer("put", Verdict.CHECKER_ERROR, "x", "Traceback", 1)])
    assert crash.verdict is Verdict.CHECKER_ERROR


# --- ticks ------------------------------------------------------------------------------------
def test_the_defence_phases_cut_into_ticks_numbered_across_them() -> None:
    windows = [
        PhaseWindow("a", "A", timedelta(0), 10 * M),
        PhaseWindow("b", "B", 10 * M, 20 * M),
        PhaseWindow("c", "C", 20 * M, 25 * M + timedelta(seconds=30)),
    ]
    ticks = tick_windows(["a", "c"], M, windows)
    assert [t.number for t in ticks] == list(range(1, 16))
    assert [t.phase for t in ticks] == ["a"] * 10 + ["c"] * 5  # whole ticks only
    assert ticks[10].start == 20 * M
    assert current(ticks, 15 * M) is None  # between defence phases
    assert current(ticks, 20 * M + timedelta(seconds=59)).number == 11
    assert [t.number for t in started(ticks, 2 * M)] == [1, 2, 3]


def test_each_team_s_check_starts_at_its_own_place_in_the_first_half() -> None:
    starts = {offset("k", "ice", 7, team, "svc", M) for team in range(1, 41)}
    assert all(0 <= s < 30 for s in starts) and len(starts) == 40
    assert offset("k", "ice", 7, 1, "svc", M) == offset("k", "ice", 7, 1, "svc", M)
    assert offset("k", "ice", 8, 1, "svc", M) != offset("k", "ice", 7, 1, "svc", M)


# --- scoring ----------------------------------------------------------------------------------
def tick(n: int, verdict: Verdict, public: str = "", team: int = 1) -> TickRec:
    return TickRec(team, "tracker", n, AT + n * M, verdict, public)


def test_availability_scores_each_tick_with_its_reason() -> None:
    entries = [
        e
        for _team, e in availability(
            [
                tick(1, Verdict.OK),
                tick(2, Verdict.RECOVERING),
                tick(3, Verdict.DOWN, "connection refused"),
                tick(4, Verdict.CHECKER_ERROR),
                tick(5, Verdict.OK),
                tick(6, Verdict.NOT_CHECKED),
            ],
            {"tracker": 10 * 1.5},
        )
    ]
    assert [e.points for e in entries] == [15, 8, 0, 0, 15, 15]
    assert entries[0].why == "availability: tracker OK at tick 1"
    assert entries[2].why == "tracker DOWN at tick 3: connection refused"
    assert "credited as at tick 3 (DOWN)" in entries[3].why  # carried, never a free pass
    assert "credited as at tick 5 (OK)" in entries[5].why
    assert all(e.kind == "availability" and e.at == AT + (i + 1) * M for i, e in enumerate(entries))


def test_a_checker_error_before_any_check_is_credited_in_full_and_resets_cost() -> None:
    entries = list(availability([tick(1, Verdict.CHECKER_ERROR)], {"tracker": 10}))
    assert entries[0][1].points == 10 and "credited in full" in entries[0][1].why
    assert list(availability([tick(1, Verdict.OK)], {})) == []  # not in the scenario: nothing
    cost = list(resets([ResetRec(2, "tracker", AT, 30)]))
    assert cost[0][0] == 2 and cost[0][1].points == -30 and cost[0][1].kind == "reset"
