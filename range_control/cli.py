"""``rangectl``: the organisers' and authors' command line."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from range_control.clock import iso
from range_control.services import admin, catalog, events, scenario, teams
from range_control.services.context import Range
from range_control.services.errors import ServiceError
from range_control.settings import Settings, load_settings, secret
from range_control.specs.scenario import parse_duration

# Piped or captured output is not cut to 80 columns: organisers grep and log it.
console = Console() if sys.stdout.isatty() else Console(width=200)
err_console = Console(stderr=True)
ACTOR = "cli"


class Ctx:
    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._rng: Range | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def rng(self) -> Range:
        if self._rng is None:
            self._rng = Range.from_settings(self.settings)
        return self._rng


pass_ctx = click.make_pass_decorator(Ctx, ensure=True)


class RangeGroup(click.Group):
    """Turns errors a user can cause into one clear line and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServiceError as exc:
            # Plain echo, not rich: an error line must never be wrapped (paths are grepped).
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)


@click.group(cls=RangeGroup)
@click.version_option(package_name="range-control")
def main() -> None:
    """Range Control: run the CIOR International Cyber Event range.

    Settings come from the environment: RANGE_DATA_DIR (default ./var), RANGE_DATABASE_URL
    (default SQLite in the data dir), RANGE_ADMIN_TOKEN, RANGE_SECRET_KEY, RANGE_FLAG_SECRET
    (generated and kept in the data dir when unset).
    """


# --- db -----------------------------------------------------------------------------------
@main.group(cls=RangeGroup)
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_ctx
def db_upgrade(ctx: Ctx, revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from range_control.store import migrate

    migrate.upgrade(ctx.rng.store.engine, revision)
    console.print(f"schema at revision {migrate.current(ctx.rng.store.engine)}")


@db.command("current")
@pass_ctx
def db_current(ctx: Ctx) -> None:
    """Show the schema revision of the database and the newest one this code knows."""
    from range_control.store import migrate

    console.print(f"database: {migrate.current(ctx.rng.store.engine)}  code: {migrate.head()}")


@db.command("revision")
@click.option("-m", "--message", required=True)
@pass_ctx
def db_revision(ctx: Ctx, message: str) -> None:
    """(Developers) autogenerate a migration from the models."""
    from range_control.store import migrate

    migrate.revision(ctx.rng.store.engine, message)


# --- serve --------------------------------------------------------------------------------
def _log_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # APScheduler logs every run of the half-second watch job at INFO.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _serve(ctx: Ctx, host: str, port: int, threads: int) -> None:
    """One process: migrate, run the scheduler in-process, serve with waitress."""
    import waitress

    from range_control.scheduler import RangeScheduler
    from range_control.store import migrate
    from range_control.store.session import SchedulerBusy
    from range_control.web import create_app

    _log_setup()
    migrate.upgrade(ctx.rng.store.engine)
    app = create_app(ctx.settings)
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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def serve(ctx: Ctx, host: str, port: int, threads: int) -> None:
    """Run the control plane in one process (embedded default); migrates the schema first."""
    _serve(ctx, host, port, threads)


# --- challenges ---------------------------------------------------------------------------
@main.group(cls=RangeGroup)
def challenges() -> None:
    """Challenge catalog: lint and load challenge.yml directories."""


def _paths(paths: tuple[str, ...]) -> list[Path]:
    return [Path(p) for p in paths]


@challenges.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def challenges_validate(paths: tuple[str, ...]) -> None:
    """Lint challenge dirs (or trees of them); one line per problem, exit 1 if any."""
    result = catalog.lint(_paths(paths))
    for problem in result.problems:
        click.echo(str(problem))
    if result.problems:
        err_console.print(
            f"[red]{len(result.problems)} problem(s)[/red] in {len(result.challenges)} "
            "loadable challenge(s)"
        )
        sys.exit(1)
    console.print(f"{len(result.challenges)} challenge(s) OK")


@challenges.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--live", is_flag=True, help="build, start, solve and compare flags on the engine")
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="write JUnit XML here")
@click.option("--jobs", default=2, show_default=True, type=click.IntRange(1, 16),
              help="challenges checked at once")  # fmt: skip
@click.option("--health-timeout", default=180, show_default=True, type=click.IntRange(5, 3600),
              help="seconds for services to become healthy")  # fmt: skip
