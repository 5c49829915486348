"""``rangectl serve`` (one process: web, scheduler, reconciler) and ``rangectl worker``."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click
import waitress

from range_control.cli.common import State, console, log_setup, pass_state
from range_control.core.errors import SchedulerBusy
from range_control.services.operations import schema
from range_control.web import create_app
from range_control.worker import RangeScheduler


def run_server(state: State, host: str, port: int, threads: int) -> None:
    """One process: migrate, run the scheduler in-process, serve with waitress."""
    log_setup(state.settings)
    schema.check_integrity(state.ctx)
    schema.upgrade(state.ctx)
    app = create_app(state.settings)
    sched = RangeScheduler(app.extensions["range"])
    try:
        sched.start()
    except SchedulerBusy as exc:
        raise click.ClickException(f"{exc}; stop it, or run the web tier under gunicorn") from None
    console.print(f"Range Control on http://{host}:{port}/  (Ctrl-C stops)")

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt  # waitress closes on it; the finally blocks below still run

    # Ctrl-C, also when started from a shell that ignores SIGINT in the background; SIGTERM
    # (systemd, docker stop) stops the same way.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="range-control")
    finally:
        sched.stop()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--no-environments",
    is_flag=True,
    help="no live environments, no engine (RANGE_ENVIRONMENTS=off)",
)
@pass_state
def serve(state: State, host: str, port: int, threads: int, no_environments: bool) -> None:
    """Run the control plane in one process (embedded default); migrates the schema first."""
    if no_environments:
        state.environments_off()
    run_server(state, host, port, threads)


@click.command()
@pass_state
def worker(state: State) -> None:
    """Run the scheduler and the reconciler (one per range: timeline, environments). The
    timeline applies phases and injects; the reconciler keeps the environments as desired."""
    log_setup(state.settings)
    schema.check_integrity(state.ctx)
    schema.require_current(state.ctx)
    sched = RangeScheduler(state.ctx)
    sched.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sched.stop()
