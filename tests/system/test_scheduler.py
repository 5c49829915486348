"""The real scheduler: `rangectl worker` (APScheduler, job store in the range database) driving a
scenario whose phases last three seconds. Transitions and injects fire once, in order, within a
second of their time; killing the worker with SIGKILL and starting it again changes nothing in
the outcome. Both databases."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls, scenario
from range_control.services.organiser import records
from range_control.store.models import Announcement, TimelineLog
from range_control.worker import RangeScheduler
from tests.support.env import ADMIN, TEST, migrated_sqlite, unique_event

SCENARIO = {
    "event": "fast",
    "freeze": "1s",
    "phases": [
        {
            "id": "p1",
            "title": "One",
            "duration": "3s",
            "challenges": ["a"],
            "injects": [{"at": "1s", "title": "inject one"}],
        },
        {
            "id": "p2",
            "title": "Two",
            "duration": "3s",
            "challenges": ["b"],
            "injects": [{"at": "1s", "title": "inject two"}],
        },
        {"id": "p3", "title": "Three", "duration": "3s", "challenges": ["c"]},
    ],
}
EXPECTED = [
    "phase:p1:start",
    "inject:p1:0",
    "phase:p1:end",
    "phase:p2:start",
    "inject:p2:0",
    "phase:p2:end",
    "phase:p3:start",
    "freeze",
    "phase:p3:end",
    "end",
]
ANNOUNCED = ["Phase: One", "inject one", "Phase: Two", "inject two", "Phase: Three"]


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.fh = log.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "range_control.cli", "worker"],
            env={**os.environ, **env},
            stdout=self.fh,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"worker exited {self.proc.returncode}:\n{self.log.read_text()}"
                )
            if self.log.read_text().count("scheduler running") > self.starts_seen:
                return time.time()
            time.sleep(0.05)
        raise AssertionError(f"worker not ready:\n{self.log.read_text()}")

    starts_seen = 0

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"worker did not stop in 20 s:\n{self.log.read_text()}") from None
        finally:
            self.fh.close()
        return code


@pytest.fixture
def setup(database_url: str, tmp_path: Path):
    env = {
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_DATABASE_URL": database_url,
        "RANGE_ADMIN_TOKEN": ADMIN,
        "RANGE_FLAG_SECRET": "f",
        "RANGE_SECRET_KEY": "k",
        "RANGE_EVENT_SLUG": unique_event("s"),
    }
    ctx = Range.from_settings(
        Settings(
            data_dir=tmp_path / "var",
            database_url=database_url,
            admin_token=ADMIN,
            flag_secret="f",
            secret_key="k",
            event_slug=env["RANGE_EVENT_SLUG"],
        )
    )
    for slug in ("a", "b", "c"):
        d = tmp_path / "pack" / slug
        d.mkdir(parents=True)
        (d / "challenge.yml").write_text(
            yaml.safe_dump({"name": slug, "slug": slug, "value": 10, "flags": ["x"]})
        )
    sync(ctx, lint([tmp_path / "pack"]).challenges, actor=TEST)
    scenario.load(ctx, scenario.parse(SCENARIO), TEST)
    yield ctx, env, tmp_path / "worker.log"
    ctx.store.dispose()


def outcome(ctx: Range) -> tuple[list[tuple[str, datetime, datetime]], list[str]]:
    with ctx.store.read() as s:
        log = [
            (r.key, r.due_at, r.applied_at)
            for r in s.scalars(select(TimelineLog).order_by(TimelineLog.id))
        ]
        ann = [a.title for a in s.scalars(select(Announcement).order_by(Announcement.id))]
    return log, ann


def wait_for_end(ctx: Range, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "end" in {k for k, _, _ in outcome(ctx)[0]}:
            return
        time.sleep(0.1)
    raise AssertionError(f"the scenario did not end: {outcome(ctx)[0]}")


def test_transitions_and_injects_fire_once_in_order_on_time(setup) -> None:
    ctx, env, log_path = setup
    worker = Worker(env, log_path)
    try:
        worker.wait_ready()
        controls.start(ctx, TEST)
        wait_for_end(ctx)
        time.sleep(1.2)  # anything firing twice would show up now
    finally:
        assert worker.stop() == 0
    log, ann = outcome(ctx)
    assert [k for k, _, _ in log] == EXPECTED
    lateness = {k: (applied - due).total_seconds() for k, due, applied in log}
    assert all(-0.05 <= v <= 1.0 for v in lateness.values()), lateness
    assert ann == ANNOUNCED
    view, st = scenario.state(ctx)
    assert view.state == "ended" and st.state == "ended"


def test_sigkill_and_restart_in_the_middle_gives_the_same_outcome(setup) -> None:
    ctx, env, log_path = setup
    worker = Worker(env, log_path)
    worker.wait_ready()
    controls.start(ctx, TEST)
    time.sleep(3.6)  # into phase two, before its inject
    worker.stop(signal.SIGKILL)
    time.sleep(2.0)  # the inject of phase two falls due while no scheduler runs
    spawned = time.time()  # from here a scheduler may run again
    worker = Worker(env, log_path)
    worker.starts_seen = 1
    try:
        ready = worker.wait_ready()  # logged after the start-up pass applied what was missed
        wait_for_end(ctx)
        time.sleep(1.2)
    finally:
        assert worker.stop() == 0
    log, ann = outcome(ctx)
    assert [k for k, _, _ in log] == EXPECTED  # each once, in order, nothing lost
    assert ann == ANNOUNCED
    for key, due, applied in log:
        if due.timestamp() < ready and applied.timestamp() >= spawned:
            # Fell due while no scheduler ran (or while the new one started): applied by the
            # start-up pass, before the worker said it was running (or on time after that).
            limit = max(ready + 0.05, due.timestamp() + 1.0)
            assert applied.timestamp() <= limit, (key, due, applied, spawned, ready)
        else:
            assert -0.05 <= (applied - due).total_seconds() <= 1.0, (key, due, applied)
    assert any(
        due.timestamp() < spawned and applied.timestamp() >= spawned for _, due, applied in log
    ), "no milestone fell due while the worker was down"


def test_only_one_scheduler_per_database(setup) -> None:
    ctx, env, log_path = setup
    first = Worker(env, log_path)
    try:
        first.wait_ready()
        second = subprocess.run(
            [sys.executable, "-m", "range_control.cli", "worker"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another scheduler (rangectl worker or rangectl serve) already runs" in second.stderr
    finally:
        assert first.stop() == 0


def test_a_challenge_is_released_at_its_scheduled_time(setup) -> None:
    """ctfcli's scheduled_at, synced while the worker runs: released within a second of it."""
    ctx, env, log_path = setup
    worker = Worker(env, log_path)
    try:
        worker.wait_ready()
        release = datetime.now(UTC) + timedelta(seconds=2)
        d = log_path.parent / "later"
        d.mkdir()
        (d / "challenge.yml").write_text(
            yaml.safe_dump(
                {
                    "name": "Later",
                    "value": 10,
                    "flags": ["x"],
                    "scheduled_at": release.isoformat(),
                }
            )
        )
        sync(ctx, lint([d]).challenges, actor=TEST)
        assert not visible(ctx, "later")
        deadline = time.monotonic() + 10
        while not visible(ctx, "later") and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = datetime.now(UTC)
    finally:
        assert worker.stop() == 0
    assert visible(ctx, "later"), log_path.read_text()
    assert 0 <= (seen - release).total_seconds() <= 1.5


