"""The ``environment:`` block of challenge.yml: the services of a live challenge.

```yaml
environment:
  lifetime: 2h                  # on-demand instances live this long (teams can extend)
  services:
    - name: portal              # reachable by this name on the team network
      build: src/portal         # build context, relative to the challenge dir (FROM range/base)
      ports: [8080]             # internal ports
      environment: {MODE: prod}
      command: ["/usr/local/bin/portal"]
      memory: 256m
      cpus: 0.5
      pids: 128
      read_only: true           # default; tmpfs paths are the writable ones
      tmpfs: {/tmp: size=16m}
      cap_add: [NET_BIND_SERVICE]
      healthcheck: ["sh", "-c", "wget -q -O- http://127.0.0.1:8080/health"]
      flag: {env: true, file: /run/flag/flag}  # RANGE_FLAG and/or a 0400 file, before start
      exposure: jumpbox         # or published (a host port from the pool)
    - name: db
      image: range/base:bookworm
```
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from range_control.specs.durations import Duration

# Docker's default capability set: a challenge may add back some of these after ALL are
# dropped, never anything beyond (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ... are refused).
ALLOWED_CAPS = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_MEMORY = re.compile(r"^(\d+)([kmg])$")


def memory_bytes(value: str) -> int:
    m = _MEMORY.fullmatch(value.strip().lower())
    if not m:
        raise ValueError(f"{value!r} is not a size such as 64m or 1g")
    return int(m.group(1)) * {"k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlagDelivery(_Strict):
    env: bool = Field(default=False, description="set RANGE_FLAG in the container")
    file: str | None = Field(default=None, description="absolute path, written 0400 before start")

    @field_validator("file")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or ".." in value.split("/")):
            raise ValueError(f"{value!r} must be an absolute path without '..'")
        return value


class ServiceSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    build: str | None = Field(default=None, description="build context, relative to the challenge")
    dockerfile: str | None = None
    image: str | None = Field(default=None, description="a local image (no registry is used)")
    ports: list[int] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    command: list[str] | str | None = None
    memory: str = "256m"
    cpus: float = Field(default=0.5, gt=0, le=8)
    pids: int = Field(default=128, ge=8, le=4096)
    read_only: bool = True
    tmpfs: dict[str, str] = Field(default_factory=lambda: {"/tmp": "size=16m"})  # noqa: S108
    cap_add: list[str] = Field(default_factory=list)
    healthcheck: list[str] | str | None = None
    flag: FlagDelivery = Field(default_factory=FlagDelivery)
    exposure: Literal["jumpbox", "published"] = "jumpbox"

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        for p in ports:
            if not 1 <= p <= 65535:
                raise ValueError(f"{p} is not a port (1-65535)")
        return ports

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        size = memory_bytes(value)
        if not 16 * 1024**2 <= size <= 8 * 1024**3:
            raise ValueError(f"{value!r}: between 16m and 8g")
        return value

    @field_validator("cap_add")
    @classmethod
    def _caps(cls, caps: list[str]) -> list[str]:
        out = []
        for c in caps:
            name = c.upper().removeprefix("CAP_")
            if name not in ALLOWED_CAPS:
                raise ValueError(
                    f"{c!r} is not allowed; allowed: {', '.join(sorted(ALLOWED_CAPS))}"
                )
            out.append(name)
        return out

    @field_validator("tmpfs")
    @classmethod
    def _tmpfs(cls, paths: dict[str, str]) -> dict[str, str]:
        for p in paths:
            if not p.startswith("/") or p == "/":
                raise ValueError(f"{p!r} must be an absolute path other than /")
        return paths

    @field_validator("environment")
    @classmethod
    def _env(cls, env: dict[str, str]) -> dict[str, str]:
        for k in env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) or k == "RANGE_FLAG":
                raise ValueError(f"{k!r} is not a usable variable name (RANGE_FLAG is reserved)")
        return env

    @model_validator(mode="after")
    def _source(self) -> ServiceSpec:
        if (self.build is None) == (self.image is None):
            raise ValueError("give exactly one of build (a context directory) or image")
        if self.dockerfile is not None and self.build is None:
            raise ValueError("dockerfile needs build")
        if self.exposure == "published" and not self.ports:
            raise ValueError("exposure 'published' needs at least one port")
        if self.read_only and self.flag.file and self.flag.file.rsplit("/", 1)[0] == "":
            # The flag arrives in a volume of its own, mounted read-only at the file's directory.
            raise ValueError(
                "flag.file: with a read-only root the flag file needs a directory of its own, "
                "such as /run/flag/flag (or set read_only: false)"
            )
        return self

    @property
    def memory_bytes(self) -> int:
        return memory_bytes(self.memory)


class EnvironmentSpec(_Strict):
    lifetime: Duration = Field(default_factory=lambda: timedelta(hours=2))
    services: list[ServiceSpec] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _unique(self) -> EnvironmentSpec:
        names = [s.name for s in self.services]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"service names must be unique: {', '.join(dupes)}")
        return self
