"""Schema: Alembic migrations match the models, on SQLite and PostgreSQL; SQLite pragmas."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from range_control.store import migrate
from range_control.store.models import Base
from range_control.store.session import SCHEMA_HEAD, SchemaMismatch, Store, make_engine


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


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:  # noqa: ANN001
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


def test_app_refuses_an_unmigrated_database_with_a_clear_message(tmp_path) -> None:  # noqa: ANN001
    store = Store.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        store.require_schema(SCHEMA_HEAD)
    except SchemaMismatch as exc:
        assert "has no schema" in str(exc) and "rangectl db upgrade" in str(exc)
    else:
        raise AssertionError("an empty database was accepted")
    finally:
        store.dispose()
