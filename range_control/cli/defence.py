"""``rangectl defence``: the defence's grid and checkers, the checks paused and resumed, a past
tick checked again, a team's service reset, the game network."""

from __future__ import annotations

import json

import click
from rich.table import Table

from range_control.cli.common import State, console, pass_state
from range_control.core.actors import CLI
from range_control.core.errors import NotFound
from range_control.services.defence import actions, game, views
from range_control.services.people import teams
from range_control.services.redcell import actions as redcell
from range_control.services.redcell import plants
from range_control.specs.api.defence import RedActionIn, RedPlantIn
from range_control.specs.files import checked


@click.group("defence")
def defence() -> None:
    """Defence exercises: every team's defended services, checked each tick."""


@defence.command("status")
@click.option("--json", "as_json", is_flag=True, help="print the grid as JSON")
@pass_state
def status(state: State, as_json: bool) -> None:
    """The grid (with the checkers' private messages) and each checker's health."""
    grid = views.grid(state.ctx, organiser=True)
    if grid is None:
        raise NotFound("this event has no defence (the scenario has no defence block)")
    if as_json:
        click.echo(grid.model_dump_json())
        return
    head = "paused" if grid.paused else (f"tick {grid.tick}/{grid.ticks}" if grid.tick else "idle")
    console.print(f"defence: {head}")
    table = Table("team", *(s.slug for s in grid.services))
    for row in grid.rows:
        table.add_row(row.team, *(c.now.verdict if c.now else "-" for c in row.cells))
    console.print(table)
    health = Table("checker", "contract", "checks", "errors", "mean s", "p95 s", "latest error")
    for h in views.health(state.ctx):
        health.add_row(
            h.slug,
            h.contract,
            str(h.checks),
            str(h.checker_errors),
            f"{h.mean_seconds:.2f}" if h.mean_seconds is not None else "-",
            f"{h.p95_seconds:.2f}" if h.p95_seconds is not None else "-",
            (h.last_error or "")[:80],
        )
    console.print(health)


@defence.command("pause")
@pass_state
def pause(state: State) -> None:
    """Pause the checks (the event runs on): ticks are not checked, never charged."""
    actions.set_paused(state.ctx, True, CLI)
    console.print("checks paused")


@defence.command("resume")
@pass_state
def resume(state: State) -> None:
    """Resume the checks from the next tick."""
    actions.set_paused(state.ctx, False, CLI)
    console.print("checks resumed")


@defence.command("recheck")
@click.argument("service")
@click.option("--team", required=True)
@click.option("--tick", required=True, type=click.IntRange(1, 1_000_000))
@pass_state
def recheck(state: State, service: str, team: str, tick: int) -> None:
    """Check a past tick of TEAM's SERVICE again: the worker replaces its verdict (audited)."""
    probe = actions.recheck(state.ctx, team, service, tick, CLI)
    console.print(json.dumps({"queued": probe}))


@defence.command("reset")
@click.argument("service")
@click.option("--team", required=True)
@pass_state
def reset(state: State, service: str, team: str) -> None:
    """TEAM's SERVICE back to its baseline (it costs the team the scenario's reset cost)."""
    with state.ctx.store.read() as s:
        team_id = teams.find(s, team).id
    cost = actions.reset(state.ctx, team_id, service, CLI)
    console.print(f"{service} of {team} goes back to its baseline (it costs {cost} points)")


@defence.command("flags")
@click.option("--host", default="0.0.0.0", show_default=True)  # noqa: S104 - the game's door
@click.option("--port", default=1337, show_default=True, type=click.IntRange(1, 65535))
@pass_state
def flags(state: State, host: str, port: int) -> None:
    """Serve the TCP flag submission door (the A/D line protocol; attack-defence phases)."""
    from range_control.services.defence import flagserver

    console.print(f"flag submission on {host}:{port} (Ctrl-C stops it)")
    try:
        flagserver.serve(state.ctx, host, port)
    except KeyboardInterrupt:
        console.print("stopped")


@defence.group("game")
def game_network() -> None:
    """The game network: who reaches whose services, closed, opened, a team cut off."""


