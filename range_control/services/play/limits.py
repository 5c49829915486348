"""Per-team sliding-window limits counted in the audited tables themselves (attempts, the audit
log): shared by every web worker, surviving restarts, and exact. One query decides both the
refusal and the ``Retry-After``: the ``limit``-th most recent row inside the window."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select

from range_control.core import metrics
from range_control.core.errors import RateLimited
from range_control.core.languages import N_

WINDOW = timedelta(minutes=1)


def nth_latest(column: Any, *where: Any) -> Select:
    """``SELECT column ... ORDER BY column DESC OFFSET :skip LIMIT 1``; bind ``since``
    (compare ``column > bindparam("since")`` in ``where``) and ``skip`` = limit - 1."""
    return select(column).where(*where).order_by(column.desc()).offset(bindparam("skip")).limit(1)


# What each limit counts, in the refusal (a template: the catalogs translate it).
REFUSALS = {
    "attempts": N_(
        "too many flags that did not score: {limit} per minute per team; retry in {retry} s"
    ),
    "instance_actions": N_(
        "too many instance requests: {limit} per minute per team; retry in {retry} s"
    ),
}


def enforce(nth: datetime | None, now: datetime, limit: int, kind: str) -> None:
    """Refuse when the window already holds ``limit`` rows, saying when it frees up (counted
    in the ``range_rate_limit_refusals`` metric under ``kind``, one of ``REFUSALS``)."""
    if nth is not None:
        metrics.RATE_LIMITED.labels(kind).inc()
        retry = max(1, math.ceil((nth + WINDOW - now).total_seconds()))
        raise RateLimited(REFUSALS[kind], retry, limit=limit, retry=retry)


def params(now: datetime, limit: int, **extra: Any) -> dict[str, Any]:
    return {"since": now - WINDOW, "skip": limit - 1, **extra}
