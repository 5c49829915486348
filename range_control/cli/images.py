"""``rangectl images``: the base image (debootstrap, no registry) and the others."""

from __future__ import annotations

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from range_control.cli.common import State, console, pass_state
from range_control.services import images as builds


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
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"building {tag}")

        def show(line: str) -> None:
            bar.update(task, description=f"{tag}: {line[:100]}")

        built = builds.build_base(backend, show, rebuild=rebuild, tag=tag)
    console.print(f"{tag}: {'built' if built else 'present (use --rebuild to build again)'}")
