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
