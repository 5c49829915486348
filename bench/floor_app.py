"""Second baseline for the attempt benchmark: the cheapest durable write a web app can make.

A raw WSGI app (no Flask, no ORM) that reads the request body and inserts one row per request
into the database being measured, then answers a small JSON body:

- SQLite (``BENCH_FLOOR_SQLITE=/path/floor.db``): WAL mode, ``synchronous`` from
  ``BENCH_FLOOR_SYNC`` (``FULL``: the WAL is synced at every commit, as the range does at
  strict durability; ``NORMAL``: not), ``BEGIN IMMEDIATE``, the same busy timeout as the range;
- PostgreSQL (``BENCH_FLOOR_POSTGRES=<libpq url>``): one autocommit ``INSERT`` per request on a
  connection per worker, ``synchronous_commit`` on (the server's default).

What the range adds above this floor (authentication, the checks, the audit row, Flask) is what
the ratio in ``core_api.py`` shows.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, path TEXT NOT NULL, "
    "body TEXT NOT NULL, created_at REAL NOT NULL)"
)
_SQLITE = os.environ.get("BENCH_FLOOR_SQLITE")
_POSTGRES = os.environ.get("BENCH_FLOOR_POSTGRES")
_SYNC = os.environ.get("BENCH_FLOOR_SYNC", "FULL").upper()
if _SYNC not in {"FULL", "NORMAL", "OFF"}:
    raise SystemExit(f"BENCH_FLOOR_SYNC: FULL, NORMAL or OFF, not {_SYNC!r}")
_BODY = b'{"status":"incorrect","points":0}'
_local = threading.local()  # one connection per worker thread, opened after the fork


def _connect() -> Any:
    if _SQLITE:
        conn = sqlite3.connect(_SQLITE, isolation_level=None, timeout=15)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={_SYNC}")
        conn.execute(_SCHEMA)
        return conn
    if _POSTGRES:
        import psycopg

        conn = psycopg.connect(_POSTGRES, autocommit=True)
        # Two workers creating it at once: one of them is told it exists.
        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            conn.execute(
                _SCHEMA.replace("INTEGER PRIMARY KEY", "BIGSERIAL PRIMARY KEY").replace(
                    "REAL", "DOUBLE PRECISION"
                )
            )
        return conn
    raise SystemExit("set BENCH_FLOOR_SQLITE or BENCH_FLOOR_POSTGRES")


def _insert(path: str, body: str) -> None:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = _connect()
    if _SQLITE:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO floor (path, body, created_at) VALUES (?, ?, ?)", (path, body, time.time())
        )
        conn.execute("COMMIT")
    else:
        conn.execute(
            "INSERT INTO floor (path, body, created_at) VALUES (%s, %s, %s)",
            (path, body, time.time()),
        )


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status":"ok"}']
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(min(size, 4096)).decode("utf-8", "replace")
    _insert(path, body)
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_BODY)))]
    )
    return [_BODY]
