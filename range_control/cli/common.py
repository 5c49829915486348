"""What the command modules share: the range of the settings, consoles, option types, and the
views several commands print (the event, its timeline, the environment grid)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from range_control.context import Range
from range_control.core import logs
from range_control.core.actors import CLI
from range_control.core.clock import iso
from range_control.core.settings import Settings, load_settings
from range_control.services.environments import engine, instances
from range_control.services.environments.engine import Backend
from range_control.services.environments.run import EnvironmentReconciler, PassReport, whose
from range_control.services.environments.run import Progress as LaunchProgress
from range_control.services.event import scenario
from range_control.services.event.event import EventView

# Piped or captured output is not cut to 80 columns: organisers grep and log it.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True)
ACTOR = CLI  # who acts from the command line
JSON = click.option("--json", "as_json", is_flag=True, help="print JSON")


class State:
    """The settings and the range, made on first use (``--help`` of a command needs neither)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._ctx: Range | None = None
        self._backend: Backend | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def environments_off(self) -> None:
        """No live environment and no engine call at all (``--no-environments``)."""
        self.settings.environments = "off"

    @property
    def ctx(self) -> Range:
        if self._ctx is None:
            self._ctx = Range.from_settings(self.settings)
        return self._ctx

    @property
    def backend(self) -> Backend:
        """The engine of the settings; a clear error (exit 1) when none answers."""
        if self._backend is None:
            self._backend = engine.backend(self.settings)
        return self._backend


pass_state = click.make_pass_decorator(State, ensure=True)


def log_setup(settings: Settings) -> None:
    """Logs of a long-running command (serve, worker) in the format of the settings."""
    logs.configure(settings.log_format, secrets=settings.secret_values())


class AwareDateTime(click.ParamType):
    name = "TIME"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime | str:
        if value in ("", "none"):
            return ""
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2026-07-01T09:00Z", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no time zone; add Z for UTC", param, ctx)
        return parsed


def print_event(ev: EventView) -> None:
    table = Table(show_header=False)
    for k, v in (
        ("event", f"{ev.name} ({ev.slug})"),
        ("state", ev.state),
        ("starts", iso(ev.starts_at) or "-"),
        ("ends", iso(ev.ends_at) or "-"),
        ("freeze", iso(ev.freeze_at) or "-"),
        ("frozen now", "yes" if ev.frozen else "no"),
        ("scoring", "fixed at solve" if ev.points_fixed_at_solve else "retroactive (CTFd)"),
        ("first blood bonus", str(ev.first_blood_bonus)),
    ):
        table.add_row(k, v)
    console.print(table)


def print_timeline(state: State) -> None:
    w = scenario.where(state.ctx)
    rows = scenario.rows_of(w)
    if not rows:
        return
    table = Table(
        "phase", "title", "start", "end", "challenges", "injects", "status", title="timeline (UTC)"
    )
    for r in rows:
        status = r.status + (f" (+{r.extended_by})" if r.extended_by else "")
        start = iso(r.start) if r.start else f"start +{r.start_offset}"
        end = iso(r.end) if r.end else f"start +{r.end_offset}"
        table.add_row(
            r.id, r.title, start, end, ", ".join(r.challenges) or "-", str(r.injects), status
        )
    console.print(table)
    st = w.at
    if st is not None and st.next_milestone is not None and st.next_at is not None:
        console.print(f"next: {st.next_milestone.key} at {iso(st.next_at)}")


@contextmanager
def progress_bar(first: str) -> Iterator[Callable[[int, int | None, str], None]]:
    """A transient bar of a long step: ``update(done, total, description)``."""
    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(first, total=None)

        def update(done: int, total: int | None, description: str) -> None:
            bar.update(task, completed=done, total=total, description=description)

        yield update


def reconcile(state: State) -> PassReport:
    """One reconciler pass with a progress bar; prints what it did and what failed."""
    rec = EnvironmentReconciler(state.ctx, state.backend)
    with progress_bar("reconciling") as update:

        def show(p: LaunchProgress) -> None:
            update(p.done, p.total, "launching containers")

        report = rec.run_once(progress=show)
    console.print(
        f"created {len(report.created)}, restarted {len(report.restarted)}, removed "
        f"{len(report.removed)} container(s) and {len(report.networks_removed)} network(s); "
        f"{len(report.failed)} instance(s) failed"
    )
    for iid, error in sorted(report.failed.items()):
        click.echo(f"instance {iid}: {error}", err=True)
    for team, error in sorted(report.jumpbox_errors.items()):
        click.echo(f"jumpbox of {whose(team)}: {error}", err=True)
    return report


def env_table(state: State) -> None:
    rows = instances.status(state.ctx)
    challenges = sorted({r.challenge for r in rows})
    table = Table("team", *challenges, title="instances (state/health)")
    by_team: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_team.setdefault(r.team, {})[r.challenge] = r
    for team_name, cells in by_team.items():
        table.add_row(
            team_name,
            *(
                f"{c.state}/{c.health or '-'}" + (f" @{c.node}" if c.node else "")
                if (c := cells.get(ch))
                else ""
                for ch in challenges
            ),
        )
    for r in rows:
        if r.last_error and r.state != "running":
            click.echo(f"{r.team}/{r.challenge}: {r.last_error.splitlines()[0][:300]}", err=True)
    console.print(table)


def print_jumpboxes(state: State) -> None:
    rows = instances.jumpboxes(state.ctx)
    if not rows:
        return
    table = Table("team", "jumpbox (SSH)", "password", title="team entry points")
    for row in rows:
        table.add_row(row.team, row.jumpbox.command, row.jumpbox.password)
    console.print(table)