def challenges_check(paths: tuple[str, ...], live: bool, junit: str | None, jobs: int,
                     health_timeout: int) -> None:  # fmt: skip
    """Lint; with --live also prove each challenge solvable on a live instance; exit 1 on any
    failure."""
    result = catalog.lint(_paths(paths))
    for problem in result.problems:
        click.echo(str(problem))
    if result.problems:
        raise click.ClickException(f"{len(result.problems)} problem(s): fix them first")
    if not live:
        console.print(f"{len(result.challenges)} challenge(s) OK (lint; add --live to solve them)")
        return
    from range_control.orchestrator import check as chk
    from range_control.orchestrator import images as img

    client = _docker()
    if not img.image_exists(client, img.BASE_IMAGE):
        raise click.ClickException(
            f"{img.BASE_IMAGE} is missing: run `rangectl images build-base` first"
        )
    t0 = time.monotonic()
    checker = chk.LiveCheck(
        client,
        jobs=jobs,
        health_timeout=health_timeout,
        progress=lambda msg: err_console.print(f"  {msg}", highlight=False, soft_wrap=True),
    )
    try:
        results = checker.run(result.challenges)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]: everything the check started is removed")
        sys.exit(130)
    if junit:
        Path(junit).write_bytes(chk.junit_xml(results))
    table = Table("challenge", "result", *chk.STEPS, "why")
    for r in results:
        times = {st.name: f"{st.seconds:.1f}s" + ("" if st.ok else " ✗") for st in r.steps}
        bad = r.failure
        why = f"{bad.name}: {bad.detail.splitlines()[0] if bad.detail else ''}" if bad else ""
        table.add_row(r.slug, "[green]pass[/green]" if r.ok else "[red]FAIL[/red]",
                      *(times.get(n, "") for n in chk.STEPS), why)  # fmt: skip
    console.print(table)
    for r in results:
        if r.failure is not None and "\n" in r.failure.detail:
            err_console.print(f"[red]{r.slug}[/red] ({r.failure.name}):")
            err_console.print(r.failure.detail, highlight=False, markup=False)
    failed = sum(1 for r in results if not r.ok)
    console.print(f"{len(results) - failed} passed, {failed} failed in "
                  f"{time.monotonic() - t0:.1f} s")  # fmt: skip
    if failed:
        sys.exit(1)


@challenges.command("sync")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@pass_ctx
def challenges_sync(ctx: Ctx, paths: tuple[str, ...]) -> None:
    """Lint, then load into the database by slug (idempotent; solves are kept)."""
    result = catalog.lint(_paths(paths))
    if result.problems:
        for problem in result.problems:
            click.echo(str(problem))
        err_console.print("[red]nothing loaded:[/red] fix the problems above first")
        sys.exit(1)
    report = catalog.sync(ctx.rng, result.challenges, actor=ACTOR)
    console.print(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}"
    )
    for slug in report.created:
        console.print(f"  + {slug}")
    for slug in report.updated:
        console.print(f"  ~ {slug}")


@challenges.command("list")
@pass_ctx
def challenges_list(ctx: Ctx) -> None:
    """The loaded challenges."""
    table = Table("slug", "name", "category", "type", "value", "visible", "solves")
    for c in admin.list_challenges(ctx.rng):
        table.add_row(
            c["slug"], c["name"], c["category"], c["type"], str(c["value"]),
            "yes" if c["visible"] else "no", str(c["solves"]),
        )  # fmt: skip
    console.print(table)


@challenges.command("hide")
@click.argument("slug")
@pass_ctx
def challenges_hide(ctx: Ctx, slug: str) -> None:
    """Hide a challenge from teams (organiser override)."""
    catalog.set_visibility(ctx.rng, slug, False, ACTOR)
    console.print(f"{slug}: hidden")


@challenges.command("show")
@click.argument("slug")
@click.option("--as-spec", is_flag=True, help="drop the override: follow challenge.yml's state")
@pass_ctx
def challenges_show(ctx: Ctx, slug: str, as_spec: bool) -> None:
    """Show a hidden challenge to teams."""
    visible = catalog.set_visibility(ctx.rng, slug, None if as_spec else True, ACTOR)
    console.print(f"{slug}: {'visible' if visible else 'hidden'}")


# --- teams --------------------------------------------------------------------------------
@main.group(cls=RangeGroup, name="teams")
def teams_group() -> None:
    """Teams and their tokens."""


