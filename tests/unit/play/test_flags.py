"""Flag matching and dynamic flags: pure, no database."""

from __future__ import annotations

import re

from range_control.domain.flags import (
    MAX_SUBMISSION,
    DynamicFlag,
    Flag,
    check_submission,
    dynamic_flag,
    matches,
)


def test_static_is_exact_and_case_sensitive() -> None:
    f = Flag("static", "ICE{Exact}")
    assert matches(f, "ICE{Exact}")
    assert not matches(f, "ice{exact}")
    assert not matches(f, "ICE{Exact} ")
    assert not matches(f, "ICE{Exac}")


def test_case_insensitive_static() -> None:
    f = Flag("static", "ICE{Iron-Gate}", case_insensitive=True)
    assert matches(f, "ice{iron-gate}")
    assert matches(f, "ICE{IRON-GATE}")
    assert not matches(f, "ice{iron_gate}")


def test_regex_must_match_whole_submission() -> None:
    f = Flag("regex", r"ICE\{GRID-0*2446-0*5927\}")
    assert matches(f, "ICE{GRID-2446-5927}")
    assert matches(f, "ICE{GRID-002446-5927}")
    assert not matches(f, "xICE{GRID-2446-5927}")
    assert not matches(f, "ICE{GRID-2446-5927}x")
    assert not matches(f, "ice{grid-2446-5927}")
    assert matches(Flag("regex", r"ICE\{GRID-\d+\}", True), "ice{grid-12}")


def test_oversized_submission_never_matches() -> None:
    f = Flag("regex", r".*")
    assert matches(f, "a" * MAX_SUBMISSION)
    assert not matches(f, "a" * (MAX_SUBMISSION + 1))


def test_dynamic_flag_is_stable_and_distinct_per_team_event_and_challenge() -> None:
    spec = DynamicFlag("ICE", 32)
    a = dynamic_flag("s3cret", "ice", 1, "beacon", spec)
    assert a == dynamic_flag("s3cret", "ice", 1, "beacon", spec)
    assert re.fullmatch(r"ICE\{[0-9a-f]{32}\}", a)
    others = {
        dynamic_flag("s3cret", "ice", 2, "beacon", spec),
        dynamic_flag("s3cret", "ice2", 1, "beacon", spec),
        dynamic_flag("s3cret", "ice", 1, "beacon2", spec),
        dynamic_flag("other", "ice", 1, "beacon", spec),
    }
    assert a not in others and len(others) == 4
    # NUL separators: ("ice", 11, "x") and ("ice1", 1, "x") must differ.
    assert dynamic_flag("k", "ice", 11, "x", spec) != dynamic_flag("k", "ice1", 1, "x", spec)
    assert len(dynamic_flag("k", "e", 1, "c", DynamicFlag("CIOR", 16))) == len("CIOR{}") + 16


def test_check_submission_flags_sharing_with_the_owner_named() -> None:
    spec = DynamicFlag("ICE", 32)
    kw = dict(flags=[], dynamic=spec, secret="k", event="ice", challenge="beacon")
    own = dynamic_flag("k", "ice", 1, "beacon", spec)
    theirs = dynamic_flag("k", "ice", 2, "beacon", spec)
    assert check_submission(own, team_id=1, other_team_ids=[1, 2, 3], **kw).correct
    v = check_submission(theirs, team_id=1, other_team_ids=[1, 2, 3], **kw)
    assert not v.correct and v.shared_from_team == 2
    v = check_submission("ICE{" + "0" * 32 + "}", team_id=1, other_team_ids=[1, 2, 3], **kw)
    assert not v.correct and v.shared_from_team is None


def test_surrounding_whitespace_is_ignored() -> None:
    v = check_submission(
        "  ICE{x}\n",
        flags=[Flag("static", "ICE{x}")],
        dynamic=None,
        secret="k",
        event="e",
        team_id=1,
        challenge="c",
    )
    assert v.correct
