"""Operating a live event (issue 14): metrics from a 2-worker gunicorn equal the traffic sent,
JSON logs without secrets, backups taken during a burst restore to the same range, rolling
backups in the worker, and a doctor that fails on each broken precondition it checks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from range_control.context import Range
from range_control.core import logs
from range_control.core.settings import Settings
from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.orchestrator.docker import guard
from range_control.services.event import scenario
from range_control.services.operations import backups, doctor
from range_control.services.play import attempts, scoreboard
from range_control.store.models import Attempt, Challenge
from range_control.worker import RangeScheduler
from tests.conftest import (
    ADMIN,
    FLAG_SECRET,
    Env,
    make_env,
    migrated_sqlite,
    pg_database,
    unique_event,
)
from tests.test_cli import _free_port, _wait_http, run

REPO = Path(__file__).resolve().parents[1]


# --- a real web tier ---------------------------------------------------------------------------


def _pack(tmp: Path, n: int) -> Path:
    for i in range(n):
        d = tmp / "pack" / f"c{i}"
        d.mkdir(parents=True)
        spec = {"name": f"C{i}", "value": 100, "flags": [f"ICE{{ops-secret-flag-{i}}}"]}
        (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    return tmp / "pack"


@pytest.fixture
def range_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A SQLite range (environments off) with two teams, three challenges, the event running."""
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": unique_event("o"),
        "RANGE_ENVIRONMENTS": "off",
        "RANGE_ATTEMPTS_PER_MINUTE": "1000",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    assert run("db", "upgrade")[0] == 0
    assert run("challenges", "sync", str(_pack(tmp_path, 3)))[0] == 0
    tokens = {}
    for name in ("Norway", "Poland"):
        code, out = run("teams", "add", name, "--json")
        assert code == 0
        tokens[name] = json.loads(out)["token"]
    assert run("event", "start")[0] == 0
    return env | {"token_a": tokens["Norway"], "token_b": tokens["Poland"]}


