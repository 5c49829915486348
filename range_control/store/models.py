"""The database: the single source of truth for what the range *should* be.

Every schema change goes through an Alembic migration in ``store/migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, composite, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from range_control.core.actors import Actor

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which forgets zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; times must be UTC-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="not_started")  # running, paused, ended
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    freeze_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points_fixed_at_solve: Mapped[bool] = mapped_column(Boolean, default=False)
    first_blood_bonus: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped in the same transaction as anything that changes a score: the scoreboard cache key.
    score_generation: Mapped[int] = mapped_column(BigInteger, default=0)
    # The scenario (scenario.yml as loaded) and what the organisers did to its timeline:
    # pauses [[paused_at, resumed_at|null], ...] (ISO times), extensions and skips per phase id
    # (seconds). domain.timeline computes everything else from these.
    scenario: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSON, default=list)
    extensions: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    skips: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    # Bumped by every organiser control action, so the scheduler re-derives its jobs.
    control_generation: Mapped[int] = mapped_column(BigInteger, default=0)
    # The organisers paused the defence checks (the event itself runs on).
    defence_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # The game network's controls (attack-defence): {"closed": bool, "cuts": {team id: the tick
    # from which the team is back}} (services.defence.game).
    game_network: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    country: Mapped[str | None] = mapped_column(String(3))
    # SHA-256 of a 256-bit random token: a slow hash buys nothing against brute force of such a
    # token, and an indexed lookup keeps every authenticated request one query.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The networks the team's own machines are on at the venue (CIDRs): the flag door names the
    # team by the address a connection comes from (no token needed, as ructf_tcp farms send).
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)


class Challenge(Base):
    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(80))
    author: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16), default="standard")
    value: Mapped[int] = mapped_column(Integer)  # standard value, or dynamic initial
    minimum: Mapped[int] = mapped_column(Integer, default=0)
    decay: Mapped[float] = mapped_column(Float, default=0.0)
    decay_function: Mapped[str] = mapped_column(String(16), default="logarithmic")
    spec_state: Mapped[str] = mapped_column(String(16), default="visible")
    # Organiser override (hide/show); None follows the scenario, then the spec.
    admin_state: Mapped[str | None] = mapped_column(String(16))
    # Set by the scenario timeline for the challenges it names; None: not in the scenario.
    phase_state: Mapped[str | None] = mapped_column(String(16))
    max_attempts: Mapped[int] = mapped_column(Integer, default=0)
    connection_info: Mapped[str | None] = mapped_column(Text)
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_dir: Mapped[str | None] = mapped_column(Text)
    dynamic_prefix: Mapped[str | None] = mapped_column(String(32))
    # challenge.yml's translations: {lang: {name, description, hints: [{title, content}]}}.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    dynamic_length: Mapped[int] = mapped_column(Integer, default=32)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spec_hash: Mapped[str] = mapped_column(String(64), default="")
    # service name -> image reference (content-tagged build, or the spec's local image)
    images: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    version: Mapped[str] = mapped_column(String(32), default="0.1")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ctfcli's logic: "any" flag solves it; "all": every flag (each right one short of all is
    # recorded as "partial"). "team" is read as "any" (the range knows teams, not members).
    logic: Mapped[str] = mapped_column(String(8), default="any", server_default="any")
    # ctfcli's scheduled_at: hidden (spec_state) until then; the scheduler releases it.
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ctfcli's solution: the write-up's text, for organisers and the after-action record.
    solution: Mapped[str | None] = mapped_column(Text)
    solution_state: Mapped[str | None] = mapped_column(String(8))

    flags: Mapped[list[Flag]] = relationship(
        back_populates="challenge", cascade="all, delete-orphan", order_by="Flag.position"
    )
    hints: Mapped[list[Hint]] = relationship(
        back_populates="challenge", cascade="all, delete-orphan", order_by="Hint.position"
    )

    @property
    def environment(self) -> dict[str, Any] | None:
        """The spec's ``environment:`` block: present only for challenges with live services."""
        return environment_of(self.spec)


