"""Settings, read from the environment (prefix ``RANGE_``) with pydantic-settings.

Secrets that are not given are generated once and kept in the data directory (mode 0600), so a
restart keeps the same session key, the same per-team dynamic flags and the same organiser token.
They are held as ``SecretStr`` so that a stray ``repr()`` or log line never shows them.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from range_control.core.files import write_durably

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"
# The secrets generated and kept in the data dir when not given (backups carry them too).
GENERATED_SECRETS = ("secret_key", "flag_secret", "admin_token")


def _ipv4_subnet(name: str, value: str, widest: int, narrowest: int) -> str:
    """An IPv4 network, written as such (no host bits), of /``widest`` to /``narrowest``."""
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{name} {value!r}: {exc}") from None
    if net.version != 4 or not widest <= net.prefixlen <= narrowest:
        sizes = f"/{widest} to /{narrowest}" if widest else f"/{narrowest} or larger"
        raise ValueError(f"{name} {value!r}: an IPv4 network of {sizes} is expected")
    return str(net)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RANGE_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where SQLite and secrets live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/range.db. "
        "Production: postgresql+psycopg://user:pass@host/db",
    )
    secret_key: SecretStr | None = None
    flag_secret: SecretStr | None = None
    admin_token: SecretStr | None = None
    event_slug: str = Field(default="ice", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")

    attempts_per_minute: int = Field(default=10, ge=1, le=10_000)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    sqlite_busy_timeout_ms: int = Field(default=15_000, ge=0)
    db_pool_size: int = Field(default=5, ge=1)
    launch_pool: int = Field(default=8, ge=1, le=64, description="parallel instance launches")
    port_range: str = Field(
        default="20000-20999",
        pattern=r"^\d{4,5}-\d{4,5}$",
        description="host ports for jumpboxes and published services",
    )
    publish_ip: str = Field(default="0.0.0.0", description="host address ports are published on")  # noqa: S104
    public_host: str = Field(default="localhost", description="host name teams connect to")
    reconcile_seconds: float = Field(default=5.0, ge=0.5, le=300)
    health_interval: float = Field(
        default=10.0, ge=1, le=300, description="seconds between two healthchecks of a service"
    )
    instance_actions_per_minute: int = Field(default=6, ge=1, le=1000)
    engine: Literal["docker", "swarm"] = Field(
        default="docker", description="one Docker engine, or a Swarm through its manager"
    )
    registry: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="host:port of the range's private registry (RANGE_ENGINE=swarm)",
    )
    durability: Literal["strict", "relaxed"] = Field(
        default="strict",
        description="strict: every acknowledged write is on disk first; relaxed: wrong flags "
        "may be lost in a power cut (never a solve, a score or an organiser's action)",
    )
    environments: Literal["on", "off"] = Field(
        default="on",
        description="off: no live environments at all, and no call to any engine",
    )
    team_session_hours: float = Field(
        default=72, gt=0, le=24 * 31, description="how long a team's portal login lasts"
    )
    console_session_hours: float = Field(
        default=8, gt=0, le=24 * 7, description="how long an organiser's console login lasts"
    )

    public_url: str = Field(
        default="http://localhost:8000",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=300,
        description="the range's web address as people reach it (invite links)",
    )
    totp_required: str = Field(
        default="organiser",
        pattern=r"^((organiser|grader|observer|member|captain)"
        r"(,(organiser|grader|observer|member|captain))*)?$",
        description="roles that must add a second factor (TOTP) once one person of that role "
        "has (comma-separated; empty: none)",
    )
    oidc_issuer: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=300,
        description="single sign-on: the OpenID Connect provider's issuer URL (unset: off)",
    )
    oidc_client_id: str | None = Field(
        default=None, max_length=200, description="single sign-on: the range's client id"
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="single sign-on: the range's client secret"
    )
    oidc_role_claim: str = Field(
        default="range_role",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="the claim that holds the person's role (organiser, grader, observer, "
        "member, captain)",
    )
    oidc_team_claim: str = Field(
        default="range_team",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="the claim that holds a member's or captain's team (its name on the range)",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        pattern=r"^openid( [\x21-\x7e]+)*$",
        max_length=300,
        description="the scopes asked for (space-separated, openid first)",
    )
    invite_hours: float = Field(
        default=72, gt=0, le=24 * 31, description="how long an account's invite link is valid"
    )
    ssh_keys_per_team: int = Field(
        default=20, ge=0, le=200, description="SSH public keys a team may add for its jumpbox"
    )
    wireguard: Literal["on", "off"] = Field(
        default="on",
        description="a WireGuard gateway per team (where the engine has /dev/net/tun)",
    )
    wireguard_peers_per_team: int = Field(
        default=8, ge=1, le=250, description="WireGuard peers (devices) a team may have"
    )
    wireguard_subnet: str = Field(
        default="100.96.0.0/24",
        description="tunnel addresses inside every team's WireGuard (the gateway takes the "
        "first); must not overlap the engine's address pools or the teams' own networks",
    )
    game_subnet: str = Field(
        default="10.60.0.0/16",
        description="the game network's addresses (attack-defence): team T's n-th defended "
        "service answers at <subnet>.T.n; an IPv4 /16 or larger that overlaps neither the "
        "engine's address pools nor the venue's networks",
    )

    default_language: str = Field(
        default="en",
        pattern=r"^[a-z]{2,3}$",
        description="the language the event's content is written in, and of pages for a "
        "visitor whose browser asks for none the range speaks (en, fr)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line (web, worker, CLI)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token for /metrics; unset: /metrics answers loopback clients only",
    )
    backup_every: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]{0,4}(s|m|h)$",
        description="the worker takes a rolling backup this often (15m, 1h, 90s)",
    )
    backup_keep: int = Field(default=8, ge=1, le=1000, description="rolling backups kept")
    backup_dir: Path | None = Field(
        default=None, description="where rolling backups go; default <data dir>/backups"
    )
    backup_passphrase: SecretStr | None = Field(
        default=None, description="encrypts the secrets inside every backup"
    )

    @property
    def totp_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.totp_required.split(",") if r)

    @property
    def backup_seconds(self) -> int | None:
        if not self.backup_every:
            return None
        number, unit = int(self.backup_every[:-1]), self.backup_every[-1]
        return number * {"s": 1, "m": 60, "h": 3600}[unit]

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    def secret_values(self) -> list[str]:
        """Every secret this range knows, for scrubbing logs."""
        names = (*GENERATED_SECRETS, "metrics_token", "backup_passphrase", "oidc_client_secret")
        return [v.get_secret_value() for n in names if (v := getattr(self, n)) is not None]

    @property
    def oidc_on(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)

    @property
    def environments_on(self) -> bool:
        return self.environments == "on"

    @property
    def ports(self) -> range:
        low, high = (int(x) for x in self.port_range.split("-"))
        if not 1024 <= low <= high <= 65535:
            raise ValueError(f"RANGE_PORT_RANGE {self.port_range!r}: 1024 <= low <= high <= 65535")
        return range(low, high + 1)

    proxy_hops: int = Field(
        default=0, ge=0, le=5, description="reverse proxies in front (trust X-Forwarded-For)"
    )

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; name it explicitly rather than fail obscurely.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("game_subnet")
    @classmethod
    def _game_subnet(cls, value: str) -> str:
        # a team's services are <subnet>.<team>.<n>
        return _ipv4_subnet("RANGE_GAME_SUBNET", value, 0, 16)

    @field_validator("wireguard_subnet")
    @classmethod
    def _tunnel_subnet(cls, value: str) -> str:
        return _ipv4_subnet("RANGE_WIREGUARD_SUBNET", value, 16, 29)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'range.db').resolve()}"

    def ensure_secrets(self) -> Settings:
        """Fill unset secrets from the data dir, generating and saving them on first use."""
        missing = [name for name in GENERATED_SECRETS if getattr(self, name) is None]
        if not missing:
            return self
        _private_dir(self.data_dir)
        stored = stored_secrets(self.data_dir)
        changed = False
        for name in missing:
            if name not in stored:
                stored[name] = secrets.token_urlsafe(32)
                changed = True
            setattr(self, name, SecretStr(stored[name]))
        if changed and not os.access(self.data_dir, os.W_OK):
            # A read-only copy of a range without its secrets: it can be looked at, and these
            # secrets (nothing can be written with them) live as long as this process.
            log.warning("%s is read-only: secrets generated for this process only", self.data_dir)
        elif changed:
            save_secrets(self.data_dir, stored)
        return self

    def overridden(self, values: dict[str, str]) -> list[str]:
        """The ``RANGE_*`` variables that give a generated secret other than ``values`` has
        (the given one wins over the stored or restored one)."""
        return [
            f"RANGE_{n.upper()}"
            for n in GENERATED_SECRETS
            if (given := getattr(self, n)) is not None
            and n in values
            and given.get_secret_value() != values[n]
        ]


def stored_secrets(data_dir: Path) -> dict[str, str]:
    """What ``secrets.json`` in the data dir holds ({} when there is none); ValueError when it
    is not JSON."""
    path = data_dir / SECRETS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def save_secrets(data_dir: Path, values: dict[str, str]) -> None:
    """``secrets.json`` (0600) replaced whole, and on disk when this returns."""
    _private_dir(data_dir)
    write_durably(data_dir / SECRETS_FILE, json.dumps(values).encode(), mode=0o600)


def _private_dir(path: Path) -> None:
    """The data directory holds the database and the secrets: 0700, tightened if we own it."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        return
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid() and os.access(path, os.W_OK):
        path.chmod(0o700)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides).ensure_secrets()  # type: ignore[arg-type]


def secret(value: SecretStr | None) -> str:
    if value is None:
        raise RuntimeError("secret requested before Settings.ensure_secrets()")
    return value.get_secret_value()
