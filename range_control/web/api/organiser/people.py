"""People: teams and their tokens, accounts and their invites, personal API tokens."""

from __future__ import annotations

from flask import g

from range_control.core.errors import NotFound
from range_control.core.permissions import Permission
from range_control.services.people import accounts, api_tokens, teams
from range_control.specs.api.people import (
    AccountIn,
    AccountList,
    AccountOut,
    AccountPatch,
    ApiTokenIn,
    ApiTokenList,
    ApiTokenOut,
    InvitedOut,
    NewApiTokenOut,
    TeamIn,
    TeamList,
    TeamNetworksIn,
    TeamOut,
    TeamTokenOut,
)
from range_control.web.api import delete, get, ok, parse, patch, post, put
from range_control.web.common import ctx


# --- teams --------------------------------------------------------------------------------
@get("/admin/teams", Permission.LOOK, out=TeamList)
def admin_list_teams():
    """All teams, enabled or not."""
    return ok(TeamList, teams.list_teams(ctx()))


@post(
    "/admin/teams", Permission.CHANGE, out=TeamTokenOut, status=201, json=TeamIn, errors=(400, 409)
)
def admin_add_team():
    """Add a team; the answer holds its token, shown this once."""
    body = parse(TeamIn)
    return ok(TeamTokenOut, teams.add_team(ctx(), body.name, body.country, actor=g.actor), 201)


@post("/admin/teams/<ref>/disable", Permission.CHANGE, out=TeamOut, errors=(404,))
def admin_disable_team(ref: str):
    """Disable a team (its token stops working; it leaves the scoreboard)."""
    return ok(TeamOut, teams.set_disabled(ctx(), ref[:100], True, g.actor))


@post("/admin/teams/<ref>/enable", Permission.CHANGE, out=TeamOut, errors=(404,))
def admin_enable_team(ref: str):
    """Enable a disabled team again."""
    return ok(TeamOut, teams.set_disabled(ctx(), ref[:100], False, g.actor))


@post("/admin/teams/<ref>/rotate-token", Permission.CHANGE, out=TeamTokenOut, errors=(404,))
def admin_rotate_token(ref: str):
    """Issue a new token; the old one stops working at once."""
    return ok(TeamTokenOut, teams.rotate_token(ctx(), ref[:100], g.actor))


@put(
    "/admin/teams/<ref>/networks",
    Permission.CHANGE,
    out=TeamOut,
    json=TeamNetworksIn,
    errors=(400, 404, 409),
)
def admin_team_networks(ref: str):
    """The networks the team's machines are on: the flag door names the team by address."""
    body = parse(TeamNetworksIn)
    return ok(TeamOut, teams.set_networks(ctx(), ref[:100], body.networks, g.actor))


# --- people ---------------------------------------------------------------------------------
@get("/admin/accounts", Permission.LOOK, out=AccountList)
def admin_accounts():
    """Everyone with an account: role, team, invited / active / disabled."""
    return ok(AccountList, accounts.list_accounts(ctx()))


@post(
    "/admin/accounts",
    Permission.CHANGE,
    out=InvitedOut,
    status=201,
    json=AccountIn,
    errors=(400, 404, 409),
)
def admin_add_account():
    """Add a person; the answer holds their invite link, shown this once."""
    body = parse(AccountIn)
    invited = accounts.add(
        ctx(),
        body.name,
        body.role,
        g.actor,
        team=body.team,
        email=body.email,
        callsign=body.callsign,
    )
    return ok(InvitedOut, invited, 201)


@post("/admin/accounts/<login>/invite", Permission.CHANGE, out=InvitedOut, errors=(404,))
def admin_reinvite(login: str):
    """A new invite link for the person (their older unused ones stop working), shown once."""
    return ok(InvitedOut, accounts.reinvite(ctx(), login[:254], g.actor))


@post("/admin/accounts/<login>/<action>", Permission.CHANGE, out=AccountOut, errors=(404,))
def admin_account_action(login: str, action: str):
    """``disable`` (their sessions end at once) or ``enable``."""
    if action not in ("disable", "enable"):
        raise NotFound("no such action {action!r}", action=action[:40])
    return ok(AccountOut, accounts.set_disabled(ctx(), login[:254], action == "disable", g.actor))


@patch(
    "/admin/accounts/<login>",
    Permission.CHANGE,
    out=AccountOut,
    json=AccountPatch,
    errors=(400, 404, 409),
)
def admin_rename_account(login: str):
    """A new login (the old one is free at once) or display name; audited."""
    body = parse(AccountPatch)
    return ok(
        AccountOut,
        accounts.rename(ctx(), login[:254], g.actor, new_login=body.login, name=body.name),
    )


@delete("/admin/accounts/<login>", Permission.CHANGE, out=AccountOut, errors=(404,))
def admin_remove_account(login: str):
    """Delete the account (sessions, invites, second factor); what it did stays, audited."""
    return ok(AccountOut, accounts.remove(ctx(), login[:254], g.actor))


# --- personal organiser API tokens ---------------------------------------------------------
@get("/admin/tokens", Permission.LOOK, out=ApiTokenList)
def admin_tokens():
    """Personal organiser API tokens (never their secret): name, scope, creator, last use."""
    return ok(ApiTokenList, api_tokens.list_tokens(ctx()))


@post(
    "/admin/tokens",
    Permission.CHANGE,
    out=NewApiTokenOut,
    status=201,
    json=ApiTokenIn,
    errors=(400, 409),
)
def admin_create_token():
    """A named token, ``read`` (GET routes only) or ``full``; the answer holds it, this once."""
    body = parse(ApiTokenIn)
    return ok(NewApiTokenOut, api_tokens.create(ctx(), body.name, body.scope, g.actor), 201)


@delete("/admin/tokens/<ref>", Permission.CHANGE, out=ApiTokenOut, errors=(404,))
def admin_revoke_token(ref: str):
    """Revoke a token by name or id: the next call with it is refused."""
    return ok(ApiTokenOut, api_tokens.revoke(ctx(), ref[:60], g.actor))
