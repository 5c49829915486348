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

Rate limiting stays on, at a limit the spread load never reaches, so the limiter's query runs on
every attempt but the 429 path is not what is measured. Prints one table and writes JSON.

    python bench/core_api.py [--duration 15] [--workers 2] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
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
from range_control.services import scenario
from range_control.services.teams import hash_token
from range_control.settings import Settings
from range_control.store import migrate
from range_control.store.models import Challenge, Event, Flag, Solve, Team

HERE = Path(__file__).resolve().parent
LUA = HERE / "lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
                {"name": f"Team {i:04d}", "country": random.choice(["NL", "NO", "PL", "DE", "US", "CA"]),
                 "token_hash": hash_token(t), "disabled": False, "created_at": now}
                for i, t in enumerate(tokens)
            ],
        )  # fmt: skip
        s.execute(
            insert(Challenge),
            [
                {
                    "slug": slug, "name": f"Challenge {i}", "category": ["web", "crypto", "forensics", "pwn"][i % 4],
                    "description": "benchmark", "type": "dynamic" if i % 2 else "standard",
                    "value": 500 if i % 2 else 100 + 10 * i, "minimum": 100, "decay": 50.0,
                    "decay_function": "logarithmic", "spec_state": "visible", "max_attempts": 0,
                    "prerequisites": [], "files": [], "tags": [], "dynamic_length": 32,
                    "spec": {}, "spec_hash": "", "version": "1", "updated_at": now,
                }
                for i, slug in enumerate(slugs)
            ],
        )  # fmt: skip
        ids = dict(
            s.execute(
                Challenge.__table__.select().with_only_columns(Challenge.slug, Challenge.id)
            ).all()
        )
        s.execute(
            insert(Flag),
            [{"challenge_id": ids[slug], "position": 0, "type": "static", "content": f,
              "case_insensitive": False} for slug, f in zip(slugs, flags, strict=True)],
        )  # fmt: skip
        team_ids = list(range(1, n_teams + 1))
        pairs = random.sample([(t, c) for t in team_ids for c in ids.values()], n_solves)
        start = now - timedelta(hours=6)
        s.execute(
            insert(Solve),
            [{"team_id": t, "challenge_id": c, "created_at": start + timedelta(seconds=7 * k)}
             for k, (t, c) in enumerate(pairs)],
        )  # fmt: skip
        s.execute(Event.__table__.delete())
    scenario.start(ctx, "bench")
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


def wrk(url: str, connections: int, duration: int, script: Path | None = None,
        headers: dict[str, str] | None = None) -> dict:  # fmt: skip
    cmd = ["wrk", "-t", "2" if connections >= 2 else "1", "-c", str(connections), "-d", f"{duration}s",
           "--latency", "-s", str(script or LUA / "report.lua"), url]  # fmt: skip
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
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", worker_class,
               "--threads", str(threads), "-b", f"127.0.0.1:{self.port}", "--backlog", "2048",
               "--log-level", "warning", *(["--preload"] if preload else []), app]  # fmt: skip
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


def main() -> None:
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
    ap.add_argument("--preload", action=argparse.BooleanOptionalAction, default=True,
                    help="gunicorn --preload, as the README runs it")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--out", type=Path, default=Path("bench-results/core_api.json"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")

    tmp = Path(tempfile.mkdtemp(prefix="range-bench-"))
    db_url = f"sqlite:///{tmp / 'range.db'}"
    if args.db == "postgres":
        base = os.environ.get("RANGE_TEST_POSTGRES_URL")
        if not base:
            sys.exit(
                '--db postgres needs RANGE_TEST_POSTGRES_URL (eval "$(infra/dev/test-postgres.sh)")'
            )
        from sqlalchemy import create_engine, text

        name = f"rc_bench_{os.getpid()}"
        eng = create_engine(base, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        db_url = base.rsplit("/", 1)[0] + "/" + name
    env = {
        "RANGE_DATA_DIR": str(tmp),
        "RANGE_DATABASE_URL": db_url,
        "RANGE_ADMIN_TOKEN": "bench-admin-token",
        "RANGE_FLAG_SECRET": "bench-flag-secret",
        "RANGE_SECRET_KEY": "bench-secret-key",
        "RANGE_ATTEMPTS_PER_MINUTE": "10000",
        "RANGE_EVENT_SLUG": "ice",
    }
    settings = Settings(
        data_dir=tmp, database_url=db_url, admin_token="x", flag_secret="x", secret_key="x"
    )
    ctx = Range.from_settings(settings)
    t0 = time.perf_counter()
    tokens, slugs, flags = seed(ctx, args.teams, args.challenges, args.solves)
    ctx.store.dispose()
    print(f"seeded {args.teams} teams x {args.challenges} challenges x {args.solves} solves "
          f"in {time.perf_counter() - t0:.1f} s ({args.db})")  # fmt: skip
    mixed_lua = tmp / "attempts.lua"
    wrong_lua = tmp / "wrong.lua"
    write_lua(mixed_lua, tokens, slugs, flags, right=0.1)
    write_lua(wrong_lua, tokens, slugs, flags, right=0.0)

    results: dict[str, dict] = {"config": vars(args) | {"out": str(args.out)}}
    gcfg = (args.workers, args.worker_class, args.threads, args.preload)
    c, d = args.connections, args.duration

    app = Server("range_control:create_app()", env, *gcfg)
    try:
        body = urllib.request.urlopen(app.url("/api/v1/scoreboard")).read()  # noqa: S310
        results["scoreboard_bytes"] = len(body)
        wrk(app.url("/api/v1/scoreboard"), c, 2)  # warm-up
        results["attempts"] = wrk(app.url("/"), c, d, mixed_lua)
        results["scoreboard"] = wrk(app.url("/api/v1/scoreboard"), c, d)
        half = c // 2
        poster = subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(half), "-d", f"{d + 2}s", "--latency", "-s", str(wrong_lua), app.url("/")],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)
        results["scoreboard_under_attempts"] = wrk(app.url("/api/v1/scoreboard"), c - half, d)
        out = poster.communicate()[0]
        results["attempts_alongside"] = json.loads(RESULT_RE.search(out).group(1))
        results["worker_memory_mb"] = app.worker_memory_mb()
    finally:
        app.stop()

    # Same body size as our scoreboard, so the baseline moves the same bytes.
    base = Server("baseline_app:app", {"BENCH_BODY_BYTES": str(results["scoreboard_bytes"])}, *gcfg)
    try:
        results["baseline_flask_json"] = wrk(base.url("/"), c, d)
        results["baseline_memory_mb"] = base.worker_memory_mb()
    finally:
        base.stop()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    b = results["baseline_flask_json"]["rps"]
    print(f"\ngunicorn {args.workers} x {args.worker_class} (threads {args.threads}{', preload' if args.preload else ''}), {c} connections, "
          f"{d} s each, database {args.db}")  # fmt: skip
    print(
        f"{'scenario':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs baseline':>12}"
    )
    for key in (
        "baseline_flask_json",
        "attempts",
        "scoreboard",
        "scoreboard_under_attempts",
        "attempts_alongside",
    ):
        r = results[key]
        print(
            f"{key:34} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['non2xx']:8d} {r['rps'] / b:11.2f}x"
        )

    def mem(rows: list[dict[str, float]]) -> str:
        return ", ".join(f"RSS {m['rss']:.1f} / PSS {m['pss']:.1f}" for m in rows)

    print(f"worker memory MB: {mem(results['worker_memory_mb'])}")
    print(f"baseline worker memory MB: {mem(results['baseline_memory_mb'])}")
    print(f"results: {args.out}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
