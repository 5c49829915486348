"""Images, built locally: no registry anywhere.

* The base image ``range/base:bookworm`` is a Debian minbase made by debootstrap from the mirror
  apt is configured with (or ``RANGE_DEBIAN_MIRROR``) and imported with ``docker import``.
* Challenge images are built from each service's build context and tagged by the content of
  that context, so the same context is never built twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The build contexts of the range's own images: jumpbox, WireGuard gateway, game router, host
# guard, the wrappers. Files several of them carry live once in ``shared/``: a context names the
# ones it takes in its ``SHARED`` file (a build context cannot reach outside its directory).
CONTEXTS = Path(__file__).resolve().parent / "contexts"
SHARED = CONTEXTS / "shared"

BASE_IMAGE = "range/base:bookworm"
SUITE = "bookworm"
_SKIP = {".git", "__pycache__", ".venv", "node_modules"}
_URIS = re.compile(r"^URIs:\s*(\S+)")  # deb822 .sources
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DEB = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)")  # one-line sources.list


class ImageError(RuntimeError):
    pass


def debian_mirror() -> str:
    """RANGE_DEBIAN_MIRROR, else the first Debian URI apt is configured with."""
    env = os.environ.get("RANGE_DEBIAN_MIRROR")
    if env:
        return env
    candidates = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in candidates:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = _URIS.match(line) or _DEB.match(line)
            if m and "security" not in m.group(1) and m.group(1).startswith("http"):
                return m.group(1)
    raise ImageError("no Debian mirror found in apt's sources; set RANGE_DEBIAN_MIRROR")


def image_exists(client: Any, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 400:  # not a reference at all ("invalid reference format")
            return False
        raise


def build_base(
    client: Any,
    *,
    tag: str = BASE_IMAGE,
    rebuild: bool = False,
    progress: Callable[[str], None] = lambda _line: None,
) -> bool:
    """Build and import the base image; False when it was already there (and not rebuilt)."""
    if not rebuild and image_exists(client, tag):
        return False
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed: apt-get install -y debootstrap")
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="range-base-") as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", SUITE, str(root), mirror]
        progress(f"debootstrap {SUITE} from {mirror}")
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, the mirror is an argument
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-19:], line]
            progress(line)
        if proc.wait() != 0:
            raise ImageError("debootstrap failed:\n" + "\n".join(tail))
        # Smaller and reproducible: no apt lists or caches in the image.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (root / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        archive = Path(tmp) / "rootfs.tar"
        progress("packing the root file system")
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        progress(f"docker import as {tag}")
        repo, _, version = tag.partition(":")
        with archive.open("rb") as fh:
            client.api.import_image_from_data(fh.read(), repository=repo, tag=version or "latest")
    if not image_exists(client, tag):
        raise ImageError(f"docker import did not produce {tag}")
    return True


@contextlib.contextmanager
def own_context(name: str) -> Iterator[Path]:
    """The build context of the range's own image ``name``: its directory, with the files of
    ``shared/`` its ``SHARED`` file names copied in (then a temporary copy)."""
    source = CONTEXTS / name
    listed = source / "SHARED"
    wanted = listed.read_text().split() if listed.is_file() else []
    if not wanted:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix=f"range-{name}-") as tmp:
        context = Path(tmp) / name
        shutil.copytree(source, context)
        for file in wanted:
            shutil.copy2(SHARED / file, context / file)
        yield context


def context_digest(context: Path, dockerfile: str | None = None) -> str:
    """SHA-256 over the relative paths, modes and contents of a build context."""
    h = hashlib.sha256()
    h.update((dockerfile or "Dockerfile").encode() + b"\0")
    for path in sorted(context.rglob("*")):
        rel = path.relative_to(context)
        if _SKIP.intersection(rel.parts) or not path.is_file():
            continue
        h.update(str(rel).encode() + b"\0" + oct(path.stat().st_mode & 0o777).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def image_tag(challenge: str, service: str, digest: str) -> str:
    return f"range/ch-{challenge}-{service}:{digest[:16]}"


def build_context(
    client: Any,
    *,
    challenge: str,
    service: str,
    context: Path,
    dockerfile: str | None,
    tag: str,
    buildargs: dict[str, str] | None = None,
) -> bool:
    """Build ``tag`` from ``context`` unless it exists; errors name the challenge and the step."""
    if image_exists(client, tag):
        return False
    import docker.errors

    step = "(before the first step)"
    log: list[str] = []
    try:
        for chunk in client.api.build(
            path=str(context),
            dockerfile=dockerfile or "Dockerfile",
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            buildargs=buildargs,
            labels={"range.managed": "1", "range.challenge": challenge},
        ):
            if "stream" in chunk:
                # One chunk may hold several lines; a step's stderr comes in terminal colours.
                for text in _ANSI.sub("", chunk["stream"]).rstrip().splitlines():
                    if text.startswith("Step "):
                        step = text
                    if text.strip():
                        log = [*log[-19:], text]
            if "error" in chunk:
                hint = ""
                if re.search(r":\s*FROM\s", step, re.IGNORECASE):
                    hint = (
                        " (the range pulls from no registry: its base image must be on the "
                        f"engine: `docker load` it, or build FROM {BASE_IMAGE})"
                    )
                # apt's own reason ("E: Unable to locate package nmapp") says more than the
                # step's exit code.
                said = "".join(f" ({line})" for line in log if line.startswith("E: "))
                raise ImageError(
                    f"challenge {challenge}, service {service}: build failed at {step}: "
                    f"{chunk['error'].strip()}{said}{hint}"
                )
    except docker.errors.APIError as exc:
        raise ImageError(f"challenge {challenge}, service {service}: build failed: {exc}") from None
    if not image_exists(client, tag):
        raise ImageError(f"challenge {challenge}, service {service}: build produced no image")
    return True


def with_packages_tag(base: str, packages: tuple[str, ...]) -> str:
    """The tag of ``base`` with extra Debian packages: by content, so an unchanged list is
    never rebuilt and a changed one always is."""
    name, _, version = base.rpartition(":")
    digest = hashlib.sha256(" ".join(sorted(packages)).encode()).hexdigest()[:8]
    return f"{name}:{version}-p{digest}"


def build_with_packages(client: Any, *, base: str, packages: tuple[str, ...], tag: str) -> bool:
    """``base`` plus ``packages`` from Debian (the names were checked when they were set)."""
    with tempfile.TemporaryDirectory(prefix="range-pkgs-") as tmp:
        Path(tmp, "Dockerfile").write_text(
            f"FROM {base}\n"
            # apt's reasons are on stderr, which the engine copies apart from stdout and may
            # hand over after the step's failure: into stdout, they come in order, before it.
            "RUN exec 2>&1 \\\n"
            " && apt-get update \\\n"
            " && apt-get install -y --no-install-recommends "
            + " ".join(sorted(packages))
            + " \\\n && rm -rf /var/lib/apt/lists/*\n",
            encoding="utf-8",
        )
        name = base.rpartition(":")[0].removeprefix("range/")
        return build_context(
            client,
            challenge=f"({name})",
            service="extra packages",
            context=Path(tmp),
            dockerfile=None,
            tag=tag,
        )


# What the range adds to an author's image: the team's shell and the service's supervisor
# (a defended service), or the runner of the checks (a checker).
WRAPPERS = ("defended", "checker")


def wrapper_tag(kind: str, source_id: str) -> str:
    """The wrapper ``kind`` of the image whose id is ``source_id``: by the content of both, so
    a new build of either is a new tag and an unchanged pair is never built twice."""
    digest = context_digest(CONTEXTS / kind)
    return f"range/{kind}-{source_id.removeprefix('sha256:')[:16]}:{digest[:12]}"


def build_wrapper(client: Any, kind: str, source: str, *, challenge: str) -> str:
    """``source`` (a challenge's image on the engine) wrapped as ``kind``; its tag."""
    if kind not in WRAPPERS:
        raise ValueError(f"unknown wrapper {kind!r}")
    try:
        source_id = client.images.get(source).id
    except Exception as exc:  # noqa: BLE001 - the engine's refusal, named
        raise ImageError(f"challenge {challenge}: image {source!r} is not built: {exc}") from None
    tag = wrapper_tag(kind, source_id)
    build_context(
        client,
        challenge=challenge,
        service=f"{kind} wrapper",
        context=CONTEXTS / kind,
        dockerfile=None,
        tag=tag,
        buildargs={"SOURCE": source},
    )
    return tag


def image_command(client: Any, ref: str) -> tuple[list[str], list[str], str]:
    """An image's entrypoint, command and user, as ``docker inspect`` gives them."""
    config = client.api.inspect_image(ref).get("Config") or {}
    return (
        list(config.get("Entrypoint") or []),
        list(config.get("Cmd") or []),
        config.get("User") or "",
    )
