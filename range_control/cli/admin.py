"""``rangectl award`` and ``rangectl admin-token``."""

from __future__ import annotations

import click

from range_control.cli.common import ACTOR, State, console, pass_state
from range_control.core.settings import secret
from range_control.services.organiser import awards


@click.command("award")
@click.argument("team")
@click.argument("value", type=int)
@click.argument("reason")
@pass_state
def award(state: State, team: str, value: int, reason: str) -> None:
    """Give a team points (negative: a penalty); the reason shows in its ledger."""
    a = awards.add_award(state.ctx, team, value, reason, ACTOR)
    console.print(f"award {a.id}: {a.team} {a.value:+d} ({a.reason})")


@click.command("admin-token")
@pass_state
def admin_token(state: State) -> None:
    """Print the organiser API token (from RANGE_ADMIN_TOKEN or the data dir)."""
    click.echo(secret(state.settings.admin_token))
