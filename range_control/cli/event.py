"""``rangectl event``, ``award`` and ``demo``: times and scoring, the scenario and its controls,
awards, and a whole demo event on the embedded defaults."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from range_control.cli.common import (
    ACTOR,
    AwareDateTime,
    State,
    console,
    env_table,
    pass_state,
    print_event,
    print_jumpboxes,
    print_timeline,
    progress_bar,
    reconcile,
)
from range_control.cli.operations import run_server
from range_control.core.errors import Unavailable
from range_control.core.languages import languages, native_name
from range_control.services.catalog import builds
from range_control.services.defence.plan import plan as defence_plan
from range_control.services.environments import instances
from range_control.services.environments.engine import Backend
from range_control.services.event import controls, scenario
from range_control.services.event import event as events
from range_control.services.organiser import awards
from range_control.services.organiser import demo as demo_setup
from range_control.services.whitecell import grading
from range_control.specs.durations import parse_duration


@click.group()
def event() -> None:
    """The event: times, state, scenario and its timeline."""


@event.command("show")
@pass_state
def event_show(state: State) -> None:
    """Show the event and its scenario timeline."""
    print_event(events.current(state.ctx))
    print_timeline(state)


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
@pass_state
def event_set(state: State, **changes: Any) -> None:
    """Set the event's name, times and scoring options."""
    print_event(events.configure(state.ctx, ACTOR, **changes))


@event.command("load")
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_state
def event_load(state: State, scenario_file: Path) -> None:
    """Validate scenario.yml, load it, and show the computed timeline."""
    spec = scenario.read_file(scenario_file)
    scenario.load(state.ctx, spec, ACTOR, source=str(scenario_file))
    print_event(events.current(state.ctx))
    print_timeline(state)


@event.command("start")
@pass_state
def event_start(state: State) -> None:
    """Start the event: flags are accepted from now."""
    print_event(controls.start(state.ctx, ACTOR))


@event.command("pause")
@pass_state
def event_pause(state: State) -> None:
    """Pause: flags and instance requests are refused; remaining time is kept."""
    print_event(controls.pause(state.ctx, ACTOR))


@event.command("resume")
@pass_state
def event_resume(state: State) -> None:
    """Resume a paused event."""
    print_event(controls.resume(state.ctx, ACTOR))


@event.command("extend")
@click.argument("duration")
@pass_state
def event_extend(state: State, duration: str) -> None:
    """Extend the current phase, e.g. `extend 15m` (everything after it moves)."""
    try:
        by = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    print_event(controls.extend(state.ctx, by, ACTOR))
    print_timeline(state)


@event.command("skip")
@pass_state
def event_skip(state: State) -> None:
    """End the current phase now; the next one starts."""
    print_event(controls.skip(state.ctx, ACTOR))
    print_timeline(state)


@event.command("end")
@pass_state
def event_end(state: State) -> None:
    """End the event now: no more flags."""
    print_event(controls.end(state.ctx, ACTOR))


event.add_command(event_end, "stop")  # the core issue's name for it


