"""``rangectl env``: team instances of live challenges (desired in the database, made real by
the reconciler)."""

from __future__ import annotations

import sys

import click

from range_control.cli.common import (
    ACTOR,
    State,
    console,
    env_table,
    pass_state,
    reconcile,
)
from range_control.services.environments import instances
from range_control.services.environments.instances import Selection


@click.group()
def env() -> None:
    """Team instances of live challenges (desired in the database, made real by the reconciler)."""


@env.command("up")
@click.option("--team", help="team name or #<id> (default: every enabled team)")
@click.option("--challenge", help="challenge slug (default: every open live challenge)")
@pass_state
def env_up(state: State, team: str | None, challenge: str | None) -> None:
    """Bring up the selected instances (all by default) and reconcile, with progress."""
    added = instances.up(state.ctx, Selection(team=team, challenge=challenge), ACTOR)
    console.print(f"{added} instance(s) added to the desired state")
    report = reconcile(state)
    env_table(state)
    if report.failed:
        sys.exit(1)


@env.command("down")
@click.option("--team")
@click.option("--challenge")
@pass_state
def env_down(state: State, team: str | None, challenge: str | None) -> None:
    """Remove the selected instances; with no filter every object of the event goes."""
    removed = instances.down(state.ctx, Selection(team=team, challenge=challenge), ACTOR)
    console.print(f"{removed} instance(s) removed from the desired state")
    reconcile(state)


@env.command("status")
@pass_state
def env_status(state: State) -> None:
    """A team x challenge table of instance state and health."""
    env_table(state)
