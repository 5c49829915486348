"""Where one flag attempt's time goes: statements, round trips, CPU, writer wait and sync.

Seeds ``core_api.py``'s data set, then sends attempts through the real Flask app in this process
(the WSGI test client: no sockets, so what is measured is the app and the database) and reports,
per attempt, for wrong and right flags apart:

- SQL statements executed (each one is a round trip on PostgreSQL), and transactions;
- CPU time of the process, and wall time;
- time waiting for the write turn (the writer-queue lock and ``BEGIN IMMEDIATE``) and time in
  ``COMMIT`` (on SQLite at ``synchronous=FULL`` that is the WAL's sync);
- with ``--cprofile``, the top functions by cumulative time.

    python bench/attempt_profile.py [--db sqlite|postgres] [--n 2000] [--durability strict]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_api import make_database, seed

from range_control.context import Range
from range_control.core.settings import Settings
from range_control.web import create_app


class Meter:
    """Counts what reaches the database: every SQL statement SQLite runs (its trace callback,
    so statements sent on the driver and BEGIN/COMMIT count too), and the process's read and
    write system calls (on PostgreSQL each round trip is one write to its socket)."""

    def __init__(self, engine) -> None:
        self.statements = 0
        self.kinds: Counter[str] = Counter()
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_conn, _record) -> None:
        dbapi_conn.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        self.statements += 1
        self.kinds[statement.split(None, 1)[0].upper()] += 1

    @staticmethod
    def syscalls() -> tuple[int, int]:
        io_ = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
        return int(io_["syscr"]), int(io_["syscw"])


def time_the_store(store: Any) -> dict[str, float]:
    """Seconds the WAL sync and the writer lock take, as the store runs (SQLite only)."""
    waits = {"sync": 0.0, "writer": 0.0}

    def timed(name: str, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                waits[name] += time.perf_counter() - t

        return wrapper

    if store._syncs is not None:  # the time the WAL sync and the writer lock take
        store._syncs.wait_durable = timed("sync", store._syncs.wait_durable)
        hold = store._writers.hold

        @contextlib.contextmanager
        def timed_hold():
            t = time.perf_counter()
            with hold():
                waits["writer"] += time.perf_counter() - t
                yield

        store._writers.hold = timed_hold
    return waits


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--n", type=int, default=2000, help="attempts of each kind")
    ap.add_argument("--durability", choices=["strict", "relaxed"], default="strict")
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument(
        "--round-trips",
        action="store_true",
        help="count PostgreSQL round trips: strace on this process (slows it)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="range-profile-"))
    db_url = make_database(args.db, tmp)
    settings = Settings(
        data_dir=tmp,
        database_url=db_url,
        admin_token="bench-admin-token",
        flag_secret="bench-flag-secret",
        secret_key="bench-secret-key",
        attempts_per_minute=10_000,
        durability=args.durability,
        event_slug="ice",
    )
    ctx = Range.from_settings(settings)
    tokens, slugs, flags = seed(ctx, 200, 30, 3000)
    ctx.store.dispose()
    app = create_app(settings)
    engine = app.extensions["range"].store.engine
    meter = Meter(engine)
    store = app.extensions["range"].store
    waits = time_the_store(store)
    client = app.test_client()
    rng = random.Random(7)

    def attempt(right: bool) -> int:
        t = rng.randrange(len(tokens))
        c = rng.randrange(len(slugs))
        flag = flags[c] if right else f"ICE{{wrong-{rng.getrandbits(40)}}}"
        r = client.post(
            f"/api/v1/challenges/{slugs[c]}/attempts",
            json={"flag": flag},
            headers={"Authorization": f"Bearer {tokens[t]}"},
        )
        return r.status_code

    for _ in range(200):  # warm-up: caches, statement compilation
        attempt(False)
    print(f"database {args.db}, durability {args.durability}, {args.n} attempts of each kind")
    print(
        f"{'kind':8} {'stmts':>6} {'sysc r/w':>9} {'cpu ms':>7} {'wall ms':>8} "
        f"{'lock ms':>8} {'sync ms':>8} {'statuses'}"
    )
    for kind, right in (("wrong", False), ("right", True)):
        s0, (r0, w0) = meter.statements, meter.syscalls()
        l0, y0 = waits["writer"], waits["sync"]
        kinds0 = meter.kinds.copy()
        statuses: Counter[int] = Counter()
        prof = cProfile.Profile() if args.cprofile else None
        cpu0, wall0 = time.process_time(), time.perf_counter()
        tracer = None
        if args.round_trips:
            tracer = subprocess.Popen(
                ["strace", "-f", "-c", "-e", "trace=sendto,sendmsg,write", "-p", str(os.getpid())],
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
        if prof:
            prof.enable()
        for _ in range(args.n):
            statuses[attempt(right)] += 1
        if prof:
            prof.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if tracer is not None:
            tracer.terminate()
            table = tracer.communicate()[1]
            sends = sum(
                int(m.group(1))
                for m in re.finditer(
                    r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(?:sendto|sendmsg)$",
                    table,
                    re.M,
                )
            )
            print(f"         sends to the database per attempt: {sends / args.n:.2f}")
        n = args.n
        r1, w1 = meter.syscalls()
        print(
            f"{kind:8} {(meter.statements - s0) / n:6.1f} {(r1 - r0) / n:4.1f}/{(w1 - w0) / n:<4.1f} "
            f"{cpu / n * 1000:7.3f} {wall / n * 1000:8.3f} {(waits['writer'] - l0) / n * 1000:8.3f} "
            f"{(waits['sync'] - y0) / n * 1000:8.3f} {dict(statuses)}"
        )
        per = {k: round((v - kinds0[k]) / n, 2) for k, v in meter.kinds.items() if v - kinds0[k]}
        print(f"         statements by kind: {per}")
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(35)
            print(out.getvalue())
    app.extensions["range"].store.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    main()
