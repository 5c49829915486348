"""The permission table: what each credential grants, where it is accepted."""

from __future__ import annotations

import pytest

from range_control.core.actors import Actor, ActorKind
from range_control.core.permissions import (
    CALLERS,
    RULES,
    Machine,
    Permission,
    Place,
    Role,
    Scope,
    allows,
    holder_of,
    matrix,
)


def test_the_white_cell_stays_blind_and_the_look_roles_change_nothing() -> None:
    for holder in (Role.GRADER, Role.OBSERVER, Scope.READ, Scope.GRADE):
        assert not allows(holder, Permission.UNBLIND)
        assert not allows(holder, Permission.CHANGE)
    for holder in (Role.ORGANISER, Scope.FULL, Machine.ORGANISER_TOKEN):
        assert allows(holder, Permission.UNBLIND) and allows(holder, Permission.CHANGE)
    assert allows(Role.GRADER, Permission.GRADE) and not allows(Role.OBSERVER, Permission.GRADE)


def test_credentials_count_only_where_they_are_presented() -> None:
    # A person's session is not a bearer token; a token's session has no person of its own.
    assert not allows(Role.ORGANISER, Permission.LOOK, Place.API)
    assert allows(Scope.READ, Permission.LOOK, Place.API)
    assert not allows(Scope.FULL, Permission.LOOK, Place.CONSOLE)
    assert not allows(Machine.ORGANISER_TOKEN, Permission.OWN_ACCOUNT, Place.CONSOLE)
    assert not allows(Role.MEMBER, Permission.PLAY, Place.API)  # members use the team token
    assert not allows(Role.ORGANISER, Permission.PLAY, Place.PORTAL)
    assert allows(None, Permission.PUBLIC) and not allows(None, Permission.PLAY)


def test_the_matrix_has_a_row_per_rule_and_a_column_per_caller() -> None:
    lines = matrix().splitlines()
    assert len(lines) == 2 + len(RULES)
    assert all(line.count("|") == len(CALLERS) + 2 for line in lines)
    assert "| team API | no | yes | no |" in matrix()


@pytest.mark.parametrize("name", ["organiser", "grade", "team token"])
def test_every_holder_is_found_by_its_name(name: str) -> None:
    assert str(holder_of(name)) == name


def test_an_actor_keeps_its_kind_and_a_bounded_label() -> None:
    who = Actor("person", 7, "x" * 300, 3)  # as a row hands it back
    assert who.kind is ActorKind.PERSON and len(who.label) == 100 and who.team_id == 3
    assert Actor.team(3, "Alpha").label == "machine: token of team Alpha"
    assert Actor.team(3, "Alpha").is_machine and not who.is_machine
