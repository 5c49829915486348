"""The timeline function: pauses, extensions, skips, freeze, boundaries. Pure, injected times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from range_control.domain.timeline import Control, milestones, state_at
from range_control.specs.durations import parse_duration
from range_control.specs.scenario import ScenarioSpec

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def spec(**over: object) -> ScenarioSpec:
    data = {
        "event": "ICE",
        "freeze": "10m",
        "phases": [
            {
                "id": "detect",
                "title": "Detection",
                "duration": "60m",
                "challenges": ["a"],
                "warmup": "5m",
                "injects": [{"at": "30m", "title": "SITREP", "action": {"unlock_challenge": "x"}}],
            },
            {
                "id": "contain",
                "title": "Containment",
                "duration": "30m",
                "challenges": ["b"],
                "keep_open": False,
                "teardown": True,
            },
            {"id": "recover", "title": "Recovery", "duration": "30m", "challenges": ["c"]},
        ],
    }
    data.update(over)
    return ScenarioSpec.model_validate(data)


S = spec()


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1d") == timedelta(days=1)
    assert parse_duration(5) == timedelta(seconds=5)
    for bad in ("", "15", "1x", "m", "-5m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_not_started() -> None:
    st = state_at(S, Control(), T0)
    assert st.state == "not_started" and st.phase is None and st.open_challenges == set()
    assert st.due == () and st.ends_at is None and st.next_at is None
    # A scheduled start in the future: the next transition is the start itself.
    st = state_at(S, Control(started_at=T0 + 10 * M), T0)
    assert st.state == "not_started" and st.next_at == T0 + 5 * M  # warm-up of detect at -5m
    assert st.ends_at == T0 + 130 * M and st.freeze_at == T0 + 120 * M


def test_phases_and_open_challenges_along_the_way() -> None:
    ctl = Control(started_at=T0)
    st = state_at(S, ctl, T0)
    assert st.state == "running" and st.phase.id == "detect"
    assert st.open_challenges == {"a"} and st.environments == {"a"}
    assert st.phase_ends_at == T0 + 60 * M and st.ends_at == T0 + 120 * M
    assert st.next_milestone.key == "inject:detect:0" and st.next_at == T0 + 30 * M
    st = state_at(S, ctl, T0 + 30 * M)  # boundary: the inject is due at exactly 30m
    assert "inject:detect:0" in {m.key for m in st.due} and st.open_challenges == {"a", "x"}
    st = state_at(S, ctl, T0 + 60 * M)  # boundary: detect ends, contain starts
    assert st.phase.id == "contain" and st.open_challenges == {"a", "b", "x"}
    st = state_at(S, ctl, T0 + 90 * M)  # contain closes (keep_open false) and tears down
    assert st.phase.id == "recover" and st.open_challenges == {"a", "x", "c"}
    assert st.environments == {"a", "c"}
    assert st.freeze_at == T0 + 110 * M
    st = state_at(S, ctl, T0 + 120 * M)
    assert st.state == "ended" and st.phase is None and st.next_at is None
    keys = [m.key for m in st.due]
    assert keys[-1] == "end" and "freeze" in keys and len(keys) == len(milestones(S, ctl))


def test_pause_keeps_remaining_time() -> None:
    ctl = Control(started_at=T0, pauses=((T0 + 20 * M, None),))
    st = state_at(S, ctl, T0 + 50 * M)
    assert st.state == "paused" and st.ex_now == 20 * M and st.phase.id == "detect"
    assert st.next_at is None and st.ends_at is None and st.freeze_at is None
    assert {m.key for m in st.due} == {"warmup:detect", "phase:detect:start"}
    resumed = Control(started_at=T0, pauses=((T0 + 20 * M, T0 + 50 * M),))
    st = state_at(S, resumed, T0 + 50 * M)
    assert st.state == "running" and st.ex_now == 20 * M
    assert st.next_at == T0 + 60 * M  # the inject at 30m, shifted by the 30-minute pause
    assert st.ends_at == T0 + 150 * M and st.freeze_at == T0 + 140 * M
    # Past instants keep their real wall times: the phase started at T0.
    st = state_at(S, resumed, T0 + 200 * M)
    assert st.state == "ended" and st.ends_at == T0 + 150 * M and st.freeze_at == T0 + 140 * M


def test_freeze_reached_before_a_pause_stays_in_force() -> None:
    ctl = Control(started_at=T0, pauses=((T0 + 115 * M, None),))
    st = state_at(S, ctl, T0 + 117 * M)
    assert st.state == "paused" and st.freeze_at == T0 + 110 * M


def test_extension_moves_everything_after() -> None:
    ctl = Control(started_at=T0, extensions={"detect": 15 * M})
    st = state_at(S, ctl, T0 + 61 * M)
    assert st.phase.id == "detect" and st.phase_ends_at == T0 + 75 * M
    assert st.ends_at == T0 + 135 * M and st.freeze_at == T0 + 125 * M
    assert state_at(S, ctl, T0 + 75 * M).phase.id == "contain"


def test_skip_cuts_the_phase_and_drops_its_later_injects() -> None:
    ctl = Control(started_at=T0, skips={"detect": 10 * M})
    st = state_at(S, ctl, T0 + 10 * M)
    assert st.phase.id == "contain" and st.open_challenges == {"a", "b"}
    assert "inject:detect:0" not in {m.key for m in milestones(S, ctl)}
    assert st.ends_at == T0 + 70 * M


def test_manual_end() -> None:
    ctl = Control(started_at=T0, ended_at=T0 + 45 * M)
    st = state_at(S, ctl, T0 + 50 * M)
    assert st.state == "ended" and st.ends_at == T0 + 45 * M
    assert "phase:contain:start" not in {m.key for m in st.due}


def test_milestones_are_ordered_and_unique() -> None:
    ms = milestones(S, Control(started_at=T0))
    keys = [m.key for m in ms]
    assert len(keys) == len(set(keys))
    assert keys.index("phase:detect:end") < keys.index("phase:contain:start")
    assert [m.ex for m in ms] == sorted(m.ex for m in ms)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"phases": []}, "at least 1 item"),
        ({"freeze": "5h"}, "longer than the whole exercise"),
        ({"phases": [{"id": "a", "title": "A", "duration": "0s"}]}, "longer than 0s"),
        (
            {
                "phases": [
                    {"id": "a", "title": "A", "duration": "1m"},
                    {"id": "a", "title": "B", "duration": "1m"},
                ]
            },
            "unique",
        ),
        (
            {
                "phases": [
                    {
                        "id": "a",
                        "title": "A",
                        "duration": "10m",
                        "injects": [{"at": "11m", "title": "late"}],
                    }
                ]
            },
            "outside the phase",
        ),
        (
            {
                "phases": [
                    {
                        "id": "a",
                        "title": "A",
                        "duration": "10m",
                        "injects": [{"at": "1m", "title": "t", "action": {}}],
                    }
                ]
            },
            "exactly one",
        ),
        ({"start": "2026-07-01T08:00:00"}, "timezone"),
        ({"phses": []}, "Extra inputs"),
    ],
)
def test_bad_scenarios_are_refused(over: dict, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        spec(**over)
    assert message in str(exc.value)
