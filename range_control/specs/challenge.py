"""``challenge.yml``: ctfcli's format as real repositories write it, plus our own keys.

ctfcli keys: name, author, category, description, attribution, value, type (standard |
dynamic, with ``extra: {initial, decay, minimum, function}``; a CTFd plugin type loads as
standard), image, protocol, host, connection_info, healthcheck, solution, attempts, logic (any |
all | team), flags, topics, tags, files, hints (with ``key`` and ``requirements``),
requirements (names, slugs or ids), next, scheduled_at, module, state, version. How each is
read, and what is kept or only warned about, is ``specs/ctfcli.py``.

Our keys: ``slug`` (stable identifier; default: derived from the name, in any script),
``dynamic_flag`` (per-team flags, ``{prefix: ICE, length: 32}``), ``environment`` (the live
services, see ``specs/environment.py``), ``solver`` (how ``rangectl challenges check --live``
proves the challenge solvable; see :class:`SolverSpec`), ``flag_in_files: allowed`` (a
flag inside a distributed file is intended: no warning), ``translations`` (per language,
``{fr: {name, description, hints: [...]}}``: what teams reading that language see; see
:class:`ChallengeTranslation`), and for ``type: task`` (a graded deliverable) ``deliverable``,
``rubric``, ``due``, ``late``, ``upload``, ``second_grader``, ``moderation_threshold`` and
``incident_report`` (the grader sees the red cell's log of the team and marks what the report
names: the after-action report's time to detect).
An unknown key that looks like a misspelling of one of these (``flagz``) is an error with
"did you mean"; any other unknown key is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from anyascii import anyascii
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from range_control.specs.defence import DefenceSpec
from range_control.specs.environment import EnvironmentSpec
from range_control.specs.text import Language

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_FLAG_LEN = 1024


def slugify(text: str) -> str:
    """A stable slug in ``[a-z0-9-]``: names in other scripts are transliterated (``Привет`` ->
    ``privet``); a name with nothing to transliterate gets one derived from its text."""
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(text).lower()).strip("-")[:63].strip("-")
    if slug:
        return slug
    return "challenge-" + hashlib.sha256(text.encode()).hexdigest()[:10]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class FlagSpec(_Strict):
    type: Literal["static", "regex"] = "static"
    content: str = Field(min_length=1, max_length=MAX_FLAG_LEN)
    # CTFd: "case_insensitive", anything else is case-sensitive (ctfcli's own example says
    # "asdfasdfsdf"); specs/ctfcli.py warns about values other than the two it knows.
    data: str | None = Field(default=None, max_length=200)

    @property
    def case_insensitive(self) -> bool:
        return self.data == "case_insensitive"

    @model_validator(mode="after")
    def _regex_compiles(self) -> FlagSpec:
        if self.type == "regex":
            try:
                re.compile(self.content)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        return self


class HintSpec(_Strict):
    content: str = Field(min_length=1, max_length=20_000)
    cost: int = Field(default=0, ge=0, le=1_000_000)
    title: str | None = Field(default=None, max_length=200)
    key: str | None = Field(default=None, max_length=200, description="named by requirements")
    requirements: list[str] = Field(
        default_factory=list, description="keys of the hints to unlock before this one"
    )


class SolutionSpec(_Strict):
    """ctfcli's write-up: a file in the challenge; ``state`` is when teams may read it (the
    range shows it to organisers only)."""

    path: str = Field(min_length=1, max_length=500)
    state: Literal["hidden", "visible", "solved"] = "hidden"


class DynamicExtra(_Strict):
    initial: int = Field(ge=0, le=1_000_000)
    # Logarithmic decay 0 is read as 1, as CTFd does (domain/scoring.py).
    decay: float = Field(ge=0, le=1_000_000)
    minimum: int = Field(ge=0, le=1_000_000)
    function: Literal["logarithmic", "linear"] = "logarithmic"

    @model_validator(mode="after")
    def _coherent(self) -> DynamicExtra:
        if self.minimum > self.initial:
            raise ValueError("minimum must not exceed initial")
        return self


# A prerequisite by name or slug, or by id (ctfcli: a CTFd id; here the range's own id).
Prerequisite = str | int


class RequirementsSpec(_Strict):
    prerequisites: list[Prerequisite] = Field(default_factory=list)
    anonymize: bool = False


class DynamicFlagSpec(_Strict):
    """Per-team flag ``PREFIX{hex}``, derived by HMAC-SHA256 (see ``domain.flags``)."""

    prefix: str = Field(default="ICE", pattern=r"^[A-Za-z0-9_]{1,32}$")
    length: int = Field(default=32, ge=16, le=64, description="hex characters inside the braces")


class SolverSpec(_Strict):
    """The author's solver, run by ``rangectl challenges check --live`` in a container of the
    solver image (the base image with Python 3) on the validation team's network, the way a
    team reaches its instance: services by name. The challenge's attachments are in ``/files``,
    the solver directory in ``/solve``. The last line the solver prints is the flag it captured.
    """

    path: str = Field(default="solve", description="directory with the solver, in the challenge")
    command: list[str] = Field(default_factory=lambda: ["python3", "/solve/solve.py"], min_length=1)
    timeout: int = Field(default=120, ge=1, le=3600, description="seconds before it is killed")


class HintTranslation(_Strict):
    title: str | None = Field(default=None, max_length=200)
    content: str = Field(min_length=1, max_length=20_000)


class ChallengeTranslation(_Strict):
    """One language of a challenge (``translations: {fr: {...}}``): what a team reads. Flags,
    values and slugs are never translated."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=100_000)
    hints: list[HintTranslation] = Field(
        default_factory=list, description="in the order of the challenge's hints"
    )

    @field_validator("hints", mode="before")
    @classmethod
    def _strings_are_content(cls, items: Any) -> Any:
        if isinstance(items, list):
            return [{"content": x} if isinstance(x, str) else x for x in items]
        return items


