"""Backup and restore time for an event's worth of data (issue 14).

Seeds 200 teams x 30 challenges x 3000 solves (core_api.py's data set) plus 20,000 attempts,
then times, on the same database in the same run:

- baseline: the bare copy the backup cannot do without: SQLite's online backup API into a file
  (``sqlite3.Connection.backup``); PostgreSQL ``pg_dump --format=custom`` to a file;
- ``rangectl backup``'s service (``backups.take``): that snapshot plus the manifest's counts,
  the secrets, checksums, the gzip'd archive, fsync and rename;
- ``backups.restore`` into an empty data dir / database (with its checks).

    python bench/backup.py [--db sqlite|postgres|sqlite,postgres] [--attempts 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_api import make_database, seed

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.services.operations import backups
from range_control.store.models import Attempt


def add_attempts(ctx: Range, n: int, teams: int, challenges: int) -> None:
    now = datetime.now(UTC) - timedelta(hours=5)
    rows = [
        {
            "team_id": random.randint(1, teams),
            "challenge_id": random.randint(1, challenges),
            "result": "incorrect",
            "submitted": f"ICE{{guess-{k}-{random.getrandbits(48):x}}}",
            "source_ip": "10.0.0.1",
            "created_at": now + timedelta(milliseconds=700 * k),
        }
        for k in range(n)
    ]
    with ctx.store.write() as s:
        s.execute(insert(Attempt), rows)


def baseline(ctx: Range, out: Path) -> None:
    if ctx.store.file is not None:
        with (
            contextlib.closing(sqlite3.connect(ctx.store.file.path)) as src,
            contextlib.closing(sqlite3.connect(out)) as dst,
        ):
            src.backup(dst)
        return
    url = make_url(ctx.settings.resolved_database_url)
    env = {**os.environ, "PGPASSWORD": str(url.password or "")}
    dbname = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={out}", f"--dbname={dbname}"], env=env, check=True
    )


def restore_target(kind: str, tmp: Path, k: int) -> tuple[Settings, object]:
    if kind == "sqlite":
        return Settings(data_dir=tmp / f"restored-{k}"), lambda: None
    admin = os.environ["RANGE_TEST_POSTGRES_URL"]
    name = f"rc_bench_restore_{os.getpid()}_{k}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    return Settings(data_dir=tmp / f"restored-{k}", database_url=url), drop


def run(kind: str, args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="range-bench-backup-"))
    url = make_database(kind, tmp)
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        admin_token="bench-admin-token-0123456789",
        flag_secret="bench-flag-secret",
        secret_key="bench-secret-key",
    )
    ctx = Range.from_settings(settings)
    seed(ctx, 200, 30, 3000)
    add_attempts(ctx, args.attempts, 200, 30)
    times: dict[str, list[float]] = {"baseline": [], "backup": [], "restore": []}
    size = 0
    for k in range(args.runs):
        t0 = time.perf_counter()
        baseline(ctx, tmp / f"baseline-{k}")
        times["baseline"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        done = backups.take(ctx, tmp / f"backup-{k}.tar.gz")
        times["backup"].append(time.perf_counter() - t0)
        size = done.size
        assert done.manifest.counts["attempts"] == args.attempts
        target, drop = restore_target(kind, tmp, k)
        try:
            t0 = time.perf_counter()
            backups.restore(target, tmp / f"backup-{k}.tar.gz")
            times["restore"].append(time.perf_counter() - t0)
        finally:
            drop()  # type: ignore[operator]
    ctx.store.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med | {"bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--attempts", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(
        f"{'db':10} {'baseline s':>11} {'backup s':>9} {'ratio':>6} {'restore s':>10} {'file MB':>8}"
    )
    for kind in args.db.split(","):
        r = run(kind, args)
        print(
            f"{kind:10} {r['baseline']:11.3f} {r['backup']:9.3f} {r['backup'] / r['baseline']:5.1f}x "
            f"{r['restore']:10.3f} {r['bytes'] / 1e6:8.2f}"
        )


if __name__ == "__main__":
    main()
