"""Every acknowledged write is on stable storage before the answer leaves.

SQLite: the real server (gunicorn, two workers) runs under ``strace``; each answer that tells a
team its flag was recorded must come after a sync of the WAL that followed the transaction's
own WAL writes, in the same thread. With ``RANGE_DURABILITY=relaxed`` a wrong flag is answered
without one, a right flag never is. PostgreSQL: every transaction the app commits runs with
``synchronous_commit`` on (relaxed: off only inside a wrong flag's own transaction), and no
session the app opens starts with it off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import event

from range_control.store.engine import make_engine
from range_control.store.session import Store
from tests.support.cli import free_port, run, wait_http
from tests.support.env import ADMIN, Env, make_env

CHALLENGES = 4


@pytest.fixture
def served_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A SQLite range with one team, CHALLENGES challenges and a running event."""
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'range.db'}",
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": "durable",
        "RANGE_ENVIRONMENTS": "off",
        "RANGE_ATTEMPTS_PER_MINUTE": "1000",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert run("db", "upgrade")[0] == 0
    for i in range(CHALLENGES):
        d = tmp_path / "pack" / f"c{i}"
        d.mkdir(parents=True)
        spec = {"name": f"C{i}", "value": 100, "flags": [f"ICE{{durable-{i}}}"]}
        (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    assert run("challenges", "sync", str(tmp_path / "pack"))[0] == 0
    code, out = run("teams", "add", "Norway", "--country", "NO", "--json")
    assert code == 0
    assert run("event", "start")[0] == 0
    return env | {"token": json.loads(out)["token"]}


@dataclass
class Answer:
    status: str
    wal_written: bool  # the request's transaction wrote WAL frames
    synced_after: bool  # and a sync of the WAL (or the database file) followed them


@dataclass
class _Thread:
    wal_written: bool = False
    synced_after: bool = False
    answers: list[Answer] = field(default_factory=list)


# strace -f -y: "<tid> <time> name(fd</path>, ...) = n", or split around a concurrent call.
_CALL = re.compile(r"^(\d+)\s+[\d.]+\s+(?:<\.\.\. )?(\w+)(?: resumed>|\()(.*)$")


def parse_trace(text: str) -> list[Answer]:
    """Each thread's answers in order, with what its last transaction did on the WAL."""
    threads: dict[str, _Thread] = {}
    for line in text.splitlines():
        m = _CALL.match(line)
        if not m:
            continue
        tid, name, rest = m.groups()
        t = threads.setdefault(tid, _Thread())
        if "resumed>" in line:
            continue  # the call's start line was counted (same thread: it returned before)
        if name in {"pwrite64", "pwrite", "write", "pwritev"} and "-wal>" in rest.split(",")[0]:
            t.wal_written, t.synced_after = True, False
        elif name in {"fsync", "fdatasync"} and re.search(r"range\.db(-wal)?>", rest):
            t.synced_after = t.synced_after or t.wal_written
        elif name in {"sendto", "write", "sendmsg"} and re.search(
            r"<(TCP|socket):", rest.split(",")[0]
        ):
            s = re.search(r'status\\":\\"(\w+)\\",\\"points', rest)  # an attempt's answer
            if s:
                t.answers.append(Answer(s.group(1), t.wal_written, t.synced_after))
                t.wal_written = t.synced_after = False
    return [a for t in threads.values() for a in t.answers]


def serve_under_strace(env: dict[str, str], tmp: Path, durability: str) -> list[Answer]:
    """Wrong, right and repeated flags, one at a time, through gunicorn under strace."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace missing: apt-get install strace (infra/setup.sh)", pytrace=False)
    port = free_port()
    trace = tmp / f"trace-{durability}.txt"
    proc = subprocess.Popen(
        [
            strace,
            "-f",
            "-ttt",
            "-y",
            "-s",
            "200",
            "-o",
            str(trace),
            "-e",
            "trace=fsync,fdatasync,pwrite64,pwritev,write,sendto,sendmsg",
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "range_control:create_app()",
        ],
        env={
            **os.environ,
            **{k: v for k, v in env.items() if k != "token"},
            "RANGE_DURABILITY": durability,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    statuses = []
    try:
        wait_http(f"{base}/healthz", proc, timeout=60)

        def attempt(slug: str, flag: str) -> str:
            req = urllib.request.Request(  # noqa: S310 - loopback only
                f"{base}/api/v1/challenges/{slug}/attempts",
                method="POST",
                data=json.dumps({"flag": flag}).encode(),
                headers={
                    "Authorization": f"Bearer {env['token']}",
                    "Content-Type": "application/json",
                },
            )
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
                return json.loads(r.read())["status"]

        for i in range(CHALLENGES):
            statuses += [attempt(f"c{i}", "ICE{nope}"), attempt(f"c{i}", "ICE{still-no}")]
            statuses += [attempt(f"c{i}", f"ICE{{durable-{i}}}")]
            statuses += [attempt(f"c{i}", f"ICE{{durable-{i}}}")]
    finally:
        # strace detaches on SIGTERM and leaves gunicorn running: stop the whole group.
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    assert Counter(statuses) == {
        "incorrect": 2 * CHALLENGES,
        "correct": CHALLENGES,
        "already_solved": CHALLENGES,
    }
    answers = parse_trace(trace.read_text(errors="replace"))
    # Every answer the client got was seen leaving the server.
    assert Counter(a.status for a in answers) == Counter(statuses)
    return answers


def test_strict_every_acknowledged_attempt_follows_a_sync_of_its_wal(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    answers = serve_under_strace(served_env, tmp_path, "strict")
    for a in answers:
        assert a.wal_written, a  # each attempt is recorded...
        assert a.synced_after, a  # ...and on disk before its answer


def test_relaxed_syncs_solves_but_not_wrong_flags(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    answers = serve_under_strace(served_env, tmp_path, "relaxed")
    for a in answers:
        assert a.wal_written, a
        if a.status == "incorrect":
            assert not a.synced_after, a
        else:  # a solve, and a solved flag sent again (it counts against the limit)
            assert a.synced_after, a


def test_parse_trace_reads_strace_lines() -> None:
    """The parser itself: a write, a sync, an answer; and a thread that answers unsynced."""
    trace = "\n".join(
        [
            '10 1.1 pwrite64(5</v/range.db-wal>, "\\x00", 4096, 0) = 4096',
            "10 1.2 fdatasync(6</v/range.db-wal> <unfinished ...>",
            '11 1.25 pwrite64(5</v/range.db-wal>, "\\x00", 4096, 0) = 4096',
            "10 1.3 <... fdatasync resumed>) = 0",
            '10 1.4 sendto(9<TCP:[1->2]>, "{\\"status\\":\\"correct\\",\\"points\\":1}", 30, 0) = 30',
            '11 1.5 sendto(8<socket:[7]>, "{\\"status\\":\\"incorrect\\",\\"points\\":0}", 20, 0) = 20',
            '11 1.6 sendto(8<socket:[7]>, "{\\"status\\":\\"ok\\"}", 15, 0) = 15',
        ]
    )
    assert parse_trace(trace) == [Answer("correct", True, True), Answer("incorrect", True, False)]


# --- group commit: one sync serves the commits written before it began ---------------------


def test_group_commit_one_sync_covers_commits_made_before_it(tmp_path: Path) -> None:
    """Two stores on one file stand for two worker processes (each maps the shared counter)."""
    url = f"sqlite:///{tmp_path / 'range.db'}"
    a, b = Store(make_engine(url)), Store(make_engine(url))
    from range_control.store import migrate

    migrate.upgrade(a.engine)
    start = a.sync_counts()
    assert start is not None
    first, second = a._syncs.committed(), b._syncs.committed()  # type: ignore[union-attr]
    assert second == first + 1
    b._syncs.wait_durable(second)  # type: ignore[union-attr]
    a._syncs.wait_durable(first)  # covered by b's sync: no second one
    commits, syncs = a.sync_counts()  # type: ignore[misc]
    assert (commits - start[0], syncs - start[1]) == (2, 1)
    # A write through the store is numbered and synced.
    with a.write_conn() as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    assert b.sync_counts() == (commits + 1, syncs + 1)
    a.dispose()
    b.dispose()


def test_relaxed_write_is_carried_to_disk_by_the_next_durable_one(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'range.db'}", durability="relaxed")
    with store.write_conn() as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    commits, syncs = store.sync_counts()  # type: ignore[misc]
    with store.write_conn(relaxed=True) as c:
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert store.sync_counts() == (commits + 1, syncs)  # committed, not synced
    with store.write_conn() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (2)")
    assert store.sync_counts() == (commits + 2, syncs + 1)  # one sync for both
    # Under strict durability "relaxed" is not honoured: every write is synced.
    strict = Store.from_url(f"sqlite:///{tmp_path / 'strict.db'}")
    with strict.write_conn(relaxed=True) as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    commits, syncs = strict.sync_counts()  # type: ignore[misc]
    assert syncs >= 1 and commits == syncs
    store.dispose()
    strict.dispose()


def test_a_rolled_back_write_neither_counts_nor_syncs(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'range.db'}")
    with store.write_conn() as c:
        c.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    before = store.sync_counts()
    with pytest.raises(RuntimeError), store.write_conn() as c:
        c.exec_driver_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("the use case failed")
    assert store.sync_counts() == before
    with store.read_conn() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    store.dispose()


# --- PostgreSQL: synchronous_commit --------------------------------------------------------


@dataclass
class _Watch:
    at_connect: list[str] = field(default_factory=list)
    at_commit: list[str] = field(default_factory=list)


def _watch(engine: Any) -> _Watch:
    seen = _Watch()

    def show(dbapi_conn: Any) -> str:
        return dbapi_conn.execute("SHOW synchronous_commit").fetchone()[0]

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        seen.at_connect.append(show(dbapi_conn))
        dbapi_conn.rollback()  # SHOW began a transaction: leave the connection as it was

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:  # inside the transaction, just before COMMIT
        seen.at_commit.append(show(conn.connection.driver_connection))

    return seen


def _workload(e: Env) -> Counter[str]:
    """A flag of every kind, a paid hint, an award and a control action."""
    e.challenge("w", value=100, hints=[{"content": "paid", "cost": 10, "title": "Paid"}])
    e.start()
    _, team = e.team()
    statuses = Counter[str]()
    for flag in ["ICE{no}", "ICE{nope}", "ICE{w}", "ICE{w}"]:
        r = e.attempt(team, "w", flag)
        assert r.status_code == 200, r.get_json()
        statuses[r.get_json()["status"]] += 1
    hint = e.client.get("/api/v1/challenges/w", headers=team).get_json()["hints"][0]
    assert e.client.post(f"/api/v1/hints/{hint['id']}/unlock", headers=team).status_code == 200
    r = e.client.post(
        "/api/v1/admin/awards",
        headers=e.admin(),
        json={"team": "Netherlands", "value": 5, "reason": "ok"},
    )
    assert r.status_code == 201, r.get_json()
    assert e.client.post("/api/v1/admin/event/pause", headers=e.admin()).status_code == 200
    return statuses


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("durability", ["strict", "relaxed"])
def test_postgres_synchronous_commit_is_never_off_for_what_scores(
    database_url: str, tmp_path: Path, durability: str
) -> None:
    e = make_env(database_url, tmp_path, durability=durability)
    seen = _watch(e.ctx.store.engine)
    try:
        statuses = _workload(e)
        assert statuses == {"incorrect": 2, "correct": 1, "already_solved": 1}
        assert seen.at_connect and set(seen.at_connect) == {"on"}
        offs = seen.at_commit.count("off")
        # Relaxed: exactly the two wrong flags' own transactions; nothing else, ever.
        assert offs == (2 if durability == "relaxed" else 0), seen.at_commit
        assert seen.at_commit.count("on") >= 6
        # SET LOCAL ended with its transaction: every pooled connection is back to "on".
        conns = [e.ctx.store.engine.connect() for _ in range(3)]
        try:
            for c in conns:
                assert c.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        finally:
            for c in conns:
                c.close()
    finally:
        e.ctx.store.dispose()


def test_durability_setting_is_checked() -> None:
    from pydantic import ValidationError

    from range_control.core.settings import Settings

    with pytest.raises(ValidationError, match="durability"):
        Settings(durability="fast")  # type: ignore[arg-type]
    assert Settings().durability == "strict"


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RANGE_DURABILITY", raising=False)
    yield
