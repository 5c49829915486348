"""Request and response bodies of ``/api/v1``; the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel, StrictBool, StrictInt
from pydantic.json_schema import SkipJsonSchema

from range_control.specs.challenge import MAX_FLAG_LEN
from range_control.specs.text import Language


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


# --- team ---------------------------------------------------------------------------------
class AttemptIn(Body):
    flag: str = Field(min_length=1, max_length=MAX_FLAG_LEN, description="the flag text")


class AttemptOut(View):
    status: Literal["correct", "incorrect", "already_solved", "partial"] = Field(
        description="partial: a right flag of a challenge that needs all of its flags "
        "(challenge.yml logic: all), not all found yet"
    )
    points: int
    attempts_left: int | None = None
    frozen: bool = Field(
        default=False,
        description="the scoreboard is frozen: points as the frozen board values the solve "
        "(a first-blood bonus shows once it ends)",
    )


# Content in other languages than the event's (challenge.yml and scenario.yml ``translations``,
# announcements written in several): ``{"fr": {"name": "..."}}``, only the fields translated.
Translations = dict[str, dict[str, str]]
TRANSLATIONS = Field(
    default_factory=dict, description="the texts in other languages: {lang: {field: text}}"
)


class ChallengeSummary(View):
    slug: str
    name: str
    category: str
    value: int
    solves: int
    solved_by_me: bool
    locked: bool
    requires: list[str]
    tags: list[str]
    translations: Translations = TRANSLATIONS


class ChallengeList(RootModel[list[ChallengeSummary]]):
    model_config = VIEW


class HintOut(View):
    id: int
    title: str | None
    cost: int
    unlocked: bool
    content: str | None
    requires: list[int] = Field(
        default_factory=list, description="ids of the hints to unlock before this one"
    )
    translations: Translations = TRANSLATIONS


class ChallengeDetail(View):
    slug: str
    name: str
    category: str
    author: str | None
    description: str
    value: int
    solves: int
    solved_by_me: bool
    files: list[str]
    connection_info: str | None
    max_attempts: int
    requires: list[str]
    tags: list[str]
    hints: list[HintOut]
    locked: bool = Field(
        default=False, description="prerequisites unsolved: only the name and value are shown"
    )
    environment: Literal["none", "available", "unavailable"] = Field(
        default="none",
        description="a live environment per team: none, startable, or not in this range",
    )
    translations: Translations = TRANSLATIONS
    kind: Literal["flag", "task"] = Field(
        default="flag", description="task: a deliverable graded by the white cell"
    )
    takes_flags: bool = Field(default=True, description="a flag scores it (a task may have none)")


class LedgerEntryOut(View):
    kind: Literal["solve", "first_blood", "award", "hint", "grade", "late"]
    challenge: str | None
    points: int
    at: datetime
    why: str
    # ``why`` as an English template and its values, for the pages to translate; not sent.
    reason: SkipJsonSchema[str] = Field(default="", exclude=True)
    values: SkipJsonSchema[dict[str, Any]] = Field(default_factory=dict, exclude=True)


class LedgerOut(View):
    team: str
    country: str | None
    pos: int
    score: int
    frozen: bool
    entries: list[LedgerEntryOut]


class MeOut(View):
    id: int
    name: str
    country: str | None
    standing: LedgerOut


# --- public -------------------------------------------------------------------------------
class StandingOut(View):
    pos: int
    team: str
    team_id: int
    country: str | None
    score: int
    solves: int
    last_solve_at: datetime | None


class ScoreboardOut(View):
    standings: list[StandingOut]
    frozen: bool
    freeze_at: datetime | None
    state: str


class CtftimeStanding(View):
    pos: int
    team: str
    score: int
    taskStats: dict[str, dict[str, int]]


class CtftimeOut(View):
    tasks: list[str]
    standings: list[CtftimeStanding]


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
    actor: str
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


# --- organiser ----------------------------------------------------------------------------
class TeamIn(Body):
    name: str = Field(min_length=1, max_length=100)
    country: str | None = Field(default=None, max_length=3, description="ISO 3166 code")


class TeamOut(View):
    id: int
    name: str
    country: str | None
    disabled: bool
    created_at: datetime


class TeamList(RootModel[list[TeamOut]]):
    model_config = VIEW


class TeamTokenOut(View):
    team: TeamOut
    token: str = Field(description="shown once; only its hash is stored")


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
    created_by: str
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


class EventPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    freeze_at: AwareDatetime | None = None
    points_fixed_at_solve: StrictBool | None = None
    first_blood_bonus: StrictInt | None = Field(default=None, ge=0, le=1_000_000)


# --- environments -------------------------------------------------------------------------
class JumpboxOut(View):
    host: str
    port: int
    user: str
    password: str
    command: str


class TeamJumpboxOut(View):
    team: str
    jumpbox: JumpboxOut


class ServicePortsOut(View):
    name: str
    ports: list[int]


class PublishedOut(View):
    service: str
    port: int
    address: str


class ConnectionOut(View):
    jumpbox: JumpboxOut | None = Field(description="null until the reconciler gave it a port")
    services: list[ServicePortsOut] = Field(description="reachable by name from the jumpbox")
    published: list[PublishedOut]


class InstanceOut(View):
    challenge: str
    state: Literal["absent", "pending", "running", "failed", "unavailable"]
    health: str | None
    expires_at: datetime | None
    can_extend_from: datetime | None
    connection: ConnectionOut | None


class EnvSelectionIn(Body):
    team: str | None = Field(
        default=None, max_length=100, description='a name or "#<id>"; null: all'
    )
    challenge: str | None = Field(default=None, max_length=63, description="slug; null: all open")


class EnvChangeOut(View):
    changed: int = Field(description="instances added, reset or removed (desired state)")


class EnvRowOut(View):
    id: int
    team: str
    challenge: str
    state: str
    health: str | None
    restarts: int
    expires_at: datetime | None
    last_error: str | None
    node: str | None = Field(default=None, description="where it runs (Swarm); null: one engine")


class EnvList(RootModel[list[EnvRowOut]]):
    model_config = VIEW


# --- team access: SSH keys, WireGuard -----------------------------------------------------
class SshKeyIn(Body):
    label: str = Field(min_length=1, max_length=64, description="whose key (a member's name)")
    public_key: str = Field(
        min_length=1, max_length=8192, description="one OpenSSH public key line (.pub)"
    )


class SshKeyOut(View):
    id: int
    label: str
    fingerprint: str
    kind: str
    created_at: datetime


class PeerIn(Body):
    label: str = Field(min_length=1, max_length=64, description="whose device")


class PeerOut(View):
    id: int
    label: str
    address: str
    public_key: str
    created_at: datetime
    latest_handshake: datetime | None = None  # as the gateway reports it, when it runs


class NewPeerOut(View):
    """Shown once: the private key is in ``config`` and nowhere on the range."""

    peer: PeerOut
    config: str
    filename: str


class WireGuardOut(View):
    enabled: bool
    reason: str | None = Field(default=None, description="why it is off, when it is")
    endpoint: str | None = None
    peers_limit: int


class TeamAccessOut(View):
    ssh_keys: list[SshKeyOut]
    ssh_keys_limit: int
    wireguard: WireGuardOut
    peers: list[PeerOut]


class GatewayPeerOut(View):
    id: int
    label: str
    address: str
    endpoint: str | None
    latest_handshake: datetime | None
    received: int
    sent: int


class GatewayOut(View):
    team: str
    team_id: int
    port: int | None
    state: str  # running | absent (no environment yet) | <engine state>
    error: str | None = None
    peers: list[GatewayPeerOut]


class GatewaysOut(View):
    reason: str | None = Field(default=None, description="why WireGuard is off, when it is")
    gateways: list[GatewayOut]


# --- people ----------------------------------------------------------------------------------
class AccountOut(View):
    id: int
    login: str
    name: str
    callsign: str | None
    email: str | None
    role: str
    team: str | None
    team_id: int | None
    disabled: bool
    active: bool = Field(description="a password is set (the invite was used)")
    totp: bool = Field(default=False, description="a second factor (TOTP) is on")
    sso: bool = Field(default=False, description="linked to a single sign-on identity (OIDC)")
    created_at: datetime


class InvitedOut(View):
    """Shown once: the invite link is the only way to set the account's password."""

    account: AccountOut
    token: str
    link: str


