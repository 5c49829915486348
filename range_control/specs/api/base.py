"""What every request and response body of ``/api/v1`` shares: the two kinds of model, the
error, translations, who did something."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


VIEW = ConfigDict(frozen=True, from_attributes=True)


class View(BaseModel):
    """A use case's result: immutable, built from attributes (rows, dataclasses) or values,
    and sent as it is (the OpenAPI document describes exactly these)."""

    model_config = VIEW


# --- errors -------------------------------------------------------------------------------
class ErrorDetail(View):
    code: str = Field(examples=["rate_limited"])
    message: str


class ErrorOut(View):
    error: ErrorDetail


# Content in other languages than the event's (challenge.yml and scenario.yml ``translations``,
# announcements written in several): ``{"fr": {"name": "..."}}``, only the fields translated.
Translations = dict[str, dict[str, str]]
TRANSLATIONS = Field(
    default_factory=dict, description="the texts in other languages: {lang: {field: text}}"
)


# Who did something (an award, a token), as people read it: the actor's label. A use case may
# hand the actor itself (``core.actors.Actor``), whose text is its label.
ActorLabel = Annotated[str, BeforeValidator(str)]
