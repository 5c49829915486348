"""Writes that are on disk before the answer, on SQLite: the WAL synced as group commit after the
writer lock (WalSync), and the writer lock itself, a flock handed over the moment it is freed
(WriterQueue)."""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from range_control.core import metrics
from range_control.core.errors import (
    WriterBusy,
)


class WalSync:
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


class WriterQueue:
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
