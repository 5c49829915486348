"""The one scheduler: APScheduler 3 with its SQLAlchemy job store in the range's own database.

Jobs are *derived*, never accumulated: after every tick, and whenever an organiser action bumps
the event's ``control_generation`` (pause, extend, skip, a new scenario...), every ``tl:*`` job is
replaced by one date job per upcoming milestone of the timeline. Each job only calls
:func:`range_control.services.event.scenario.apply`, which is idempotent, so a job that fires
late (the process was down: APScheduler runs misfired jobs at start, and ``start`` applies at once
anyway), twice, or after a re-derivation changes nothing that was already applied.

Exactly one scheduler may run per database: it holds a lease (``Store.scheduler_lease``) for as
long as it runs. ``rangectl worker`` runs it in production; ``rangectl serve`` runs it in-process;
gunicorn web workers never do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from range_control.context import Range
from range_control.core import metrics
from range_control.core.errors import Unavailable
from range_control.services.defence.ticks import DefenceTicks
from range_control.services.environments import engine
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.event import scenario
from range_control.services.operations import backups

log = logging.getLogger("range_control.worker")

JOB_PREFIX = "tl:"
WATCH_SECONDS = 0.5
DEFENCE_SECONDS = 1.0
# How long a stopping scheduler gives the jobs that run (a reconcile pass, a backup) to end.
# Every job is safe to cut (a restart resumes it), so the process does not wait for longer.
STOP_GRACE_SECONDS = 10.0

# The job store keeps textual references to module-level functions; they find the running
# scheduler here (one per process, guarded by the lease).
_active: RangeScheduler | None = None


def _run(method: str) -> None:
    """Run one of the active scheduler's jobs, counted as running while it does (``stop``)."""
    if (active := _active) is not None:
        with active.running(method):
            getattr(active, method)()


def _tick_job() -> None:
    _run("tick")


def _watch_job() -> None:
    _run("watch")


def _reconcile_job() -> None:
    _run("reconcile")


def _defence_job() -> None:
    _run("defence_step")


def _backup_job() -> None:
    _run("backup")


