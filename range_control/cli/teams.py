"""``rangectl teams``: add, import, list, disable, enable, rotate tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from range_control.cli.common import ACTOR, State, console, pass_state
from range_control.services.people import teams as svc


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
    nt = svc.add_team(state.ctx, name, country, actor=ACTOR)
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
    created = svc.import_csv(state.ctx, csv_file, actor=ACTOR)
    svc.write_tokens_csv(created, dest)
    console.print(f"{len(created)} team(s) added; tokens written to {dest} (mode 0600)")


@teams.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def teams_list(state: State, as_json: bool) -> None:
    """All teams."""
    rows = svc.list_teams(state.ctx)
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
    console.print(f"disabled {svc.set_disabled(state.ctx, team, True, ACTOR).name}")


@teams.command("enable")
@click.argument("team")
@pass_state
def teams_enable(state: State, team: str) -> None:
    """Enable a team again."""
    console.print(f"enabled {svc.set_disabled(state.ctx, team, False, ACTOR).name}")


@teams.command("rotate-token")
@click.argument("team")
@pass_state
def teams_rotate(state: State, team: str) -> None:
    """Issue a new token for a team; the old one stops working."""
    nt = svc.rotate_token(state.ctx, team, ACTOR)
    console.print(f"team {nt.team.name} new token:")
    click.echo(nt.token)