@teams_group.command("add")
@click.argument("name")
@click.option("--country", help="ISO 3166 code, e.g. NL or NLD")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@pass_ctx
def teams_add(ctx: Ctx, name: str, country: str | None, as_json: bool) -> None:
    """Add a team and print its token (shown this once)."""
    nt = teams.add_team(ctx.rng, name, country, actor=ACTOR)
    if as_json:
        click.echo(
            json.dumps(
                {"team": nt.team.name, "id": nt.team.id, "country": nt.team.country,
                 "token": nt.token}
            )
        )  # fmt: skip
    else:
        console.print(f"team {nt.team.name} (id {nt.team.id}) token:")
        click.echo(nt.token)


@teams_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="where to write name,country,token (default: <csv>-tokens.csv)",
)
@pass_ctx
def teams_import(ctx: Ctx, csv_file: Path, out: Path | None) -> None:
    """Add every team of a name,country CSV; write their tokens to a CSV to hand out."""
    dest = out or csv_file.with_name(csv_file.stem + "-tokens.csv")
    if dest.exists():
        raise click.ClickException(
            f"{dest} exists; choose another --out (tokens are not reprinted)"
        )
    created = teams.import_csv(ctx.rng, csv_file, actor=ACTOR)
    teams.write_tokens_csv(created, dest)
    console.print(f"{len(created)} team(s) added; tokens written to {dest} (mode 0600)")


@teams_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def teams_list(ctx: Ctx, as_json: bool) -> None:
    """All teams."""
    rows = teams.list_teams(ctx.rng)
    if as_json:
        click.echo(json.dumps([{**t.__dict__, "created_at": iso(t.created_at)} for t in rows]))
        return
    table = Table("id", "name", "country", "disabled")
    for t in rows:
        table.add_row(str(t.id), t.name, t.country or "", "yes" if t.disabled else "")
    console.print(table)


@teams_group.command("disable")
@click.argument("team")
@pass_ctx
def teams_disable(ctx: Ctx, team: str) -> None:
    """Disable a team (by name or id)."""
    console.print(f"disabled {teams.set_disabled(ctx.rng, team, True, ACTOR).name}")


@teams_group.command("enable")
@click.argument("team")
@pass_ctx
def teams_enable(ctx: Ctx, team: str) -> None:
    """Enable a team again."""
    console.print(f"enabled {teams.set_disabled(ctx.rng, team, False, ACTOR).name}")


@teams_group.command("rotate-token")
@click.argument("team")
@pass_ctx
def teams_rotate(ctx: Ctx, team: str) -> None:
    """Issue a new token for a team; the old one stops working."""
    nt = teams.rotate_token(ctx.rng, team, ACTOR)
    console.print(f"team {nt.team.name} new token:")
    click.echo(nt.token)


# --- event --------------------------------------------------------------------------------
@main.group(cls=RangeGroup)
def event() -> None:
    """The event: times, state, scoring options."""


def _print_event(ev: events.EventView) -> None:
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


def _fmt_time(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value) or "-"
    if isinstance(value, timedelta):
        return f"start +{value}"
    return "-"


def _print_timeline(ctx: Ctx) -> None:
    rows = scenario.timeline_rows(ctx.rng)
    if not rows:
        return
    table = Table("phase", "title", "start", "end", "challenges", "injects", "status",
                  title="timeline (UTC)")  # fmt: skip
    for r in rows:
        status = r["status"] + (f" (+{r['extended_by']})" if r["extended_by"] else "")
        table.add_row(r["id"], r["title"], _fmt_time(r["start"]), _fmt_time(r["end"]),
                      ", ".join(r["challenges"]) or "-", str(r["injects"]), status)  # fmt: skip
    console.print(table)
    _, st = scenario.state(ctx.rng)
    if st is not None and st.next_milestone is not None and st.next_at is not None:
        console.print(f"next: {st.next_milestone.key} at {iso(st.next_at)}")


@event.command("show")
@pass_ctx
def event_show(ctx: Ctx) -> None:
    """Show the event and its scenario timeline."""
    _print_event(events.current(ctx.rng))
    _print_timeline(ctx)


@event.command("load")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def event_load(ctx: Ctx, scenario_file: Path) -> None:
    """Validate scenario.yml, load it, and show the computed timeline."""
    spec = scenario.read_file(scenario_file)
    scenario.load(ctx.rng, spec, ACTOR, source=str(scenario_file))
    _print_event(events.current(ctx.rng))
    _print_timeline(ctx)


@event.command("start")
@pass_ctx
def event_start(ctx: Ctx) -> None:
    """Start the event: flags are accepted from now."""
    _print_event(scenario.start(ctx.rng, ACTOR))


