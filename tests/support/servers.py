"""The range's processes for a test: gunicorn workers and a worker on a data dir of their own,
their metrics read back, an empty target to restore into."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from range_control.core.settings import Settings
from tests.support.cli import free_port, run, wait_http
from tests.support.env import (
    ADMIN,
    pg_database,
    unique_event,
)


@pytest.fixture
def range_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A SQLite range (environments off) with two teams, three challenges, the event running."""
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": unique_event("o"),
        "RANGE_ENVIRONMENTS": "off",
        "RANGE_ATTEMPTS_PER_MINUTE": "1000",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    assert run("db", "upgrade")[0] == 0
    assert run("challenges", "sync", str(challenge_pack(tmp_path, 3)))[0] == 0
    tokens = {}
    for name in ("Norway", "Poland"):
        code, out = run("teams", "add", name, "--json")
        assert code == 0
        tokens[name] = json.loads(out)["token"]
    assert run("event", "start")[0] == 0
    return env | {"token_a": tokens["Norway"], "token_b": tokens["Poland"]}


class Server:
    """The web tier on a free loopback port: gunicorn (production: ``-w 2`` unless ``extra``
    says otherwise), or ``kind="serve"``: ``rangectl serve`` (waitress, the scheduler in the
    same process)."""

    def __init__(self, env: dict[str, str], tmp: Path, *extra: str, kind: str = "gunicorn"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"{kind}-{self.port}.log"
        self.log = self.log_path.open("w")
        if kind == "serve":
            argv = ["range_control.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            argv += ["--no-environments", *extra]
        else:
            argv = ["gunicorn", "-c", "python:range_control.web.gunicorn_conf", "-w", "2"]
            argv += ["-b", f"127.0.0.1:{self.port}", *extra, "range_control.web:create_app()"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv],
            env={**os.environ, **{k: v for k, v in env.items() if k.startswith("RANGE_")}},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp,
        )
        wait_http(f"{self.base}/healthz", self.proc, timeout=60)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(  # noqa: S310 - loopback only
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **(headers or {}),
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()
        return self.log_path.read_text(errors="replace")


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@contextlib.contextmanager
def fresh_target(kind: str, tmp: Path) -> Iterator[Settings]:
    """An empty data dir, and for PostgreSQL an empty database."""
    data = tmp / f"restored-{uuid.uuid4().hex[:6]}"
    if kind == "sqlite":
        yield Settings(data_dir=data)
        return
    with pg_database() as url:
        yield Settings(data_dir=data, database_url=url)


def challenge_pack(tmp: Path, n: int) -> Path:
    for i in range(n):
        d = tmp / "pack" / f"c{i}"
        d.mkdir(parents=True)
        spec = {"name": f"C{i}", "value": 100, "flags": [f"ICE{{ops-secret-flag-{i}}}"]}
        (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    return tmp / "pack"
