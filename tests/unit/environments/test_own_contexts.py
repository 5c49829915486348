"""The range's own images' build contexts: every file a Dockerfile copies is in the context as
it is built (with the shared files it names), and a shared file lives once."""

from __future__ import annotations

import re

from range_control.orchestrator import images


def _copied(dockerfile: str) -> list[str]:
    out = []
    for line in dockerfile.splitlines():
        m = re.match(r"\s*(?:COPY|ADD)\s+(.*)", line)
        if m is None or "--from" in m.group(1):
            continue
        words = [w for w in m.group(1).split() if not w.startswith("--")]
        out += words[:-1]  # the sources; the last word is the destination
    return out


def test_every_copied_file_is_in_its_context() -> None:
    seen = 0
    for directory in sorted(images.CONTEXTS.iterdir()):
        if not (directory / "Dockerfile").is_file():
            continue
        with images.own_context(directory.name) as context:
            for source in _copied((context / "Dockerfile").read_text()):
                assert list(context.glob(source)), f"{directory.name}: COPY {source} missing"
                seen += 1
    assert seen > 5


def test_a_shared_file_is_copied_in_and_counts_in_the_tag() -> None:
    shared = (images.SHARED / "route.sh").read_bytes()
    digests = set()
    for name in ("jumpbox", "wireguard"):
        assert not (images.CONTEXTS / name / "route.sh").exists()  # one copy, in shared/
        with images.own_context(name) as context:
            assert (context / "route.sh").read_bytes() == shared
            digests.add(images.context_digest(context))
    assert len(digests) == 2
    with images.own_context("game") as context:  # takes nothing shared: its own directory
        assert context == images.CONTEXTS / "game"