@event.command("pause")
@pass_ctx
def event_pause(ctx: Ctx) -> None:
    """Pause: flags and instance requests are refused; remaining time is kept."""
    _print_event(scenario.pause(ctx.rng, ACTOR))


@event.command("resume")
@pass_ctx
def event_resume(ctx: Ctx) -> None:
    """Resume a paused event."""
    _print_event(scenario.resume(ctx.rng, ACTOR))


@event.command("extend")
@click.argument("duration")
@pass_ctx
def event_extend(ctx: Ctx, duration: str) -> None:
    """Extend the current phase, e.g. `extend 15m` (everything after it moves)."""
    try:
        by = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    _print_event(scenario.extend(ctx.rng, by, ACTOR))
    _print_timeline(ctx)


@event.command("skip")
@pass_ctx
def event_skip(ctx: Ctx) -> None:
    """End the current phase now; the next one starts."""
    _print_event(scenario.skip(ctx.rng, ACTOR))
    _print_timeline(ctx)


@event.command("end")
@pass_ctx
def event_end(ctx: Ctx) -> None:
    """End the event now: no more flags."""
    _print_event(scenario.end(ctx.rng, ACTOR))


event.add_command(event_end, "stop")  # the core issue's name for it


@main.command()
@pass_ctx
def worker(ctx: Ctx) -> None:
    """Run the scheduler (timeline, injects, reconciling environments); one per range."""
    import threading

    from range_control.scheduler import RangeScheduler
    from range_control.store.session import SCHEMA_HEAD, SchedulerBusy, SchemaMismatch

    _log_setup()
    try:
        ctx.rng.store.require_schema(SCHEMA_HEAD)
        sched = RangeScheduler(ctx.rng)
        sched.start()
    except (SchedulerBusy, SchemaMismatch) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sched.stop()


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


@event.command("set")
@click.option("--name")
@click.option("--start", "starts_at", type=AwareDateTime(), help="ISO time with zone; '' clears")
@click.option("--end", "ends_at", type=AwareDateTime())
@click.option("--freeze", "freeze_at", type=AwareDateTime())
@click.option(
    "--points-fixed-at-solve/--retroactive",
    "points_fixed_at_solve",
    default=None,
    help="value a solve at its time, or (default, like CTFd) at the current value",
)
@click.option("--first-blood-bonus", type=click.IntRange(0, 1_000_000))
@pass_ctx
def event_set(ctx: Ctx, **changes: Any) -> None:
    """Set the event's name, times and scoring options."""
    _print_event(events.configure(ctx.rng, ACTOR, **changes))


# --- awards -------------------------------------------------------------------------------
@main.command("award")
@click.argument("team")
@click.argument("value", type=int)
@click.argument("reason")
@pass_ctx
def award(ctx: Ctx, team: str, value: int, reason: str) -> None:
    """Give a team points (negative: a penalty); the reason shows in its ledger."""
    a = admin.add_award(ctx.rng, team, value, reason, ACTOR)
    console.print(f"award {a['id']}: {a['team']} {a['value']:+d} ({a['reason']})")


@main.command("admin-token")
@pass_ctx
def admin_token(ctx: Ctx) -> None:
    """Print the organiser API token (from RANGE_ADMIN_TOKEN or the data dir)."""
    click.echo(secret(ctx.settings.admin_token))


# --- environments -------------------------------------------------------------------------
@main.group(cls=RangeGroup)
def env() -> None:
    """Team instances of live challenges (desired in the database, made real by the reconciler)."""


def _reconcile(ctx: Ctx) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from range_control.orchestrator.docker_backend import DockerBackend
    from range_control.orchestrator.reconciler import Reconciler

    backend = DockerBackend(_docker(), publish_ip=ctx.settings.publish_ip,
                            health_interval=ctx.settings.health_interval)  # fmt: skip
    rec = Reconciler(ctx.rng, backend)
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task("reconciling", total=None)

        def show(msg: str) -> None:
            done, total = (int(x) for x in msg.split("/"))
            bar.update(task, completed=done, total=total, description="launching containers")

        report = rec.run_once(progress=show)
    console.print(
        f"created {len(report.created)}, restarted {len(report.restarted)}, removed "
        f"{len(report.removed)} container(s) and {len(report.networks_removed)} network(s); "
        f"{len(report.failed)} instance(s) failed"
    )
    for iid, error in sorted(report.failed.items()):
        click.echo(f"instance {iid}: {error}", err=True)
    return report


