"""Engine and transactions for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with a busy timeout. Write transactions start with ``BEGIN IMMEDIATE``:
a deferred transaction that reads and then writes can be refused at once (SQLITE_BUSY, no wait)
when another writer committed in between, which is exactly the shape of a flag attempt. Reads
keep plain deferred transactions so that they never wait for a writer.

Writers on one SQLite file also queue on an advisory lock file (``flock``) beside the database.
SQLite's own busy handler *sleeps* between retries (1, 2, 5, 10 ... 100 ms), so gunicorn workers
contending for the write lock would spend most of their time asleep; a blocking ``flock`` hands
the lock over the moment it is released. The busy timeout still covers writers that do not take
the lock (another tool opening the file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from range_control.errors import LeaseBusy, SchedulerBusy, SchemaMismatch

__all__ = ["SCHEMA_HEAD", "LeaseBusy", "Lease", "SchedulerBusy", "SchemaMismatch", "Store",
           "make_engine"]  # fmt: skip

_IMMEDIATE = "range_immediate"

# The newest Alembic revision. Kept here so that web workers need not import Alembic (10 MB)
# to check the schema; tests/test_store.py checks that it equals Alembic's own head.
SCHEMA_HEAD = "0004"


class Lease:
    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def make_engine(url: str, *, busy_timeout_ms: int = 15_000, pool_size: int = 5) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            immediate = conn.get_execution_options().get(_IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


class _WriterQueue:
    """Cross-process (flock) and cross-thread (a flock is per open file, not per thread) lock."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = -1
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._fd is None or self._pid != os.getpid():  # fresh fd after a fork
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class Store:
    """Owns the engine and hands out one transaction per use case."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        db_path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._writers = (
            _WriterQueue(db_path + ".writer-lock") if db_path and db_path != ":memory:" else None
        )
        self._immediate = engine.execution_options(**{_IMMEDIATE: True})
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(self._immediate, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Store:
        return cls(make_engine(url, **kwargs))

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error."""
        with self._writer_turn(), self._write() as session, session.begin():
            yield session

    def _writer_turn(self) -> contextlib.AbstractContextManager[None]:
        """Wait for our turn among the SQLite file's writers (nothing to wait for elsewhere)."""
        return self._writers.hold() if self._writers is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    # The hot paths (every authenticated request, every flag attempt, every scoreboard read)
    # run a few plain statements: on a bare Connection they skip the ORM session's set-up and
    # its per-statement ORM compilation, about a third of their cost on SQLite.
    @contextlib.contextmanager
    def read_conn(self) -> Iterator[Connection]:
        """One read transaction on a plain connection (Core statements only)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write_conn(self) -> Iterator[Connection]:
        """One write transaction on a plain connection, queued like :meth:`write`."""
        with self._writer_turn(), self._immediate.begin() as conn:
            yield conn

    def require_schema(self, head: str) -> None:
        """Refuse to serve from a database whose schema is missing or not at ``head``."""
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError, ProgrammingError

        url = self.engine.url.render_as_string(hide_password=True)
        try:
            with self.engine.connect() as conn:
                found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):
            found = None
        if found != head:
            state = "has no schema" if found is None else f"is at schema revision {found}"
            raise SchemaMismatch(
                f"the database {url} {state}, this code needs {head}: run `rangectl db upgrade`"
            )

    def lease(self, name: str, *, wait: bool = False) -> Lease:
        """A named cross-process lock on this database (``flock`` for SQLite, an advisory lock
        for PostgreSQL), held until ``release()`` or the process dies. Usable as a context
        manager. With ``wait=False`` a held lease raises :class:`LeaseBusy` at once."""
        url = self.engine.url.render_as_string(hide_password=True)
        if self.engine.dialect.name == "sqlite":
            path = f"{self.engine.url.database or 'memory'}.{name}-lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LeaseBusy(f"{name} lease on {url} is held by another process") from None
            return Lease(lambda: os.close(fd))
        from sqlalchemy import text

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")
        conn = self.engine.connect()
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.close()
            raise LeaseBusy(f"{name} lease on {url} is held by another process")
        conn.commit()

        def release() -> None:
            # A pooled connection outlives close(), and so would a session-level lock: unlock
            # first; if that fails, drop the connection itself (the server then frees the lock).
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except Exception:  # noqa: BLE001
                conn.invalidate()
            finally:
                conn.close()

        return Lease(release)

    def scheduler_lease(self) -> Lease:
        """Held by the one process that runs the scheduler; a second one is refused."""
        try:
            return self.lease("scheduler")
        except LeaseBusy:
            url = self.engine.url.render_as_string(hide_password=True)
            raise SchedulerBusy(
                f"another scheduler (rangectl worker or rangectl serve) already runs on {url}"
            ) from None

    def dispose(self) -> None:
        self.engine.dispose()
