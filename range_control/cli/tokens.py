"""``rangectl tokens``: personal organiser API tokens (named, read-only or full, revocable)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from range_control.cli.common import ACTOR, JSON, State, console, pass_state
from range_control.core.permissions import Scope
from range_control.services.people import api_tokens


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
