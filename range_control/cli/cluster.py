"""``rangectl cluster``: the machines the range runs on."""

from __future__ import annotations

import click
from rich.table import Table

from range_control.cli.common import State, console, pass_state
from range_control.services.environments import cluster as svc


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
