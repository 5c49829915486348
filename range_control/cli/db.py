"""``rangectl db``: the schema (Alembic migrations)."""

from __future__ import annotations

import click

from range_control.cli.common import State, console, pass_state
from range_control.services.operations import schema


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
