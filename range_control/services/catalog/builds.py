"""Building what a range runs, with progress: the base image, the jumpbox image and each live
challenge's service images (content-tagged: a second build of the same pack builds nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from range_control.core.errors import EngineFailed
from range_control.orchestrator.images import ImageError
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import BackendError, ServiceRun
from range_control.services.catalog.lint import CHECKER, Loaded, image_refs


@dataclass(frozen=True)
class BuildProgress:
    done: int
    total: int
    label: str  # what is being built
    line: str = ""  # the builder's latest line, when it says something


def build_challenge(backend: Backend, item: Loaded) -> None:
    """The images of one challenge's services (built from their contexts when missing) and,
    for a defended service, its checker's and the wrappers the range adds to both."""
    env = item.spec.environment
    if env is None:
        return
    refs = image_refs(item)
    for svc, ref in refs.items():
        if svc == CHECKER:
            continue
        spec = next(s for s in env.services if s.name == svc)
        backend.ensure_image(ServiceRun(spec, ref), item.slug, str(item.directory))
        if item.spec.defence is not None:
            backend.wrapped("defended", ref, item.slug)
    if item.spec.defence is not None:
        context = item.directory / item.spec.defence.checker.build
        backend.build_image(context, refs[CHECKER], item.slug)
        backend.wrapped("checker", refs[CHECKER], item.slug)


def build_base(
    backend: Backend,
    progress: Callable[[str], None],
    *,
    rebuild: bool = False,
    tag: str | None = None,
) -> bool:
    """The base image (debootstrap); True when it was built now."""
    try:
        return backend.ensure_base_image(progress, rebuild=rebuild, tag=tag)
    except (BackendError, ImageError) as exc:
        raise EngineFailed("an image could not be built: {reason}", reason=str(exc)) from None


def build_pack(
    backend: Backend, pack: list[Loaded], progress: Callable[[BuildProgress], None]
) -> int:
    """Base image, jumpbox image, the WireGuard gateway's (where the engine can run it), then
    every live challenge of ``pack``; how many steps."""
    try:
        return _build_pack(backend, pack, progress)
    except (BackendError, ImageError) as exc:
        raise EngineFailed("an image could not be built: {reason}", reason=str(exc)) from None


def _build_pack(
    backend: Backend, pack: list[Loaded], progress: Callable[[BuildProgress], None]
) -> int:
    live = [item for item in pack if item.spec.environment is not None]
    total = 3 + len(live)
    progress(BuildProgress(0, total, "base image"))
    backend.ensure_base_image(lambda line: progress(BuildProgress(0, total, "base image", line)))
    progress(BuildProgress(1, total, "jumpbox image"))
    backend.jumpbox_image()
    progress(BuildProgress(2, total, "wireguard image"))
    if backend.wireguard_problem() is None:  # else no gateway will ever run here
        backend.wireguard_image()
    for done, item in enumerate(live, start=3):
        progress(BuildProgress(done, total, item.slug))
        build_challenge(backend, item)
    progress(BuildProgress(total, total, "done"))
    return total


def refs(backend: Backend, pack: list[Loaded]) -> list[tuple[str, str]]:
    """(local image, what the engine's tasks run) for every image of the pack and the
    jumpbox: on a Swarm, each pushed to the range's registry and named by digest."""
    try:
        out = [("jumpbox", backend.jumpbox_image())]
        for item in pack:
            for ref in image_refs(item).values():
                out.append((ref, backend.image_ref(ref)))
    except (BackendError, ImageError) as exc:
        raise EngineFailed("an image could not be built: {reason}", reason=str(exc)) from None
    return out
