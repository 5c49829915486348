"""Scoreboard benchmark (issue 5): the public scoreboard page, its live fragment and the JSON
scoreboard for 500 teams x 50 challenges x 10k solves, under gunicorn, 50 concurrent clients.

Same machinery as ``core_api.py`` (seeding, gunicorn, wrk from loopback), measured in one run:

1. baseline: a trivial Flask endpoint returning a body of the HTML page's size, same gunicorn;
2. ``GET /``: the whole page (ranking, first bloods, 500 x 50 solve matrix, SVG chart), as is
   and gzipped (``Accept-Encoding: gzip``, what browsers send);
3. ``GET /board``: the fragment the page polls, and the same with ``If-None-Match`` (what
   every open scoreboard costs between two changes: a 304);
4. ``GET /api/v1/scoreboard``: the JSON standings.

Goal: p99 under 50 ms. Prints a table and writes JSON.

    python bench/web_pages.py [--duration 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from core_api import Server, seed, wrk

from range_control.context import Range
from range_control.core.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--teams", type=int, default=500)
    ap.add_argument("--challenges", type=int, default=50)
    ap.add_argument("--solves", type=int, default=10_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench-results/web_pages.json"))
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="range-webbench-"))
    db_url = f"sqlite:///{tmp / 'range.db'}"
    env = {
        "RANGE_DATA_DIR": str(tmp),
        "RANGE_DATABASE_URL": db_url,
        "RANGE_ADMIN_TOKEN": "bench-admin-token",
        "RANGE_FLAG_SECRET": "bench-flag-secret",
        "RANGE_SECRET_KEY": "bench-secret-key",
        "RANGE_EVENT_SLUG": "ice",
    }
    ctx = Range.from_settings(
        Settings(
            data_dir=tmp, database_url=db_url, admin_token="x", flag_secret="x", secret_key="x"
        )
    )
    t0 = time.perf_counter()
    seed(ctx, args.teams, args.challenges, args.solves)
    ctx.store.dispose()
    print(
        f"seeded {args.teams} teams x {args.challenges} challenges x {args.solves} solves in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    results: dict[str, dict] = {"config": vars(args) | {"out": str(args.out)}}
    c, d = args.connections, args.duration
    gcfg = (args.workers, "sync", 1, True)  # as the README runs it: 2 sync workers, --preload
    app = Server("range_control:create_app()", env, *gcfg)
    try:
        sizes = {}
        for path in ("/", "/board", "/api/v1/scoreboard"):
            t = time.perf_counter()
            with urllib.request.urlopen(app.url(path)) as r:  # noqa: S310 - loopback
                sizes[path] = len(r.read())
                etag = r.headers.get("ETag")
            results[f"first_render_ms {path}"] = {"ms": round((time.perf_counter() - t) * 1000, 1)}
            if path == "/board":
                board_etag = etag
        results["bytes"] = sizes
        wrk(app.url("/"), c, 2)  # warm every worker's cache
        results["page"] = wrk(app.url("/"), c, d)
        gz = {"Accept-Encoding": "gzip"}  # what every browser sends
        results["page_gzip"] = wrk(app.url("/"), c, d, headers=gz)
        results["board_fragment"] = wrk(app.url("/board"), c, d)
        results["board_fragment_gzip"] = wrk(app.url("/board"), c, d, headers=gz)
        results["board_poll_304"] = wrk(
            app.url("/board"), c, d, headers={"If-None-Match": board_etag}
        )
        results["json"] = wrk(app.url("/api/v1/scoreboard"), c, d)
        results["worker_memory_mb"] = app.worker_memory_mb()
    finally:
        app.stop()
    base = Server("baseline_app:app", {"BENCH_BODY_BYTES": str(sizes["/"])}, *gcfg)
    try:
        results["baseline_flask"] = wrk(base.url("/"), c, d)
    finally:
        base.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    b = results["baseline_flask"]["rps"]
    print(
        f"\ngunicorn {args.workers} sync workers, {c} connections, {d} s each; page "
        f"{sizes['/'] / 1024:.0f} KiB, fragment {sizes['/board'] / 1024:.0f} KiB, JSON "
        f"{sizes['/api/v1/scoreboard'] / 1024:.0f} KiB"
    )
    print(
        "first render (cold cache): "
        + ", ".join(
            f"{k.split(' ', 1)[1]} {v['ms']} ms"
            for k, v in results.items()
            if k.startswith("first")
        )
    )
    print(
        f"{'scenario':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs baseline':>12}"
    )
    for key in (
        "baseline_flask",
        "page",
        "page_gzip",
        "board_fragment",
        "board_fragment_gzip",
        "board_poll_304",
        "json",
    ):
        r = results[key]
        print(
            f"{key:22} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['non2xx'] + r['socket_errors']:7d} {r['rps'] / b:11.2f}x"
        )
    mem = ", ".join(f"RSS {m['rss']:.1f} / PSS {m['pss']:.1f}" for m in results["worker_memory_mb"])
    print(f"worker memory MB: {mem}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
