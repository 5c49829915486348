"""``rangectl images``: the base image (debootstrap, no registry) and the others."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from range_control.cli.common import State, console, pass_state
from range_control.services.catalog import builds
from range_control.services.catalog.lint import lint


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
