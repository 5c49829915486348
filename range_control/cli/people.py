"""``rangectl teams``, ``accounts``, ``tokens`` and ``admin-token``: teams and their tokens, people
and their invite links, personal organiser API tokens, the organiser token."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import click
import segno
from rich.table import Table

from range_control.cli.common import ACTOR, JSON, State, console, pass_state
from range_control.core.permissions import Scope
from range_control.core.settings import secret
from range_control.services.people import accounts as account_service
from range_control.services.people import api_tokens
from range_control.services.people import teams as team_service
from range_control.specs.api.people import InvitedOut


@click.group("teams")
def teams() -> None:
    """Teams and their tokens."""


@teams.command("add")
@click.argument("name")
@click.option("--country", help="ISO 3166 code, e.g. NL or NLD")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_state
def teams_add(state: State, name: str, country: str | None, as_json: bool) -> None:
    """Add a team and print its token (shown this once)."""
    nt = team_service.add_team(state.ctx, name, country, actor=ACTOR)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "team": nt.team.name,
                    "id": nt.team.id,
                    "country": nt.team.country,
                    "token": nt.token,
                }
            )
        )
    else:
        console.print(f"team {nt.team.name} (id {nt.team.id}) token:")
        click.echo(nt.token)


@teams.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write name,country,token (default: <csv>-tokens.csv)",
)
@pass_state
def teams_import(state: State, csv_file: Path, out: Path | None) -> None:
    """Add every team of a name,country CSV; write their tokens to a CSV to hand out."""
    dest = out or csv_file.with_name(csv_file.stem + "-tokens.csv")
    if dest.exists():
        raise click.ClickException(
            f"{dest} exists; choose another --out (tokens are not reprinted)"
        )
    created = team_service.import_csv(state.ctx, csv_file, actor=ACTOR)
    team_service.write_tokens_csv(created, dest)
    console.print(f"{len(created)} team(s) added; tokens written to {dest} (mode 0600)")


@teams.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def teams_list(state: State, as_json: bool) -> None:
    """All teams."""
    rows = team_service.list_teams(state.ctx)
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in rows]))
        return
    table = Table("id", "name", "country", "disabled")
    for t in rows:
        table.add_row(str(t.id), t.name, t.country or "", "yes" if t.disabled else "")
    console.print(table)


@teams.command("disable")
@click.argument("team")
@pass_state
def teams_disable(state: State, team: str) -> None:
    """Disable a team (by name, or #<id>)."""
    console.print(f"disabled {team_service.set_disabled(state.ctx, team, True, ACTOR).name}")


@teams.command("enable")
@click.argument("team")
@pass_state
def teams_enable(state: State, team: str) -> None:
    """Enable a team again."""
    console.print(f"enabled {team_service.set_disabled(state.ctx, team, False, ACTOR).name}")


@teams.command("rotate-token")
@click.argument("team")
@pass_state
def teams_rotate(state: State, team: str) -> None:
    """Issue a new token for a team; the old one stops working."""
    nt = team_service.rotate_token(state.ctx, team, ACTOR)
    console.print(f"team {nt.team.name} new token:")
    click.echo(nt.token)


@teams.command("networks")
@click.argument("team")
@click.argument("networks", nargs=-1)
@pass_state
def teams_networks(state: State, team: str, networks: tuple[str, ...]) -> None:
    """The networks TEAM's machines are on (CIDRs; none clears them): the flag door names the
    team by the address a connection comes from."""
    out = team_service.set_networks(state.ctx, team, list(networks), ACTOR)
    console.print(f"team {out.name}: {', '.join(out.networks) or 'no networks'}")


ROLE = click.Choice(account_service.ROLES)


@click.group("accounts")
def accounts() -> None:
    """People: accounts, roles and their invite links."""


def _sheet(invited: list[InvitedOut], dest: Path) -> None:
    """One printable HTML page per person: name, role, team, how to sign in, the link and its
    QR code. Written 0600: each link sets a password once."""
    cards = []
    for inv in invited:
        a = inv.account
        qr = segno.make(inv.link, error="m").svg_inline(scale=3)
        team = f" &middot; {html.escape(a.team)}" if a.team else ""
        cards.append(
            f'<section class="card"><h2>{html.escape(a.name)}</h2>'
            f"<p>{html.escape(a.role)}{team}</p>"
            f"<p>Sign in as <strong>{html.escape(a.login)}</strong> after setting your "
            f"password at this link (it works once):</p><p><code>{html.escape(inv.link)}</code>"
            f"</p>{qr}</section>"
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Invites</title>'
        "<style>body{font-family:sans-serif} .card{page-break-after:always;padding:1em}"
        "code{word-break:break-all}</style></head><body><h1>Range Control invites</h1>"
        + "".join(cards)
        + "</body></html>"
    )
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)


def _print(invited: list[InvitedOut], sheet: Path | None, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "login": i.account.login,
                "role": i.account.role,
                "team": i.account.team,
                "link": i.link,
            }
            for i in invited
        ]
        click.echo(json.dumps(rows))
    else:
        table = Table("name", "role", "team", "signs in as", "invite link (works once)")
        for i in invited:
            a = i.account
            table.add_row(a.name, a.role, a.team or "", a.login, i.link)
        console.print(table)
    if sheet is not None:
        _sheet(invited, sheet)
        console.print(f"invite sheet written to {sheet} (mode 0600): print it, then delete it")


