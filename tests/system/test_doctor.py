"""rangectl doctor: one verdict per check, each provoked on purpose."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.orchestrator.docker import guard
from range_control.services.operations import backups, doctor
from range_control.store.models import Challenge
from tests.support.cli import run
from tests.support.env import (
    ADMIN,
    unique_event,
)
from tests.support.servers import challenge_pack


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
    assert run("challenges", "sync", str(challenge_pack(tmp_path, 1)))[0] == 0
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
    assert c["engine"]["verdict"] == "fail" and "no Docker engine answers" in c["engine"]["detail"]
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
    # (the game network's ACCEPTs of bridged game addresses may be there too: not the guard's)
    ours = [ln for ln in listed.splitlines() if "rcb+" in ln and not ln.endswith("-j ACCEPT")]
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
