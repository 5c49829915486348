"""Flag submission benchmark: valid flags, pipelined over TCP, from N teams at once.

Measured in the same run, on the same database file kind (SQLite, the range's settings), with
the same flags and the same clients:

* bare: a bare asyncio line server that reads each line, checks its MAC
  (``domain.defence.flags.read``) and inserts one row per flag, committing per batch of lines
  that arrived together, answering ``<flag> OK``: the floor of doing this work at all;
* ours: the range's TCP door (``services.defence.flagserver``): the token, the game's state,
  the judgement, the batch insert under the unique key, the answers with their words;
* http: the range's ``POST /api/v1/captures`` through the Flask test client (100 flags per
  request), for the HTTP door's rate beside it.

Every team submits every other team's flags of the current tick (so every answer is OK).

    python bench/submission.py [--teams 40] [--flags 250]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from range_control.domain.defence import flags as flagging  # noqa: E402
from range_control.domain.defence.flags import FlagFacts  # noqa: E402
from range_control.services.defence.flagserver import FlagServer  # noqa: E402
from tests.support.defence import load_defence, write_defended  # noqa: E402
from tests.support.env import FLAG_SECRET, make_env, migrated_sqlite  # noqa: E402


async def _client(port: int, first: str | None, flags: list[str]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while (await reader.readline()).strip():  # the banner, to its empty line
        pass
    if first is not None:
        writer.write(first.encode() + b"\n")
        await reader.readline()
    writer.write("".join(f + "\n" for f in flags).encode())
    await writer.drain()
    ok = 0
    for _ in flags:
        line = await reader.readline()
        ok += b" OK" in line
    writer.close()
    return ok


def _run_clients(port: int, jobs: list[tuple[str | None, list[str]]]) -> tuple[float, int]:
    async def main() -> int:
        done = await asyncio.gather(*(_client(port, t, f) for t, f in jobs))
        return sum(done)

    t0 = time.perf_counter()
    ok = asyncio.run(main())
    return time.perf_counter() - t0, ok


class Bare:
    """The floor: a line server doing the MAC check and one insert per flag."""

    def __init__(self, db: Path, event: str) -> None:
        self.db = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE c (team INT, victim INT, svc INT, tick INT, store INT)")
        self.event = event

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Welcome\n\n")
        while True:
            first = await reader.readline()
            if not first:
                break
            batch = [first]
            while b"\n" in reader._buffer:
                batch.append(await reader.readline())
            out = []
            self.db.execute("BEGIN")
            for raw in batch:
                f = raw.decode().strip()
                facts = flagging.read(FLAG_SECRET, self.event, f)
                if facts is not None:
                    self.db.execute(
                        "INSERT INTO c VALUES (?, ?, ?, ?, ?)",
                        (0, facts.team_id, facts.service_id, facts.tick, facts.store),
                    )
                out.append(f"{f} {'OK' if facts else 'INV'}\n")
            self.db.execute("COMMIT")
            writer.write("".join(out).encode())
            await writer.drain()
        writer.close()


def _serve(start) -> tuple[int, asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    port = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    return port, loop, thread


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--flags", type=int, default=250, help="flags each team submits")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="range-subbench-"))
    try:
        env = make_env(migrated_sqlite(tmp / "range.db"), tmp, event_slug="subbench")
        heads = [env.team(f"Team {i:03d}", "NL") for i in range(args.teams)]
        write_defended(tmp / "pack", "tracker", timeout="10s", flag_stores=10)
        load_defence(
            env,
            {"tracker": 1},
            tick="60s",
            duration="4h",
            mode="attack-defence",
            flag_lifetime=100,
            submit_rate=1_000_000,
        )
        env.clock.advance(seconds=100 * 60 - 30)  # tick 100: 100 ticks of flags are valid
        from range_control.store.models import Challenge

        with env.ctx.store.read() as s:
            svc = s.query(Challenge).filter_by(slug="tracker").one().id
        ids = [tid for tid, _h in heads]

        def flags_of(me: int, salt: int) -> list[str]:
            out = []
            others = [t for t in ids if t != me]
            n = 0
            tick = 100 - salt
            while len(out) < args.flags:
                victim = others[n % len(others)]
                store = 1 + (n // len(others)) % 10
                tk = tick - (n // (len(others) * 10)) * 2
                facts = FlagFacts(tk, victim, svc, store)
                out.append(flagging.make(FLAG_SECRET, env.ctx.event_slug, facts, "forcad", "t"))
                n += 1
            return out

        total = args.teams * args.flags
        # bare
        bare = Bare(tmp / "bare.db", env.ctx.event_slug)
        port, loop, _t = _serve(lambda: _start(asyncio.start_server(bare.client, "127.0.0.1", 0)))
        t_bare, ok_bare = _run_clients(port, [(None, flags_of(t, 0)) for t in ids])
        _stop(loop)
        # ours (TCP)
        server = FlagServer(env.ctx)
        port, loop, _t = _serve(lambda: server.start("127.0.0.1", 0))
        jobs = [(h["Authorization"].split()[1], flags_of(t, 0)) for t, h in heads]
        t_ours, ok_ours = _run_clients(port, jobs)
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
        _stop(loop)
        # http
        t0 = time.perf_counter()
        ok_http = 0
        for t, h in heads:
            fl = flags_of(t, 1)
            for i in range(0, len(fl), 100):
                got = env.client.post(
                    "/api/v1/captures", json={"flags": fl[i : i + 100]}, headers=h
                )
                ok_http += sum(a["code"] == "OK" for a in got.get_json()["answers"])
        t_http = time.perf_counter() - t0
        print(f"{args.teams} teams x {args.flags} valid flags = {total}, SQLite")
        print(f"{'':6} {'seconds':>8} {'OK':>6} {'flags/s':>9}")
        for name, t, ok in (
            ("bare", t_bare, ok_bare),
            ("tcp", t_ours, ok_ours),
            ("http", t_http, ok_http),
        ):
            print(f"{name:6} {t:8.2f} {ok:6d} {total / t:9.0f}")
        print(f"tcp / bare: {t_ours / t_bare:.2f}x the time; http / tcp: {t_http / t_ours:.2f}x")
        env.ctx.store.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(loop: asyncio.AbstractEventLoop) -> None:
    async def end() -> None:
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(end(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)


async def _start(coro) -> int:
    server = await coro
    return server.sockets[0].getsockname()[1]


if __name__ == "__main__":
    main()
