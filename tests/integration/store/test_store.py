"""Schema: Alembic migrations match the models, on SQLite and PostgreSQL; SQLite pragmas."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from range_control.store import migrate
from range_control.store.engine import make_engine
from range_control.store.models import Base
from range_control.store.session import SCHEMA_HEAD, SchemaMismatch, Store


def test_migrations_are_at_head_and_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert migrate.current(engine) == migrate.head()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations differ; add a revision: {diff}"
        migrate.upgrade(engine)  # idempotent
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=4321)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 4321
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_schema_head_constant_is_alembics_head() -> None:
    assert migrate.head() == SCHEMA_HEAD


def test_app_refuses_an_unmigrated_database_with_a_clear_message(tmp_path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        store.require_schema(SCHEMA_HEAD)
    except SchemaMismatch as exc:
        assert "has no schema" in str(exc) and "rangectl db upgrade" in str(exc)
    else:
        raise AssertionError("an empty database was accepted")
    finally:
        store.dispose()


def test_a_released_lease_is_free_again_for_another_process(database_url: str) -> None:
    """Released means released: a pooled connection must not keep holding the lock."""
    import subprocess
    import sys

    from range_control.store.session import LeaseBusy

    store = Store(make_engine(database_url))
    probe = (
        "import sys\n"
        "from range_control.store.engine import make_engine\n"
        "from range_control.store.session import LeaseBusy, Store\n"
        "s = Store(make_engine(sys.argv[1]))\n"
        "try:\n"
        "    s.lease('reconciler').release()\n"
        "except LeaseBusy:\n"
        "    sys.exit(3)\n"
    )

    def other_process_gets_it() -> bool:
        code = subprocess.run([sys.executable, "-c", probe, database_url], timeout=60).returncode
        assert code in (0, 3)
        return code == 0

    try:
        held = store.lease("reconciler")
        assert not other_process_gets_it()
        try:
            store.lease("reconciler")  # within the process too, a second holder is refused
            raise AssertionError("a held lease was handed out twice")
        except LeaseBusy:
            pass
        held.release()
        assert other_process_gets_it()
        for _ in range(3):  # and again, through the same pool
            with store.lease("reconciler", wait=True):
                assert not other_process_gets_it()
            assert other_process_gets_it()
    finally:
        store.dispose()


def test_old_actor_strings_become_typed_actors(tmp_path, database_url: str) -> None:
    """Migration 0014 reads the four string formats the audit log used (and who created an
    award, an announcement, a token, who published grades) into typed actor columns."""
    from range_control.core.actors import Actor, ActorKind
    from range_control.store.models import AuditLog, Award
    from tests.support.env import pg_database

    def check(url: str) -> None:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, "0013")
            with engine.begin() as c:
                c.execute(
                    text(
                        "INSERT INTO teams (id, name, token_hash, disabled, created_at) "
                        "VALUES (3, 'Alpha', 'h3', false, '2026-07-01 09:00:00+00:00')"
                    )
                )
                c.execute(
                    text(
                        "INSERT INTO accounts (id, login, name, role, team_id, disabled, "
                        "created_at) VALUES (5, 'mark', 'Mark Member', 'member', 3, false, "
                        "'2026-07-01 09:00:00+00:00')"
                    )
                )
                c.execute(
                    text(
                        "INSERT INTO api_tokens (id, name, token_hash, scope, created_by, "
                        "created_at) VALUES (9, 'ops bot', 'h9', 'read', "
                        "'machine: organiser token', '2026-07-01 09:00:00+00:00')"
                    )
                )
                rows = [
                    (
                        "team:3",
                        "instance.start",
                        '{"challenge": "web", "by": "Mark Member <mark>"}',
                    ),
                    ("team:3", "instance.stop", '{"by": "machine: token of team Alpha"}'),
                    ("machine: token ops bot", "team.add", "{}"),
                    ("machine: organiser token", "event.start", "{}"),
                    ("Mark Member <mark>", "account.password_set", "{}"),
                    ("cli", "event.load", "{}"),
                ]
                for actor, action, detail in rows:
                    c.execute(
                        text(
                            "INSERT INTO audit_log (actor, action, detail, created_at) "
                            "VALUES (:a, :b, :d, '2026-07-01 09:00:00+00:00')"
                        ),
                        {"a": actor, "b": action, "d": detail},
                    )
                c.execute(
                    text(
                        "INSERT INTO awards (team_id, value, reason, created_by, created_at) "
                        "VALUES (3, 5, 'x', 'Olga Org <olga>', '2026-07-01 09:00:00+00:00')"
                    )
                )
            migrate.upgrade(engine)
            from sqlalchemy.orm import Session

            with Session(engine) as s:
                got = [
                    (a.action, a.actor, a.detail) for a in s.query(AuditLog).order_by(AuditLog.id)
                ]
                award = s.query(Award).one()
            assert got == [
                ("instance.start", Actor.person(5, "Mark Member", "mark", 3), {"challenge": "web"}),
                ("instance.stop", Actor.team(3, "Alpha"), {}),
                ("team.add", Actor.token(9, "ops bot"), {}),
                (
                    "event.start",
                    Actor(ActorKind.ORGANISER_TOKEN, None, "machine: organiser token"),
                    {},
                ),
                ("account.password_set", Actor.person(5, "Mark Member", "mark", 3), {}),
                ("event.load", Actor.range("cli"), {}),
            ]
            # A person the range does not know (no account): a person by name.
            assert award.created_by == Actor(ActorKind.PERSON, None, "Olga Org <olga>")
        finally:
            engine.dispose()

    if database_url.startswith("sqlite"):
        check(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        with pg_database() as url:
            check(url)
