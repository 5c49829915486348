"""The after-action report at event scale (issue 12): 200 teams x 50 challenges x 20,000
attempts (plus 3,000 solves), on SQLite and/or PostgreSQL, in one process:

- baseline: reading every row the report reads, raw (``SELECT`` of each table, fetchall);
- ``report.build`` (the whole document: boards, per-challenge statistics, every team's
  timeline) and its rendering to HTML, JSON and CSV (``report.render.write``).

Prints the times (median of the runs) and their ratio to the baseline, and the HTML's size
(the issue asks under 30 s and under 5 MB).

    python bench/report.py [--db sqlite|postgres|sqlite,postgres] [--attempts 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backup import add_attempts
from core_api import make_database, seed

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.services.whitecell.report import build
from range_control.services.whitecell.report.render import write

TABLES = (
    "teams",
    "challenges",
    "accounts",
    "attempts",
    "solves",
    "hint_unlocks",
    "awards",
    "sharing_alerts",
    "submissions",
    "announcements",
    "audit_log",
    "grades",
)


def raw_read(ctx: Range) -> int:
    n = 0
    with ctx.store.read_conn() as c:
        for table in TABLES:
            n += len(c.execute(text(f"SELECT * FROM {table}")).fetchall())  # noqa: S608
    return n


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(db: str, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="range-bench-report-"))
    settings = Settings(
        data_dir=tmp,
        database_url=make_database(db, tmp),
        admin_token="bench-admin-token-0123456789",
        flag_secret="bench-flag",
        secret_key="bench-secret-key",
        environments="off",
    )
    ctx = Range.from_settings(settings)
    seed(ctx, args.teams, args.challenges, args.solves)
    add_attempts(ctx, args.attempts, args.teams, args.challenges)
    rows = raw_read(ctx)
    base, _ = timed(lambda: raw_read(ctx), args.runs)
    built, doc = timed(lambda: build(ctx), args.runs)
    out = tmp / "report"
    rendered, files = timed(lambda: write(doc, out), args.runs)  # type: ignore[arg-type]
    sizes = {p.name: p.stat().st_size for p in files}  # type: ignore[union-attr]
    ctx.store.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "db": db,
        "teams": args.teams,
        "challenges": args.challenges,
        "attempts": args.attempts,
        "solves": args.solves,
        "rows_read": rows,
        "baseline_raw_read_s": round(base, 3),
        "build_s": round(built, 3),
        "render_s": round(rendered, 3),
        "total_s": round(built + rendered, 3),
        "ratio_build_to_raw_read": round(built / base, 1),
        "html_bytes": sizes["report.html"],
        "json_bytes": sizes["report.json"],
        "csv_bytes": sum(v for k, v in sizes.items() if k.endswith(".csv")),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default="sqlite")
    p.add_argument("--teams", type=int, default=200)
    p.add_argument("--challenges", type=int, default=50)
    p.add_argument("--attempts", type=int, default=20_000)
    p.add_argument("--solves", type=int, default=3_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    for db in args.db.split(","):
        print(json.dumps(run(db.strip(), args)))


if __name__ == "__main__":
    main()
