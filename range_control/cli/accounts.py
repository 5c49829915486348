"""``rangectl accounts``: people (organisers, graders, observers, team members), their invite
links (a printable sheet), disabling."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import click
import segno
from rich.table import Table

from range_control.cli.common import ACTOR, JSON, State, console, pass_state
from range_control.services.people import accounts as svc
from range_control.specs.api.people import InvitedOut

ROLE = click.Choice(svc.ROLES)


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
    invited = svc.add(state.ctx, name, role, ACTOR, team=team, email=email, callsign=callsign)
    _print([invited], sheet, as_json)


@accounts.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SHEET
@JSON
@pass_state
def accounts_import(state: State, csv_file: Path, sheet: Path | None, as_json: bool) -> None:
    """A delegation sheet: team,country,name,callsign,email,role (all or nothing; missing
    teams are created). Prints every invite link."""
    _print(svc.import_csv(state.ctx, csv_file, ACTOR), sheet, as_json)


@accounts.command("invite")
@click.argument("login")
@SHEET
@JSON
@pass_state
def accounts_invite(state: State, login: str, sheet: Path | None, as_json: bool) -> None:
    """A new invite link for LOGIN (its older unused ones stop working)."""
    _print([svc.reinvite(state.ctx, login, ACTOR)], sheet, as_json)


@accounts.command("list")
@JSON
@pass_state
def accounts_list(state: State, as_json: bool) -> None:
    """Everyone, with role, team and state."""
    rows = svc.list_accounts(state.ctx)
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
    console.print(f"disabled {svc.set_disabled(state.ctx, login, True, ACTOR).login}")


@accounts.command("enable")
@click.argument("login")
@pass_state
def accounts_enable(state: State, login: str) -> None:
    """Enable LOGIN again."""
    console.print(f"enabled {svc.set_disabled(state.ctx, login, False, ACTOR).login}")


@accounts.command("reset-totp")
@click.argument("login")
@pass_state
def accounts_reset_totp(state: State, login: str) -> None:
    """Turn LOGIN's second factor off (a lost phone): their sessions end, they enrol again."""
    console.print(f"second factor off for {svc.reset_totp(state.ctx, login, ACTOR).login}")
