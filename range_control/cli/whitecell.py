"""``rangectl report``: the after-action report (HTML, JSON, CSV)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

from range_control.cli.common import State, console, pass_state
from range_control.services.whitecell.report import Progress as Steps
from range_control.services.whitecell.report import build
from range_control.services.whitecell.report.render import FORMATS, write


def _formats(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [v for v in chosen if v not in FORMATS]
    if bad or not chosen:
        raise click.BadParameter(
            f"{', '.join(bad) or 'nothing'}: choose among {', '.join(FORMATS)} (comma-separated)"
        )
    return chosen


@click.command("report")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="directory to write the report into (made if needed)",
)
@click.option(
    "--format",
    "formats",
    default=",".join(FORMATS),
    show_default=True,
    callback=_formats,
    help="comma-separated: html, json, csv",
)
@click.option("--team", default=None, help="one team's debrief only (nothing of other teams)")
@click.option("--anonymise", is_flag=True, help="teams and people as codes (a public debrief)")
@pass_state
def report(
    state: State, out: Path, formats: tuple[str, ...], team: str | None, anonymise: bool
) -> None:
    """The after-action report: timeline, standings, every team's actions (HTML, JSON, CSV).

    The exercise as it ran, final and frozen standings, the score progression, per challenge
    statistics, every team's timeline (and its members'), the organisers' actions. Interim
    while the exercise runs."""
    with Progress(
        SpinnerColumn(), "{task.description}", TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task("reading", total=None)
        doc = build(
            state.ctx,
            team=team,
            anonymise=anonymise,
            progress=Steps(lambda what: bar.update(task, description=what)),
        )
        bar.update(task, description="writing")
        files = write(doc, out, formats)
    kind = "interim " if doc["event"]["interim"] else ""
    console.print(
        f"{kind}after-action report of {doc['event']['name']}"
        f"{' for ' + doc['event']['team'] if doc['event']['team'] else ''}:"
    )
    for f in files:
        console.print(f"  {f} ({f.stat().st_size:,} bytes)")