class AccountList(RootModel[list[AccountOut]]):
    model_config = VIEW


class AccountIn(Body):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(
        max_length=16,
        examples=["observer"],
        description="organiser, grader, observer, member, captain",
    )
    team: str | None = Field(default=None, max_length=100, description="for a member or captain")
    email: str | None = Field(default=None, max_length=254)
    callsign: str | None = Field(default=None, max_length=40)


class ApiTokenOut(View):
    """A personal organiser API token, without its secret (shown once, when created)."""

    id: int
    name: str
    scope: str = Field(description="read (GET only), grade (and grades) or full")
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenList(RootModel[list[ApiTokenOut]]):
    model_config = VIEW


class NewApiTokenOut(View):
    """Shown once: the token itself (only its SHA-256 is kept)."""

    api_token: ApiTokenOut
    token: str


class ApiTokenIn(Body):
    name: str = Field(min_length=1, max_length=60, examples=["grafana"])
    scope: str = Field(
        default="read",
        max_length=8,
        examples=["read"],
        description="read (GET routes only), grade (and the white cell's grades) or full",
    )


# --- graded tasks --------------------------------------------------------------------------
class CriterionOut(View):
    id: str
    title: str
    points: int = Field(description="the most a grader may give")
    guidance: str = ""


class SubmissionOut(View):
    id: int
    version: int
    created_at: datetime
    late: bool
    text: str | None
    file_name: str | None
    file_size: int | None
    by: str | None = Field(default=None, description="the member, when one signed in")


