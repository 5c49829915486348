"""``rangectl event``: times and scoring, the scenario, and its controls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from range_control.cli.common import (
    ACTOR,
    AwareDateTime,
    State,
    pass_state,
    print_event,
    print_timeline,
)
from range_control.services.event import controls, scenario
from range_control.services.event import event as events
from range_control.specs.scenario import parse_duration


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
