"""Core API benchmark: flag attempts and scoreboard under gunicorn, 50 concurrent clients.

Seeds 200 teams x 30 challenges x 3000 solves (issue 2's data set; ``--teams`` etc. to change),
starts ``gunicorn 'range_control:create_app()'`` on 127.0.0.1, and drives it with wrk (Debian's
``wrk``; C, so the load generator is not what is measured) from loopback:

1. baseline: a trivial Flask app under the same gunicorn settings, returning a JSON body of the
   scoreboard's size (the ceiling of Flask + gunicorn on this machine, measured in the same run);
2. attempts: wrong (90 %) and right (10 %) flags spread over every team and challenge;
3. scoreboard: ``GET /api/v1/scoreboard``;
4. scoreboard while attempts flow: 25 clients post wrong flags, 25 read the scoreboard
   (the CTFd reference's set-up).

``--via nginx`` (issue 14) measures 3 and 4 again through nginx with infra/deploy's site (TLS,
one-second micro-cache of the public reads) in front of the same gunicorn, in the same run.

Rate limiting stays on, at a limit the spread load never reaches, so the limiter's query runs on
every attempt but the 429 path is not what is measured. Prints one table and writes JSON.

    python bench/core_api.py [--duration 15] [--workers 2] [--db sqlite|postgres] [--via nginx]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.settings import Settings
from range_control.services.event import controls
from range_control.services.people.teams import hash_token
from range_control.store import migrate
from range_control.store.models import Challenge, Event, Flag, Solve, Team

BENCH = Actor.range("bench")
HERE = Path(__file__).resolve().parent
LUA = HERE / "lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seeded_app_settings(
    prefix: str, n_teams: int = 200, n_challenges: int = 30, n_solves: int = 3000
) -> tuple[Settings, list[str], list[str]]:
    """A fresh data dir seeded for in-process measurements (no engine, no rate limits in the
    way): the settings, team tokens and challenge slugs."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(
        data_dir=tmp,
        admin_token="bench-admin-token-0123456789",
        flag_secret="bench-flag-secret",
        secret_key="bench-secret-key",
        attempts_per_minute=10_000,
        environments="off",
    )
    ctx = Range.from_settings(settings)
    tokens, slugs, _ = seed(ctx, n_teams, n_challenges, n_solves)
    ctx.store.dispose()
    return settings, tokens, slugs


def seed(
    ctx: Range, n_teams: int, n_challenges: int, n_solves: int
) -> tuple[list[str], list[str], list[str]]:
    """Bulk-insert the data set; returns team tokens, challenge slugs and their static flags."""
    migrate.upgrade(ctx.store.engine)
    now = datetime.now(UTC)
    tokens = [f"rct_bench_{i:05d}_{random.getrandbits(64):016x}" for i in range(n_teams)]
    slugs = [f"ch-{i:03d}" for i in range(n_challenges)]
    flags = [f"ICE{{bench-flag-{i}}}" for i in range(n_challenges)]
    with ctx.store.write() as s:
        s.execute(
            insert(Team),
            [
                {
                    "name": f"Team {i:04d}",
                    "country": random.choice(["NL", "NO", "PL", "DE", "US", "CA"]),
                    "token_hash": hash_token(t),
                    "disabled": False,
                    "created_at": now,
                }
                for i, t in enumerate(tokens)
            ],
        )
        s.execute(
            insert(Challenge),
            [
                {
                    "slug": slug,
                    "name": f"Challenge {i}",
                    "category": ["web", "crypto", "forensics", "pwn"][i % 4],
                    "description": "benchmark",
                    "type": "dynamic" if i % 2 else "standard",
                    "value": 500 if i % 2 else 100 + 10 * i,
                    "minimum": 100,
                    "decay": 50.0,
                    "decay_function": "logarithmic",
                    "spec_state": "visible",
                    "max_attempts": 0,
                    "prerequisites": [],
                    "files": [],
                    "tags": [],
                    "dynamic_length": 32,
                    "spec": {},
                    "spec_hash": "",
                    "version": "1",
                    "updated_at": now,
                }
                for i, slug in enumerate(slugs)
            ],
        )
        ids = dict(
            s.execute(
                Challenge.__table__.select().with_only_columns(Challenge.slug, Challenge.id)
            ).all()
        )
        s.execute(
            insert(Flag),
            [
                {
                    "challenge_id": ids[slug],
                    "position": 0,
                    "type": "static",
                    "content": f,
                    "case_insensitive": False,
                }
                for slug, f in zip(slugs, flags, strict=True)
            ],
        )
        team_ids = list(range(1, n_teams + 1))
        pairs = random.sample([(t, c) for t in team_ids for c in ids.values()], n_solves)
        start = now - timedelta(hours=6)
        s.execute(
            insert(Solve),
            [
                {"team_id": t, "challenge_id": c, "created_at": start + timedelta(seconds=7 * k)}
                for k, (t, c) in enumerate(pairs)
            ],
        )
        s.execute(Event.__table__.delete())
    controls.start(ctx, BENCH)
    return tokens, slugs, flags


