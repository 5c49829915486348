"""``rangectl serve``, ``worker``, ``db``, ``backup``, ``restore`` and ``doctor``: running a live
event."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
import waitress
from rich.table import Table

from range_control.cli.common import State, console, err_console, log_setup, pass_state
from range_control.core.errors import SchedulerBusy
from range_control.core.settings import Settings, secret
from range_control.services.operations import backups, doctor, schema
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
    # Behind RANGE_PROXY_HOPS proxies the app's ProxyFix reads X-Forwarded-For and -Proto, as
    # under gunicorn; waitress would strip them first (it clears the proxy headers it was not
    # told to trust), so it passes them through. Without proxies it still strips them.
    behind = {"clear_untrusted_proxy_headers": False} if state.settings.proxy_hops else {}
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="range-control", **behind)
    finally:
        stop_scheduler(sched)


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
        stop_scheduler(sched)


def stop_scheduler(sched: RangeScheduler) -> None:
    """Stop the scheduler; when a job outlives its grace, end the process now rather than wait
    for it (the pool's threads would hold the interpreter's exit)."""
    if not sched.stop():
        logging.shutdown()
        os._exit(0)


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_state
def db_upgrade(state: State, revision: str) -> None:
    """Check the database's integrity, then create or migrate the schema to the newest
    revision."""
    schema.check_integrity(state.ctx)
    console.print(f"schema at revision {schema.upgrade(state.ctx, revision)}")


@db.command("current")
@pass_state
def db_current(state: State) -> None:
    """Show the schema revision of the database and the newest one this code knows."""
    found, newest = schema.current(state.ctx)
    console.print(f"database: {found}  code: {newest}")


@db.command("revision")
@click.option("-m", "--message", required=True)
@pass_state
def db_revision(state: State, message: str) -> None:
    """(Developers) autogenerate a migration from the models."""
    schema.new_revision(state.ctx, message)


_PASSPHRASE = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="file whose first line is the passphrase of the secrets "
    "(default: RANGE_BACKUP_PASSPHRASE)",
)


def _passphrase(settings: Settings, path: Path | None) -> str | None:
    if path is not None:
        first = (path.read_text(encoding="utf-8").splitlines() or [""])[0].strip()
        if not first:
            raise click.BadParameter(
                f"{path}: the first line is empty", param_hint="--passphrase-file"
            )
        return first
    given = settings.backup_passphrase
    return secret(given) if given is not None else None


def _step(message: str) -> None:
    err_console.print(f"[dim]… {message}[/]")


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="the backup file to write (a .tar.gz)",
)
@_PASSPHRASE
@pass_state
def backup(state: State, out: Path, passphrase_file: Path | None) -> None:
    """Snapshot the running range into one file: database, secrets, manifest."""
    passphrase = _passphrase(state.settings, passphrase_file)
    done = backups.take(state.ctx, out, passphrase=passphrase, step=_step)
    m = done.manifest
    counts = ", ".join(f"{v} {k}" for k, v in m.counts.items())
    console.print(
        f"backup {done.path} ({done.size} bytes, {m.database}, schema "
        f"{m.schema_revision}): {counts}"
    )
    if m.secrets == "plain":
        click.echo(
            "warning: the range's secrets are in this file in the clear "
            f"({backups.SECRETS_PLAIN}): keep it as secret as the data dir, or give a passphrase",
            err=True,
        )


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="replace a database or secrets already there")
@_PASSPHRASE
def restore(file: Path, force: bool, passphrase_file: Path | None) -> None:
    """Restore a backup into an empty data dir or database (the range stopped)."""
    # The settings as given: nothing generated into the data dir before the backup's secrets.
    settings = Settings()
    passphrase = _passphrase(settings, passphrase_file)
    done = backups.restore(settings, file, force=force, passphrase=passphrase, step=_step)
    counts = ", ".join(f"{v} {k}" for k, v in done.counts.items())
    console.print(
        f"restored {file} (taken {done.manifest.taken_at:%Y-%m-%d %H:%M:%S} UTC) into "
        f"{done.target}: {counts}"
    )


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="one JSON document, for automation")
@click.option(
    "--teams",
    type=click.IntRange(1, 10_000),
    default=None,
    help="plan for this many teams (default: the teams in the database)",
)
def doctor_cmd(as_json: bool, teams: int | None) -> None:
    """Is this machine ready for the event? One verdict per line; exit 1 on any failure."""
    # The settings as given: the doctor generates no secret (a missing one is a finding).
    results = doctor.run(Settings(), teams=teams)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("check")
        table.add_column("verdict")
        table.add_column("detail", overflow="fold")
        style = {"ok": "green", "warn": "yellow", "fail": "bold red"}
        for r in results:
            table.add_row(r.name, f"[{style[r.verdict]}]{r.verdict}[/]", r.detail)
        console.print(table)
    sys.exit(1 if any(r.verdict == "fail" for r in results) else 0)
