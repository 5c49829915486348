"""``rangectl env`` and ``cluster``: team instances of live challenges (desired in the database,
made real by the reconciler), and the machines the range runs on."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from range_control.cli.common import (
    ACTOR,
    State,
    console,
    env_table,
    pass_state,
    reconcile,
)
from range_control.services.environments import cluster as svc
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


@click.group()
def cluster() -> None:
    """The machines of the engine: nodes, roles, instances, memory."""


@cluster.command("status")
@pass_state
def cluster_status(state: State) -> None:
    """Each node: role, state, availability, address, range labels, this event's instances
    there, and memory (total, and what is left after the limits of the range's tasks)."""
    table = Table(
        "node",
        "role",
        "state",
        "availability",
        "address",
        "labels",
        "instances",
        "memory",
        "free for placement",
    )
    for n in svc.status(state.ctx, state.backend):
        labels = ", ".join(
            f"{k}={v}" for k, v in sorted(n.labels.items()) if k.startswith("range.")
        )
        table.add_row(
            n.name,
            n.role,
            n.state,
            n.availability,
            n.address,
            labels or "-",
            str(n.instances),
            _gib(n.memory_bytes),
            _gib(max(n.memory_bytes - n.reserved_bytes, 0)),
        )
    console.print(table)


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


@cluster.command("prepare")
@pass_state
def cluster_prepare(state: State) -> None:
    """Make every node ready for the range's tasks (on a Swarm: the host guard running and
    healthy on each eligible node); waits, with progress. Run it before an event."""
    with console.status("preparing") as spinner:
        svc.prepare(state.backend, lambda msg: spinner.update(msg))
    console.print("ready: the host guard is in place on every node")
