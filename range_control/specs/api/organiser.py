"""The organisers' records: awards, the attempts record, sharing alerts, the challenge list and
solutions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, RootModel, StrictBool, StrictInt

from range_control.specs.api.base import VIEW, ActorLabel, Body, View


class AwardIn(Body):
    team: str | StrictInt = Field(description='team name, "#<id>", or the id as a number')
    value: StrictInt = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field(min_length=1, max_length=500)


class AwardOut(View):
    id: int
    team: str
    team_id: int
    value: int
    reason: str
    created_by: ActorLabel
    created_at: datetime


class AwardList(RootModel[list[AwardOut]]):
    model_config = VIEW


class AttemptQuery(Body):
    team: str | None = Field(default=None, max_length=100)
    person: str | None = Field(
        default=None, max_length=254, description="an account's login: what they submitted"
    )
    challenge: str | None = Field(default=None, max_length=63)
    result: Literal["correct", "incorrect", "already_solved", "partial"] | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(default=200, ge=1, le=1000)
    before_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="page: attempts older than this"
    )


class AttemptRecord(View):
    id: int
    team: str
    challenge: str
    result: str
    submitted: str
    source_ip: str | None
    created_at: datetime
    by: str | None = Field(default=None, description="the person, when one signed in")


class AttemptList(RootModel[list[AttemptRecord]]):
    model_config = VIEW


class SharingAlertOut(View):
    id: int
    challenge: str
    submitting_team: str
    flag_owner_team: str
    attempt_id: int
    submitted: str
    created_at: datetime


class SharingAlertList(RootModel[list[SharingAlertOut]]):
    model_config = VIEW


class AdminChallenge(View):
    slug: str
    name: str
    category: str
    type: str
    value: int
    visible: bool
    spec_state: str
    admin_state: str | None
    solves: int
    dynamic_flag: bool
    max_attempts: int
    requires: list[str]
    version: str
    services: int = Field(description="live services of each instance (0: no environment)")
    logic: Literal["any", "all"] = Field(description="all: every flag is needed to solve it")
    release_at: datetime | None = Field(
        description="hidden until then (challenge.yml's scheduled_at)"
    )
    solution_state: Literal["hidden", "visible", "solved"] | None = Field(
        description="a write-up was loaded (challenge.yml's solution); organisers read it"
    )


class SolutionOut(View):
    slug: str
    state: Literal["hidden", "visible", "solved"]
    content: str = Field(description="the write-up, as written (markdown)")


class AdminChallengeList(RootModel[list[AdminChallenge]]):
    model_config = VIEW


class VisibilityIn(Body):
    visible: StrictBool | None = Field(
        description="true: show, false: hide, null: as challenge.yml says"
    )