def _print_game(state: State) -> None:
    out = game.status(state.ctx)
    now = "open" if out.open else ("closed by the organisers" if out.closed else "not open")
    console.print(f"game network {out.subnet}: {now} (tick {out.tick or '-'}, {out.mode or '-'})")
    for c in out.cuts:
        over = "" if c.active else " (over)"
        console.print(f"  {c.team}: cut off until tick {c.until_tick}{over}")
    table = Table("team", "service", "address")
    for t in out.targets:
        table.add_row(t.team, t.service, t.address)
    console.print(table)


@game_network.command("status")
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@pass_state
def game_status(state: State, as_json: bool) -> None:
    """Open or not and why, the cuts, every team's services' game addresses."""
    if as_json:
        click.echo(game.status(state.ctx).model_dump_json())
        return
    _print_game(state)


@game_network.command("close")
@pass_state
def game_close(state: State) -> None:
    """Close the game network: no team reaches another's services (audited)."""
    game.set_closed(state.ctx, True, CLI)
    _print_game(state)


@game_network.command("open")
@pass_state
def game_open(state: State) -> None:
    """Open the game network again (in attack-defence ticks; audited)."""
    game.set_closed(state.ctx, False, CLI)
    _print_game(state)


@game_network.command("cut")
@click.argument("team")
@click.option("--until-tick", required=True, type=click.IntRange(1, 1_000_000))
@click.option("--reason", default="", help="why (kept in the audit log)")
@pass_state
def game_cut(state: State, team: str, until_tick: int, reason: str) -> None:
    """Cut TEAM off until a tick: it reaches nobody, submits nothing, stays a target."""
    game.cut(state.ctx, team, until_tick, CLI, reason)
    _print_game(state)


@game_network.command("restore")
@click.argument("team")
@pass_state
def game_restore(state: State, team: str) -> None:
    """Take TEAM's cut back before its tick."""
    game.restore(state.ctx, team, CLI)
    _print_game(state)


@click.group("red")
def red() -> None:
    """The red cell: its actions, declared and logged."""


@red.command("declare")
@click.argument("team")
@click.option("--service", default=None, help="the target's defended service (its slug)")
@click.option("--technique", default="", help="a MITRE ATT&CK id (T1190, T1059.004)")
@click.option(
    "--outcome", required=True, type=click.Choice(["success", "partial", "failure", "unknown"])
)
@click.option("--at", "when", default=None, help="when it happened (ISO 8601; default: now)")
@click.argument("summary")
@pass_state
def red_declare(
    state: State,
    team: str,
    service: str | None,
    technique: str,
    outcome: str,
    when: str | None,
    summary: str,
) -> None:
    """Declare an action of the red cell against TEAM: what was done (SUMMARY), audited."""
    body = checked(
        RedActionIn,
        team=team,
        service=service,
        technique=technique,
        outcome=outcome,
        summary=summary,
        at=when,
    )
    out = redcell.declare(state.ctx, body, CLI)
    console.print(f"red action {out.id} recorded against {out.team}")


@red.command("plant")
@click.argument("team")
@click.option("--service", required=True, help="the defended service it is left in (its slug)")
@click.option("--where", required=True, help="where in the service the token is left")
@click.option("--technique", default="", help="how access was gained: a MITRE ATT&CK id")
@pass_state
def red_plant(state: State, team: str, service: str, where: str, technique: str) -> None:
    """Record a plant of the red cell in TEAM's SERVICE: prints the token to leave there (the
    team loses the defence's plant_cost), audited."""
    body = checked(RedPlantIn, team=team, service=service, where=where, technique=technique)
    out = plants.plant(state.ctx, body, CLI)
    console.print(f"plant {out.id} in {out.team}'s {out.service} ({out.points} points): leave")
    click.echo(out.token)


@red.command("log")
@click.option("--team", default=None, help="against this team only")
@click.option("--json", "as_json", is_flag=True, help="print it as JSON")
@pass_state
def red_log(state: State, team: str | None, as_json: bool) -> None:
    """The red cell's actions, newest first."""
    team_id = None
    if team is not None:
        with state.ctx.store.read() as s:
            team_id = teams.find(s, team).id
    rows = redcell.actions(state.ctx, team_id)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("id", "at", "by", "team", "service", "technique", "outcome", "summary")
    for r in rows:
        table.add_row(
            str(r.id),
            r.at.isoformat(timespec="seconds"),
            r.by,
            r.team,
            r.service or "-",
            r.technique or "-",
            r.outcome,
            r.summary[:80],
        )
    console.print(table)