def environment_of(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    return (spec or {}).get("environment") or None


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("challenge_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    case_insensitive: Mapped[bool] = mapped_column(Boolean, default=False)

    challenge: Mapped[Challenge] = relationship(back_populates="flags")


class Hint(Base):
    __tablename__ = "hints"
    __table_args__ = (UniqueConstraint("challenge_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    cost: Mapped[int] = mapped_column(Integer, default=0)
    # A hint dropped from challenge.yml after a team paid for it is retired, not deleted, so
    # the team's ledger still explains the cost.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Released to every team for free by a scenario inject.
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    # ctfcli's hint requirements: positions of the hints a team must unlock before this one.
    requires: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")

    challenge: Mapped[Challenge] = relationship(back_populates="hints")


class HintUnlock(Base):
    __tablename__ = "hint_unlocks"
    __table_args__ = (UniqueConstraint("team_id", "hint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    hint_id: Mapped[int] = mapped_column(ForeignKey("hints.id", ondelete="CASCADE"))
    cost: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The person who unlocked it (a member's portal login); None: the team token.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class Attempt(Base):
    """Every submission, right or wrong: the after-action record of what each team did."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_team_result_time", "team_id", "result", "created_at"),
        Index("ix_attempts_team_challenge", "team_id", "challenge_id"),
        Index("ix_attempts_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    result: Mapped[str] = mapped_column(String(16))  # correct, incorrect, already_solved
    submitted: Mapped[str] = mapped_column(String(1024))
    source_ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who submitted it, when a person did (a portal login with an account); None: the team's
    # token (the API, scripts).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))


class Solve(Base):
    __tablename__ = "solves"
    # The one guarantee that a team scores a challenge once, whatever the concurrency.
    __table_args__ = (
        UniqueConstraint("team_id", "challenge_id", name="uq_solves_team_challenge"),
        Index("ix_solves_challenge_time", "challenge_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SharingAlert(Base):
    __tablename__ = "sharing_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    submitting_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    owner_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Award(Base):
    __tablename__ = "awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_label: Mapped[str] = mapped_column(String(100))
    created_by_team_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[Actor] = composite(
        "created_by_kind", "created_by_id", "created_by_label", "created_by_team_id"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Who did what, when: the actor as columns (``core.actors``), the team it acted for."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_team_action", "team_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[Actor] = composite("actor_kind", "actor_id", "actor_label", "team_id")
    action: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Announcement(Base):
    """Injects as they fire and messages the organisers post: portal, API, scoreboard banner."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))  # inject | organiser | phase
    # The timeline milestone that published it: unique, so an inject is published once.
    key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_label: Mapped[str] = mapped_column(String(100))
    created_by_team_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[Actor] = composite(
        "created_by_kind", "created_by_id", "created_by_label", "created_by_team_id"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # {lang: {title, body}}: what readers of another language than the event's see.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")


class TimelineLog(Base):
    """Each timeline milestone (phase start/end, inject, freeze, end) as it was applied: once."""

    __tablename__ = "timeline_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Instance(Base):
    """A team's copy of a live challenge that *should* exist (the reconciler makes it so)."""

    __tablename__ = "instances"
    __table_args__ = (
        UniqueConstraint("team_id", "challenge_id", name="uq_instances_team_challenge"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(16))  # organiser | team | scenario
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Written by the reconciler: what it last saw and did.
    # Bumped by a reset: containers carry it as a label, and a mismatch means "replace".
    generation: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|running|failed
    health: Mapped[str | None] = mapped_column(String(16))
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where it runs (the Swarm node(s) of its services; None on a single engine).
    node: Mapped[str | None] = mapped_column(String(200))


class PortAllocation(Base):
    """A host port from the pool, held in the database *before* any container uses it, so a
    crash never loses or doubles one. Jumpbox ports live as long as their team."""

    __tablename__ = "port_allocations"

    port: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # None: the red cell's jumpbox (no team's).
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(120))  # "jumpbox" or "<service>:<port>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the port is open now: the public address of the node that runs what holds it
    # (follows the task when Swarm moves it); None: RANGE_PUBLIC_HOST.
    host: Mapped[str | None] = mapped_column(String(253))


class WebSession(Base):
    """A browser login to the portal or the console, held server-side: logging out, rotating
    the token, disabling the team or changing the organiser token deletes (or voids) it, and
    the signed cookie that names it is worth nothing from then on."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's secret
    kind: Mapped[str] = mapped_column(String(16))  # team | organiser
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    # What the login was made with (the token's hash, a fingerprint of the organiser token):
    # a session outlives no change of it.
    credential: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # A person's login (kind "account"): disabling the account or removing it from its team
    # ends the session at once.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )


class SshKey(Base):
    """A team member's SSH public key for the team's jumpbox (the password stays). Removed
    with the team's token rotation, like the password derived from it."""

    __tablename__ = "ssh_keys"
    __table_args__ = (UniqueConstraint("team_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))  # whose key, as the team names it
    public_key: Mapped[str] = mapped_column(Text)  # one authorized_keys line, comment dropped
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA256:<base64>, as ssh-keygen -l
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WireGuardPeer(Base):
    """A team member's WireGuard peer on the team's gateway: only its public key and tunnel
    address are kept (the private key was shown once). Revoked = deleted."""

    __tablename__ = "wireguard_peers"
    __table_args__ = (UniqueConstraint("team_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    address: Mapped[str] = mapped_column(String(45))  # in RANGE_WIREGUARD_SUBNET
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Account(Base):
    """A person: an organiser, a grader, an observer (read-only), or a member (a captain
    manages the team's members) of exactly one team. Signs in with a password (argon2) set
    through a single-use invite; the team token and the organiser token stay for machines."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(254), unique=True)  # e-mail, else callsign
    name: Mapped[str] = mapped_column(String(100))
    callsign: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))  # organiser grader observer member captain
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))  # None until invited in
    # The TOTP second factor: its secret sealed with a key derived from RANGE_SECRET_KEY (a
    # database copy alone does not hold it), and the last time step accepted (no replay).
    totp_sealed: Mapped[str | None] = mapped_column(String(400))
    totp_step: Mapped[int | None] = mapped_column(BigInteger)
    # "<issuer> <sub>" of the single sign-on identity linked to this account (OIDC), if any.
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invite(Base):
    """A single-use, expiring link where a person sets a password; only its SHA-256 is kept.

    An organiser's invite is for an account made with it (``account_id``). A captain's is
    *pending*: it holds who is invited (name, login, call sign, e-mail, the team) and makes the
    account only when the person accepts, so that it occupies no login before then and a
    captain learns nothing of the range's other accounts."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # --- a pending invite (a captain's): the account it will make
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(100))
    login: Mapped[str | None] = mapped_column(String(254))
    callsign: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str | None] = mapped_column(String(16))
    created_by_kind: Mapped[str | None] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_label: Mapped[str | None] = mapped_column(String(100))
    created_by_team_id: Mapped[int | None] = mapped_column(Integer)


class ApiToken(Base):
    """A personal organiser API token: named, created by an organiser, read-only or full,
    revocable; the audit log names it as a machine actor. Only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))  # read | grade | full
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_label: Mapped[str] = mapped_column(String(100))
    created_by_team_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[Actor] = composite(
        "created_by_kind", "created_by_id", "created_by_label", "created_by_team_id"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Submission(Base):
    """One version of a team's deliverable for a graded task (``type: task``): every version
    is kept with its time. A file is stored under the data directory, named by its digest."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("team_id", "challenge_id", "version"),
        Index("ix_submissions_challenge_team", "challenge_id", "team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)  # markdown, rendered sanitised
    file_name: Mapped[str | None] = mapped_column(String(200))  # as the team named it
    file_path: Mapped[str | None] = mapped_column(String(500))  # under RANGE_DATA_DIR
    file_type: Mapped[str | None] = mapped_column(String(8))
    file_size: Mapped[int | None] = mapped_column(Integer)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Grade(Base):
    """A grader's scorecard for a submission: per criterion ``{points, comment}``. ``role``:
    ``first``, ``second`` (a second grader) or ``final`` (the moderator's, or a regrade after
    publishing). A newer card of the same role replaces the older one (``replaced_at``), which
    is kept: the history of every grade."""

    __tablename__ = "grades"
    __table_args__ = (Index("ix_grades_challenge_team", "challenge_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8))
    grader: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    scores: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TaskRelease(Base):
    """A task whose grades the white cell has published: teams, the scoreboard and the
    CTFtime feed see them from then on (the freeze applies as to solves)."""

    __tablename__ = "task_releases"

    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE"), primary_key=True
    )
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by_kind: Mapped[str] = mapped_column(String(16))
    published_by_id: Mapped[int | None] = mapped_column(Integer)
    published_by_label: Mapped[str] = mapped_column(String(100))
    published_by_team_id: Mapped[int | None] = mapped_column(Integer)
    published_by: Mapped[Actor] = composite(
        "published_by_kind", "published_by_id", "published_by_label", "published_by_team_id"
    )


# --- defence: ticks, verdicts, flags, resets ---------------------------------------------------
class DefenceTick(Base):
    """A tick of the defence phases, a persisted fact: made once when it starts (its number is
    unique, so two schedulers cannot both run it), ``done`` once its verdicts are recorded,
    ``missed`` when it passed while no worker ran (its verdicts: NOT CHECKED, never charged)."""

    __tablename__ = "defence_ticks"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    phase: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)  # as planned when it started
    status: Mapped[str] = mapped_column(String(16))  # running | done | missed | interrupted
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DefenceVerdict(Base):
    """One team's defended service at one tick: the verdict and the checker's messages (the
    public one for everyone, the private one for the organisers)."""

    __tablename__ = "defence_verdicts"
    __table_args__ = (UniqueConstraint("tick", "team_id", "challenge_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tick: Mapped[int] = mapped_column(Integer, index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))
    public: Mapped[str] = mapped_column(Text, default="")
    private: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(String(16), default="")  # the action that decided
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # the chain's time
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # the tick's end: the ledger's time
    reruns: Mapped[int] = mapped_column(Integer, default=0)


class DefenceFlag(Base):
    """A flag placed (or to be placed) in a team's service: kept for the gets of later ticks
    (its flag id, as the checker may have changed it) and the attack data of the next mode."""

    __tablename__ = "defence_flags"
    __table_args__ = (UniqueConstraint("tick", "team_id", "challenge_id", "store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tick: Mapped[int] = mapped_column(Integer, index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    store: Mapped[int] = mapped_column(Integer)
    flag: Mapped[str] = mapped_column(String(100), unique=True)
    flag_id: Mapped[str] = mapped_column(String(200))
    public_info: Mapped[str] = mapped_column(Text, default="")  # attack data, when given
    placed: Mapped[bool] = mapped_column(Boolean, default=False)  # its put answered OK
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DefenceReset(Base):
    """A team's defended service reset to its baseline: who, when, what it cost."""

    __tablename__ = "defence_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    cost: Mapped[int] = mapped_column(Integer)
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_by_label: Mapped[str] = mapped_column(String(100))
    created_by_team_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[Actor] = composite(
        "created_by_kind", "created_by_id", "created_by_label", "created_by_team_id"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DefenceProbe(Base):
    """A check asked for between ticks, run by the worker: a team's unscored "check my
    service now" (rate limited), or an organiser's check of a past tick again (``tick``: its
    verdict is replaced, audited)."""

    __tablename__ = "defence_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    tick: Mapped[int | None] = mapped_column(Integer)  # a rerun of that tick; None: unscored
    verdict: Mapped[str | None] = mapped_column(String(16))  # None while it runs
    public: Mapped[str] = mapped_column(Text, default="")
    private: Mapped[str] = mapped_column(Text, default="")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DefenceCapture(Base):
    """A flag of another team captured and submitted (attack-defence), once per team and flag:
    whose flag it was (the victim, the service, the tick and the store it carries), who
    submitted it, when, through which door and from where. The unique key makes a second
    submission a DUP, whichever door or process it comes through."""

    __tablename__ = "defence_captures"
    __table_args__ = (UniqueConstraint("team_id", "victim_id", "challenge_id", "tick", "store"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    victim_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    tick: Mapped[int] = mapped_column(Integer, index=True)
    store: Mapped[int] = mapped_column(Integer)
    door: Mapped[str] = mapped_column(String(8))  # tcp | http | portal
    source: Mapped[str] = mapped_column(String(64), default="")  # the submitter's address
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RedAction(Base):
    """What the red cell did to a team (its ground truth): who, when, against which team and
    service, the technique (a MITRE ATT&CK id where given), the outcome, in its own words;
    ``declared`` by a red cell member (console, CLI, API)."""

    __tablename__ = "red_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(100))
    actor_team_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[Actor] = composite("actor_kind", "actor_id", "actor_label", "actor_team_id")
    target_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenges.id", ondelete="SET NULL")
    )
    technique: Mapped[str] = mapped_column(String(16), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16), default="declared")
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RedCommand(Base):
    """A command a member of the red cell ran on the red jumpbox (observed, not declared): who,
    when, the command line; the team and service it names when it names a game address."""

    __tablename__ = "red_commands"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    who: Mapped[str] = mapped_column(String(254))  # the person's login when it ran
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    command: Mapped[str] = mapped_column(Text)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenges.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RedPlant(Base):
    """A token the red cell left in a team's defended service, proving the compromise (as
    scoringengine's red flags): declared by a member, scored against the team (the defence's
    ``plant_cost``), and recorded in the red log (``action_id``) as the white cell's ground
    truth. The token is derived from the id, never stored."""

    __tablename__ = "red_plants"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("red_actions.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    where: Mapped[str] = mapped_column(Text)
    points: Mapped[int] = mapped_column(Integer)  # what the team lost (the cost when planted)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class RedDetection(Base):
    """A red cell action that a team's incident report names, as its grader marked it: the
    first such report of a team is when the team detected the action."""

    __tablename__ = "red_detections"
    __table_args__ = (UniqueConstraint("action_id", "submission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("red_actions.id", ondelete="CASCADE"), index=True
    )
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(100))
    actor_team_id: Mapped[int | None] = mapped_column(Integer)
    marked_by: Mapped[Actor] = composite("actor_kind", "actor_id", "actor_label", "actor_team_id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
