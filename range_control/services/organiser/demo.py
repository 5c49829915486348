"""The demo event's set-up as one use case: what ``rangectl demo`` does before it serves.

The schema migrated, the pack linted (refused whole with its problems), its images built where
an engine runs, the pack loaded, four teams (their tokens issued again on a second run), the
scenario loaded and the exercise started, the first phase's environments desired. Idempotent:
a second run reuses what was built and loaded; an ended demo is refused with what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput
from range_control.core.permissions import EventState
from range_control.orchestrator.protocols import Images
from range_control.services.catalog import builds
from range_control.services.catalog.lint import Problem, lint
from range_control.services.catalog.sync import SyncReport, sync
from range_control.services.event import controls, scenario
from range_control.services.event import event as events
from range_control.services.operations import schema
from range_control.services.people import teams
from range_control.specs.api.people import TeamTokenOut

DEMO = Actor.range("demo")
TEAMS = (("Netherlands", "NL"), ("Norway", "NO"), ("Poland", "PL"), ("Canada", "CA"))
SCENARIO = "ice-scenario.yml"


@dataclass
class DemoSetup:
    challenges: int
    loaded: SyncReport
    images: int | None  # built or found; None without an engine
    tokens: list[TeamTokenOut] = field(default_factory=list)
    event: events.EventView | None = None


class PackProblems(InvalidInput):
    """The pack does not lint: every problem, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            "the challenge pack has problems:\n{problems}", problems="\n".join(map(str, problems))
        )
        self.problems = problems


def set_up(
    ctx: Range,
    pack: Path,
    engine: Images | None,
    on_build: Callable[[builds.BuildProgress], None] = lambda _p: None,
) -> DemoSetup:
    """Everything but serving (see the module's docstring); ``engine`` None: no environments."""
    schema.check_integrity(ctx)
    schema.upgrade(ctx)
    result = lint([pack])
    if result.problems:
        raise PackProblems(result.problems)
    built = builds.build_pack(engine, result.challenges, on_build) if engine is not None else None
    out = DemoSetup(len(result.challenges), sync(ctx, result.challenges, actor=DEMO), built)
    existing = {t.name for t in teams.list_teams(ctx)}
    for name, country in TEAMS:
        if name in existing:
            out.tokens.append(teams.rotate_token(ctx, name, DEMO))
        else:
            out.tokens.append(teams.add_team(ctx, name, country, actor=DEMO))
    _start(ctx, pack / SCENARIO)
    out.event = events.current(ctx)
    return out


def _start(ctx: Range, scenario_file: Path) -> None:
    """The scenario loaded and started, once; its first phase's warm-up applied."""
    ev = events.current(ctx)
    if ev.state == EventState.ENDED:
        raise Conflict(
            "the demo exercise in {data_dir} has ended; remove that directory (or set "
            "RANGE_DATA_DIR elsewhere) for a new one",
            data_dir=str(ctx.settings.data_dir),
        )
    if ev.state == EventState.NOT_STARTED:
        if scenario_file.is_file():
            scenario.load(ctx, scenario.read_file(scenario_file), DEMO, source=str(scenario_file))
        controls.start(ctx, DEMO)
    scenario.apply(ctx)  # the first phase's warm-up: its instances are desired now
