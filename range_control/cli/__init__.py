"""``rangectl``: the organisers' and authors' command line.

One module per feature (``cli/people.py`` holds ``teams``, ``accounts`` and ``tokens``;
``cli/event.py`` the event, awards and the demo; ...) over a small shared module
(``cli/common.py``). The root group loads a group's module only when that group runs, so
``rangectl --help`` and shell completion do not pay for SQLAlchemy, pydantic, rich or the Docker
SDK; its listing reads the short help kept below (a test checks it against the commands).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import traceback
from typing import Any

import click

# name -> (module under range_control.cli, attribute, short help shown by `rangectl --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "accounts": ("people", "accounts", "People: accounts, roles and their invite links."),
    "admin-token": ("people", "admin_token", "Print the organiser API token."),
    "award": ("event", "award", "Give a team points (negative: a penalty)."),
    "backup": (
        "operations",
        "backup",
        "Snapshot the running range into one file: database, secrets, manifest.",
    ),
    "challenges": ("catalog", "challenges", "Challenge catalog: lint, check and load."),
    "cluster": (
        "environments",
        "cluster",
        "The machines of the engine: nodes, roles, instances, memory.",
    ),
    "db": ("operations", "db", "Database schema (Alembic migrations)."),
    "defence": (
        "defence",
        "defence",
        "Defence exercises: every team's defended services, checked each tick.",
    ),
    "demo": ("event", "demo", "A demo event on the embedded defaults."),
    "doctor": (
        "operations",
        "doctor_cmd",
        "Is this machine ready for the event? One verdict per line.",
    ),
    "env": ("environments", "env", "Team instances of live challenges."),
    "event": ("event", "event", "The event: times, state, scenario and its timeline."),
    "images": (
        "catalog",
        "images",
        "Local images (no registry): the base image and challenge images.",
    ),
    "red": ("defence", "red", "The red cell: its actions, declared and logged."),
    "report": (
        "whitecell",
        "report",
        "The after-action report: timeline, standings, every team's actions (HTML, JSON, CSV).",
    ),
    "restore": ("operations", "restore", "Restore a backup into an empty data dir or database."),
    "serve": ("operations", "serve", "Run the control plane in one process (embedded default)."),
    "teams": ("people", "teams", "Teams and their tokens."),
    "tokens": (
        "people",
        "tokens",
        "Personal organiser API tokens for scripts and dashboards (machine actors).",
    ),
    "worker": (
        "operations",
        "worker",
        "Run the scheduler and the reconciler (one per range: timeline, environments).",
    ),
}


class RangeCLI(click.Group):
    """Loads command groups on demand; turns every error into one clear line and exit status 1
    (the traceback only with ``--debug``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(f"range_control.cli.{module}"), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from range_control.core.errors import ServiceError, first_line

        try:
            return super().invoke(ctx)
        except ServiceError as exc:
            # Plain echo, not rich: an error line must never be wrapped (paths are grepped).
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - anything else: one line, not a traceback
            if ctx.obj is not None and getattr(ctx.obj, "debug", False):
                traceback.print_exc()
            elif _damaged_text(exc):
                # Text the database returned is not text: damage that quick_check missed (it
                # checks the file's structure, not what the records hold).
                click.echo(
                    "error: the database returned damaged text (not UTF-8): stop the range and "
                    "restore the latest backup; do not write to this database",
                    err=True,
                )
            elif _no_schema(exc):
                click.echo(
                    "error: the database has no schema yet (or an older one): run "
                    "`rangectl db upgrade` (serve and challenges sync do it themselves)",
                    err=True,
                )
            else:
                first = first_line(str(exc))
                click.echo(
                    f"error: {exc.__class__.__name__}: {first} (rangectl --debug shows where)",
                    err=True,
                )
            sys.exit(1)


def _damaged_text(exc: BaseException) -> bool:
    """The database handed back bytes that are not UTF-8 (Python's decoder, or SQLite's own
    "Could not decode to UTF-8" when a column is read)."""
    return isinstance(exc, UnicodeDecodeError) or "Could not decode to UTF-8" in str(exc)


def _no_schema(exc: BaseException) -> bool:
    """A table the code needs is missing: SQLite's "no such table", PostgreSQL's 42P01."""
    orig = getattr(exc, "orig", None)
    return "no such table" in str(exc) or getattr(orig, "sqlstate", None) == "42P01"


class Options:
    """What the root group's options say; command modules add the range (cli/common.py)."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug


@click.group(cls=RangeCLI)
@click.option("--debug", is_flag=True, help="Print the traceback of an unexpected error.")
@click.version_option(package_name="range-control")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Range Control: run the CIOR International Cyber Event range.

    Settings come from the environment: RANGE_DATA_DIR (default ./var), RANGE_DATABASE_URL
    (default SQLite in the data dir), RANGE_ADMIN_TOKEN, RANGE_SECRET_KEY, RANGE_FLAG_SECRET
    (generated and kept in the data dir when unset). The others: docs/reference/settings.md
    (and /docs/ on the range).
    """
    ctx.obj = Options(debug)
    import logging

    if not logging.getLogger().handlers:
        # What the services log (warnings) in the range's format: JSON under
        # RANGE_LOG_FORMAT=json. serve and worker set up their own, with scrubbing.
        from range_control.core import logs

        fmt = "json" if os.environ.get("RANGE_LOG_FORMAT") == "json" else "text"
        logs.configure(fmt, level=logging.WARNING)


def run() -> None:
    """The ``rangectl`` entry point. Ctrl-C works even when the shell that started us ignored
    SIGINT (a background job of a script): long commands promise to tear down on it."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()


if __name__ == "__main__":  # pragma: no cover
    run()
