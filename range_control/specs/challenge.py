"""``challenge.yml``: ctfcli's format as it is, plus our own keys.

ctfcli keys accepted: name, author, category, description, attribution, value, type (standard |
dynamic, with ``extra: {initial, decay, minimum, function}``), image, protocol, host,
connection_info, healthcheck, attempts, logic, flags, topics, tags, files, hints, requirements,
next, state, version.

Our keys: ``slug`` (stable identifier; default: derived from the name), ``dynamic_flag``
(per-team flags, ``{prefix: ICE, length: 32}``), ``environment`` (the live services, see
``specs/environment.py``) and ``solver`` (how ``rangectl challenges check --live`` proves the
challenge solvable; see :class:`SolverSpec`).
Any other key is an error that names it: a typo such as
``flgas`` must never pass silently.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from range_control.specs.environment import EnvironmentSpec

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_FLAG_LEN = 1024


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:63] or "challenge"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class FlagSpec(_Strict):
    type: Literal["static", "regex"] = "static"
    content: str = Field(min_length=1, max_length=MAX_FLAG_LEN)
    data: Literal["case_insensitive", "case_sensitive", ""] | None = None

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


class DynamicExtra(_Strict):
    initial: int = Field(ge=0, le=1_000_000)
    decay: float = Field(ge=0, le=1_000_000)
    minimum: int = Field(ge=0, le=1_000_000)
    function: Literal["logarithmic", "linear"] = "logarithmic"

    @model_validator(mode="after")
    def _coherent(self) -> DynamicExtra:
        if self.minimum > self.initial:
            raise ValueError("minimum must not exceed initial")
        if self.function == "logarithmic" and self.decay <= 0:
            raise ValueError("decay must be greater than 0 for the logarithmic function")
        return self


class RequirementsSpec(_Strict):
    prerequisites: list[str] = Field(default_factory=list)
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
    command: list[str] = Field(default_factory=lambda: ["python3", "/solve/solve.py"],
                               min_length=1)  # fmt: skip
    timeout: int = Field(default=120, ge=1, le=3600, description="seconds before it is killed")


class ChallengeSpec(_Strict):
    # --- ctfcli ---
    name: str = Field(min_length=1, max_length=120)
    author: str | None = Field(default=None, max_length=200)
    category: str = Field(default="misc", min_length=1, max_length=80)
    description: str = Field(default="", max_length=100_000)
    attribution: str | None = Field(default=None, max_length=2_000)
    value: int | None = Field(default=None, ge=0, le=1_000_000)
    type: Literal["standard", "dynamic"] = "standard"
    extra: DynamicExtra | None = None
    image: str | None = None
    protocol: str | None = None
    host: str | None = None
    connection_info: str | None = Field(default=None, max_length=2_000)
    healthcheck: str | None = None
    attempts: int = Field(default=0, ge=0, le=1_000_000, description="max attempts, 0 = no limit")
    logic: Literal["any"] = "any"
    flags: list[FlagSpec] = Field(
        default_factory=list, description="strings or {type, content, data}"
    )
    topics: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    hints: list[HintSpec] = Field(
        default_factory=list, description="strings or {content, cost, title}"
    )
    requirements: list[str] | RequirementsSpec | None = None
    next: str | None = None
    state: Literal["visible", "hidden"] = "visible"
    version: str = "0.1"
    # --- ours ---
    slug: str | None = Field(default=None, pattern=SLUG_RE.pattern)
    dynamic_flag: DynamicFlagSpec | None = None
    environment: EnvironmentSpec | None = None
    solver: SolverSpec | None = None

    @field_validator("flags", "hints", mode="before")
    @classmethod
    def _strings_are_content(cls, items: Any) -> Any:
        # ctfcli allows a bare string for a flag or a hint; it means {content: <string>}.
        if isinstance(items, list):
            return [{"content": x} if isinstance(x, str) else x for x in items]
        return items

    @model_validator(mode="after")
    def _coherent(self) -> ChallengeSpec:
        if self.type == "dynamic":
            if self.extra is None:
                raise ValueError("type 'dynamic' needs extra: {initial, decay, minimum}")
        elif self.value is None:
            raise ValueError("value is required for type 'standard'")
        if not self.flags and self.dynamic_flag is None:
            raise ValueError("at least one flag (flags or dynamic_flag) is required")
        return self

    @property
    def resolved_slug(self) -> str:
        return self.slug or slugify(self.name)

    @property
    def prerequisites(self) -> list[str]:
        if self.requirements is None:
            return []
        if isinstance(self.requirements, RequirementsSpec):
            return list(self.requirements.prerequisites)
        return list(self.requirements)

    @property
    def initial_value(self) -> int:
        return self.extra.initial if self.extra is not None else int(self.value or 0)
