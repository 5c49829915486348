"""gunicorn's configuration for the range's web tier (infra/deploy/range-web.service):
``gunicorn -c python:range_control.web.gunicorn_conf 'range_control.web:create_app()'``.

- Metrics of every worker add up: the Prometheus client's multiprocess mode, in
  ``RANGE_METRICS_DIR`` (default ``<data dir>/metrics``; better on tmpfs, as infra/deploy puts
  it in /run: its files are written on every request), set before any worker imports the
  client. The files of processes that are gone are swept at start; a dead worker's gauges leave
  the sums. ``rangectl worker`` given the same ``RANGE_METRICS_DIR`` adds its own.
- No access log of gunicorn's: under ``RANGE_LOG_FORMAT=json`` the app logs one line per
  request itself (request id, route template, team); in text, nginx's access log has them.
Anything here can be overridden on the command line (``--workers``, ``--bind``...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_data = Path(os.environ.get("RANGE_DATA_DIR", "./var"))
os.environ.setdefault("RANGE_METRICS_DIR", str((_data / "metrics").resolve()))

from range_control.core import metrics  # noqa: E402  (after the metrics directory is chosen)

bind = os.environ.get("RANGE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("RANGE_WEB_WORKERS", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = None
# One request-line limit for every route: the range's own bodies are capped by
# RANGE_MAX_BODY_BYTES; headers by gunicorn's defaults.


def on_starting(server: Any) -> None:
    if metrics.MULTIPROCESS_DIR:
        metrics.sweep_dead(metrics.MULTIPROCESS_DIR)


def child_exit(server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid)
