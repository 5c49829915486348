"""Hardening, as an operator meets it: real processes, real files, real sockets."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from range_control.store import migrate
from range_control.store.engine import make_engine
from tests.support.cli import free_port, wait_http
from tests.support.env import ADMIN, make_env, migrated_sqlite, unique_event


def rangectl(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "range_control.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> dict[str, str]:
    """A SQLite range of its own, migrated, with one team."""
    env = {
        **os.environ,
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": unique_event("h"),
    }
    env.pop("RANGE_DATABASE_URL", None)
    done = rangectl("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert rangectl("teams", "add", "Alpha", env=env).returncode == 0
    return env


class Recorder:
    """A unix socket that records every connection: where DOCKER_HOST points in these tests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[Recorder]:
    rec = Recorder(tmp_path / "docker.sock")
    yield rec
    rec.close()


def _serve(env: dict[str, str], *flags: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "range_control.cli", "serve", "--port", str(port), *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_http(f"http://127.0.0.1:{port}/api/v1/event", proc)
    return proc, port


def test_environments_off_makes_no_call_to_any_engine(
    data_dir: dict[str, str], recorder: Recorder, tmp_path: Path
) -> None:
    env = {**data_dir, "DOCKER_HOST": f"unix://{recorder.path}", "RANGE_RECONCILE_SECONDS": "0.5"}
    pack = tmp_path / "pack" / "web"
    pack.mkdir(parents=True)
    (pack / "challenge.yml").write_text(
        "name: Web\nvalue: 10\nflags: ['ICE{w}']\nenvironment:\n  services:\n"
        "    - {name: box, image: 'range/base:bookworm'}\n"
    )
    assert rangectl("challenges", "sync", str(pack), env=env).returncode == 0
    # The control: with environments on, the scheduler does reach for the engine.
    proc, _ = _serve(env)
    try:
        deadline = time.monotonic() + 20
        while recorder.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert recorder.connections > 0
    recorder.connections = 0
    proc, port = _serve(env, "--no-environments")
    try:
        import urllib.request

        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/admin/environments/up",
            data=b"{}",
            method="POST",
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)  # noqa: S310 - loopback
        assert refused.value.code == 503
        time.sleep(3)  # six reconcile periods
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "live environments are off" in out
    assert recorder.connections == 0


def test_a_held_writer_lock_is_refused_in_time_naming_the_holder(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "var" / "range.db")
    e = make_env(url, tmp_path, sqlite_busy_timeout_ms=1000)
    try:
        e.challenge("c")
        _, h = e.team()
        e.start()
        lock = f"{tmp_path / 'var' / 'range.db'}.writer-lock"
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys, time\n"
                f"fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            t0 = time.monotonic()
            r = e.attempt(h, "c", "ICE{c}")
            waited = time.monotonic() - t0
            assert r.status_code == 503 and r.headers["Retry-After"].isdigit(), r.json
            msg = r.json["error"]["message"]
            assert lock in msg and f"process {holder.pid}" in msg, msg
            assert 0.9 < waited < 5
            cli = {
                **os.environ,
                "RANGE_DATA_DIR": str(tmp_path / "var"),
                "RANGE_DATABASE_URL": url,
                "RANGE_SQLITE_BUSY_TIMEOUT_MS": "1000",
                "RANGE_ADMIN_TOKEN": ADMIN,
            }
            done = rangectl("teams", "add", "Bravo", env=cli)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 1 and len(lines) == 1, done.stderr
            assert (
                lines[0].startswith("error: the database is busy") and str(holder.pid) in lines[0]
            )
        finally:
            holder.kill()
            holder.wait()
        assert e.attempt(h, "c", "ICE{c}").json["status"] == "correct"  # free again
    finally:
        e.ctx.store.dispose()


def _damage(db: Path) -> None:
    """Overwrite a few pages in the middle of the file, as a bad disk or a torn copy would (the
    same bytes every run: damage inside a record alone is another test's)."""
    size = db.stat().st_size
    noise = random.Random(18).randbytes(900)
    with db.open("r+b") as fh:
        for page in range(2, size // 4096 - 1, 3):
            fh.seek(page * 4096 + 100)
            fh.write(noise)


def test_a_damaged_database_is_refused_in_one_line(data_dir: dict[str, str]) -> None:
    db = Path(data_dir["RANGE_DATA_DIR"]) / "range.db"
    _damage(db)
    for args in (["serve"], ["worker"], ["db", "upgrade"]):
        done = rangectl(*args, env=data_dir, timeout=30)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert any("is damaged" in ln and "restore the latest backup" in ln for ln in lines), lines


def test_damage_inside_a_record_is_one_line_too(data_dir: dict[str, str]) -> None:
    """Bytes that are not UTF-8 inside a text value leave the file's structure intact (SQLite's
    quick_check passes): the command that reads them says so in one line."""
    db = Path(data_dir["RANGE_DATA_DIR"]) / "range.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE teams SET name = CAST(x'ff9700' AS TEXT)")
        conn.commit()
    done = rangectl("teams", "list", env=data_dir, timeout=30)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, (done.stdout, done.stderr)
    assert "damaged text" in lines[0] and "restore the latest backup" in lines[0]


def test_a_read_only_copy_can_be_read_but_not_written(
    data_dir: dict[str, str], tmp_path: Path
) -> None:
    source = Path(data_dir["RANGE_DATA_DIR"])
    copy = tmp_path / "archive"
    shutil.copytree(source, copy)
    mounted = tmp_path / "ro"
    mounted.mkdir()
    subprocess.run(["mount", "--bind", str(copy), str(mounted)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)], check=True)
        env = {**data_dir, "RANGE_DATA_DIR": str(mounted)}
        shown = rangectl("event", "show", env=env)
        assert shown.returncode == 0, shown.stderr
        listed = rangectl("teams", "list", env=env)
        assert listed.returncode == 0 and "Alpha" in listed.stdout, listed.stderr
        added = rangectl("teams", "add", "Bravo", env=env)
        lines = added.stderr.strip().splitlines()
        assert added.returncode == 1 and len(lines) == 1, added.stderr
        assert "is read-only" in lines[0] and "Traceback" not in added.stderr
    finally:
        subprocess.run(["umount", str(mounted)], check=True)


def test_sqlite_file_is_checked_before_migrating(tmp_path: Path) -> None:
    """The same refusal in process: the store's check names the file and what to do."""
    from range_control.core.errors import Corrupt
    from range_control.store.session import Store

    db = tmp_path / "range.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    engine.dispose()
    _damage(db)
    store = Store.from_url(f"sqlite:///{db}")
    with pytest.raises(Corrupt) as caught:
        store.check_integrity()
    assert str(db) in caught.value.message
    store.dispose()
