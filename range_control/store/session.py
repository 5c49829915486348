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
import mmap
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from range_control.core import metrics
from range_control.core.errors import (
    Corrupt,
    LeaseBusy,
    ReadOnly,
    SchedulerBusy,
    SchemaMismatch,
    WriterBusy,
)

__all__ = [
    "SCHEMA_HEAD",
    "LeaseBusy",
    "Lease",
    "SchedulerBusy",
    "SchemaMismatch",
    "Store",
    "make_engine",
]

_IMMEDIATE = "range_immediate"
_RELAXED = "range_relaxed"  # a write whose loss in a power cut is acceptable (a wrong flag)

# The newest Alembic revision. Kept here so that web workers need not import Alembic (10 MB)
# to check the schema; tests/test_store.py checks that it equals Alembic's own head.
SCHEMA_HEAD = "0013"


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


@dataclass(frozen=True)
class SqliteFile:
    path: Path
    read_only: bool


# The file behind each SQLite engine (its URL may be a read-only URI).
_FILES: weakref.WeakKeyDictionary[Engine, SqliteFile] = weakref.WeakKeyDictionary()


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
    the WAL before the commit returns), except the write transactions :class:`Store` hands
    out, which commit at ``NORMAL`` under the writer lock and are then synced by the Store
    itself, after the lock is released (:class:`_WalSync`): the sync no longer holds up the next
    writer, and one sync serves every commit written before it began.
    PostgreSQL: ``synchronous_commit`` stays on; with ``durability="relaxed"`` a transaction
    marked relaxed (a wrong flag) turns it off for itself alone (``SET LOCAL``)."""
    if url.startswith("sqlite"):
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
            _FILES[engine] = SqliteFile(Path(path.removeprefix("file:").split("?")[0]), read_only)

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
            immediate = conn.get_execution_options().get(_IMMEDIATE, False)
            level = _STORE_SYNCED if immediate else _FULL
            pooled = conn.connection
            driver = pooled.driver_connection
            if pooled.info.get(_SYNC_LEVEL) != level:
                driver.execute(f"PRAGMA synchronous={level}")
                pooled.info[_SYNC_LEVEL] = level
            driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
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

    if durability == "relaxed":

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn: Any) -> None:
            if conn.get_execution_options().get(_RELAXED, False):
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    return engine


_LAST_USED = "range_last_used"
_PING_AFTER_IDLE = 1.0  # seconds
_SYNC_LEVEL = "range_synchronous"
_FULL = 2  # SQLite syncs the WAL in every COMMIT
_STORE_SYNCED = 1  # NORMAL: COMMIT writes the WAL; the Store syncs it after the writer lock


class _WalSync:
    """Makes a SQLite database's committed transactions durable: ``fdatasync`` of its WAL.

    A commit at ``synchronous=NORMAL`` has written its frames into the WAL (the page cache);
    syncing the WAL file afterwards, from any process, puts them on disk as ``FULL`` would have
    (SQLite checks the frames' checksums on recovery, and syncs the WAL itself before any
    checkpoint copies it into the database). Done outside the writer lock, and as group commit:
    every commit takes a number from a counter that all the database's processes share (the
    ``.sync`` file, mapped in memory; numbered under the writer lock, after COMMIT); a sync
    notes the last number taken before it began, and a commit that such a sync already covers
    returns without one. Under load one ``fdatasync`` serves several writes, from every worker.

    If the WAL file is gone, a checkpoint copied it into the database file and SQLite synced
    that before removing the WAL; a WAL created since is opened afresh (its inode differs).
    """

    # The last commit number taken; the highest one known on disk; how many syncs were made.
    _LAST, _SYNCED, _SYNCS = 0, 1, 2
    _SIZE = 24

    def __init__(self, path: Path) -> None:
        self._db = path
        self._wal = path.with_name(path.name + "-wal")
        self._counter_path = path.with_name(path.name + ".sync")
        self._lock = threading.Lock()  # the sync lock's holder in this process
        self._pid = -1
        self._fd = -1
        self._numbers: memoryview | None = None
        self._wal_fd = -1
        self._wal_ino = -1

    def _fresh(self) -> memoryview:
        if self._numbers is None or self._pid != os.getpid():  # new mappings after a fork
            fd = os.open(self._counter_path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(fd).st_size < self._SIZE:
                os.ftruncate(fd, self._SIZE)
            # Aligned 8-byte words: one store each, never seen half-written.
            self._numbers = memoryview(mmap.mmap(fd, self._SIZE)).cast("Q")
            self._fd, self._wal_fd, self._pid = fd, -1, os.getpid()
        return self._numbers

    def committed(self) -> int:
        """Called under the writer lock, right after COMMIT: this commit's number."""
        numbers = self._fresh()
        numbers[self._LAST] += 1
        return numbers[self._LAST]

    def wait_durable(self, number: int) -> None:
        """Return once commit ``number``, and every one before it, is on stable storage."""
        numbers = self._fresh()
        if numbers[self._SYNCED] >= number:
            return
        with self._lock:
            # One sync at a time on this file, across processes: whoever waited for the lock
            # most often finds its commit covered by the sync it waited for.
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                if numbers[self._SYNCED] >= number:
                    return
                covered = numbers[self._LAST]  # these commits wrote their frames already
                self._fdatasync()
                numbers[self._SYNCED] = max(numbers[self._SYNCED], covered)
                numbers[self._SYNCS] += 1
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def counts(self) -> tuple[int, int]:
        """Commits numbered and syncs made so far, by every process (group commit's ratio)."""
        numbers = self._fresh()
        return numbers[self._LAST], numbers[self._SYNCS]

    def _fdatasync(self) -> None:
        try:
            ino = os.stat(self._wal).st_ino
        except FileNotFoundError:
            return  # checkpointed into the database file, which SQLite synced
        if self._wal_fd < 0 or ino != self._wal_ino:
            if self._wal_fd >= 0:
                os.close(self._wal_fd)
            self._wal_fd = os.open(self._wal, os.O_RDONLY)
            self._wal_ino = os.fstat(self._wal_fd).st_ino
        os.fdatasync(self._wal_fd)


