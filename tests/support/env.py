"""A range for a test: its database (SQLite, or a PostgreSQL database of its own cloned from a
migrated template), settings, an injected clock and a Flask client, with helpers that speak the
domain.

PostgreSQL comes from ``RANGE_TEST_POSTGRES_URL`` (``.ci/run`` starts a server with ``infra/dev/test-postgres.sh``). When it is not set, the PostgreSQL half fails with a message saying so: nothing is skipped silently."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.clock import FixedClock
from range_control.core.settings import Settings
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls
from range_control.services.people import teams
from range_control.store import migrate
from range_control.web import create_app

ADMIN = "test-organiser-token-0123456789"


TEST = Actor.range("test")  # who acts when a test calls a use case itself


FLAG_SECRET = "test-flag-secret"


T0 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


_counter = itertools.count()


def migrated_sqlite(path: Path) -> str:
    """The URL of a SQLite database at ``path`` with the schema at head."""
    from range_control.store.engine import make_engine

    url = f"sqlite:///{path}"
    eng = make_engine(url)
    migrate.upgrade(eng)
    eng.dispose()
    return url


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """A PostgreSQL database of the test's own (empty, or a copy of ``template``), dropped
    afterwards."""
    admin_url = postgres_admin_url()
    name = f"rc_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:4]}"
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(
            text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        )
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


def postgres_admin_url() -> str:
    url = os.environ.get("RANGE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "RANGE_TEST_POSTGRES_URL is not set: start a server with "
            '`eval "$(infra/dev/test-postgres.sh)"` (CI does this in .ci/run)',
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head, cloned for every test (CREATE ... TEMPLATE)."""
    admin_url = postgres_admin_url()
    name = f"rc_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    tpl = create_engine(url)
    migrate.upgrade(tpl)
    tpl.dispose()
    yield name
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "range.db")
        return
    with pg_database(request.getfixturevalue("pg_template")) as url:
        yield url


@dataclass
class Env:
    app: Flask
    ctx: Range
    clock: FixedClock
    client: FlaskClient
    tmp: Path

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}

    def jumpbox_password(self, team_id: int) -> str:
        """The team's jumpbox password now (it follows the team's token)."""
        from range_control.domain.keys import jumpbox_password
        from range_control.store.models import Team

        with self.ctx.store.read() as s:
            token_hash = s.get(Team, team_id).token_hash
        return jumpbox_password(FLAG_SECRET, self.ctx.event_slug, team_id, token_hash)

    def team(self, name: str = "Netherlands", country: str = "NL") -> tuple[int, dict[str, str]]:
        nt = teams.add_team(self.ctx, name, country, actor=TEST)
        return nt.team.id, {"Authorization": f"Bearer {nt.token}"}

    def challenge(self, slug: str, **spec: object) -> None:
        """Write a challenge.yml under tmp/pack/<slug> and sync it."""
        d = self.tmp / "pack" / slug
        d.mkdir(parents=True, exist_ok=True)
        data = {"name": slug.replace("-", " ").title(), "slug": slug, "value": 100}
        data.update(spec)
        if "flags" not in data and "dynamic_flag" not in data:
            data["flags"] = [f"ICE{{{slug}}}"]
        (d / "challenge.yml").write_text(yaml.safe_dump(data))
        result = lint([self.tmp / "pack"])
        assert result.ok, [str(p) for p in result.problems]
        sync(self.ctx, result.challenges, actor=TEST)

    def start(self) -> None:
        controls.start(self.ctx, TEST)

    def attempt(self, headers: dict[str, str], slug: str, flag: str):
        return self.client.post(
            f"/api/v1/challenges/{slug}/attempts", json={"flag": flag}, headers=headers
        )


def make_env(database_url: str, tmp: Path, **overrides: object) -> Env:
    given = {
        "data_dir": tmp / "var",
        "database_url": database_url,
        "admin_token": ADMIN,
        "flag_secret": FLAG_SECRET,
        "secret_key": "test-secret-key",
        **overrides,
    }
    settings = Settings(**given).ensure_secrets()  # type: ignore[arg-type]
    clock = FixedClock(T0)
    app = create_app(settings, clock)
    app.config["TESTING"] = True
    return Env(app, app.extensions["range"], clock, app.test_client(), tmp)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    e = make_env(database_url, tmp_path)
    yield e
    e.ctx.store.dispose()


def unique_event(prefix: str = "t") -> str:
    """An event slug of the test's own: the Docker engine is shared with other runs and with a
    demo, and a reconciler removes whatever of its event it does not want."""
    return prefix + uuid.uuid4().hex[:8]
