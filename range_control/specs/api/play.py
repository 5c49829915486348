"""What teams read and send: challenges, attempts, hints, their ledger, the scoreboard and the
CTFtime feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from range_control.specs.api.base import TRANSLATIONS, VIEW, Body, Translations, View
from range_control.specs.challenge import MAX_FLAG_LEN


# --- team ---------------------------------------------------------------------------------
class AttemptIn(Body):
    flag: str = Field(min_length=1, max_length=MAX_FLAG_LEN, description="the flag text")


class AttemptOut(View):
    status: Literal["correct", "incorrect", "already_solved", "partial"] = Field(
        description="partial: a right flag of a challenge that needs all of its flags "
        "(challenge.yml logic: all), not all found yet"
    )
    points: int
    attempts_left: int | None = None
    frozen: bool = Field(
        default=False,
        description="the scoreboard is frozen: points as the frozen board values the solve "
        "(a first-blood bonus shows once it ends)",
    )


class ChallengeSummary(View):
    slug: str
    name: str
    category: str
    value: int
    solves: int
    solved_by_me: bool
    locked: bool
    requires: list[str]
    tags: list[str]
    translations: Translations = TRANSLATIONS


class ChallengeList(RootModel[list[ChallengeSummary]]):
    model_config = VIEW


class HintOut(View):
    id: int
    title: str | None
    cost: int
    unlocked: bool
    content: str | None
    requires: list[int] = Field(
        default_factory=list, description="ids of the hints to unlock before this one"
    )
    translations: Translations = TRANSLATIONS


class ChallengeDetail(View):
    slug: str
    name: str
    category: str
    author: str | None
    description: str
    value: int
    solves: int
    solved_by_me: bool
    files: list[str]
    connection_info: str | None
    max_attempts: int
    requires: list[str]
    tags: list[str]
    hints: list[HintOut]
    locked: bool = Field(
        default=False, description="prerequisites unsolved: only the name and value are shown"
    )
    environment: Literal["none", "available", "unavailable"] = Field(
        default="none",
        description="a live environment per team: none, startable, or not in this range",
    )
    translations: Translations = TRANSLATIONS
    kind: Literal["flag", "task"] = Field(
        default="flag", description="task: a deliverable graded by the white cell"
    )
    takes_flags: bool = Field(default=True, description="a flag scores it (a task may have none)")


class LedgerEntryOut(View):
    kind: Literal[
        "solve",
        "first_blood",
        "award",
        "hint",
        "grade",
        "late",
        "availability",
        "reset",
        "capture",
        "flag-lost",
        "red-plant",
    ]
    challenge: str | None
    points: int
    at: datetime
    why: str
    # ``why`` as an English template and its values, for the pages to translate; not sent.
    reason: SkipJsonSchema[str] = Field(default="", exclude=True)
    values: SkipJsonSchema[dict[str, Any]] = Field(default_factory=dict, exclude=True)


class LedgerOut(View):
    team: str
    country: str | None
    pos: int
    score: int
    frozen: bool
    entries: list[LedgerEntryOut]


class MeOut(View):
    id: int
    name: str
    country: str | None
    standing: LedgerOut


# --- public -------------------------------------------------------------------------------
class StandingOut(View):
    pos: int
    team: str
    team_id: int
    country: str | None
    score: int
    solves: int
    last_solve_at: datetime | None


class ScoreboardOut(View):
    standings: list[StandingOut]
    frozen: bool
    freeze_at: datetime | None
    state: str


class CtftimeStanding(View):
    pos: int
    team: str
    score: int
    taskStats: dict[str, dict[str, int]]


class CtftimeOut(View):
    tasks: list[str]
    standings: list[CtftimeStanding]