def lock_holders(path: str) -> list[int]:
    """The processes holding a lock on ``path``, from /proc/locks (Linux); [] where unknown."""
    try:
        st = os.stat(path)
        text = Path("/proc/locks").read_text()
    except OSError:
        return []
    wanted = f":{st.st_ino}"
    out = []
    for line in text.splitlines():
        fields = line.split()
        # 1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(wanted):
            device = fields[5].rsplit(":", 1)[0]
            major, minor = (int(x, 16) for x in device.split(":"))
            if (major, minor) == (os.major(st.st_dev), os.minor(st.st_dev)) and fields[4].isdigit():
                out.append(int(fields[4]))
    return out


@dataclass
class _Request:
    fd: int
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    granted: bool = False
    abandoned: bool = False


class _WriterQueue:
    """Cross-process (flock) and cross-thread (a flock is per open file, not per thread) lock,
    waited for at most ``timeout`` seconds.

    Uncontended, it is one non-blocking ``flock``. Contended, a helper thread makes the blocking
    call (the kernel hands the lock over the moment it is freed: no polling, no sleeping) while
    the caller waits for it with a deadline; a request given up on is released as soon as it is
    granted."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._pid = -1
        self._thread_lock = threading.Lock()
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._helper: threading.Thread | None = None

    def _fresh(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a fresh fd and helper after a fork
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
            self._requests = queue.SimpleQueue()
            self._helper = threading.Thread(target=self._serve, name="writer-queue", daemon=True)
            self._helper.start()
        return self._fd

    def _serve(self) -> None:
        requests = self._requests
        while True:
            req = requests.get()
            fcntl.flock(req.fd, fcntl.LOCK_EX)
            with req.lock:
                if req.abandoned:
                    fcntl.flock(req.fd, fcntl.LOCK_UN)
                else:
                    req.granted = True
            req.done.set()

    def _busy(self) -> WriterBusy:
        holders = [p for p in lock_holders(self._path) if p != os.getpid()]
        who = f" by process {', '.join(map(str, holders))}" if holders else ""
        return WriterBusy(
            "the database is busy: its writer lock {path} has been held{who} for more than "
            "{timeout:g} s (a stopped or hung rangectl?); try again, or end that process",
            retry_after=max(1, round(self.timeout / 3)),
            path=self._path,
            who=who,
            timeout=self.timeout,
        )

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._busy()
        try:
            fd = self._fresh()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                metrics.WRITER_LOCK_WAITS.inc()
                req = _Request(fd)
                self._requests.put(req)
                req.done.wait(max(0.0, deadline - time.monotonic()))
                with req.lock:
                    if not req.granted:
                        req.abandoned = True
                        raise self._busy() from None
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class Store:
    """Owns the engine and hands out one transaction per use case."""

    def __init__(
        self, engine: Engine, *, writer_timeout: float = 15.0, durability: str = "strict"
    ) -> None:
        self.engine = engine
        self.durability = durability
        self.file = _FILES.get(engine)
        self.read_only = self.file is not None and self.file.read_only
        writable = self.file is not None and not self.read_only
        self._writers = (
            _WriterQueue(f"{self.file.path}.writer-lock", writer_timeout) if writable else None
        )
        self._syncs = _WalSync(self.file.path) if writable else None  # type: ignore[union-attr]
        self._relaxed = engine.execution_options(**{_IMMEDIATE: True, _RELAXED: True})
        # SQLite's driver runs a statement outside BEGIN in autocommit already (and SQLAlchemy's
        # isolation reset would turn the driver's own transactions back on: not there).
        self._snapshotless = (
            engine
            if engine.dialect.name == "sqlite"
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._immediate = engine.execution_options(**{_IMMEDIATE: True})
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