def write_lua(
    path: Path, tokens: list[str], slugs: list[str], flags: list[str], right: float
) -> None:
    def table(items: list[str]) -> str:
        return "{" + ",".join(json.dumps(x) for x in items) + "}"

    template = (LUA / "attempts.lua.in").read_text()
    path.write_text(
        template.replace("@TOKENS@", table(tokens))
        .replace("@SLUGS@", table(slugs))
        .replace("@FLAGS@", table(flags))
        .replace("@RIGHT@", str(right))
    )


RESULT_RE = re.compile(r"^RESULT (\S+)$", re.M)


def per_request(result: dict, cpu: float) -> float:
    """The workers' CPU per request served, in microseconds, kept in ``result``: far less
    noisy than requests/s when comparing two commits on a shared machine."""
    result["cpu_us_per_request"] = round(cpu / max(result["requests"], 1) * 1e6, 1)
    return cpu


def wrk(
    url: str,
    connections: int,
    duration: int,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> dict:
    cmd = [
        "wrk",
        "-t",
        "2" if connections >= 2 else "1",
        "-c",
        str(connections),
        "-d",
        f"{duration}s",
        "--latency",
        "-s",
        str(script or LUA / "report.lua"),
        url,
    ]
    for k, v in (headers or {}).items():
        cmd[1:1] = ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = RESULT_RE.search(out)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    return json.loads(m.group(1))


class Server:
    def __init__(
        self,
        app: str,
        env: dict[str, str],
        workers: int,
        worker_class: str,
        threads: int,
        preload: bool = False,
    ) -> None:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-k",
            worker_class,
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            *(["--preload"] if preload else []),
            app,
        ]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=HERE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not come up")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the workers so far (/proc; clock ticks)."""
        kids = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        ticks = 0
        for pid in kids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_memory_mb(self) -> list[dict[str, float]]:
        """RSS and PSS (shared pages divided among the processes sharing them) per worker."""
        kids = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        out = []
        for pid in kids:
            fields = {}
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
                key, value = line.split(":", 1)
                fields[key] = int(value.split()[0]) / 1024
            out.append({"rss": round(fields["Rss"], 1), "pss": round(fields["Pss"], 1)})
        return out

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_database(db: str, tmp: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp / 'range.db'}"
    base = os.environ.get("RANGE_TEST_POSTGRES_URL")
    if not base:
        sys.exit(
            '--db postgres needs RANGE_TEST_POSTGRES_URL (eval "$(infra/dev/test-postgres.sh)")'
        )
    from sqlalchemy import create_engine, text

    name = f"rc_bench_{os.getpid()}_{tmp.name[-6:].lower()}"
    eng = create_engine(base, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def floor_env(db_url: str, tmp: Path, durability: str) -> dict[str, str]:
    """The floor app's settings: the same database kind, at the durability being measured."""
    if db_url.startswith("sqlite"):
        return {
            "BENCH_FLOOR_SQLITE": str(tmp / "floor.db"),
            "BENCH_FLOOR_SYNC": "FULL" if durability == "strict" else "NORMAL",
        }
    return {"BENCH_FLOOR_POSTGRES": db_url.replace("postgresql+psycopg://", "postgresql://")}


def run_database(db: str, args: argparse.Namespace) -> dict[str, dict]:
    """Seed one database, measure the range on it, then the floor app on the same kind."""
    tmp = Path(tempfile.mkdtemp(prefix="range-bench-"))
    db_url = make_database(db, tmp)
    env = {
        "RANGE_DATA_DIR": str(tmp),
        "RANGE_DATABASE_URL": db_url,
        "RANGE_ADMIN_TOKEN": "bench-admin-token",
        "RANGE_FLAG_SECRET": "bench-flag-secret",
        "RANGE_SECRET_KEY": "bench-secret-key",
        "RANGE_ATTEMPTS_PER_MINUTE": "10000",
        "RANGE_EVENT_SLUG": "ice",
        "RANGE_DURABILITY": args.durability,
        "RANGE_DB_POOL_SIZE": str(args.pool_size),
        # Behind nginx the client's address comes in X-Forwarded-For (none when direct).
        "RANGE_PROXY_HOPS": "1" if args.via == "nginx" else "0",
    }
    settings = Settings(
        data_dir=tmp, database_url=db_url, admin_token="x", flag_secret="x", secret_key="x"
    )
    ctx = Range.from_settings(settings)
    t0 = time.perf_counter()
    tokens, slugs, flags = seed(ctx, args.teams, args.challenges, args.solves)
    ctx.store.dispose()  # (reopened on use: only to read the sync counters below)
    print(
        f"seeded {args.teams} teams x {args.challenges} challenges x {args.solves} solves "
        f"in {time.perf_counter() - t0:.1f} s ({db})"
    )
    mixed_lua = tmp / "attempts.lua"
    wrong_lua = tmp / "wrong.lua"
    write_lua(mixed_lua, tokens, slugs, flags, right=0.1)
    write_lua(wrong_lua, tokens, slugs, flags, right=0.0)

    results: dict[str, dict] = {}
    gcfg = (args.workers, args.worker_class, args.threads, args.preload)
    c, d = args.connections, args.duration
    app = Server("range_control:create_app()", env, *gcfg)
    try:
        body = urllib.request.urlopen(app.url("/api/v1/scoreboard")).read()  # noqa: S310
        results["scoreboard_bytes"] = len(body)
        wrk(app.url("/api/v1/scoreboard"), c, 2)  # warm-up
        before = ctx.store.sync_counts()
        cpu = app.cpu_seconds()
        results["attempts"] = wrk(app.url("/"), c, d, mixed_lua)
        cpu = per_request(results["attempts"], app.cpu_seconds() - cpu)
        after = ctx.store.sync_counts()
        if before and after:  # SQLite: how many commits one WAL sync served (group commit)
            commits, syncs = after[0] - before[0], after[1] - before[1]
            results["attempts"]["commits_per_sync"] = round(commits / max(syncs, 1), 2)
        cpu = app.cpu_seconds()
        results["scoreboard"] = wrk(app.url("/api/v1/scoreboard"), c, d)
        cpu = per_request(results["scoreboard"], app.cpu_seconds() - cpu)
        half = c // 2
        poster = subprocess.Popen(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(half),
                "-d",
                f"{d + 2}s",
                "--latency",
                "-s",
                str(wrong_lua),
                app.url("/"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        results["scoreboard_under_attempts"] = wrk(app.url("/api/v1/scoreboard"), c - half, d)
        out = poster.communicate()[0]
        results["attempts_alongside"] = json.loads(RESULT_RE.search(out).group(1))
        results["worker_memory_mb"] = app.worker_memory_mb()
        if args.via == "nginx":
            results.update(through_nginx(app, tmp, wrong_lua, c, d, results))
    finally:
        app.stop()
    # The floor: the same bodies (the same wrk script), one insert per request, same gunicorn.
    floor = Server("floor_app:app", floor_env(db_url, tmp, args.durability), *gcfg)
    try:
        results["floor_insert"] = wrk(floor.url("/"), c, d, mixed_lua)
    finally:
        floor.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def through_nginx(
    app: Server, tmp: Path, wrong_lua: Path, c: int, d: int, direct: dict[str, dict]
) -> dict[str, dict]:
    """The scoreboard alone and under attempts again, through nginx (same gunicorn); then the
    attempts under the same read rate as direct, readers paced (wrk's delay()): on this one
    machine unpaced readers served from nginx's cache take CPU the attempts then lack, which a
    range's real readers (browsers polling every 5 s, on their own machines) do not."""
    sys.path.insert(0, str(HERE.parent))
    from tests.support.nginx_tier import Nginx

    proxy = Nginx(tmp, f"127.0.0.1:{app.port}")
    out: dict[str, dict] = {}
    try:
        board = proxy.base + "/api/v1/scoreboard"
        wrk(board, c, 2)  # warm-up (TLS sessions, the cache)
        out["nginx_scoreboard"] = wrk(board, c, d)
        half = c // 2
        poster = subprocess.Popen(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(half),
                "-d",
                f"{d + 2}s",
                "--latency",
                "-s",
                str(wrong_lua),
                proxy.base + "/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        out["nginx_scoreboard_under_attempts"] = wrk(board, c - half, d)
        out["nginx_attempts_alongside"] = json.loads(
            RESULT_RE.search(poster.communicate()[0]).group(1)
        )
        rate = direct["scoreboard_under_attempts"]["rps"]
        paced = tmp / "paced.lua"
        every_ms = max(1, round(1000 * (c - half) / max(rate, 1)))
        paced.write_text(
            (LUA / "report.lua").read_text() + f"\ndelay = function() return {every_ms} end\n"
        )
        poster = subprocess.Popen(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(half),
                "-d",
                f"{d + 2}s",
                "--latency",
                "-s",
                str(wrong_lua),
                proxy.base + "/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1)
        out["nginx_scoreboard_paced"] = wrk(board, c - half, d, paced)
        out["nginx_attempts_alongside_paced"] = json.loads(
            RESULT_RE.search(poster.communicate()[0]).group(1)
        )
    finally:
        proxy.stop()
    return out


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--challenges", type=int, default=30)
    ap.add_argument("--solves", type=int, default=3000)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-class", default="sync")
    ap.add_argument(
        "--preload",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="gunicorn --preload, as the README runs it",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pool-size", type=int, default=5, help="RANGE_DB_POOL_SIZE")
    ap.add_argument(
        "--db",
        default="sqlite",
        help="sqlite, postgres, or both as sqlite,postgres (one run, side by side)",
    )
    ap.add_argument(
        "--durability",
        choices=["strict", "relaxed"],
        default="strict",
        help="RANGE_DURABILITY; the floor syncs likewise (FULL / NORMAL)",
    )
    ap.add_argument(
        "--via",
        choices=["direct", "nginx"],
        default="direct",
        help="nginx: the scoreboard runs again through infra/deploy's nginx site",
    )
    ap.add_argument("--out", type=Path, default=Path("bench-results/core_api.json"))
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    dbs = args.db.split(",")
    for db in dbs:
        if db not in {"sqlite", "postgres"}:
            sys.exit(f"--db: sqlite or postgres, not {db!r}")

    results: dict[str, dict] = {"config": vars(args) | {"out": str(args.out)}}
    for db in dbs:
        results[db] = run_database(db, args)
    c, d = args.connections, args.duration
    gcfg = (args.workers, args.worker_class, args.threads, args.preload)
    # Same body size as our scoreboard, so the baseline moves the same bytes.
    size = results[dbs[0]]["scoreboard_bytes"]
    base = Server("baseline_app:app", {"BENCH_BODY_BYTES": str(size)}, *gcfg)
    try:
        results["baseline_flask_json"] = wrk(base.url("/"), c, d)
        results["baseline_memory_mb"] = base.worker_memory_mb()
    finally:
        base.stop()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print_report(results, args, dbs)


def print_report(results: dict[str, dict], args: argparse.Namespace, dbs: list[str]) -> None:
    c, d = args.connections, args.duration
    b = results["baseline_flask_json"]["rps"]
    print(
        f"\ngunicorn {args.workers} x {args.worker_class} (threads {args.threads}{', preload' if args.preload else ''}), {c} connections, "
        f"{d} s each, durability {args.durability}"
    )
    print(
        f"{'scenario':40} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'vs baseline':>12} {'vs floor':>9}"
    )
    rows = [("baseline_flask_json", results["baseline_flask_json"], None)]
    for db in dbs:
        floor = results[db]["floor_insert"]["rps"]
        keys = [
            "floor_insert",
            "attempts",
            "scoreboard",
            "scoreboard_under_attempts",
            "attempts_alongside",
        ]
        if args.via == "nginx":
            keys += [
                "nginx_scoreboard",
                "nginx_scoreboard_under_attempts",
                "nginx_attempts_alongside",
                "nginx_scoreboard_paced",
                "nginx_attempts_alongside_paced",
            ]
        for key in keys:
            rows.append(
                (
                    f"{db}: {key}",
                    results[db][key],
                    floor
                    if key in {"attempts", "attempts_alongside", "nginx_attempts_alongside"}
                    else None,
                )
            )
    for name, r, floor in rows:
        vs_floor = f"{r['rps'] / floor:8.2f}x" if floor else f"{'':9}"
        print(
            f"{name:40} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['non2xx']:8d} {r['rps'] / b:11.2f}x {vs_floor}"
        )
    for db in dbs:
        print(
            f"{db}: workers' CPU per request: attempts "
            f"{results[db]['attempts']['cpu_us_per_request']} us, scoreboard "
            f"{results[db]['scoreboard']['cpu_us_per_request']} us"
        )
    for db in dbs:
        if "commits_per_sync" in results[db]["attempts"]:
            print(
                f"{db}: commits per WAL sync (group commit): "
                f"{results[db]['attempts']['commits_per_sync']}"
            )
    if args.via == "nginx":
        print_nginx(results, dbs)
    if len(dbs) == 2:
        ratio = results["postgres"]["attempts"]["rps"] / results["sqlite"]["attempts"]["rps"]
        print(f"postgres attempts / sqlite attempts: {ratio:.2f}x")

    def mem(rows: list[dict[str, float]]) -> str:
        return ", ".join(f"RSS {m['rss']:.1f} / PSS {m['pss']:.1f}" for m in rows)

    for db in dbs:
        print(f"{db} worker memory MB: {mem(results[db]['worker_memory_mb'])}")
    print(f"baseline worker memory MB: {mem(results['baseline_memory_mb'])}")
    print(f"results: {args.out}")


def print_nginx(results: dict[str, dict], dbs: list[str]) -> None:
    """The same runs through infra/deploy's nginx site, against direct."""
    for db in dbs:
        r = results[db]
        sb = r["nginx_scoreboard_under_attempts"]["rps"] / r["scoreboard_under_attempts"]["rps"]
        alone = r["nginx_scoreboard"]["rps"] / r["scoreboard"]["rps"]
        kept = r["nginx_attempts_alongside"]["rps"] / r["attempts_alongside"]["rps"]
        paced = r["nginx_attempts_alongside_paced"]["rps"] / r["attempts_alongside"]["rps"]
        print(
            f"{db} via nginx / direct: scoreboard {alone:.1f}x, scoreboard under attempts "
            f"{sb:.1f}x (p99 {r['nginx_scoreboard_under_attempts']['p99_ms']:.1f} ms), "
            f"attempts alongside {kept:.2f}x; with the readers paced to direct's read "
            f"rate ({r['nginx_scoreboard_paced']['rps']:.0f}/s): attempts {paced:.2f}x"
        )


if __name__ == "__main__":
    main()