# --- graded tasks (``type: task``): work a person grades against a rubric ----------------------
CRITERION_RE = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# What a deliverable file may be, by extension; services/tasks.py checks the content agrees.
UPLOAD_TYPES = ("pdf", "txt", "md", "png", "jpg", "jpeg", "odt", "docx", "pptx", "xlsx", "csv")


class CriterionSpec(_Strict):
    id: str = Field(pattern=CRITERION_RE, description="stable, named by grades")
    title: str = Field(min_length=1, max_length=120)
    points: int = Field(ge=1, le=10_000, description="the most a grader may give")
    guidance: str = Field(default="", max_length=5_000, description="for graders (markdown)")


class DueSpec(_Strict):
    """A due time relative to a scenario phase as it actually runs (pauses, extensions and
    skips move it): ``{phase: recovery, at: end, offset: -10m}``."""

    phase: str = Field(min_length=1, max_length=64)
    at: Literal["start", "end"] = "end"
    offset: str = Field(default="0s", max_length=20, description="30m after, -10m before")

    @property
    def delta(self) -> timedelta:
        from range_control.specs.durations import parse_duration

        text = self.offset.strip()
        sign = -1 if text.startswith("-") else 1
        return sign * parse_duration(text.lstrip("+-"))

    @field_validator("offset")
    @classmethod
    def _duration(cls, value: str) -> str:
        from range_control.specs.durations import parse_duration

        parse_duration(value.strip().lstrip("+-"))  # a ValueError names the value
        return value


class LatePenalty(_Strict):
    penalty: str = Field(pattern=r"^(100|[1-9]?[0-9])(\.[0-9]+)?\s*%$", examples=["20%"])

    @property
    def percent(self) -> float:
        return float(self.penalty.rstrip("% "))