def _env_sel(team: str | None, challenge: str | None) -> Any:
    from range_control.services.environments import Selection

    return Selection(team=team, challenge=challenge)


@env.command("up")
@click.option("--team", help="team name or id (default: every enabled team)")
@click.option("--challenge", help="challenge slug (default: every open live challenge)")
@pass_ctx
def env_up(ctx: Ctx, team: str | None, challenge: str | None) -> None:
    """Bring up the selected instances (all by default) and reconcile, with progress."""
    from range_control.services import environments

    added = environments.up(ctx.rng, _env_sel(team, challenge), ACTOR)
    console.print(f"{added} instance(s) added to the desired state")
    report = _reconcile(ctx)
    _env_table(ctx)
    if report.failed:
        sys.exit(1)


@env.command("down")
@click.option("--team")
@click.option("--challenge")
@pass_ctx
def env_down(ctx: Ctx, team: str | None, challenge: str | None) -> None:
    """Remove the selected instances; with no filter every object of the event goes."""
    from range_control.services import environments

    removed = environments.down(ctx.rng, _env_sel(team, challenge), ACTOR)
    console.print(f"{removed} instance(s) removed from the desired state")
    _reconcile(ctx)


@env.command("status")
@pass_ctx
def env_status(ctx: Ctx) -> None:
    """A team x challenge table of instance state and health."""
    _env_table(ctx)


def _env_table(ctx: Ctx) -> None:
    from range_control.services import environments

    rows = environments.status(ctx.rng)
    challenges = sorted({r.challenge for r in rows})
    table = Table("team", *challenges, title="instances (state/health)")
    by_team: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_team.setdefault(r.team, {})[r.challenge] = r
    for team_name, cells in by_team.items():
        table.add_row(team_name, *(
            f"{c.state}/{c.health or '-'}" if (c := cells.get(ch)) else "" for ch in challenges
        ))  # fmt: skip
    console.print(table)


# --- images -------------------------------------------------------------------------------
@main.group(cls=RangeGroup)
def images() -> None:
    """Local images (no registry): the base image and challenge images."""


