"""Defence: the grid of verdicts, a team's defended services, the checkers' health, and what
teams and organisers ask of it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, RootModel

from range_control.specs.api.base import Body, View
from range_control.specs.api.environments import JumpboxOut


class VerdictOut(View):
    tick: int
    verdict: str = Field(
        description="OK, RECOVERING, MUMBLE, CORRUPT, DOWN, CHECKER ERROR or NOT CHECKED"
    )
    message: str = Field(
        description="the checker's public message (the private one too, for the organisers)"
    )
    private: str | None = Field(default=None, description="the organisers only")
    at: datetime
    seconds: float = 0.0
    reruns: int = 0


class CellOut(View):
    service: str
    now: VerdictOut | None = Field(description="the latest tick's verdict")
    history: list[VerdictOut] = Field(description="the ticks before it, newest first")
    captured: int = Field(default=0, description="attack-defence: others' flags it captured")
    lost: int = Field(default=0, description="attack-defence: its own flags others captured")


class GridRowOut(View):
    team_id: int
    team: str
    cells: list[CellOut]


class ServiceColOut(View):
    slug: str
    name: str
    value: int = Field(description="availability points of an OK tick, before its weight")
    weight: float


class GridOut(View):
    tick: int | None = Field(description="the tick running now (None: none)")
    ticks: int = Field(description="how many ticks the defence phases hold")
    next_tick_at: datetime | None
    tick_seconds: float
    checking: bool = Field(description="ticks are checked now (the event runs, not paused)")
    paused: bool = Field(description="the organisers paused the checks")
    services: list[ServiceColOut]
    rows: list[GridRowOut]
    frozen: bool = False
    attack_defence: bool = False


class ProbeOut(View):
    id: int
    verdict: str | None = Field(description="None while the check runs")
    message: str
    created_at: datetime
    done_at: datetime | None


class DefendedOut(View):
    """One of the team's defended services, as the portal shows it."""

    slug: str
    name: str
    description: str
    reach: str = Field(description="how the team reaches it from its jumpbox")
    shell: str | None = Field(description="the command of the team's shell in it")
    state: str = Field(description="the copy's state: pending, running, failed")
    verdicts: list[VerdictOut]
    reset_cost: int
    checks_left: int = Field(description="unscored checks left this hour")
    probes: list[ProbeOut]


class TeamDefenceOut(View):
    tick: int | None
    next_tick_at: datetime | None
    checking: bool
    shell_password: str | None = Field(description="the team's password of its shells")
    services: list[DefendedOut]
    attack_defence: bool = Field(
        default=False, description="teams capture each other's flags and submit them"
    )


class CheckerHealthOut(View):
    slug: str
    contract: str
    checks: int
    checker_errors: int
    mean_seconds: float | None
    p95_seconds: float | None
    timeout_seconds: float
    last_error: str | None = Field(description="the latest checker error's private message")


class RecheckIn(Body):
    team: str = Field(min_length=1, max_length=100)
    tick: int = Field(ge=1, le=1_000_000)


class ResetIn(Body):
    team: str = Field(min_length=1, max_length=100)


class QueuedOut(View):
    id: int
    message: str


# --- attack-defence: flag submission and attack data -------------------------------------------
class FlagAnswerOut(View):
    flag: str
    code: str = Field(description="OK, DUP, OWN, OLD, INV or ERR (the agreed A/D protocol)")
    message: str = Field(description="the code's words (what attack farms read), then why")


class CapturesIn(Body):
    flags: list[str] = Field(min_length=1, max_length=1000, description="flags, in any order")


class CapturesOut(View):
    answers: list[FlagAnswerOut] = Field(description="one per flag, in the order sent")


class ForcadAnswerOut(View):
    """One flag's answer as ForcAD's HTTP receiver gives it (``msg``: "<flag> <CODE> <words>";
    DestructiveFarm's ``ructf_http`` sorts it by its words)."""

    flag: str
    msg: str
    status: str


class ForcadAnswers(RootModel[list[ForcadAnswerOut]]):
    pass


class AttackTeamOut(View):
    id: int
    name: str
    hosts: dict[str, str] = Field(
        description="per service: the game address of the team's copy (RANGE_GAME_SUBNET)"
    )