class UploadSpec(_Strict):
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=1, le=50 * 1024 * 1024)
    types: list[Literal[UPLOAD_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["pdf", "txt", "md", "odt", "docx"],
        min_length=1,
        description="allowed file types, by extension",
    )


TASK_KEYS = (
    "deliverable",
    "rubric",
    "due",
    "late",
    "upload",
    "second_grader",
    "moderation_threshold",
    "incident_report",
)


class TaskSpec(_Strict):
    """The graded part of a ``type: task`` challenge, as stored with it."""

    deliverable: Literal["text", "file", "both"]
    rubric: list[CriterionSpec] = Field(min_length=1)
    due: datetime | DueSpec | None = None
    late: Literal["refuse", "accept"] | LatePenalty = "refuse"
    upload: UploadSpec = Field(default_factory=UploadSpec)
    second_grader: bool = False
    moderation_threshold: int = 2
    incident_report: bool = Field(
        default=False,
        description="the teams report incidents: the grader sees, blind, the red cell's log of "
        "the team up to the report and marks the actions it names (time to detect)",
    )

    @property
    def most(self) -> int:
        return sum(c.points for c in self.rubric)

    @property
    def penalty(self) -> float:
        return self.late.percent if isinstance(self.late, LatePenalty) else 0.0

    @property
    def late_rule(self) -> str:
        return self.late if isinstance(self.late, str) else f"penalty {self.late.penalty}"


class ChallengeSpec(_Strict):
    # --- ctfcli ---
    name: str = Field(min_length=1, max_length=120)
    author: str | None = Field(default=None, max_length=200)
    category: str = Field(default="misc", min_length=1, max_length=80)
    description: str = Field(default="", max_length=100_000)
    attribution: str | None = Field(default=None, max_length=2_000)
    value: int | None = Field(default=None, ge=0, le=1_000_000)
    type: Literal["standard", "dynamic", "task", "defended"] = "standard"
    extra: DynamicExtra | None = None
    image: str | None = None
    protocol: str | None = None
    host: str | None = None
    connection_info: str | None = Field(default=None, max_length=2_000)
    healthcheck: str | None = None
    solution: SolutionSpec | None = None
    attempts: int = Field(default=0, ge=0, le=1_000_000, description="max attempts, 0 = no limit")
    logic: Literal["any", "all", "team"] = "any"
    flags: list[FlagSpec] = Field(
        default_factory=list, description="strings or {type, content, data}"
    )
    topics: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    hints: list[HintSpec] = Field(
        default_factory=list, description="strings or {content, cost, title}"
    )
    requirements: list[Prerequisite] | RequirementsSpec | None = None
    next: Prerequisite | None = None
    scheduled_at: datetime | None = Field(
        default=None, description="release time, ISO 8601 with its offset"
    )
    module: str | None = None
    state: Literal["visible", "hidden"] = "visible"
    version: str = Field(default="0.1", max_length=32)
    # --- ours ---
    slug: str | None = Field(default=None, pattern=SLUG_RE.pattern)
    dynamic_flag: DynamicFlagSpec | None = None
    environment: EnvironmentSpec | None = None
    solver: SolverSpec | None = None
    flag_in_files: Literal["allowed", "warn"] = "warn"
    translations: dict[Language, ChallengeTranslation] = Field(
        default_factory=dict, description="per language: name, description, hints"
    )
    # --- ours, for type: defended (specs.defence) ---
    defence: DefenceSpec | None = None
    # --- ours, for type: task ---
    deliverable: Literal["text", "file", "both"] | None = None
    rubric: list[CriterionSpec] = Field(default_factory=list, max_length=50)
    due: datetime | DueSpec | None = Field(
        default=None, description="absolute (with its offset), or relative to a phase"
    )
    late: Literal["refuse", "accept"] | LatePenalty = "refuse"
    upload: UploadSpec = Field(default_factory=UploadSpec)
    second_grader: bool = Field(default=False, description="each submission graded twice")
    moderation_threshold: int = Field(
        default=2,
        ge=0,
        le=10_000,
        description="a criterion on which two graders differ by more goes to moderation",
    )
    incident_report: bool = Field(
        default=False,
        description="an incident report: graded against the red cell's log (time to detect)",
    )

    @field_validator("flags", "hints", mode="before")
    @classmethod
    def _strings_are_content(cls, items: Any) -> Any:
        # ctfcli allows a bare string for a flag or a hint; it means {content: <string>}.
        if isinstance(items, list):
            return [{"content": x} if isinstance(x, str) else x for x in items]
        return items

    @field_validator("solution", mode="before")
    @classmethod
    def _solution_path(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("scheduled_at")
    @classmethod
    def _explicit_offset(cls, value: datetime | None) -> datetime | None:
        # As ctfcli: never assume a time zone.
        if value is not None and value.utcoffset() is None:
            raise ValueError(
                "needs its time zone, for example 2026-06-15T12:00:00+00:00 (UTC) or ...+02:00"
            )
        return value

    @field_validator("due")
    @classmethod
    def _due_offset(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.utcoffset() is None:
            raise ValueError("needs its time zone, for example 2026-06-15T12:00:00+00:00")
        return value

    @model_validator(mode="after")
    def _task(self) -> ChallengeSpec:
        if self.type != "task":
            given = [k for k in ("deliverable", "rubric", "due") if getattr(self, k)]
            if given:
                raise ValueError(f"{', '.join(given)}: only for type 'task'")
            return self
        if self.deliverable is None:
            raise ValueError("type 'task' needs deliverable: text, file or both")
        if not self.rubric:
            raise ValueError("type 'task' needs a rubric: a list of {id, title, points}")
        ids = [c.id for c in self.rubric]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rubric: criterion id {twice[0]!r} appears twice")
        if self.value is None:
            self.value = 0  # the flag part, if the task has flags
        return self

    @model_validator(mode="after")
    def _defended(self) -> ChallengeSpec:
        if self.type != "defended":
            if self.defence is not None:
                raise ValueError("defence: only for type 'defended'")
            return self
        if self.environment is None or self.defence is None:
            raise ValueError("type 'defended' needs environment (the services) and defence")
        names = [svc.name for svc in self.environment.services]
        d = self.defence
        if d.target is not None and d.target not in names:
            raise ValueError(f"defence.target: no service {d.target!r} (services: {names})")
        for field_name, given in (("data", list(d.data)), ("shell", d.shell or [])):
            unknown = [n for n in given if n not in names]
            if unknown:
                raise ValueError(f"defence.{field_name}: no service {unknown[0]!r}")
        if self.flags or self.dynamic_flag is not None:
            raise ValueError("type 'defended' takes no flags: the checker places them each tick")
        return self

    @model_validator(mode="after")
    def _coherent(self) -> ChallengeSpec:
        if self.type == "dynamic":
            if self.extra is None:
                raise ValueError("type 'dynamic' needs extra: {initial, decay, minimum}")
        elif self.value is None:
            raise ValueError(f"value is required for type {self.type!r}")
        return self

    @property
    def resolved_slug(self) -> str:
        return self.slug or slugify(self.name)

    @property
    def prerequisites(self) -> list[Prerequisite]:
        if self.requirements is None:
            return []
        if isinstance(self.requirements, RequirementsSpec):
            return list(self.requirements.prerequisites)
        return list(self.requirements)

    @property
    def task(self) -> TaskSpec | None:
        if self.type != "task":
            return None
        return TaskSpec.model_validate({k: getattr(self, k) for k in TASK_KEYS})

    @property
    def solvable_by_flag(self) -> bool:
        return bool(self.flags) or self.dynamic_flag is not None

    @property
    def initial_value(self) -> int:
        if self.type == "dynamic" and self.extra is not None:
            return self.extra.initial
        return int(self.value or 0)
