"""``rangectl doctor``: is this machine ready for the event? One verdict per check.

Every check reads; none changes anything (no secret generated, no schema created, no image
built). ``ok``: fine; ``warn``: worth a look, not a failure; ``fail``: fix before the event.
A check whose precondition failed says so rather than guessing (no schema: nothing to count).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from range_control.context import Range
from range_control.core.errors import LeaseBusy, ServiceError, first_line
from range_control.core.settings import GENERATED_SECRETS, SECRETS_FILE, Settings, stored_secrets
from range_control.orchestrator.images import BASE_IMAGE
from range_control.orchestrator.types import EngineFacts
from range_control.services.environments import engine, team_access
from range_control.services.event import scenario
from range_control.services.operations import backups
from range_control.services.operations import schema as db_schema
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import Challenge, Team

# Thresholds (documented in docs/operator/operations.md).
CLOCK_SKEW_SECONDS = 2.0
SCHEDULER_LATE_SECONDS = 10.0
DATA_DIR_FREE_BYTES = 1 << 30  # and three times the database
ENGINE_FREE_BYTES = 5 << 30
JUMPBOX_MEMORY = 128 << 20


@dataclass(frozen=True)
class Check:
    name: str
    verdict: str  # ok | warn | fail
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "verdict": self.verdict, "detail": self.detail}


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _warn(name: str, detail: str) -> Check:
    return Check(name, "warn", detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


class _Doctor:
    def __init__(self, settings: Settings, teams: int | None) -> None:
        self.settings = settings
        self.planned_teams = teams
        self.results: list[Check] = []
        self.ctx: Range | None = None
        self.schema_ok = False
        self.facts: EngineFacts | None = None
        self.backend: Any = None

    def run(self) -> list[Check]:
        steps: list[Callable[[], Check]] = [
            self.database,
            self.schema,
            self.integrity,
            self.data_dir,
            self.secrets,
            self.engine,
            self.host_guard,
            self.address_pool,
            self.wireguard,
            self.images,
            self.memory,
            self.disk,
            self.clock,
            self.scheduler,
            self.backups,
        ]
        for step in steps:
            name = step.__name__.replace("_", " ")
            try:
                self.results.append(step())
            except Exception as exc:  # noqa: BLE001 - a check that breaks is a failed check
                message = (
                    exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
                )
                self.results.append(_fail(name, first_line(message)))
        if self.ctx is not None:
            self.ctx.store.dispose()
        return self.results

    # --- the database --------------------------------------------------------------------
    def database(self) -> Check:
        url = make_url(self.settings.resolved_database_url)
        shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite":
            path = Path(url.database or "")
            if not path.is_file():
                return _fail("database", f"{path} does not exist: run `rangectl db upgrade`")
        self.ctx = Range.from_settings(self.settings)
        with self.ctx.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return _ok("database", f"{shown} answers")

    def _need_db(self) -> Range:
        if self.ctx is None:
            raise ServiceError("no database (see the database check)")
        return self.ctx

    def schema(self) -> Check:
        ctx = self._need_db()
        found, head = db_schema.current(ctx)
        if found != head:
            state = "no schema" if found is None else f"revision {found}"
            return _fail("schema", f"{state}, this code needs {head}: run `rangectl db upgrade`")
        self.schema_ok = True
        return _ok("schema", f"current ({head})")

    def integrity(self) -> Check:
        ctx = self._need_db()
        ctx.store.check_integrity()
        if ctx.store.file is None:
            return _ok("integrity", "PostgreSQL checks its own pages")
        return _ok("integrity", f"quick_check of {ctx.store.file.path}: ok")

    # --- files ---------------------------------------------------------------------------
    def data_dir(self) -> Check:
        d = self.settings.data_dir
        if not d.is_dir():
            return _fail("data dir", f"{d} does not exist")
        st = d.stat()
        if not os.access(d, os.W_OK):
            return _fail("data dir", f"{d} is not writable by this user (uid {os.getuid()})")
        if st.st_mode & 0o077:
            return _fail(
                "data dir",
                f"{d} is mode {stat.S_IMODE(st.st_mode):04o}: others can "
                f"read the database and secrets; chmod 700 {d}",
            )
        loose = [p.name for p in d.iterdir() if p.is_file() and p.stat().st_mode & 0o077]
        if loose:
            return _fail(
                "data dir",
                f"files readable by others in {d}: {', '.join(sorted(loose))} (chmod 600)",
            )
        return _ok("data dir", f"{d}: writable, 0700")

    def secrets(self) -> Check:
        path = self.settings.data_dir / SECRETS_FILE
        try:
            stored = stored_secrets(self.settings.data_dir)
        except ValueError:
            return _fail("secrets", f"{path} is not JSON: restore it from a backup")
        missing = [
            n for n in GENERATED_SECRETS if getattr(self.settings, n) is None and n not in stored
        ]
        differ = self.settings.overridden(stored)
        if missing:
            teams = self._teams_in_db()
            what = ", ".join(missing)
            if teams:
                return _fail(
                    "secrets",
                    f"{what} missing from {path} and the environment while "
                    f"{teams} teams exist: every dynamic flag and token would "
                    "change; restore secrets.json from a backup",
                )
            return _warn("secrets", f"{what} not set yet: generated at the first start")
        if differ:
            return _warn(
                "secrets",
                f"{', '.join(differ)} in the environment differ from {path}: "
                "the environment wins; keep it set on every start",
            )
        return _ok("secrets", "present and stable")

    def _teams_in_db(self) -> int:
        if self.ctx is None or not self.schema_ok:
            return 0
        with self.ctx.store.read_conn() as c:
            return int(c.execute(select(func.count()).select_from(Team)).scalar() or 0)

    # --- the engine ----------------------------------------------------------------------
    def engine(self) -> Check:
        if not self.settings.environments_on:
            return _ok("engine", "live environments are off (RANGE_ENVIRONMENTS=off)")
        self.backend = engine.backend(self.settings)
        self.facts = self.backend.facts()
        return _ok("engine", f"{self.facts.kind} {self.facts.version} answers")

    def _need_engine(self, name: str) -> EngineFacts | Check:
        if not self.settings.environments_on:
            return _ok(name, "live environments are off")
        if self.facts is None:
            return _fail(name, "no engine (see the engine check)")
        return self.facts

    def host_guard(self) -> Check:
        facts = self._need_engine("host guard")
        if isinstance(facts, Check):
            return facts
        if facts.guard_missing:
            return _fail(
                "host guard",
                f"{len(facts.guard_missing)} rule(s) missing, e.g. "
                f"{facts.guard_missing[0]}: the reconciler installs them when it runs "
                "(as root); a firewall reload drops them",
            )
        return _ok("host guard", "every rule in place")

    def _planned(self) -> int:
        return self.planned_teams if self.planned_teams is not None else self._teams_in_db()

    def address_pool(self) -> Check:
        facts = self._need_engine("address pool")
        if isinstance(facts, Check):
            return facts
        if facts.networks_free is None:
            return _ok("address pool", f"{facts.kind}: overlay networks from the swarm's pool")
        ctx = self._need_db()
        planned = self._planned()
        have = len(self.backend.networks(ctx.event_slug))
        needed = max(0, planned + 1 - have)  # one per team, and the edge
        if needed > facts.networks_free:
            return _fail(
                "address pool",
                f"{planned} teams need {needed} more networks, the "
                f"engine's address pools hold {facts.networks_free}: set "
                "default-address-pools in /etc/docker/daemon.json",
            )
        return _ok(
            "address pool",
            f"{facts.networks_free} networks free, {needed} needed for {planned} teams",
        )

    def wireguard(self) -> Check:
        """Members' WireGuard access: on (the engine gives /dev/net/tun, the tunnel subnet
        clear of the teams' networks), or off with why (the jumpbox remains)."""
        if self.settings.wireguard != "on":
            return _ok("wireguard", "off (RANGE_WIREGUARD=off): teams use the SSH jumpbox")
        facts = self._need_engine("wireguard")
        if isinstance(facts, Check):
            return facts
        problem = self.backend.wireguard_problem()
        if problem is not None:
            return _warn("wireguard", problem)
        clash = team_access.check_subnet(
            self.settings.wireguard_subnet, self.backend.address_pools()
        )
        if clash is not None:
            return _fail("wireguard", clash)
        return _ok("wireguard", f"gateways can run; tunnel subnet {self.settings.wireguard_subnet}")

    def _live(self) -> list[tuple[str, dict[str, str], EnvironmentSpec]]:
        ctx = self._need_db()
        if not self.schema_ok:
            raise ServiceError("no current schema (see the schema check)")
        with ctx.store.read() as s:
            rows = s.scalars(select(Challenge)).all()
            return [
                (ch.slug, dict(ch.images), EnvironmentSpec.model_validate(ch.environment))
                for ch in rows
                if ch.environment
            ]

    def images(self) -> Check:
        facts = self._need_engine("images")
        if isinstance(facts, Check):
            return facts
        present = self.backend.image_present
        missing = [] if present(BASE_IMAGE) else [f"base {BASE_IMAGE}"]
        live = self._live()
        for slug, refs, env in live:
            for svc in env.services:
                ref = refs.get(svc.name)
                if not ref or not present(ref):
                    missing.append(f"{slug}/{svc.name} ({ref or 'never built'})")
        if missing:
            more = " ..." if len(missing) > 5 else ""
            listed = ", ".join(missing[:5]) + more
            return _fail("images", f"missing: {listed}: `rangectl images build`")
        return _ok(
            "images",
            f"base image and {sum(len(e.services) for *_, e in live)} "
            "challenge service images present",
        )

    def memory(self) -> Check:
        facts = self._need_engine("memory")
        if isinstance(facts, Check):
            return facts
        planned = self._planned()
        per_team = JUMPBOX_MEMORY + sum(
            svc.memory_bytes for *_, e in self._live() for svc in e.services
        )
        need = planned * per_team
        have = facts.memory_bytes
        gib = 1 << 30
        detail = (
            f"{planned} teams x {per_team / (1 << 20):.0f} MiB (every live challenge and "
            f"a jumpbox) = {need / gib:.1f} GiB of {have / gib:.1f} GiB"
        )
        if need > have:
            return _fail("memory", detail + ": add nodes or memory, or open fewer at once")
        if need > 0.8 * have:
            return _warn("memory", detail + " (over 80 %)")
        return _ok("memory", detail)

    def disk(self) -> Check:
        d = self.settings.data_dir
        free = shutil.disk_usage(d if d.exists() else d.parent).free
        db = 0
        if self.ctx is not None and self.ctx.store.file is not None:
            db = self.ctx.store.file.path.stat().st_size
        want = max(DATA_DIR_FREE_BYTES, 3 * db)
        gib = 1 << 30
        if free < want:
            return _fail(
                "disk",
                f"{free / gib:.1f} GiB free for the data dir, {want / gib:.1f} "
                "GiB wanted (database, WAL, backups)",
            )
        detail = f"data dir {free / gib:.1f} GiB free"
        if self.facts is not None and self.facts.root_free_bytes is not None:
            root = self.facts.root_free_bytes
            if root < ENGINE_FREE_BYTES:
                return _fail(
                    "disk",
                    f"{detail}; the engine's image store has {root / gib:.1f} "
                    f"GiB free, {ENGINE_FREE_BYTES / gib:.0f} wanted",
                )
            detail += f", engine {root / gib:.1f} GiB"
        return _ok("disk", detail)

    # --- time ----------------------------------------------------------------------------
    def clock(self) -> Check:
        now = datetime.now(UTC)
        if self.ctx is not None and self.ctx.store.engine.dialect.name == "postgresql":
            with self.ctx.store.engine.connect() as conn:
                theirs = conn.execute(text("SELECT now()")).scalar()
            source = "the PostgreSQL server"
        elif self.facts is not None and self.facts.system_time:
            theirs = datetime.fromisoformat(self.facts.system_time)  # RFC 3339; 3.11 reads ns
            source = "the Docker engine"
        else:
            return _warn("clock", "no other clock to compare with (SQLite, no engine)")
        skew = abs((now - theirs).total_seconds())
        if skew > CLOCK_SKEW_SECONDS:
            return _fail("clock", f"{skew:.1f} s from {source}: sync the clocks (chrony, NTP)")
        return _ok("clock", f"{skew:.2f} s from {source}")

    def scheduler(self) -> Check:
        ctx = self._need_db()
        if not self.schema_ok:
            raise ServiceError("no current schema (see the schema check)")
        try:
            lease = ctx.store.scheduler_lease()
        except LeaseBusy:
            running = True
        else:
            lease.release()
            running = False
        late = [
            (at, key)
            for at, key in scenario.overdue(ctx)
            if (ctx.clock.now() - at).total_seconds() > SCHEDULER_LATE_SECONDS
        ]
        if late:
            at, key = late[0]
            why = "running but late" if running else "not running (start `rangectl worker`)"
            return _fail(
                "scheduler",
                f"{len(late)} milestone(s) overdue, e.g. {key} due "
                f"{at:%H:%M:%S}: the scheduler is {why}",
            )
        if not running:
            return _warn(
                "scheduler",
                "not running: `rangectl worker` (or `rangectl serve`) applies the timeline",
            )
        return _ok("scheduler", "running, nothing overdue")

    def backups(self) -> Check:
        every = self.settings.backup_seconds
        last = backups.last_good(self.settings)
        if every is None:
            if last is None:
                return _warn("backups", "no rolling backups: set RANGE_BACKUP_EVERY (e.g. 15m)")
            every = 24 * 3600
        if last is None:
            return _fail("backups", f"none yet in {self.settings.resolved_backup_dir}")
        age = (datetime.now(UTC) - last.taken_at).total_seconds()
        if age > 2 * every:
            return _fail(
                "backups",
                f"the newest ({last.path.name}) is {age / 60:.0f} min old, "
                f"more than twice RANGE_BACKUP_EVERY",
            )
        return _ok("backups", f"newest {last.path.name}, {age / 60:.0f} min old")


def run(settings: Settings, *, teams: int | None = None) -> list[Check]:
    return _Doctor(settings, teams).run()
