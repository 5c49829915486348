"""Images on a Swarm: built on the manager, hardened (setuid and setgid bits removed: the service
API has no no-new-privileges), pushed to the range's registry and run by digest."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from range_control.orchestrator import images
from range_control.orchestrator.docker.engine import (
    with_packages,
)
from range_control.orchestrator.swarm.common import (
    SwarmBase,
)
from range_control.orchestrator.types import (
    BackendError,
    ServiceRun,
)


class SwarmImages(SwarmBase):
    # --- images -------------------------------------------------------------------------
    def _push(self, tag: str) -> str:
        """Push ``tag`` (already named after the registry); its reference by digest."""
        repo, _, version = tag.rpartition(":")
        try:
            for chunk in self.api.push(repo, version, stream=True, decode=True):
                if "error" in chunk:
                    raise BackendError(
                        f"pushing {tag} to the registry {self.registry} failed: "
                        f"{chunk['error'].strip()} (is it running? infra/registry.sh)"
                    )
        except docker.errors.APIError as exc:
            raise BackendError(
                f"pushing {tag} to {self.registry}: {exc.explanation or exc}"
            ) from None
        digests = self.api.inspect_image(tag).get("RepoDigests") or []
        ref = next((d for d in digests if d.startswith(f"{repo}@")), None)
        if ref is None:
            raise BackendError(f"the registry {self.registry} gave no digest for {tag}")
        return ref

    def _harden(self, tag: str, target: str) -> None:
        """``target``: ``tag`` without setuid or setgid files (the service API has no
        no-new-privileges), as the user it had."""
        user = (self.api.inspect_image(tag).get("Config") or {}).get("User") or "root"
        with tempfile.TemporaryDirectory(prefix="rc-harden-") as d:
            (Path(d) / "Dockerfile").write_text(
                f"FROM {tag}\nUSER root\n"
                "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} + 2>/dev/null; true\n"
                f"USER {user}\n"
            )
            try:
                images.build_context(
                    self.client,
                    challenge=tag,
                    service="hardened",
                    context=Path(d),
                    dockerfile=None,
                    tag=target,
                )
            except images.ImageError as exc:
                raise BackendError(f"{tag}: cannot remove its setuid bits: {exc}") from None

    def _publish(self, tag: str) -> str:
        """The registry copy of a local image (hardened), by digest; made once per process."""
        with self._lock(f"pub:{tag}"):
            if tag in self._published:
                return self._published[tag]
            target = f"{self.registry}/{tag}"
            if not images.image_exists(self.client, target):
                self._harden(tag, target)
            ref = self._push(target)
            self._published[tag] = ref
            return ref

    def _build_and_publish(self, context: Path, tag: str, label: str) -> str:
        self._build_here(context, tag, label)
        return self._publish(tag)

    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None:
        with self._lock(f"img:{run.image}"):
            if not images.image_exists(self.client, run.image):
                if run.spec.build is None or source_dir is None:
                    raise BackendError(
                        f"challenge {challenge}, service {run.spec.name}: image {run.image!r} "
                        "is not on the manager (no public registry is used: build or import it "
                        "there first)"
                    )
                images.build_context(
                    self.client,
                    challenge=challenge,
                    service=run.spec.name,
                    context=Path(source_dir) / run.spec.build,
                    dockerfile=run.spec.dockerfile,
                    tag=run.image,
                )
        self._publish(run.image)

    def ensure_base_image(
        self, progress: Callable[[str], None], *, rebuild: bool = False, tag: str | None = None
    ) -> bool:
        try:
            return images.build_base(
                self.client, tag=tag or images.BASE_IMAGE, rebuild=rebuild, progress=progress
            )
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None

    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str:
        with images.own_context("jumpbox") as context:
            tag = f"range/jumpbox:{images.context_digest(context)[:16]}"
            ref = self._build_and_publish(context, tag, "(jumpbox)")
        if not packages:
            return ref
        return self._publish(with_packages(self.client, self._lock, tag, packages))

    def wireguard_image(self) -> str:
        raise BackendError(str(self.wireguard_problem()))

    def image_present(self, ref: str) -> bool:
        """Whether the manager has the image (it pushes it to the range's registry)."""
        return images.image_exists(self.client, ref)

    def image_ref(self, tag: str) -> str:
        """The registry copy every node pulls (hardened, pushed if not yet), by digest."""
        if not images.image_exists(self.client, tag):
            raise BackendError(f"image {tag!r} is not on the manager: build it first")
        return self._publish(tag)

    def build_image(self, context: Path, tag: str, label: str) -> None:
        self._build_and_publish(context, tag, label)
