"""Fixtures of the system tests that more than one module uses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from range_control.orchestrator.docker.engine import sweep
from tests.support.env import Env, make_env, migrated_sqlite, unique_event


@pytest.fixture
def defence_range(client: docker.DockerClient, tmp_path: Path) -> Iterator[Env]:
    event = unique_event("f")
    low = 21000 + random.randrange(0, 110) * 100
    env = make_env(
        migrated_sqlite(tmp_path / "range.db"),
        tmp_path,
        event_slug=event,
        port_range=f"{low}-{low + 99}",
        public_host="127.0.0.1",
        publish_ip="127.0.0.1",
    )
    try:
        yield env
    finally:
        sweep(client, event)
        env.ctx.store.dispose()
