"""Transactions for SQLite (embedded default) and PostgreSQL (production): the Store, and the
leases that keep one scheduler and one reconciler per database.

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
import sqlite3
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from range_control.core import metrics
from range_control.core.errors import (
    Corrupt,
    LeaseBusy,
    ReadOnly,
    SchedulerBusy,
    SchemaMismatch,
)
from range_control.store.durability import WalSync, WriterQueue
from range_control.store.engine import FILES, IMMEDIATE, RELAXED, make_engine

__all__ = [
    "SCHEMA_HEAD",
    "LeaseBusy",
    "Lease",
    "SchedulerBusy",
    "SchemaMismatch",
    "Store",
]


# The newest Alembic revision. Kept here so that web workers need not import Alembic (10 MB)
# to check the schema; tests/integration/store/test_store.py checks that it equals Alembic's
# own head.
SCHEMA_HEAD = "0021"


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


class Store:
    """Owns the engine and hands out one transaction per use case."""

    def __init__(
        self, engine: Engine, *, writer_timeout: float = 15.0, durability: str = "strict"
    ) -> None:
        self.engine = engine
        self.durability = durability
        self.file = FILES.get(engine)
        self.read_only = self.file is not None and self.file.read_only
        writable = self.file is not None and not self.read_only
        self._writers = (
            WriterQueue(f"{self.file.path}.writer-lock", writer_timeout) if writable else None
        )
        self._syncs = WalSync(self.file.path) if writable else None  # type: ignore[union-attr]
        self._relaxed = engine.execution_options(**{IMMEDIATE: True, RELAXED: True})
        # SQLite's driver runs a statement outside BEGIN in autocommit already (and SQLAlchemy's
        # isolation reset would turn the driver's own transactions back on: not there).
        self._snapshotless = (
            engine
            if engine.dialect.name == "sqlite"
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._immediate = engine.execution_options(**{IMMEDIATE: True})
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(self._immediate, expire_on_commit=False)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        busy_timeout_ms: int = 15_000,
        pool_size: int = 5,
        durability: str = "strict",
    ) -> Store:
        engine = make_engine(
            url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size, durability=durability
        )
        return cls(engine, writer_timeout=busy_timeout_ms / 1000, durability=durability)

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error; on disk
        when this returns."""
        with self._durable_turn(relaxed=False), self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def _durable_turn(self, *, relaxed: bool) -> Iterator[None]:
        """Our turn among the writers for the transaction inside; once it has committed and the
        turn is passed on, the wait until it is on stable storage (SQLite; PostgreSQL's COMMIT
        already waited), skipped for a relaxed write under ``durability="relaxed"``."""
        number = 0
        asked = time.perf_counter()
        with self._writer_turn():
            metrics.WRITE_WAIT.observe(time.perf_counter() - asked)
            yield
            if self._syncs is not None:
                number = self._syncs.committed()
        if number and not (relaxed and self.durability == "relaxed"):
            self._syncs.wait_durable(number)  # type: ignore[union-attr]

    @contextlib.contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Wait for our turn among the SQLite file's writers (nothing to wait for elsewhere);
        a database that can only be read says so in one line."""
        if self.read_only:
            raise ReadOnly(
                "the database {path} is read-only: nothing can be changed", path=self.file.path
            )  # type: ignore[union-attr]
        try:
            with self._writers.hold() if self._writers is not None else contextlib.nullcontext():
                yield
        except OperationalError as exc:
            if "readonly" in str(exc.orig):
                raise ReadOnly(
                    "the database {where} is read-only: {orig}", where=self.where, orig=exc.orig
                ) from None
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    # The hot paths (every authenticated request, every flag attempt, every scoreboard read)
    # run a few plain statements: on a bare Connection they skip the ORM session's set-up and
    # its per-statement ORM compilation, about a third of their cost on SQLite.
    @contextlib.contextmanager
    def read_conn(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """One read transaction on a plain connection (Core statements only).

        ``snapshot=False``: no transaction; each statement reads the latest committed state on
        its own. For reads whose statements need not agree with one another (a single
        statement; the attempt's checks, which the write transaction checks again): on
        PostgreSQL it saves the BEGIN and COMMIT round trips."""
        if not snapshot:
            with self._snapshotless.connect() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write_conn(self, *, relaxed: bool = False) -> Iterator[Connection]:
        """One write transaction on a plain connection, queued and made durable like
        :meth:`write`. ``relaxed`` (honoured under ``durability="relaxed"`` only): this write
        may be lost in a power cut (never in a crash of the process); the next durable write
        carries it to disk."""
        engine = self._relaxed if relaxed else self._immediate
        with self._durable_turn(relaxed=relaxed), engine.begin() as conn:
            yield conn

    def check_integrity(self) -> None:
        """SQLite's ``quick_check``: :class:`Corrupt`, with what to do, when the file is damaged
        (PostgreSQL checks its own pages). Read on a connection of its own that takes any bytes
        as text: a damaged file may hold anything."""
        if self.file is None:
            return
        mode = "ro" if self.read_only else "rw"
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{quote(str(self.file.path))}?mode={mode}", uri=True)
            ) as conn:
                conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
                rows = [r[0] for r in conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
            raise Corrupt(
                "the database {path} is damaged (SQLite: {rows}{more}): stop the range and "
                "restore the latest backup; do not write to this file",
                path=self.file.path,
                rows=rows[0][:200],
                more=more,
            )

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
                "the database {url} {state}, this code needs {head}: run `rangectl db upgrade`",
                url=url,
                state=state,
                head=head,
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
                raise LeaseBusy(
                    "{name} lease on {url} is held by another process", name=name, url=url
                ) from None
            return Lease(lambda: os.close(fd))
        from sqlalchemy import text

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")
        conn = self.engine.connect()
        if wait:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        elif not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.close()
            raise LeaseBusy("{name} lease on {url} is held by another process", name=name, url=url)
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
                "another scheduler (rangectl worker or rangectl serve) already runs on {url}",
                url=url,
            ) from None

    def sync_counts(self) -> tuple[int, int] | None:
        """SQLite: write transactions committed and WAL syncs made, by every process so far
        (their ratio is how many writes one sync served); None elsewhere."""
        return self._syncs.counts() if self._syncs is not None else None

    def dispose(self) -> None:
        self.engine.dispose()
