"""``scenario.yml``: the exercise timeline (phases, injects, freeze), validated by pydantic.

```yaml
event: "ICE 2026 - Operation STEADFAST RESERVE"
start: manual                 # or an absolute time with zone: 2026-07-01T08:00:00Z
freeze: 30m                   # scoreboard freeze this long before the end
phases:
  - id: detection
    title: Detection
    briefing: |               # markdown, shown to teams when the phase opens
      Unusual traffic at the logistics hub...
    duration: 2h
    challenges: [radio-intercept]
    keep_open: true           # challenges stay open after the phase (default true)
    warmup: 10m               # environments are brought up this long before the phase
    teardown: false           # environments are removed after the phase
    injects:
      - at: 30m               # offset from the phase start
        title: SITREP from JFC
        message: "markdown"
        action: {unlock_challenge: callsign}      # or unlock_hint / award
        translations:         # optional, per language; the same on phases (title, briefing)
          fr: {title: SITREP du JFC, message: "markdown"}
```
The end is the end of the last phase. Durations: ``90s``, ``15m``, ``2h``, ``1h30m``, ``1d``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from range_control.specs.defence import DefencePlan
from range_control.specs.durations import Duration
from range_control.specs.text import Language


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnlockHint(_Strict):
    challenge: str
    hint: int = Field(ge=0, description="position of the hint in the challenge's hints list")


class AwardAction(_Strict):
    team: str = Field(description="a team name, or * for every team")
    value: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field(min_length=1, max_length=500)


class InjectAction(_Strict):
    unlock_challenge: str | None = None
    unlock_hint: UnlockHint | None = None
    award: AwardAction | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InjectAction:
        given = [k for k in ("unlock_challenge", "unlock_hint", "award") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("an action is exactly one of unlock_challenge, unlock_hint, award")
        return self


class InjectTranslation(_Strict):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    message: str | None = Field(default=None, max_length=20_000)


class InjectSpec(_Strict):
    at: Duration = Field(description="offset from the start of its phase")
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(default="", max_length=20_000)
    action: InjectAction | None = None
    translations: dict[Language, InjectTranslation] = Field(default_factory=dict)


class PhaseTranslation(_Strict):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    briefing: str | None = Field(default=None, max_length=50_000)


class PhaseSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    title: str = Field(min_length=1, max_length=200)
    briefing: str = Field(default="", max_length=50_000)
    duration: Duration
    challenges: list[str] = Field(default_factory=list)
    keep_open: bool = True
    warmup: Duration = Field(default_factory=lambda: timedelta(0))
    teardown: bool = False
    injects: list[InjectSpec] = Field(default_factory=list)
    translations: dict[Language, PhaseTranslation] = Field(default_factory=dict)

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @model_validator(mode="after")
    def _injects_inside(self) -> PhaseSpec:
        for i, inj in enumerate(self.injects):
            if not timedelta(0) <= inj.at < self.duration:
                raise ValueError(
                    f"injects.{i}.at: {inj.at} is outside the phase (0 to {self.duration})"
                )
        return self


# Debian policy 5.6.1: lower case letters, digits, + - and ., at least two, starting with a
# letter or digit. An architecture qualifier (:amd64) or a version (=1.2) is not accepted.
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]{1,62}$")


def package_problem(name: object) -> str | None:
    """Why ``name`` is not a Debian package name (None when it is one)."""
    if not isinstance(name, str):
        return "a package name is a string"
    if not _PACKAGE.match(name):
        return (
            f"{name!r} is not a Debian package name (lower case letters, digits, '+', '-', "
            "'.', 2 to 63 characters, starting with a letter or digit)"
        )
    return None


class JumpboxSpec(_Strict):
    packages: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="extra Debian packages on every team's jumpbox (its image is rebuilt when "
        "the list changes)",
    )

    @field_validator("packages")
    @classmethod
    def _debian_names(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            problem = package_problem(name)
            if problem is not None:
                raise ValueError(f"packages.{i}: {problem}")
        return sorted(set(value))


class ScenarioSpec(_Strict):
    event: str = Field(min_length=1, max_length=200)
    start: AwareDatetime | Literal["manual"] = "manual"
    freeze: Duration | None = Field(default=None, description="freeze this long before the end")
    phases: list[PhaseSpec] = Field(min_length=1)
    jumpbox: JumpboxSpec = Field(default_factory=JumpboxSpec)
    defence: DefencePlan | None = Field(default=None, description="defence ticks (specs.defence)")

    @model_validator(mode="after")
    def _coherent(self) -> ScenarioSpec:
        ids = [p.id for p in self.phases]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"phase ids must be unique: {', '.join(dupes)}")
        if self.defence is not None:
            unknown = [p for p in self.defence.phases if p not in ids]
            if unknown:
                raise ValueError(f"defence.phases: no phase {unknown[0]!r} in this scenario")
            moded = [p for p in self.defence.modes if p not in self.defence.phases]
            if moded:
                raise ValueError(f"defence.modes: {moded[0]!r} is not one of defence.phases")
        total = sum((p.duration for p in self.phases), timedelta(0))
        if self.freeze is not None and not timedelta(0) <= self.freeze <= total:
            raise ValueError(f"freeze: {self.freeze} is longer than the whole exercise ({total})")
        return self

    def challenge_slugs(self) -> set[str]:
        slugs = {s for p in self.phases for s in p.challenges}
        for p in self.phases:
            for inj in p.injects:
                if inj.action and inj.action.unlock_challenge:
                    slugs.add(inj.action.unlock_challenge)
                if inj.action and inj.action.unlock_hint:
                    slugs.add(inj.action.unlock_hint.challenge)
        if self.defence is not None:
            slugs.update(self.defence.services)
        return slugs