REPO = Path(__file__).resolve().parents[2]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--challenges",
    "pack",
    default=str(REPO / "challenges"),
    show_default=True,
    type=click.Path(exists=True, file_okay=False),
)
@click.option("--no-serve", is_flag=True, help="set everything up, print, and exit")
@click.option(
    "--no-environments", is_flag=True, help="no Docker: challenges without live environments only"
)
@pass_state
def demo(
    state: State, host: str, port: int, pack: str, no_serve: bool, no_environments: bool
) -> None:
    """A demo event on the embedded defaults: engine, images, schema, the challenge pack, teams,
    the ICE scenario started with its environments up; serves until Ctrl-C, which tears the
    environments down. A second run reuses what was built."""
    if no_environments:
        state.environments_off()
    ctx = state.ctx
    backend = _engine(state) if state.settings.environments_on else None
    try:
        with _build_progress() as show:
            done = demo_setup.set_up(ctx, Path(pack), backend, show)
    except demo_setup.PackProblems as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise click.ClickException("the challenge pack has problems") from None
    if done.images is not None:
        console.print(f"images: {done.images} ready")
    console.print(
        f"challenges: {done.challenges} ({len(done.loaded.created)} new, "
        f"{len(done.loaded.updated)} updated)"
    )
    table = Table("team", "country", "token (use as: Authorization: Bearer <token>)")
    for nt in done.tokens:
        table.add_row(nt.team.name, nt.team.country or "", nt.token)
    console.print(table)
    ev = done.event
    base = f"http://{host}:{port}"
    console.print(f"event {ev.name}: {ev.state}")
    print_timeline(state)
    if backend is not None:
        reconcile(state)
        env_table(state)
        print_jumpboxes(state)
    _print_links(state, base)
    console.print(f"team API:       {base}/api/v1/challenges")
    console.print(f"API document:   {base}/api/v1/openapi.json")
    if no_serve:
        return
    try:
        run_server(state, host, port, threads=8)
    finally:
        if backend is not None:
            console.print("stopping: tearing the demo's environments down")
            instances.down(ctx, instances.Selection(), demo_setup.DEMO)
            reconcile(state)


def _print_links(state: State, base: str) -> None:
    """Where each kind of user goes: the pages of the demo's event."""
    ctx = state.ctx
    console.print(f"scoreboard:     {base}/  (projector: {base}/?large=1)")
    console.print(f"team portal:    {base}/portal/  (log in with a team token above)")
    console.print(
        f"console:        {base}/console/  (log in with the organiser token: "
        f"RANGE_DATA_DIR={state.settings.data_dir} rangectl admin-token)"
    )
    for t in grading.summaries(ctx):  # the white cell's graded tasks (the report to JFC)
        due = t.due_at.strftime("%H:%MZ") if t.due_at else "when its phase runs"
        console.print(
            f"white cell:     {base}/console/tasks/{t.slug}  ({t.name}, graded task, due {due})"
        )
    defence = defence_plan(ctx)
    if defence is not None:  # the scenario's defence: each team's own services, checked per tick
        console.print(
            f"defence:        {base}/defence  ({', '.join(defence.services)}: checked every "
            f"{int(defence.spec.tick.total_seconds())} s in {', '.join(defence.spec.phases)}; "
            f"teams: {base}/portal/defence, organisers: {base}/console/defence)"
        )
    for lang in languages():
        if lang != state.settings.default_language:  # the pack and scenario are translated too
            console.print(
                f"{native_name(lang) + ':':15} {base}/language/{lang}?next=/portal/  "
                "(pages, pack and scenario; or the chooser on every page)"
            )


def _engine(state: State) -> Backend:
    """The running engine, else the repository's infra/engine.sh starts one."""
    script = REPO / "infra" / "engine.sh"
    try:
        return state.backend
    except Unavailable:
        if not script.is_file():
            raise
    console.print("no Docker engine answers: starting one with infra/engine.sh")
    if subprocess.run(["bash", str(script)], check=False).returncode != 0:  # noqa: S603, S607
        raise click.ClickException(
            "infra/engine.sh could not start an engine (see above); "
            "or run the demo with --no-environments"
        )
    return state.backend


@contextmanager
def _build_progress() -> Iterator[Callable[[builds.BuildProgress], None]]:
    """A progress bar of the images the set-up builds (content-tagged: a second run builds
    nothing)."""
    with progress_bar("images") as update:

        def show(p: builds.BuildProgress) -> None:
            what = f"{p.label}: {p.line[:80]}" if p.line else p.label
            update(p.done, p.total, f"building {what}")

        yield show


@click.command("award")
@click.argument("team")
@click.argument("value", type=int)
@click.argument("reason")
@pass_state
def award(state: State, team: str, value: int, reason: str) -> None:
    """Give a team points (negative: a penalty); the reason shows in its ledger."""
    a = awards.add_award(state.ctx, team, value, reason, ACTOR)
    console.print(f"award {a.id}: {a.team} {a.value:+d} ({a.reason})")