class GradeLineOut(View):
    criterion: str
    title: str
    points: int
    most: int
    comment: str = ""


class TaskGradeOut(View):
    """A team's published grade: per criterion, the late penalty, the total."""

    lines: list[GradeLineOut]
    penalty: int = Field(description="points taken for lateness (0 if none)")
    total: int
    most: int


class TaskOut(View):
    """What a team sees of a graded task besides the challenge itself."""

    deliverable: Literal["text", "file", "both"]
    due_at: datetime | None
    late_rule: str = Field(description="refuse, accept, or penalty N%")
    closed: bool = Field(description="past the due time with late: refuse")
    upload_types: list[str]
    upload_max_bytes: int
    rubric: list[CriterionOut]
    submissions: list[SubmissionOut]
    published: bool
    grade: TaskGradeOut | None = None


class GradeCardOut(View):
    id: int
    role: str = Field(description="first, second or final (a moderator's, or a regrade)")
    grader: str
    scores: dict[str, dict[str, Any]]
    total: int
    created_at: datetime
    replaced_at: datetime | None


class QueueRowOut(View):
    code: str = Field(description="the team as graders see it until grades are published")
    team: str | None = Field(description="the team's name, once the task is published")
    version: int
    submitted_at: datetime
    late: bool
    status: str = Field(
        description="ungraded, awaiting second grader, to moderate, graded, agreed, final"
    )
    graders: list[str]
    total: int | None
    disagreements: list[str] = Field(default_factory=list, description="criteria to moderate")


class TaskSummaryOut(View):
    slug: str
    name: str
    due_at: datetime | None
    submitted: int
    graded: int
    to_moderate: int
    published_at: datetime | None


class TaskSheetOut(View):
    """One team's submission as a grader sees it (blind until published)."""

    slug: str
    name: str
    code: str
    team: str | None
    rubric: list[CriterionOut]
    second_grader: bool
    moderation_threshold: int
    published_at: datetime | None
    submissions: list[SubmissionOut]
    cards: list[GradeCardOut]
    status: str
    disagreements: list[str]


class TaskSummaryList(RootModel[list[TaskSummaryOut]]):
    model_config = VIEW


class QueueList(RootModel[list[QueueRowOut]]):
    model_config = VIEW


class GradeIn(Body):
    code: str = Field(min_length=1, max_length=20, description="the team's code in the queue")
    scores: dict[str, dict[str, Any]] = Field(
        description="per criterion id: {points, comment}",
        examples=[{"accuracy": {"points": 8, "comment": "well supported"}}],
    )
    moderate: bool = Field(default=False, description="the grade that counts (a moderation)")
