"""``rangectl challenges`` and ``images``: lint, prove solvable, load, list, hide and show
challenges; the base image (debootstrap, no registry) and the others."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from range_control.cli.common import ACTOR, State, console, err_console, pass_state
from range_control.core.settings import Settings
from range_control.services.catalog import builds, live_check
from range_control.services.catalog.lint import Known, LintResult, lint
from range_control.services.catalog.sync import known_in, set_visibility, sync
from range_control.services.environments import engine
from range_control.services.operations import schema
from range_control.services.organiser import records


@click.group()
def challenges() -> None:
    """Challenge catalog: lint, check and load challenge.yml directories."""


def _lint(
    paths: tuple[str, ...],
    *,
    strict: bool = False,
    known: Known | None = None,
    images: bool = True,
) -> LintResult:
    """Lint and print one line per problem, then one per warning (``path: field: warning:
    message``); ``strict`` makes every warning a problem. With ``images``, prebuilt images are
    looked for on the engine (unless environments are off)."""
    # The engine's settings only: a lint writes nothing (no data dir, no secrets).
    present = engine.image_checker(Settings()) if images else None
    result = lint([Path(p) for p in paths], known=known, image_present=present)
    if strict:
        result.problems.extend(result.warnings)
        result.warnings = []
    for problem in result.problems:
        click.echo(str(problem))
    for w in result.warnings:
        click.echo(
            f"{w.path}: {w.where}: warning: {w.message}"
            if w.where
            else f"{w.path}: warning: {w.message}"
        )
    return result


def _summary(result: LintResult) -> str:
    warned = f", {len(result.warnings)} warning(s)" if result.warnings else ""
    return f"{len(result.challenges)} challenge(s){warned}"


@challenges.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="warnings are problems too (exit 1)")
def challenges_validate(paths: tuple[str, ...], strict: bool) -> None:
    """Lint challenge dirs (or trees of them); one line per problem or warning, exit 1 on any
    problem. Prebuilt images are looked for on the engine when one answers."""
    result = _lint(paths, strict=strict)
    if result.problems:
        err_console.print(
            f"[red]{len(result.problems)} problem(s)[/red] in {len(result.challenges)} "
            "loadable challenge(s)"
        )
        sys.exit(1)
    console.print(f"{_summary(result)} OK")


@challenges.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--live", is_flag=True, help="build, start, solve and compare flags on the engine")
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="write JUnit XML here")
@click.option(
    "--jobs",
    default=2,
    show_default=True,
    type=click.IntRange(1, 16),
    help="challenges checked at once",
)
@click.option(
    "--health-timeout",
    default=180,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="seconds for services to become healthy",
)
@click.option("--strict", is_flag=True, help="warnings are problems too")
@pass_state
def challenges_check(
    state: State,
    paths: tuple[str, ...],
    live: bool,
    junit: str | None,
    jobs: int,
    health_timeout: int,
    strict: bool,
) -> None:
    """Lint; with --live also prove each challenge solvable on a live instance; exit 1 on any
    failure."""
    result = _lint(paths, strict=strict, images=live)
    if result.problems:
        raise click.ClickException(f"{len(result.problems)} problem(s): fix them first")
    if not live:
        console.print(f"{_summary(result)} OK (lint; add --live to solve them)")
        return
    # The check's own instances publish on loopback and are watched closely.
    backend = engine.backend(state.settings, publish_ip="127.0.0.1", health_interval=1.0)
    t0 = time.monotonic()

    # Challenge images build FROM the base image: made here on an engine that has none yet.
    def say(line: str) -> None:
        err_console.print(f"  base image: {line[:100]}", highlight=False)

    if builds.build_base(backend, say):
        err_console.print(f"  base image built in {time.monotonic() - t0:.0f} s")
    checker = live_check.LiveCheck(
        backend,
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
        notes = {
            item.slug: [str(w) for w in result.warnings_of(item.path)] for item in result.challenges
        }
        Path(junit).write_bytes(live_check.junit_xml(results, notes))
    table = Table("challenge", "result", *live_check.STEPS, "why")
    for r in results:
        times = {st.name: f"{st.seconds:.1f}s" + ("" if st.ok else " ✗") for st in r.steps}
        bad = r.failure
        why = f"{bad.name}: {bad.detail.splitlines()[0] if bad.detail else ''}" if bad else ""
        table.add_row(
            r.slug,
            "[green]pass[/green]" if r.ok else "[red]FAIL[/red]",
            *(times.get(n, "") for n in live_check.STEPS),
            why,
        )
    console.print(table)
    for r in results:
        if r.failure is not None and "\n" in r.failure.detail:
            err_console.print(f"[red]{r.slug}[/red] ({r.failure.name}):")
            err_console.print(r.failure.detail, highlight=False, markup=False)
    failed = sum(1 for r in results if not r.ok)
    console.print(
        f"{len(results) - failed} passed, {failed} failed in {time.monotonic() - t0:.1f} s"
    )
    if failed:
        sys.exit(1)


@challenges.command("sync")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="warnings are problems too: nothing is loaded")
@pass_state
def challenges_sync(state: State, paths: tuple[str, ...], strict: bool) -> None:
    """Lint, then load into the database by slug (idempotent; solves are kept). Creates or
    migrates the schema first, as serve does. Prerequisites may name challenges loaded
    before (one challenge at a time, as with ctfcli)."""
    schema.upgrade(state.ctx)
    result = _lint(paths, strict=strict, known=known_in(state.ctx))
    if result.problems:
        err_console.print("[red]nothing loaded:[/red] fix the problems above first")
        sys.exit(1)
    report = sync(state.ctx, result.challenges, actor=ACTOR)
    console.print(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}"
    )
    for slug in report.created:
        console.print(f"  + {slug}")
    for slug in report.updated:
        console.print(f"  ~ {slug}")


@challenges.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@pass_state
def challenges_list(state: State, as_json: bool) -> None:
    """The loaded challenges."""
    rows = records.list_challenges(state.ctx)
    if as_json:
        for c in rows:
            click.echo(c.model_dump_json())
        return
    table = Table("slug", "name", "category", "type", "value", "visible", "solves", "services")
    for c in rows:
        table.add_row(
            c.slug,
            c.name,
            c.category,
            c.type,
            str(c.value),
            "yes" if c.visible else "no",
            str(c.solves),
            str(c.services),
        )
    console.print(table)


@challenges.command("solution")
@click.argument("slug")
@pass_state
def challenges_solution(state: State, slug: str) -> None:
    """Print a challenge's write-up (challenge.yml's solution)."""
    sol = records.solution(state.ctx, slug)
    err_console.print(f"{slug}: solution ({sol.state} for teams in CTFd)", highlight=False)
    click.echo(sol.content)


@challenges.command("hide")
@click.argument("slug")
@pass_state
def challenges_hide(state: State, slug: str) -> None:
    """Hide a challenge from teams (organiser override)."""
    set_visibility(state.ctx, slug, False, ACTOR)
    console.print(f"{slug}: hidden")


@challenges.command("show")
@click.argument("slug")
@click.option("--as-spec", is_flag=True, help="drop the override: follow challenge.yml's state")
@pass_state
def challenges_show(state: State, slug: str, as_spec: bool) -> None:
    """Show a hidden challenge to teams."""
    visible = set_visibility(state.ctx, slug, None if as_spec else True, ACTOR)
    console.print(f"{slug}: {'visible' if visible else 'hidden'}")


@click.group()
def images() -> None:
    """Local images (no registry): the base image and challenge images."""


@images.command("build-base")
@click.option("--rebuild", is_flag=True, help="build even when the image exists")
@click.option("--tag", default="range/base:bookworm", show_default=True)
@pass_state
def images_build_base(state: State, rebuild: bool, tag: str) -> None:
    """Debian minbase via debootstrap (apt's mirror or RANGE_DEBIAN_MIRROR), imported as TAG."""
    backend = state.backend
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"building {tag}")

        def show(line: str) -> None:
            bar.update(task, description=f"{tag}: {line[:100]}")

        built = builds.build_base(backend, show, rebuild=rebuild, tag=tag)
    console.print(f"{tag}: {'built' if built else 'present (use --rebuild to build again)'}")


def _pack(paths: tuple[str, ...]) -> list:
    result = lint([Path(p) for p in paths])
    for problem in result.problems:
        click.echo(str(problem))
    if result.problems:
        raise click.ClickException(f"{len(result.problems)} problem(s): fix them first")
    return result.challenges


@images.command("build")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@pass_state
def images_build(state: State, paths: tuple[str, ...]) -> None:
    """Build the base, jumpbox and every live challenge's images of PATHS on the engine (on a
    Swarm: on the manager, then pushed to RANGE_REGISTRY); content-tagged, so again is free."""
    pack = _pack(paths)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("images")

        def show(p: builds.BuildProgress) -> None:
            what = f"{p.label}: {p.line[:80]}" if p.line else p.label
            bar.update(task, description=f"[{p.done}/{p.total}] {what}")

        total = builds.build_pack(state.backend, pack, show)
    console.print(f"images: {total} ready")


@images.command("push")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@pass_state
def images_push(state: State, paths: tuple[str, ...]) -> None:
    """Push the pack's images (and the jumpbox's) to the range's registry and print what the
    nodes run, by digest. On one engine there is nothing to push: its local images run."""
    for local, ref in builds.refs(state.backend, _pack(paths)):
        click.echo(f"{local} -> {ref}")