def visible(ctx: Range, slug: str) -> bool:
    return any(c.slug == slug and c.visible for c in records.list_challenges(ctx))


def test_a_job_that_outlives_the_grace_does_not_hold_the_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stopping scheduler gives a running job its grace, then names it and stops anyway
    (the worker's process ends without waiting: a job cut short resumes at the next start)."""
    migrated_sqlite(tmp_path / "var" / "range.db")
    settings = Settings(
        data_dir=tmp_path / "var", backup_every="1s", environments="off"
    ).ensure_secrets()
    ctx = Range.from_settings(settings)
    sched = RangeScheduler(ctx, reconcile=False)
    hold, began = threading.Event(), threading.Event()

    def stuck() -> None:
        began.set()
        hold.wait(30)

    sched.backup = stuck  # type: ignore[method-assign]
    sched.start()
    try:
        assert began.wait(10), "the backup job never ran"
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="range_control.worker"):
            assert sched.stop(grace=0.5) is False
        assert time.monotonic() - t0 < 3
        assert "backup for" in caplog.text and "next start resumes it" in caplog.text
    finally:
        hold.set()
    # The job that ended released the lease: another scheduler starts, and with nothing
    # running its stop is clean at once.
    deadline = time.monotonic() + 5
    while sched._lease is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.store.dispose()
    again = RangeScheduler(Range.from_settings(settings), reconcile=False)
    again.start()
    assert again.stop(grace=5) is True
    again.ctx.store.dispose()