class Server:
    def __init__(self, env: dict[str, str], tmp: Path, *extra: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:range_control.web.gunicorn_conf",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
                *extra,
                "range_control.web:create_app()",
            ],
            env={**os.environ, **{k: v for k, v in env.items() if k.startswith("RANGE_")}},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp,
        )
        _wait_http(f"{self.base}/healthz", self.proc, timeout=60)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(  # noqa: S310 - loopback only
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **(headers or {}),
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback only
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.log.close()
        return self.log_path.read_text(errors="replace")


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_of_two_workers_equal_the_traffic_and_logs_hold_no_secret(
    range_env: dict[str, str], tmp_path: Path
) -> None:
    env = range_env | {"RANGE_LOG_FORMAT": "json", "RANGE_METRICS_DIR": str(tmp_path / "prom")}
    server = Server(env, tmp_path)
    try:
        sent = {"incorrect": 0, "correct": 0, "already_solved": 0}
        for i in range(3):
            for _ in range(4):
                status, body, _ = server.call(
                    "POST",
                    f"/api/v1/challenges/c{i}/attempts",
                    env["token_a"],
                    {"flag": "ICE{wrong-guess}"},
                )
                assert status == 200 and json.loads(body)["status"] == "incorrect"
                sent["incorrect"] += 1
        for i in range(2):
            for _ in range(2):
                status, body, _ = server.call(
                    "POST",
                    f"/api/v1/challenges/c{i}/attempts",
                    env["token_b"],
                    {"flag": f"ICE{{ops-secret-flag-{i}}}"},
                )
                sent[json.loads(body)["status"]] += 1
        assert sent == {"incorrect": 12, "correct": 2, "already_solved": 2}
        for _ in range(7):
            assert server.call("GET", "/api/v1/scoreboard")[0] == 200
        # A request id given by the proxy in front comes back, and is in the log line.
        status, _, headers = server.call(
            "GET", "/api/v1/event", headers={"X-Request-ID": "proxy-id-12345678"}
        )
        assert status == 200 and headers["X-Request-ID"] == "proxy-id-12345678"
        assert server.call("GET", "/api/v1/challenges", "rct_not-a-token")[0] == 401
        # The scrape: from loopback without a token (RANGE_METRICS_TOKEN unset).
        status, body, headers = server.call("GET", "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        m = samples(body)
        route = "/api/v1/challenges/<slug>/attempts"
        for outcome, n in sent.items():
            assert value(m, "range_flag_attempts_total", outcome=outcome) == n, outcome
        assert value(m, "range_solves_total") == 2
        assert value(m, "range_http_requests_total", route=route, method="POST", status="200") == 16
        assert (
            value(
                m,
                "range_http_requests_total",
                route="/api/v1/scoreboard",
                method="GET",
                status="200",
            )
            == 7
        )
        assert (
            value(
                m,
                "range_http_requests_total",
                route="/api/v1/challenges",
                method="GET",
                status="401",
            )
            == 1
        )
        assert value(m, "range_http_request_duration_seconds_count", route=route) == 16
        cache = value(m, "range_scoreboard_cache_total", result="hit") + value(
            m, "range_scoreboard_cache_total", result="miss"
        )
        assert cache == 7
        assert value(m, "range_scoreboard_cache_total", result="miss") >= 1
        # SQLite's writer queue: every recorded attempt waited for its turn (perhaps 0 s).
        assert value(m, "range_db_write_wait_seconds_count") >= 16
        assert ("range_instances", ()) not in m  # no instance: no series, but the family is there
        assert b"# TYPE range_instances gauge" in body
        # The worker, given the same metrics directory, is in the same scrape: its backups.
        worker = subprocess.Popen(
            [sys.executable, "-m", "range_control.cli", "worker"],
            env={
                **os.environ,
                **{k: v for k, v in env.items() if k.startswith("RANGE_")},
                "RANGE_BACKUP_EVERY": "1s",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while (
                value(
                    samples(server.call("GET", "/metrics")[1]), "range_backups_total", result="ok"
                )
                < 1
            ):
                assert worker.poll() is None and time.monotonic() < deadline, "no backup metric"
                time.sleep(0.3)
            m = samples(server.call("GET", "/metrics")[1])
            assert 0 <= value(m, "range_backup_age_seconds") < 60
        finally:
            worker.terminate()
            worker_out = worker.communicate(timeout=30)[0]
        assert '"logger": "range_control.worker"' in worker_out  # JSON from the worker too
        assert ADMIN not in worker_out
    finally:
        out = server.stop()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [r for r in lines if r["logger"] == "range_control.access"]
    assert len(access) >= 16 + 7 + 3
    for r in access:
        assert {
            "time",
            "level",
            "logger",
            "message",
            "request_id",
            "route",
            "status",
            "duration_ms",
        } <= set(r)
    attempts_logged = [r for r in access if r["route"] == "/api/v1/challenges/<slug>/attempts"]
    assert len(attempts_logged) == 16 and all(
        isinstance(r["team_id"], int) for r in attempts_logged
    )
    assert any(r["request_id"] == "proxy-id-12345678" for r in access)
    # No secret and no submitted flag anywhere in what the web tier wrote.
    for secret in (
        ADMIN,
        env["token_a"],
        env["token_b"],
        "ops-secret-flag",
        "wrong-guess",
        "rct_not-a-token",
    ):
        assert secret not in out, secret


def test_metrics_need_the_token_or_loopback(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "range.db")
    e = make_env(url, tmp_path)
    try:
        remote = {"REMOTE_ADDR": "10.9.8.7"}
        assert e.client.get("/metrics", environ_base=remote).status_code == 403
        assert e.client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    finally:
        e.ctx.store.dispose()
    e = make_env(url, tmp_path, metrics_token="metrics-token-0123456789")
    try:
        assert e.client.get("/metrics").status_code == 401
        bad = {"Authorization": "Bearer metrics-token-wrong"}
        assert e.client.get("/metrics", headers=bad).status_code == 401
        good = {"Authorization": "Bearer metrics-token-0123456789"}
        labels = {"route": "<unmatched>", "method": "other", "status": "405"}
        before = value(
            samples(e.client.get("/metrics", headers=good).data),
            "range_http_requests_total",
            **labels,
        )
        for method in ("BREW", "PROPFIND", "X-ANYTHING"):  # any token is a method to HTTP
            assert e.client.open("/api/v1/event", method=method).status_code == 405
        r = e.client.get("/metrics", headers=good, environ_base=remote)
        assert r.status_code == 200 and b"range_http_requests_total" in r.data
        # Labels stay bounded whatever a client sends: unknown methods count as "other".
        assert b'method="BREW"' not in r.data
        assert value(samples(r.data), "range_http_requests_total", **labels) == before + 3
    finally:
        e.ctx.store.dispose()


def test_log_scrubbing_and_formats(tmp_path: Path) -> None:
    import io
    import logging

    stream = io.StringIO()
    handler = logs.configure("json", secrets=["s3cret-admin-token-value"], stream=stream)
    try:
        logging.getLogger("range_control.test").warning("token is %s", "s3cret-admin-token-value")
        try:
            raise RuntimeError("boom s3cret-admin-token-value")
        except RuntimeError:
            logging.getLogger("range_control.test").exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records[0]["message"] == "token is [redacted]" and records[0]["level"] == "WARNING"
    assert records[0]["logger"] == "range_control.test" and "time" in records[0]
    assert "s3cret" not in stream.getvalue() and "[redacted]" in records[1]["exc_info"]


# --- backups -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _fresh_target(kind: str, tmp: Path) -> Iterator[Settings]:
    """An empty data dir, and for PostgreSQL an empty database."""
    data = tmp / f"restored-{uuid.uuid4().hex[:6]}"
    if kind == "sqlite":
        yield Settings(data_dir=data)
        return
    with pg_database() as url:
        yield Settings(data_dir=data, database_url=url)


def _attempts(ctx: Range) -> list[tuple]:
    with ctx.store.read_conn() as c:
        rows = c.execute(
            select(
                Attempt.id, Attempt.team_id, Attempt.challenge_id, Attempt.submitted, Attempt.result
            ).order_by(Attempt.id)
        )
        return [tuple(r) for r in rows]


def test_backup_during_a_burst_restores_everything_up_to_the_snapshot(env: Env) -> None:
    env.challenge("dyn", dynamic_flag={"prefix": "ICE", "length": 16}, value=300)
    for i in range(3):
        env.challenge(f"s{i}", flags=[f"ICE{{burst-{i}}}"])
    env.start()
    env.ctx.settings.attempts_per_minute = 100_000
    teams = [env.team(f"Team {i}", "NO") for i in range(3)]
    stop = threading.Event()
    sent = []

    errors: list[BaseException] = []

    def burst(k: int) -> None:
        team_id, _ = teams[k]
        n = 0
        try:
            while not stop.is_set() and n < 400:
                flag = f"ICE{{burst-{n % 3}}}" if n % 7 == 0 else f"ICE{{nope-{k}-{n}}}"
                attempts.submit(env.ctx, team_id, f"s{n % 3}", flag, None)
                sent.append(flag)  # acknowledged: committed before submit returned
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost
            errors.append(exc)

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(sent) < 60:
        assert not errors and time.monotonic() < deadline, errors or "the burst stalled"
        time.sleep(0.01)
    acked = set(sent)  # every flag acknowledged before the snapshot began
    mid = backups.take(env.ctx, env.tmp / "mid.tar.gz")
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert mid.manifest.counts["attempts"] >= 60 and len(sent) > mid.manifest.counts["attempts"]
    kind = env.ctx.store.engine.dialect.name
    source = _attempts(env.ctx)

    with _fresh_target(kind, env.tmp) as settings:
        done = backups.restore(settings, env.tmp / "mid.tar.gz")
        restored = Range.from_settings(settings.ensure_secrets())
        got = _attempts(restored)
        # Nothing acknowledged before the snapshot is lost, and nothing is altered: every row
        # restored is the source's row of that id. (Not "the first N ids": on PostgreSQL an
        # id is taken at insert and concurrent transactions commit out of id order, so the
        # snapshot may hold attempt 66 and not 65, which was still in flight.)
        assert set(got) <= set(source) and len(got) == mid.manifest.counts["attempts"]
        assert {f for f in acked if "nope" in f} <= {row[3] for row in got}
        assert done.counts == mid.manifest.counts
        restored.store.dispose()

    # Quiet again: a second backup restores to an identical range (scoreboard, ledgers,
    # dynamic flags, timeline).
    end = backups.take(env.ctx, env.tmp / "end.tar.gz", passphrase="correct horse")
    with _fresh_target(kind, env.tmp) as settings:
        with pytest.raises(backups.InvalidInput, match="passphrase"):
            backups.restore(settings, env.tmp / "end.tar.gz")
        backups.restore(settings, env.tmp / "end.tar.gz", passphrase="correct horse")
        with pytest.raises(backups.Conflict, match="already holds"):
            backups.restore(settings, env.tmp / "end.tar.gz", passphrase="correct horse")
        restored = Range.from_settings(settings.ensure_secrets(), env.clock)
        assert settings.flag_secret.get_secret_value() == FLAG_SECRET
        assert _attempts(restored) == _attempts(env.ctx)
        assert scoreboard.snapshot(restored).body == scoreboard.snapshot(env.ctx).body
        for team_id, _ in teams:
            assert scoreboard.ledger(restored, team_id) == scoreboard.ledger(env.ctx, team_id)
        shape = DynamicFlag("ICE", 16)
        restored_flag = dynamic_flag(
            settings.flag_secret.get_secret_value(), restored.event_slug, teams[0][0], "dyn", shape
        )
        assert restored_flag == dynamic_flag(
            FLAG_SECRET, env.ctx.event_slug, teams[0][0], "dyn", shape
        )
        assert scenario.with_timeline(restored) == scenario.with_timeline(env.ctx)
        assert end.manifest.secrets == "sealed"
        restored.store.dispose()


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    target = Settings(data_dir=tmp_path / "t")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar at all")
    with pytest.raises(backups.InvalidInput, match="not a readable backup"):
        backups.restore(target, junk)
    with pytest.raises(backups.InvalidInput, match="no such backup file"):
        backups.restore(target, tmp_path / "missing.tar.gz")
    code, out = run("restore", str(junk))
    assert code == 1
    assert out.splitlines()[-1] == f"error: {junk}: not a readable backup (not a .tar.gz file)"


def test_a_backup_from_newer_code_is_refused_and_a_failed_write_leaves_nothing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import io
    import tarfile

    good = backups.take(env.ctx, env.tmp / "good.tar.gz")
    # The same backup, its manifest saying a schema revision this code does not have.
    newer = env.tmp / "newer.tar.gz"
    with tarfile.open(good.path) as src, tarfile.open(newer, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == backups.MANIFEST:
                doc = json.loads(data)
                doc["schema_revision"] = "9999_from_the_future"
                data = json.dumps(doc).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    target = Settings(data_dir=env.tmp / "fresh")
    with pytest.raises(backups.InvalidInput, match="9999_from_the_future is newer"):
        backups.restore(target, newer)
    assert not (env.tmp / "fresh").exists()  # refused before anything was written

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backups, "_write_archive", full)
    before = set(env.tmp.iterdir())
    with pytest.raises(OSError, match="No space"):
        backups.take(env.ctx, env.tmp / "never.tar.gz")
    assert set(env.tmp.iterdir()) == before  # no partial file, no temporary directory


def test_the_worker_takes_rolling_backups_and_keeps_n(tmp_path: Path) -> None:
    migrated_sqlite(tmp_path / "var" / "range.db")
    settings = Settings(
        data_dir=tmp_path / "var", backup_every="1s", backup_keep=2, environments="off"
    ).ensure_secrets()
    ctx = Range.from_settings(settings)
    sched = RangeScheduler(ctx, reconcile=False)
    sched.start()
    try:
        deadline = time.monotonic() + 30
        while len(list(settings.resolved_backup_dir.glob("range-*.tar.gz"))) < 2:
            assert time.monotonic() < deadline, "no rolling backups within 30 s"
            time.sleep(0.2)
        time.sleep(2.5)  # more passes: still only the newest two
    finally:
        sched.stop()
        ctx.store.dispose()
    kept = sorted(settings.resolved_backup_dir.glob("range-*.tar.gz"))
    assert len(kept) == 2
    assert not list(settings.resolved_backup_dir.glob(".*partial"))
    last = backups.last_good(settings)
    assert last is not None and last.path == kept[-1]
    assert backups.inspect(kept[-1]).database == "sqlite"


# --- the doctor: one test per line -------------------------------------------------------------


@pytest.fixture
def doctor_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: Any) -> dict[str, str]:
    """A healthy SQLite range on the real engine: a team, a released challenge, a backup."""
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_EVENT_SLUG": unique_event("d"),
        "RANGE_BACKUP_EVERY": "15m",
    }
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert run("db", "upgrade")[0] == 0
    assert run("challenges", "sync", str(_pack(tmp_path, 1)))[0] == 0
    assert run("teams", "add", "Norway")[0] == 0
    ctx = Range.from_settings(Settings().ensure_secrets())
    backups.rolling(ctx)
    ctx.store.dispose()
    return env


def doctor_says(*args: str) -> dict[str, dict[str, str]]:
    code, out = run("doctor", "--json", *args)
    checks = {c["check"]: c for c in json.loads(out)}
    assert list(checks) == [
        "database",
        "schema",
        "integrity",
        "data dir",
        "secrets",
        "engine",
        "host guard",
        "address pool",
        "wireguard",
        "images",
        "memory",
        "disk",
        "clock",
        "scheduler",
        "backups",
    ]
    failed = any(c["verdict"] == "fail" for c in checks.values())
    assert code == (1 if failed else 0)
    return checks


def test_doctor_healthy(doctor_env: dict[str, str]) -> None:
    checks = doctor_says()
    assert {n: c["verdict"] for n, c in checks.items() if c["verdict"] != "ok"} == {
        "scheduler": "warn"  # no worker runs in this test
    }
    code, out = run("doctor")
    assert code == 0 and "address pool" in out and "fail" not in out


def test_doctor_database_missing(
    doctor_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANGE_DATA_DIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    c = doctor_says()
    assert c["database"]["verdict"] == "fail" and "rangectl db upgrade" in c["database"]["detail"]


def test_doctor_schema_behind(doctor_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "var" / "range.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0006'")
    c = doctor_says()
    assert c["schema"]["verdict"] == "fail" and "0006" in c["schema"]["detail"]


def test_doctor_integrity(doctor_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "var" / "range.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as fh:  # damage pages after the first (the schema stays readable)
        for offset in range(8192, size, 4096):
            fh.seek(offset)  # the b-tree page's header: 0xff is no page type (random bytes
            fh.write(b"\xff" * 16)  # in a page's free space would go unnoticed)
    c = doctor_says()
    assert c["integrity"]["verdict"] == "fail"


def test_doctor_data_dir_mode(doctor_env: dict[str, str], tmp_path: Path) -> None:
    os.chmod(tmp_path / "var", 0o755)  # noqa: S103 - the broken precondition under test
    c = doctor_says()
    assert c["data dir"]["verdict"] == "fail" and "0755" in c["data dir"]["detail"]


def test_doctor_secrets_lost(
    doctor_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "var" / "secrets.json").unlink()
    monkeypatch.delenv("RANGE_ADMIN_TOKEN")
    c = doctor_says()
    assert c["secrets"]["verdict"] == "fail" and "1 teams exist" in c["secrets"]["detail"]
    assert not (tmp_path / "var" / "secrets.json").exists()  # the doctor generated nothing


def test_doctor_engine_unreachable(
    doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    c = doctor_says()
    assert c["engine"]["verdict"] == "fail"
    assert c["host guard"]["verdict"] == "fail" and "no engine" in c["host guard"]["detail"]


def test_doctor_host_guard_rule_missing(doctor_env: dict[str, str]) -> None:
    rule = guard.HOST_GUARD[-1]
    guard.ensure_host_guard()
    exe = shutil.which("iptables")
    assert subprocess.run([exe, "-w", "-D", *rule], capture_output=True).returncode == 0
    try:
        c = doctor_says()
    finally:
        guard.ensure_host_guard()
    assert c["host guard"]["verdict"] == "fail" and rule[0] in c["host guard"]["detail"]
    # Put back in its place, not at the top: the DROP above the replies' RETURN would cut
    # every published port's answers (it did, until the order was checked).
    listed = subprocess.run([exe, "-w", "-S", rule[0]], capture_output=True, text=True).stdout
    ours = [line for line in listed.splitlines() if "rcb+" in line]
    assert len(ours) == 2 and "ESTABLISHED" in ours[0] and ours[1].endswith("-j DROP"), listed
    assert guard.host_guard_missing() == ()


def test_doctor_wireguard(doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    c = doctor_says()
    assert c["wireguard"]["verdict"] == "ok" and "100.96.0.0/24" in c["wireguard"]["detail"]
    monkeypatch.setenv("RANGE_WIREGUARD_SUBNET", "10.213.200.0/24")  # inside the engine's pool
    c = doctor_says()
    assert c["wireguard"]["verdict"] == "fail" and "overlaps" in c["wireguard"]["detail"]
    monkeypatch.setenv("RANGE_WIREGUARD", "off")
    assert "RANGE_WIREGUARD=off" in doctor_says()["wireguard"]["detail"]


def test_doctor_address_pool_too_small(doctor_env: dict[str, str]) -> None:
    c = doctor_says("--teams", "1000")  # 1001 networks; the pool holds 256 (infra/engine.sh)
    assert c["address pool"]["verdict"] == "fail" and "1000 teams" in c["address pool"]["detail"]


def test_doctor_memory_too_small(doctor_env: dict[str, str]) -> None:
    c = doctor_says("--teams", "10000")  # 10000 x 128 MiB of jumpboxes alone: 1.2 TiB
    assert c["memory"]["verdict"] == "fail" and "10000 teams" in c["memory"]["detail"]


def test_doctor_clock_against_the_database_server(
    doctor_env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANGE_DATABASE_URL", database_url)
    c = doctor_says()
    source = "PostgreSQL server" if database_url.startswith("postgresql") else "Docker engine"
    assert c["clock"]["verdict"] == "ok" and source in c["clock"]["detail"]


def test_doctor_images_missing(doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "BASE_IMAGE", "range/base:never-built-" + uuid.uuid4().hex[:6])
    c = doctor_says()
    assert c["images"]["verdict"] == "fail" and "never-built" in c["images"]["detail"]


def test_doctor_disk_short(doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "DATA_DIR_FREE_BYTES", 1 << 60)  # more than any disk holds
    c = doctor_says()
    assert c["disk"]["verdict"] == "fail" and "GiB wanted" in c["disk"]["detail"]


def test_doctor_clock_skew(doctor_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "CLOCK_SKEW_SECONDS", -1.0)  # any difference is too much
    c = doctor_says()
    assert c["clock"]["verdict"] == "fail" and "Docker engine" in c["clock"]["detail"]


def test_doctor_scheduler_missing_with_a_milestone_overdue(
    doctor_env: dict[str, str], tmp_path: Path
) -> None:
    d = tmp_path / "later" / "later"
    d.mkdir(parents=True)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    spec = {"name": "Later", "value": 100, "flags": ["ICE{l}"], "scheduled_at": soon}
    (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    assert run("challenges", "sync", str(tmp_path / "later"))[0] == 0
    # An hour passes with no scheduler: the release is due and not applied.
    ctx = Range.from_settings(Settings().ensure_secrets())
    with ctx.store.write() as s:
        s.execute(
            update(Challenge)
            .where(Challenge.slug == "later")
            .values(release_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    ctx.store.dispose()
    c = doctor_says()
    assert c["scheduler"]["verdict"] == "fail" and "release:later" in c["scheduler"]["detail"]


def test_doctor_backups_stale(doctor_env: dict[str, str], tmp_path: Path) -> None:
    found = sorted((tmp_path / "var" / "backups").glob("range-*.tar.gz"))
    old = backups.rolling_name(datetime.now(UTC) - timedelta(hours=3))
    found[-1].rename(found[-1].with_name(old))
    c = doctor_says()
    assert c["backups"]["verdict"] == "fail" and "min old" in c["backups"]["detail"]


def test_monitoring_files_name_only_metrics_the_range_exports(env: Env) -> None:
    """Every metric the alert rules and the dashboard use is one /metrics declares."""
    import re

    body = env.client.get("/metrics").data.decode()
    declared = set(re.findall(r"^# TYPE (range_\w+) (\w+)", body, re.M))
    names = set()
    for name, kind in declared:
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        if kind == "counter":
            names.add(f"{name}_total")
    monitoring = REPO / "infra" / "monitoring"
    rules = yaml.safe_load((monitoring / "range-alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((monitoring / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\b(range_[a-z_]+)", e)}
    assert used and used <= names, sorted(used - names)
    assert yaml.safe_load((monitoring / "prometheus.yml").read_text())["rule_files"] == [
        "range-alerts.yml"
    ]