class AttackDataOut(View):
    """What ForcAD's ``attack_data`` and EnoEngine's ``attack.json`` give: per service, team
    and valid tick, the public data the checker published with each flag (no flag, no
    private flag id)."""

    tick: int | None
    teams: list[AttackTeamOut]
    services: dict[str, dict[str, dict[str, list[str]]]] = Field(
        description="service slug -> team id -> tick -> the public flag data"
    )


# --- attack-defence: the game network ----------------------------------------------------------
class GameCutOut(View):
    team: str
    until_tick: int = Field(description="the tick from which the team is back on the game")
    active: bool = Field(description="the team is cut off now")


class GameTargetOut(View):
    team: str
    service: str
    address: str = Field(description="its game address, reached from every team's entry points")


class GameNetworkOut(View):
    subnet: str = Field(description="the game addresses (RANGE_GAME_SUBNET)")
    mode: str | None = Field(description="the mode of the tick now: defence, attack-defence, None")
    tick: int | None
    closed: bool = Field(description="the organisers closed the game network")
    open: bool = Field(description="entry points reach other teams' services now")
    cuts: list[GameCutOut]
    targets: list[GameTargetOut]


class GameControlIn(Body):
    closed: bool = Field(description="true: close the game network; false: open it")


class GameCutIn(Body):
    team: str = Field(min_length=1, max_length=100)
    until_tick: int = Field(ge=1, le=1_000_000, description="the team is back from this tick")
    reason: str = Field(default="", max_length=500)


# --- the red cell ------------------------------------------------------------------------------
OUTCOMES = ("success", "partial", "failure", "unknown")


class RedActionIn(Body):
    team: str = Field(min_length=1, max_length=100, description="the target team")
    service: str | None = Field(
        default=None, max_length=100, description="the target's defended service (its slug)"
    )
    technique: str = Field(
        default="",
        max_length=16,
        pattern=r"^(|T[0-9]{4}(\.[0-9]{3})?)$",
        description="a MITRE ATT&CK technique id (T1190, T1059.004), where there is one",
    )
    outcome: str = Field(pattern=r"^(success|partial|failure|unknown)$")
    summary: str = Field(min_length=1, max_length=2000, description="what was done, and seen")
    at: datetime | None = Field(
        default=None, description="when it happened (default: now; at most a day back)"
    )


class RedActionOut(View):
    id: int
    by: str
    team: str
    service: str | None
    technique: str
    outcome: str
    summary: str
    kind: str = Field(description="declared (by the red cell), or plant (a plant it left)")
    at: datetime


class RedPlantIn(Body):
    team: str = Field(min_length=1, max_length=100, description="the team compromised")
    service: str = Field(min_length=1, max_length=100, description="its defended service (slug)")
    where: str = Field(
        min_length=1, max_length=500, description="where in the service the token is left"
    )
    technique: str = Field(
        default="",
        max_length=16,
        pattern=r"^(|T[0-9]{4}(\.[0-9]{3})?)$",
        description="how access was gained: a MITRE ATT&CK technique id, where there is one",
    )


class RedPlantOut(View):
    id: int
    by: str
    team: str
    service: str
    where: str
    token: str = Field(description="what to leave there: it proves the compromise")
    points: int = Field(description="what the team loses for it")
    action: int = Field(description="the red log's action recording it (ground truth)")
    at: datetime


class RedTargetOut(View):
    team: str
    service: str
    address: str = Field(description="its game address")


class RedCommandOut(View):
    by: str = Field(description="the red cell member whose session ran it")
    at: datetime
    command: str
    team: str | None = Field(description="the team whose game address it names")
    service: str | None


class RedCellOut(View):
    targets: list[RedTargetOut]
    actions: list[RedActionOut] = Field(description="newest first")
    commands: list[RedCommandOut] = Field(
        default=[], description="observed on the red cell's jumpbox, newest first"
    )
    plants: list[RedPlantOut] = Field(default=[], description="newest first")
    plant_cost: int | None = Field(
        default=None, description="what a team loses per plant (None: no defence to plant in)"
    )
    jumpbox: JumpboxOut | None = Field(
        default=None, description="the caller's own login on the red cell's jumpbox"
    )
