"""Hypothesis property tests of the pure domain: the timeline under any sequence of organiser
controls, scoring and ranking, flag matching."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from range_control.domain import timeline
from range_control.domain.flags import DynamicFlag, Flag, check_submission, dynamic_flag, matches
from range_control.domain.scoring import (
    ChallengeValue,
    SolveRec,
    TeamRec,
    compute_board,
    decayed_value,
)
from range_control.specs.scenario import ScenarioSpec

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
ZERO = timedelta(0)


# --- the timeline ---------------------------------------------------------------------------
def scenario_of(minutes: list[int], freeze: int | None) -> ScenarioSpec:
    phases = [
        {
            "id": f"p{i}",
            "title": f"P{i}",
            "duration": f"{m}m",
            "challenges": [f"c{i}"],
            "injects": [{"at": "0s", "title": "go"}],
        }
        for i, m in enumerate(minutes)
    ]
    total = sum(minutes)
    return ScenarioSpec.model_validate(
        {"event": "E", "phases": phases, "freeze": f"{min(freeze, total)}m" if freeze else None}
    )


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 90 * 60)),
        st.tuples(st.just("pause"), st.just(0)),
        st.tuples(st.just("resume"), st.just(0)),
        st.tuples(st.just("extend"), st.integers(1, 60 * 60)),
        st.tuples(st.just("skip"), st.just(0)),
        st.tuples(st.just("end"), st.just(0)),
    ),
    max_size=30,
)


def control_after(
    ctl: timeline.Control, action: str, arg: int, spec: ScenarioSpec, now: datetime
) -> timeline.Control:
    """What services.scenario does to the control for each organiser action (when allowed),
    with the freeze pinned once it has happened (as the timeline log does)."""
    st_ = timeline.state_at(spec, ctl, now)
    if ctl.frozen_at is None and any(m.key == "freeze" for m in st_.due):
        ctl = replace(ctl, frozen_at=timeline.freeze_ex(spec, ctl, st_.total))
    paused = any(end is None for _, end in ctl.pauses)
    if action == "pause" and st_.state == "running":
        return replace(ctl, pauses=(*ctl.pauses, (now, None)))
    if action == "resume" and paused:
        last = ctl.pauses[-1]
        return replace(ctl, pauses=(*ctl.pauses[:-1], (last[0], now)))
    if action == "extend" and st_.phase is not None:
        ext = dict(ctl.extensions)
        ext[st_.phase.id] = ext.get(st_.phase.id, ZERO) + timedelta(seconds=arg)
        return replace(ctl, extensions=ext)
    if action == "skip" and st_.phase is not None:
        skips = {**ctl.skips, st_.phase.id: st_.ex_now}
        return replace(ctl, skips=skips)
    if action == "end" and st_.state in ("running", "paused"):
        pauses = ctl.pauses
        if paused:
            pauses = (*pauses[:-1], (pauses[-1][0], now))
        return replace(ctl, pauses=pauses, ended_at=now)
    return ctl


@settings(max_examples=300, deadline=None)
@given(
    minutes=st.lists(st.integers(1, 120), min_size=1, max_size=5),
    freeze=st.one_of(st.none(), st.integers(1, 60)),
    actions=ACTIONS,
)
def test_any_sequence_of_controls_keeps_the_timeline_consistent(
    minutes: list[int], freeze: int | None, actions: list[tuple[str, int]]
) -> None:
    spec = scenario_of(minutes, freeze)
    ctl = timeline.Control(started_at=T0)
    now = T0
    seen_due: set[str] = set()
    last_ex = ZERO
    for action, arg in [("wait", 0), *actions]:
        if action == "wait":
            now += timedelta(seconds=arg)
        else:
            ctl = control_after(ctl, action, arg, spec, now)
        st_ = timeline.state_at(spec, ctl, now)
        wins = st_.windows
        # Phases in order, back to back, never negative; the total is their sum.
        assert wins[0].start == ZERO
        assert all(w.start <= w.end for w in wins)
        assert all(a.end == b.start for a, b in zip(wins, wins[1:], strict=False))
        assert st_.total == wins[-1].end == sum((w.end - w.start for w in wins), ZERO)
        # Exercise time only moves forward and stays inside the exercise.
        assert last_ex <= st_.ex_now <= st_.total
        last_ex = st_.ex_now
        # The current phase holds the present; a paused or running event has one unless over.
        if st_.phase is not None:
            assert st_.phase.start <= st_.ex_now < st_.phase.end
        # Nothing that happened un-happens: a due milestone stays due whatever is done later.
        due = {m.key for m in st_.due}
        assert seen_due <= due
        seen_due = due
        # The next transition is in the future; the end is after the freeze.
        if st_.next_at is not None:
            assert st_.next_at >= now
        if st_.freeze_at is not None and st_.ends_at is not None:
            assert st_.freeze_at <= st_.ends_at


# --- scoring ---------------------------------------------------------------------------------
CHALLENGE = st.builds(
    lambda cid, initial, minimum, decay, fn: ChallengeValue(
        cid, f"c{cid}", f"C{cid}", "dynamic", initial, min(minimum, initial), decay, fn
    ),
    st.integers(1, 20),
    st.integers(0, 2000),
    st.integers(0, 2000),
    st.floats(0.1, 500, allow_nan=False),
    st.sampled_from(["logarithmic", "linear"]),
)


@settings(max_examples=300, deadline=None)
@given(ch=CHALLENGE, n=st.integers(0, 10_000))
def test_decay_stays_between_minimum_and_initial_and_never_rises(
    ch: ChallengeValue, n: int
) -> None:
    v = decayed_value(ch, n)
    assert ch.minimum <= v <= ch.value
    assert decayed_value(ch, n + 1) <= v


@settings(max_examples=200, deadline=None)
@given(
    n_teams=st.integers(1, 12),
    challenges=st.lists(CHALLENGE, min_size=1, max_size=6, unique_by=lambda c: c.id),
    solves=st.lists(
        st.tuples(st.integers(1, 12), st.integers(0, 5), st.integers(0, 600)), max_size=60
    ),
    fixed=st.booleans(),
    bonus=st.integers(0, 100),
    order=st.randoms(use_true_random=False),
)
def test_ranking_is_a_total_order_independent_of_input_order(
    n_teams: int,
    challenges: list[ChallengeValue],
    solves: list[tuple[int, int, int]],
    fixed: bool,
    bonus: int,
    order: object,
) -> None:
    teams = [TeamRec(i, f"Team {i}") for i in range(1, n_teams + 1)]
    recs, seen = [], set()
    for i, (team, ch_index, minute) in enumerate(solves):
        ch = challenges[ch_index % len(challenges)]
        if team <= n_teams and (team, ch.id) not in seen:
            seen.add((team, ch.id))
            recs.append(SolveRec(i + 1, team, ch.id, T0 + timedelta(minutes=minute)))
    board = compute_board(
        teams=teams,
        challenges=challenges,
        solves=recs,
        points_fixed_at_solve=fixed,
        first_blood_bonus=bonus,
    )
    shuffled = list(recs)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    again = compute_board(
        teams=list(reversed(teams)),
        challenges=challenges,
        solves=shuffled,
        points_fixed_at_solve=fixed,
        first_blood_bonus=bonus,
    )
    rows = board.standings
    assert [r.pos for r in rows] == list(range(1, n_teams + 1))
    assert [r.team_id for r in rows] == [r.team_id for r in again.standings]
    assert all(a.score >= b.score for a, b in zip(rows, rows[1:], strict=False))
    for r in rows:
        assert r.score == sum(e.points for e in r.ledger)
        assert all(e.points >= 0 for e in r.ledger)


# --- flags -----------------------------------------------------------------------------------
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(content=TEXT.filter(bool), submission=TEXT)
def test_a_static_flag_matches_exactly_itself(content: str, submission: str) -> None:
    assert matches(Flag("static", content), content)
    assert matches(Flag("static", content), submission) == (submission == content)
    assert matches(Flag("static", content, True), content.upper()) == (
        content.upper().casefold() == content.casefold()
    )


@settings(max_examples=200, deadline=None)
@given(
    teams=st.lists(st.integers(1, 10_000), min_size=2, max_size=6, unique=True),
    secret=st.text(min_size=1, max_size=20),
    slug=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
)
def test_a_dynamic_flag_is_its_teams_alone_and_sharing_names_the_owner(
    teams: list[int], secret: str, slug: str
) -> None:
    shape = DynamicFlag("ICE", 32)
    mine, other = teams[0], teams[1]
    flag_of = {t: dynamic_flag(secret, "ice", t, slug, shape) for t in teams}
    assert len(set(flag_of.values())) == len(teams)
    kwargs = dict(
        flags=[], dynamic=shape, secret=secret, event="ice", challenge=slug, other_team_ids=teams
    )
    assert check_submission(flag_of[mine], team_id=mine, **kwargs).correct
    shared = check_submission(flag_of[other], team_id=mine, **kwargs)
    assert not shared.correct and shared.shared_from_team == other