@images.command("build-base")
@click.option("--rebuild", is_flag=True, help="build even when the image exists")
@click.option("--tag", default="range/base:bookworm", show_default=True)
def images_build_base(rebuild: bool, tag: str) -> None:
    """Debian minbase via debootstrap (apt's mirror or RANGE_DEBIAN_MIRROR), imported as TAG."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from range_control.orchestrator import images as img

    client = _docker()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"building {tag}")

        def show(line: str) -> None:
            bar.update(task, description=f"{tag}: {line[:100]}")

        try:
            built = img.build_base(client, tag=tag, rebuild=rebuild, progress=show)
        except img.ImageError as exc:
            raise click.ClickException(str(exc)) from None
    console.print(f"{tag}: {'built' if built else 'present (use --rebuild to build again)'}")


def _docker() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
        raise click.ClickException(
            f"no Docker engine answers ({exc.__class__.__name__}): run infra/engine.sh"
        ) from None
    return client


# --- demo ---------------------------------------------------------------------------------
DEMO_TEAMS = (("Netherlands", "NL"), ("Norway", "NO"), ("Poland", "PL"), ("Canada", "CA"))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--challenges",
    "pack",
    default=str(Path(__file__).resolve().parent.parent / "challenges"),
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
)
@click.option("--no-serve", is_flag=True, help="set everything up, print, and exit")
@click.option("--no-environments", is_flag=True,
              help="no Docker: challenges without live environments only")  # fmt: skip
@pass_ctx
def demo(ctx: Ctx, host: str, port: int, pack: str, no_serve: bool,
         no_environments: bool) -> None:  # fmt: skip
    """A demo event on the embedded defaults: engine, images, schema, the challenge pack, teams,
    the ICE scenario started with its environments up; serves until Ctrl-C, which tears the
    environments down. A second run reuses what was built."""
    from range_control.store import migrate

    rng = ctx.rng
    migrate.upgrade(rng.store.engine)
    result = catalog.lint([Path(pack)])
    if result.problems:
        for problem in result.problems:
            click.echo(str(problem))
        raise click.ClickException("the challenge pack has problems")
    client = None if no_environments else _engine_for_demo()
    if client is not None:
        _build_images(client, result.challenges)
    report = catalog.sync(rng, result.challenges, actor="demo")
    console.print(
        f"challenges: {len(result.challenges)} ({len(report.created)} new, "
        f"{len(report.updated)} updated)"
    )
    existing = {t.name for t in teams.list_teams(rng)}
    table = Table("team", "country", "token (use as: Authorization: Bearer <token>)")
    for name, country in DEMO_TEAMS:
        if name in existing:
            nt = teams.rotate_token(rng, name, "demo")
        else:
            nt = teams.add_team(rng, name, country, actor="demo")
        table.add_row(nt.team.name, nt.team.country or "", nt.token)
    console.print(table)
    scenario_file = Path(pack) / "ice-scenario.yml"
    ev = events.current(rng)
    if scenario_file.is_file() and ev.state == "not_started":
        scenario.load(rng, scenario.read_file(scenario_file), "demo", source=str(scenario_file))
    if ev.state == "ended":
        raise click.ClickException(
            f"the demo exercise in {ctx.settings.data_dir} has ended; remove that directory "
            "(or set RANGE_DATA_DIR elsewhere) for a new one"
        )
    if ev.state == "not_started":
        scenario.start(rng, "demo")
    scenario.apply(rng)  # the first phase's warm-up: its instances are desired now
    ev = events.current(rng)
    base = f"http://{host}:{port}"
    console.print(f"event {ev.name}: {ev.state}")
    _print_timeline(ctx)
    if client is not None:
        _reconcile(ctx)
        _env_table(ctx)
        _print_jumpboxes(ctx)
    console.print(f"scoreboard:     {base}/  (projector: {base}/?large=1)")
    console.print(f"team portal:    {base}/portal/  (log in with a team token above)")
    console.print(f"console:        {base}/console/  (log in with the organiser token: "
                  f"RANGE_DATA_DIR={ctx.settings.data_dir} rangectl admin-token)")  # fmt: skip
    console.print(f"team API:       {base}/api/v1/challenges")
    console.print(f"API document:   {base}/api/v1/openapi.json")
    if no_serve:
        return
    try:
        _serve(ctx, host, port, threads=8)
    finally:
        if client is not None:
            from range_control.services import environments

            console.print("stopping: tearing the demo's environments down")
            environments.down(rng, environments.Selection(), "demo")
            _reconcile(ctx)


def _engine_for_demo() -> Any:
    """A Docker engine: the running one, else the repository's infra/engine.sh starts one."""
    script = Path(__file__).resolve().parent.parent / "infra" / "engine.sh"
    try:
        return _docker()
    except click.ClickException:
        if not script.is_file():
            raise
    console.print("no Docker engine answers: starting one with infra/engine.sh")
    import subprocess

    if subprocess.run(["bash", str(script)], check=False).returncode != 0:  # noqa: S603, S607
        raise click.ClickException("infra/engine.sh could not start an engine (see above); "
                                   "or run the demo with --no-environments")  # fmt: skip
    return _docker()


def _build_images(client: Any, pack: list[Any]) -> None:
    """The base image, the jumpbox image and every live challenge's images, with progress;
    content-tagged, so a second run builds nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from range_control.orchestrator import images as img
    from range_control.orchestrator.backend import ServiceRun
    from range_control.orchestrator.docker_backend import BackendError, DockerBackend

    backend = DockerBackend(client)
    jobs: list[tuple[str, Any]] = [(f"base image {img.BASE_IMAGE}", None),
                                   ("jumpbox image", backend.jumpbox_image)]  # fmt: skip
    for item in pack:
        env = item.spec.environment
        for svc, ref in catalog.image_refs(item).items():
            spec = next(x for x in env.services if x.name == svc)
            jobs.append((f"{item.slug}/{svc}", (lambda i=item, sp=spec, r=ref: backend.ensure_image(
                ServiceRun(sp, r), i.slug, str(i.directory)))))  # fmt: skip
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task("images", total=len(jobs))
        for label, job in jobs:
            bar.update(task, description=f"building {label}")
            try:
                if job is None:
                    img.build_base(client, progress=lambda line, lb=label: bar.update(
                        task, description=f"{lb}: {line[:80]}"))  # fmt: skip
                else:
                    job()
            except (img.ImageError, BackendError) as exc:
                raise click.ClickException(str(exc)) from None
            bar.advance(task)
    console.print(f"images: {len(jobs)} ready")


def _print_jumpboxes(ctx: Ctx) -> None:
    from range_control.services import environments

    rows = environments.jumpboxes(ctx.rng)
    if not rows:
        return
    table = Table("team", "jumpbox (SSH)", "password", title="team entry points")
    for name, access in rows:
        table.add_row(name, access["command"], access["password"])
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