def _new_file(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None and value.exists():
        raise click.BadParameter(f"{value} exists; invites are not written over another file")
    return value


SHEET = click.option(
    "--sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_new_file,
    help="also write a printable HTML sheet of the invites (one page each)",
)


@accounts.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True)
@click.option("--team", help="the team of a member or captain")
@click.option("--email")
@click.option("--callsign")
@SHEET
@JSON
@pass_state
def accounts_add(
    state: State,
    name: str,
    role: str,
    team: str | None,
    email: str | None,
    callsign: str | None,
    sheet: Path | None,
    as_json: bool,
) -> None:
    """Add a person; print their invite link (shown this once)."""
    invited = account_service.add(
        state.ctx, name, role, ACTOR, team=team, email=email, callsign=callsign
    )
    _print([invited], sheet, as_json)


@accounts.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SHEET
@JSON
@pass_state
def accounts_import(state: State, csv_file: Path, sheet: Path | None, as_json: bool) -> None:
    """A delegation sheet: team,country,name,callsign,email,role (all or nothing; missing
    teams are created). Prints every invite link."""
    _print(account_service.import_csv(state.ctx, csv_file, ACTOR), sheet, as_json)


@accounts.command("invite")
@click.argument("login")
@SHEET
@JSON
@pass_state
def accounts_invite(state: State, login: str, sheet: Path | None, as_json: bool) -> None:
    """A new invite link for LOGIN (its older unused ones stop working)."""
    _print([account_service.reinvite(state.ctx, login, ACTOR)], sheet, as_json)


@accounts.command("list")
@JSON
@pass_state
def accounts_list(state: State, as_json: bool) -> None:
    """Everyone, with role, team and state."""
    rows = account_service.list_accounts(state.ctx)
    if as_json:
        click.echo(json.dumps([a.model_dump(mode="json") for a in rows]))
        return
    table = Table("login", "name", "role", "team", "state")
    for a in rows:
        state_word = (
            "disabled"
            if a.disabled
            else ("active" if a.active else "single sign-on" if a.sso else "invited")
        )
        table.add_row(a.login, a.name, a.role, a.team or "", state_word)
    console.print(table)


@accounts.command("disable")
@click.argument("login")
@pass_state
def accounts_disable(state: State, login: str) -> None:
    """Disable LOGIN: their sessions end at once."""
    console.print(f"disabled {account_service.set_disabled(state.ctx, login, True, ACTOR).login}")


@accounts.command("enable")
@click.argument("login")
@pass_state
def accounts_enable(state: State, login: str) -> None:
    """Enable LOGIN again."""
    console.print(f"enabled {account_service.set_disabled(state.ctx, login, False, ACTOR).login}")


@accounts.command("reset-totp")
@click.argument("login")
@pass_state
def accounts_reset_totp(state: State, login: str) -> None:
    """Turn LOGIN's second factor off (a lost phone): their sessions end, they enrol again."""
    console.print(
        f"second factor off for {account_service.reset_totp(state.ctx, login, ACTOR).login}"
    )


@accounts.command("remove")
@click.argument("login")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@pass_state
def accounts_remove(state: State, login: str, yes: bool) -> None:
    """Delete LOGIN's account: sessions, invites and second factor go; what they did stays."""
    if not yes:
        click.confirm(f"Delete the account {login}?", abort=True)
    gone = account_service.remove(state.ctx, login, ACTOR)
    console.print(f"removed {gone.login} ({gone.name}, {gone.role})")


@accounts.command("rename")
@click.argument("login")
@click.option("--login", "new_login", help="the new login (the old one is free at once)")
@click.option("--name", help="the new display name")
@pass_state
def accounts_rename(state: State, login: str, new_login: str | None, name: str | None) -> None:
    """Give LOGIN's account a new login or display name."""
    done = account_service.rename(state.ctx, login, ACTOR, new_login=new_login, name=name)
    console.print(f"{login} is now {done.login} ({done.name})")


@click.group("tokens")
def tokens() -> None:
    """Personal organiser API tokens for scripts and dashboards (machine actors)."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice([s.value for s in Scope]),
    default="read",
    show_default=True,
    help="read: GET routes only; grade: those and the white cell's grades; full: every "
    "organiser route.",
)
@JSON
@pass_state
def tokens_create(state: State, name: str, scope: str, as_json: bool) -> None:
    """Create the token NAME and print it, this once (only its hash is kept)."""
    new = api_tokens.create(state.ctx, name, scope, ACTOR)
    if as_json:
        click.echo(new.model_dump_json())
        return
    console.print(f"token {new.api_token.name} ({scope}), shown this once:")
    click.echo(new.token)


@tokens.command("list")
@JSON
@pass_state
def tokens_list(state: State, as_json: bool) -> None:
    """Every personal token: scope, creator, last use, revoked or not (never the secret)."""
    rows = api_tokens.list_tokens(state.ctx)
    if as_json:
        click.echo(json.dumps([t.model_dump(mode="json") for t in rows]))
        return
    table = Table("id", "name", "scope", "created by", "last used", "state")
    for t in rows:
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        table.add_row(
            str(t.id), t.name, t.scope, t.created_by, used, "revoked" if t.revoked_at else "active"
        )
    console.print(table)


@tokens.command("revoke")
@click.argument("ref")
@pass_state
def tokens_revoke(state: State, ref: str) -> None:
    """Revoke the token REF (its name, or its id): every call with it is refused."""
    console.print(f"revoked {api_tokens.revoke(state.ctx, ref, ACTOR).name}")


@click.command("admin-token")
@pass_state
def admin_token(state: State) -> None:
    """Print the organiser API token (from RANGE_ADMIN_TOKEN or the data dir)."""
    click.echo(secret(state.settings.admin_token))
