"""The defence parts of the files: a defended service's ``defence:`` block in challenge.yml and
the ``defence:`` block of scenario.yml.

A **defended service** (``type: defended``) is an environment as today (``environment:``) that
every team receives as its own to defend, and a checker that the range runs against each team's
copy every tick:

```yaml
type: defended
value: 10                       # availability points per tick when the service is OK
environment:
  services:
    - name: tracker
      build: service            # the service teams defend (their copy: a shell, its data kept)
      ports: [8080]
defence:
  target: tracker               # what the checker reaches (default: the first service)
  data: {tracker: [/srv/data]}  # kept across restarts of the container; a reset wipes it
  checker:
    contract: exit-code         # Hackerdom/ForcAD: `checker check|put|get <host> ...`, 101..110
    build: checker              # the checker's image, built from the challenge directory
    command: [/checker/checker.py]
    timeout: 10s                # per action; past it the checker is killed (a checker error)
    flag_stores: 2              # ForcAD's vulns: one flag per store and tick
```

``contract: http`` is EnoEngine's checker API v2: the image serves it on ``port`` (``GET
/service``, ``POST /`` with a CheckerTaskMessage), ``flag_stores`` flag variants,
``noise_stores`` and ``havoc`` variants.

The scenario says where defence runs and how it scores:

```yaml
defence:
  phases: [hold-the-line]      # the phases during which every tick is checked
  tick: 60s
  flag_lifetime: 5             # ticks a flag stays valid (and is checked again)
  services: {convoy-tracker: 1, message-hub: 2}   # defended services and their weights
  reset_cost: 50               # points a reset to the baseline costs
  check_now: 6                 # unscored "check my service now" per team and service per hour
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from range_control.specs.durations import Duration

CONTRACTS = ("exit-code", "http")
FLAG_FORMATS = ("forcad", "eno", "event")
MIN_TIMEOUT = timedelta(seconds=1)
MAX_TIMEOUT = timedelta(minutes=5)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _absolute(path: str) -> str:
    if not path.startswith("/") or path == "/" or ".." in path.split("/"):
        raise ValueError(f"{path!r} must be an absolute path other than / without '..'")
    return path.rstrip("/")


class CheckerSpec(_Strict):
    contract: Literal["exit-code", "http"] = Field(
        description="exit-code: the Hackerdom/ForcAD executable; http: EnoEngine's checker API v2"
    )
    build: str = Field(min_length=1, description="the checker's build context, relative")
    command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="exit-code: the checker executable (default: the image's entrypoint and "
        "command); http: how to start the API server (default: the image's)",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="http: where the API listens")
    timeout: Duration = Field(default_factory=lambda: timedelta(seconds=10))
    flag_stores: int = Field(default=1, ge=1, le=10, description="flags per tick")
    noise_stores: int = Field(default=0, ge=0, le=10, description="http: noise variants")
    havoc: int = Field(default=0, ge=0, le=10, description="http: havoc variants")
    tags: list[Literal["pfr", "nfr"]] = Field(
        default_factory=list,
        description="exit-code: ForcAD's checker tags (pfr: put prints the public flag data on "
        "stdout and the flag id on stderr)",
    )
    flag_format: Literal["forcad", "eno", "event"] | None = Field(
        default=None, description="default: forcad for exit-code, eno for http"
    )
    memory: str = "256m"
    cpus: float = Field(default=0.5, gt=0, le=4)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
            raise ValueError(f"{value} is outside 1s to 5m")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        from range_control.specs.environment import memory_bytes

        size = memory_bytes(value)
        if not 32 * 1024**2 <= size <= 4 * 1024**3:
            raise ValueError(f"{value!r}: between 32m and 4g")
        return value

    @model_validator(mode="after")
    def _contract(self) -> CheckerSpec:
        if self.contract == "exit-code" and (self.noise_stores or self.havoc):
            raise ValueError("noise_stores and havoc are for contract 'http' (EnoEngine)")
        if self.contract == "http" and self.tags:
            raise ValueError("tags are ForcAD's, for contract 'exit-code'")
        return self

    @property
    def format(self) -> str:
        return self.flag_format or ("forcad" if self.contract == "exit-code" else "eno")

    @property
    def actions(self) -> int:
        """The most actions one tick's chain has (check or the API's info, puts, gets)."""
        return 1 + 2 * self.flag_stores + 2 * self.noise_stores + self.havoc + self.flag_stores


class DefenceSpec(_Strict):
    target: str | None = Field(default=None, description="the service the checker reaches")
    data: dict[str, list[str]] = Field(
        default_factory=dict, description="per service: paths kept across restarts"
    )
    shell: list[str] | None = Field(
        default=None, description="services the team has a shell in (default: all)"
    )
    checker: CheckerSpec

    @field_validator("data")
    @classmethod
    def _paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        out = {}
        for service, paths in value.items():
            if len(paths) > 8:
                raise ValueError(f"{service}: at most 8 data paths")
            out[service] = [_absolute(p) for p in paths]
        return out


class CaptureScoring(_Strict):
    """How captured flags score (attack-defence): ``faust`` (FAUST CTF's gameserver: +value x
    (1 + 1/n) per capture, -value x n^0.75 per own flag lost, n the teams that captured it) or
    ``saarctf`` (saarCTF's: +value x (1 + sqrt(1/n) + sqrt(1/rank)) per capture, rank the
    victim's place by availability before the flag's tick; -value x (n / active teams)^0.3 per
    own flag lost). Points are whole numbers, rounded half up per entry."""

    formula: Literal["faust", "saarctf"] = "faust"
    value: int = Field(default=10, ge=1, le=10_000, description="the formula's unit, in points")


class DefencePlan(_Strict):
    """The scenario's ``defence:`` block."""

    phases: list[str] = Field(min_length=1, description="the phases whose ticks are checked")
    tick: Duration = Field(default_factory=lambda: timedelta(seconds=60))
    flag_lifetime: int = Field(default=5, ge=1, le=100, description="in ticks")
    services: dict[str, float] = Field(min_length=1, description="slug: weight")
    reset_cost: int = Field(default=0, ge=0, le=100_000)
    check_now: int = Field(default=6, ge=0, le=120, description="per team and service per hour")
    mode: Literal["defence", "attack-defence"] = Field(
        default="defence",
        description="defence: each team defends its own services; attack-defence: teams also "
        "capture each other's flags and submit them",
    )
    modes: dict[str, Literal["defence", "attack-defence"]] = Field(
        default_factory=dict,
        description="a phase's own mode (phase id: mode), where it differs from mode",
    )
    nop_team: str | None = Field(
        default=None,
        max_length=100,
        description="the organisers' reference team (never patches): its flags are refused",
    )
    captures: CaptureScoring = Field(default_factory=lambda: CaptureScoring())
    submit_rate: int = Field(
        default=6000, ge=10, le=1_000_000, description="flags a team may submit per minute"
    )
    plant_cost: int = Field(
        default=50,
        ge=0,
        le=100_000,
        description="points a team loses per red cell plant left in one of its services "
        "(a token proving compromise, as scoringengine's red flags)",
    )

    def mode_of(self, phase: str) -> str:
        """The mode of the defence phase ``phase``."""
        return self.modes.get(phase, self.mode)

    @property
    def any_attack(self) -> bool:
        """Some phase is attack-defence."""
        return any(self.mode_of(p) == "attack-defence" for p in self.phases)

    @field_validator("tick")
    @classmethod
    def _tick(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=5) <= value <= timedelta(hours=1):
            raise ValueError(f"{value} is outside 5s to 1h")
        return value

    @field_validator("services")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        for slug, weight in value.items():
            if not 0 < weight <= 100:
                raise ValueError(f"{slug}: a weight is more than 0 and at most 100")
        return value