class RangeScheduler:
    def __init__(self, ctx: Range, *, reconcile: bool = True) -> None:
        self.ctx = ctx
        self.want_reconcile = reconcile
        self.reconciler: EnvironmentReconciler | None = None
        self.defence: DefenceTicks | None = None
        self._lock = threading.Lock()
        self._seen_generation: int | None = None
        self._lease: Any = None
        self._busy: list[tuple[str, float]] = []  # the jobs that run, since when
        self._idle = threading.Condition()
        self._stopped = False
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=ctx.store.engine, tablename="apscheduler_jobs")
            },
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )

    def start(self) -> None:
        global _active
        self._lease = self.ctx.store.scheduler_lease()
        _active = self
        self.scheduler.start()
        self.scheduler.add_job(
            "range_control.worker:_watch_job",
            "interval",
            seconds=WATCH_SECONDS,
            id="watch",
            replace_existing=True,
        )
        self.tick()  # whatever was missed while no scheduler ran applies now
        if self.want_reconcile:
            self._start_reconciler()
        if (every := self.ctx.settings.backup_seconds) is not None:
            self.scheduler.add_job(
                "range_control.worker:_backup_job",
                "interval",
                seconds=every,
                id="backup",
                replace_existing=True,
            )
            log.info(
                "rolling backups every %s into %s (keeping %d)",
                self.ctx.settings.backup_every,
                self.ctx.settings.resolved_backup_dir,
                self.ctx.settings.backup_keep,
            )
        else:
            if self.scheduler.get_job("backup") is not None:
                self.scheduler.remove_job("backup")  # an earlier run's, from the job store
        log.info("scheduler running")

    def _start_reconciler(self) -> None:
        """Environments follow the database every few seconds, when an engine is there."""
        if not self.ctx.settings.environments_on:
            log.info("live environments are off (RANGE_ENVIRONMENTS=off): no engine is used")
            return
        try:
            backend = engine.backend(self.ctx.settings)
        except Unavailable as exc:  # no engine: the range runs without environments
            log.warning("%s; environments are not reconciled", exc.message)
            return
        self.reconciler = EnvironmentReconciler(self.ctx, backend)
        self.scheduler.add_job(
            "range_control.worker:_reconcile_job",
            "interval",
            seconds=self.ctx.settings.reconcile_seconds,
            id="reconcile",
            replace_existing=True,
        )
        # Defence ticks: a pass each second (a tick begins within a second of its time; the
        # checks of a tick run in threads of their own).
        self.defence = DefenceTicks(self.ctx, backend)
        self.scheduler.add_job(
            "range_control.worker:_defence_job",
            "interval",
            seconds=DEFENCE_SECONDS,
            id="defence",
            replace_existing=True,
        )

    def defence_step(self) -> None:
        if self.defence is None:
            return
        try:
            self.defence.step()
        except Exception:
            log.exception("defence pass failed")

    def reconcile(self) -> None:
        if self.reconciler is None:
            return
        try:
            # Teams added since the last milestone get the scenario's instances; the jobs only
            # need deriving again when a milestone applied.
            self.tick(derive=False)
        except Exception:
            log.exception("timeline pass before reconciling failed")
        try:
            report = self.reconciler.run_once()
        except Exception:
            log.exception("reconcile pass failed")
            return
        if report.changed:
            log.info(
                "reconciled: created %d, removed %d, restarted %d, failed %d",
                len(report.created),
                len(report.removed),
                len(report.restarted),
                len(report.failed),
            )

    def backup(self) -> None:
        """One rolling backup; a failure is logged (and counted) and the next one tries again."""
        try:
            done = backups.rolling(self.ctx)
        except Exception:
            log.exception("rolling backup failed")
            return
        log.info(
            "backup written: %s (%d bytes, %d attempts)",
            done.path,
            done.size,
            done.manifest.counts.get("attempts", 0),
        )

    @contextlib.contextmanager
    def running(self, job: str) -> Iterator[None]:
        entry = (job, time.monotonic())
        with self._idle:
            self._busy.append(entry)
        try:
            yield
        finally:
            with self._idle:
                self._busy.remove(entry)
                self._idle.notify_all()
                if self._stopped and not self._busy:
                    self._release()

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> bool:
        """Take no more jobs and give those that run ``grace`` seconds to end. False when one
        still runs then (it is logged): the caller ends the process without waiting for it,
        which is safe (what a job cut short left, the next start resumes)."""
        global _active
        if self.defence is not None:
            self.defence.stop()
        self.scheduler.shutdown(wait=False)
        with self._idle:
            ended = self._idle.wait_for(lambda: not self._busy, timeout=grace)
            if not ended:
                now = time.monotonic()
                log.warning(
                    "stopping while a job still runs after %g s (%s): the next start resumes it",
                    grace,
                    ", ".join(f"{job} for {now - t0:.0f} s" for job, t0 in self._busy),
                )
            _active = None
            self._stopped = True
            if ended:  # else the last job to end releases it (or the process's end does)
                self._release()
        return ended

    def _release(self) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def tick(self, *, derive: bool = True) -> None:
        """Apply the timeline now, then derive the jobs for what is still to come."""
        with self._lock:
            applied = scenario.apply(self.ctx)
            for done in applied:
                late = ""
                if done.due_at is not None:
                    lag = (done.applied_at - done.due_at).total_seconds()
                    metrics.SCHEDULER_LAG.observe(max(lag, 0.0))
                    late = f" ({lag:+.2f} s)"
                log.info("applied %s%s", done.key, late)
            if derive or applied:
                self._derive()

    def watch(self) -> None:
        """Re-derive when an organiser action changed the timeline (from any process)."""
        if scenario.control_generation(self.ctx) != self._seen_generation:
            self.tick()

    def _derive(self) -> None:
        self._seen_generation = scenario.control_generation(self.ctx)
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                job.remove()
        for when, key in scenario.upcoming(self.ctx):
            self.scheduler.add_job(
                "range_control.worker:_tick_job",
                "date",
                run_date=when,
                id=JOB_PREFIX + key,
                replace_existing=True,
            )
