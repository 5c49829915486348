"""Backups that restore: during a burst, refused when not a backup or from newer code, rolling
backups by the worker."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.services.event import scenario
from range_control.services.operations import backups
from range_control.services.play import attempts, scoreboard
from range_control.store.models import Attempt
from range_control.worker import RangeScheduler
from tests.support.cli import run
from tests.support.env import (
    FLAG_SECRET,
    Env,
    migrated_sqlite,
)
from tests.support.servers import fresh_target


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

    with fresh_target(kind, env.tmp) as settings:
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
    with fresh_target(kind, env.tmp) as settings:
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
