"""The SQLAlchemy engine of each database: SQLite in WAL mode with its file made safe and its
commits durable (synchronous FULL, or NORMAL synced by the Store), PostgreSQL with a ping after
an idle pause."""

from __future__ import annotations

import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from range_control.core.errors import (
    ReadOnly,
)

IMMEDIATE = "range_immediate"


RELAXED = "range_relaxed"  # a write whose loss in a power cut is acceptable (a wrong flag)


@dataclass(frozen=True)
class SqliteFile:
    path: Path
    read_only: bool


# The file behind each SQLite engine (its URL may be a read-only URI).
FILES: weakref.WeakKeyDictionary[Engine, SqliteFile] = weakref.WeakKeyDictionary()


def _sqlite_file(path: Path) -> bool:
    """Make the database file's place safe before SQLite opens it: the directory 0700, the
    file 0600 (SQLite gives its -wal and -shm files the file's mode). True when the file can
    only be read (a read-only copy, file or mount): it is then opened read-only."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    writable = os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
    if not path.exists():
        if not writable:
            raise ReadOnly(
                "cannot create the database {path}: its directory is read-only", path=path
            )
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    return not writable


def _sqlite_url(path: Path, read_only: bool) -> str:
    if not read_only:
        return f"sqlite:///{path}"
    # Nothing can change a read-only file under us: "immutable" lets SQLite read it without the
    # -shm file it could not create. With a WAL still holding transactions, read through it.
    wal = path.with_name(path.name + "-wal")
    immutable = "" if wal.exists() and wal.stat().st_size else "&immutable=1"
    return f"sqlite:///file:{quote(str(path))}?mode=ro{immutable}&uri=true"


def make_engine(
    url: str, *, busy_timeout_ms: int = 15_000, pool_size: int = 5, durability: str = "strict"
) -> Engine:
    """An engine whose every commit is durable unless said otherwise.

    SQLite: WAL mode. Transactions on this engine commit at ``synchronous=FULL`` (SQLite syncs
    the WAL before the commit returns), except the write transactions the Store hands out,
    which commit at ``NORMAL`` under the writer lock and are then synced by the Store itself,
    after the lock is released (``durability.WalSync``): the sync no longer holds up the next
    writer, and one sync serves every commit written before it began.
    PostgreSQL: ``synchronous_commit`` stays on; with ``durability="relaxed"`` a transaction
    marked relaxed (a wrong flag) turns it off for itself alone (``SET LOCAL``)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size)
    return _postgres_engine(url, pool_size=pool_size, relaxed=durability == "relaxed")


def _sqlite_engine(url: str, *, busy_timeout_ms: int, pool_size: int) -> Engine:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    read_only = False
    if path and path != ":memory:" and not path.startswith("file:"):
        read_only = _sqlite_file(Path(path))
        url = _sqlite_url(Path(path), read_only)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        pool_size=pool_size,
        max_overflow=20,
    )
    if path and path != ":memory:":
        FILES[engine] = SqliteFile(Path(path.removeprefix("file:").split("?")[0]), read_only)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not read_only:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        record.info[_SYNC_LEVEL] = _FULL

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # The level is the connection's and cannot change inside a transaction: set it at
        # BEGIN, and only when it differs. Both on the driver's connection: microseconds.
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        level = _STORE_SYNCED if immediate else _FULL
        pooled = conn.connection
        driver = pooled.driver_connection
        if pooled.info.get(_SYNC_LEVEL) != level:
            driver.execute(f"PRAGMA synchronous={level}")
            pooled.info[_SYNC_LEVEL] = level
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: str, *, pool_size: int, relaxed: bool) -> Engine:
    engine = create_engine(url, pool_size=pool_size, max_overflow=20)

    # A connection that sat idle may have been cut (a database restart, a failover): ping it
    # before use, as pool_pre_ping does, but only after a pause, not on every checkout (a round
    # trip per transaction, three per flag attempt). Raising DisconnectionError makes the pool
    # replace it with a fresh connection.
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) > _PING_AFTER_IDLE:
            try:
                alive = engine.dialect.do_ping(dbapi_conn)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError(str(exc)) from exc
            if not alive:
                raise DisconnectionError("the connection did not answer a ping")

    if relaxed:

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn: Any) -> None:
            if conn.get_execution_options().get(RELAXED, False):
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    return engine


_LAST_USED = "range_last_used"


_PING_AFTER_IDLE = 1.0  # seconds


_SYNC_LEVEL = "range_synchronous"


_FULL = 2  # SQLite syncs the WAL in every COMMIT


_STORE_SYNCED = 1  # NORMAL: COMMIT writes the WAL; the Store syncs it after the writer lock
