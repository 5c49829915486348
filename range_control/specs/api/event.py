"""The event as the API shows it: its phases and timeline, announcements, the audit log, and the
organisers' changes to it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field, RootModel, StrictBool, StrictInt

from range_control.specs.api.base import TRANSLATIONS, VIEW, Body, Translations, View
from range_control.specs.text import Language


class PhaseOut(View):
    id: str
    title: str
    briefing: str
    translations: Translations = TRANSLATIONS
    ends_at: datetime | None = Field(description="projected; null while paused")


class TransitionOut(View):
    at: datetime
    milestone: str = Field(examples=["phase:containment:start", "inject:detection:0", "freeze"])


class EventOut(View):
    slug: str
    name: str
    state: Literal["not_started", "running", "paused", "ended"]
    starts_at: datetime | None
    ends_at: datetime | None
    freeze_at: datetime | None
    frozen: bool
    points_fixed_at_solve: bool
    first_blood_bonus: int
    server_time: datetime
    phase: PhaseOut | None = None
    next_transition: TransitionOut | None = None


class ExtendIn(Body):
    by: str = Field(max_length=20, examples=["15m"], description="90s, 15m, 2h, 1h30m")


class AnnouncementTranslationIn(Body):
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=20_000, description="markdown")


class AnnouncementIn(Body):
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=20_000, description="markdown")
    translations: dict[Language, AnnouncementTranslationIn] = Field(
        default_factory=dict, max_length=20, description="the same in other languages"
    )


class AnnouncementOut(View):
    id: int
    title: str
    body: str
    source: Literal["inject", "phase", "organiser"]
    created_at: datetime
    translations: Translations = TRANSLATIONS


class AnnouncementList(RootModel[list[AnnouncementOut]]):
    model_config = VIEW


class AuditOut(View):
    id: int
    actor: str = Field(description="who, as people read it: a person's name and login, a token")
    actor_kind: Literal["person", "team", "token", "organiser_token", "range"]
    actor_id: int | None = Field(
        description="the account, team or API token (none for the shared token or the range)"
    )
    team_id: int | None = Field(description="the team the actor acted for, if any")
    action: str
    detail: dict
    created_at: datetime


class AuditList(RootModel[list[AuditOut]]):
    model_config = VIEW


class PhaseRowOut(View):
    """A phase of the timeline. Durations are in seconds in JSON."""

    model_config = VIEW | ConfigDict(ser_json_timedelta="float")

    id: str
    title: str
    start: datetime | None = Field(description="null until a manual start has happened")
    end: datetime | None
    start_offset: timedelta = Field(description="from the start of the exercise")
    end_offset: timedelta
    challenges: list[str]
    injects: int
    status: str
    extended_by: timedelta | None = Field(default=None, description="by the organisers")
    translations: Translations = TRANSLATIONS


class ScenarioOut(View):
    event: EventOut
    timeline: list[PhaseRowOut]


class EventPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    freeze_at: AwareDatetime | None = None
    points_fixed_at_solve: StrictBool | None = None
    first_blood_bonus: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
