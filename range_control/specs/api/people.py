"""Teams, accounts and personal API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, RootModel

from range_control.specs.api.base import VIEW, ActorLabel, Body, View


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
    networks: list[str] = Field(
        default_factory=list, description="where its machines submit flags from (CIDRs)"
    )


class TeamNetworksIn(Body):
    networks: list[str] = Field(
        max_length=16, description="CIDRs (10.1.3.0/24); an empty list clears them"
    )


class TeamList(RootModel[list[TeamOut]]):
    model_config = VIEW


class TeamTokenOut(View):
    team: TeamOut
    token: str = Field(description="shown once; only its hash is stored")


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


class InviteeOut(View):
    """Whom an invite link is for, as the page where they set a password shows it."""

    name: str
    login: str
    role: str
    team: str | None


class PendingInviteOut(View):
    """A captain's invite not yet accepted: no account exists until the person accepts."""

    id: int
    name: str
    login: str
    callsign: str | None
    email: str | None
    created_at: datetime
    expires_at: datetime


class MemberInvitedOut(View):
    """Shown once to the captain: the link is the only way to accept the invite."""

    invite: PendingInviteOut
    token: str
    link: str


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


class AccountPatch(Body):
    """A new login (the old one is free at once) or display name; at least one."""

    login: str | None = Field(default=None, min_length=1, max_length=254)
    name: str | None = Field(default=None, min_length=1, max_length=100)


class ApiTokenOut(View):
    """A personal organiser API token, without its secret (shown once, when created)."""

    id: int
    name: str
    scope: str = Field(description="read (GET only), grade (and grades) or full")
    created_by: ActorLabel
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
