"""The range's Prometheus metrics (prometheus-client), defined once for every process.

One process (``rangectl serve``): the metrics live in memory. Several (gunicorn's workers and
``rangectl worker``): set ``RANGE_METRICS_DIR`` (or the library's own
``PROMETHEUS_MULTIPROC_DIR``) to one directory for all of them, and every process writes its
values there (the client's multiprocess mode) for ``/metrics`` to add up. It has to be chosen
before the first metric exists, so it is read here, at import (``range_control.web.gunicorn_conf``
sets it for gunicorn).

What depends on the database at the moment of the scrape (instances by state and health, the
age of the last good backup) is not counted here but read when ``/metrics`` is asked
(``services/observe.py``): it is then right whichever process changed it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

_DIR = os.environ.get("RANGE_METRICS_DIR") or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _DIR:
    try:
        os.makedirs(_DIR, mode=0o700, exist_ok=True)
    except OSError as exc:
        # A command that only reads (a migration, the doctor) runs without the directory.
        logging.getLogger(__name__).warning(
            "metrics directory %s unusable (%s): this process keeps its metrics to itself",
            _DIR,
            exc.strerror,
        )
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        _DIR = None
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _DIR

from prometheus_client import (  # noqa: E402  (after the directory is chosen)
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = _DIR or None

# Latencies of a range: a few ms for the hot paths, seconds for an engine call.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter(
    "range_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "range_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["route"],
    buckets=_FAST,
)
ATTEMPTS = Counter(
    "range_flag_attempts",
    "Flag attempts recorded, by outcome (correct, incorrect, partial, already_solved)",
    ["outcome"],
)
SOLVES = Counter("range_solves", "Challenges solved (correct flags that scored)")
RATE_LIMITED = Counter(
    "range_rate_limit_refusals",
    "Requests refused by a per-team limit, by what was limited",
    ["limit"],
)
SHARING_ALERTS = Counter("range_sharing_alerts", "Flags submitted that belong to another team")
SCOREBOARD_CACHE = Counter(
    "range_scoreboard_cache",
    "Scoreboard snapshots served, by cache result (hit, miss)",
    ["result"],
)
RECONCILE_SECONDS = Histogram(
    "range_reconcile_pass_duration_seconds", "Time of one reconciler pass", buckets=_SLOW
)
RECONCILE_ACTIONS = Counter(
    "range_reconcile_actions",
    "What reconciler passes did to the engine, by action "
    "(created, restarted, removed, failed, expired)",
    ["action"],
)
SCHEDULER_LAG = Histogram(
    "range_scheduler_lag_seconds",
    "How late a timeline milestone was applied after it was due",
    buckets=_FAST[3:] + (30.0, 60.0, 300.0),
)
DEFENCE_VERDICTS = Counter(
    "range_defence_verdicts",
    "Verdicts of defended services' checks, by service and verdict",
    ["service", "verdict"],
)
DEFENCE_BATCH_SECONDS = Histogram(
    "range_defence_batch_duration_seconds",
    "Time a defended service's check batch takes (every team of a tick), by service",
    ["service"],
    buckets=_SLOW,
)
WRITE_WAIT = Histogram(
    "range_db_write_wait_seconds",
    "Time a write waited for its turn among the database's "
    "writers (SQLite's writer queue; 0 on PostgreSQL, which queues per row)",
    buckets=_FAST,
)
WRITER_LOCK_WAITS = Counter(
    "range_db_writer_lock_waits", "Writes that found the writer lock held and had to wait"
)
BACKUPS = Counter("range_backups", "Backups taken, by result (ok, failed)", ["result"])


# Bound children of the labelled metrics on the hot paths: a dict lookup instead of labels().
SCOREBOARD_HIT = SCOREBOARD_CACHE.labels("hit")
SCOREBOARD_MISS = SCOREBOARD_CACHE.labels("miss")
_attempts: dict[str, Counter] = {}
_requests: dict[tuple[str, str, int], Counter] = {}
_latency: dict[str, Histogram] = {}


def attempt_recorded(outcome: str) -> None:
    child = _attempts.get(outcome)
    if child is None:
        child = _attempts[outcome] = ATTEMPTS.labels(outcome)
    child.inc()


def request_done(route: str, method: str, status: int, seconds: float) -> None:
    """One answered request (route templates, methods and statuses are bounded sets)."""
    key = (route, method, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(route, method, str(status))
    counter.inc()
    histogram = _latency.get(route)
    if histogram is None:
        histogram = _latency[route] = REQUEST_SECONDS.labels(route)
    histogram.observe(seconds)


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - start)


def exposition(extra: object | None = None) -> tuple[bytes, str]:
    """The text format of every metric of every process (plus ``extra``, a collector of values
    read at the scrape), and its content type."""
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    if extra is not None:
        registry.register(extra)  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward:
    """The process's own registry inside a registry of the scrape (so ``extra`` is not added
    to the global one for good)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[object]:
        yield from self.registry.collect()


def mark_process_dead(pid: int) -> None:
    """gunicorn's ``child_exit``: a dead worker's live gauges leave the sums."""
    if MULTIPROCESS_DIR:
        multiprocess.mark_process_dead(pid, MULTIPROCESS_DIR)


def sweep_dead(directory: str) -> int:
    """Remove the value files of processes that no longer run (a restart of the web tier
    starts its counters again; a running ``rangectl worker`` keeps its own). Returns how many."""
    removed = 0
    for name in os.listdir(directory):
        if not name.endswith(".db"):
            continue
        pid = name.rsplit("_", 1)[-1][:-3]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            os.unlink(os.path.join(directory, name))
            removed += 1
    return removed
