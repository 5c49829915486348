"""Logging for every process of the range: the web tier, ``rangectl worker`` and the CLI.

``RANGE_LOG_FORMAT=text`` (default): one readable line per record. ``json``: one JSON object
per line (python-json-logger) with ``time``, ``level``, ``logger``, ``message`` and, where the
record knows them, ``request_id``, ``team_id``, ``route``, ``method``, ``status`` and
``duration_ms`` (the web tier adds them: :func:`set_context_provider`).

Secrets never reach a log: nothing logs a request body, a header or a submitted flag, and as a
last guard every record is scrubbed of the range's own secrets (organiser token, session key,
flag key, metrics token) before it is written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The fields the web tier may add to a record (``extra=``) or provide for the current request.
CONTEXT_FIELDS = ("request_id", "team_id", "route", "method", "status", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[redacted]"

_provider: Callable[[], dict[str, Any]] | None = None


def set_context_provider(provider: Callable[[], dict[str, Any]] | None) -> None:
    """The web tier's view of the current request (request id, team, route), or None."""
    global _provider
    _provider = provider


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _provider is not None:
            for key, value in _provider().items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


class _Scrub(logging.Filter):
    """Replaces each of the given secrets wherever it appears in a record's text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would redact ordinary words; every generated secret is 43 characters.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 12}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed, exc_text = text, record.exc_text
        for value in self.secrets:
            scrubbed = scrubbed.replace(value, REDACTED)
            if exc_text:
                exc_text = exc_text.replace(value, REDACTED)
        # The traceback travels as text from here on (both formatters write exc_text).
        record.msg, record.args, record.exc_text, record.exc_info = scrubbed, None, exc_text, None
        return True


class _Json(JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_ensure_ascii=False,
        )


def configure(
    fmt: str = "text",
    *,
    secrets: Iterable[str] = (),
    level: int = logging.INFO,
    stream: Any = None,
    force: bool = True,
) -> logging.Handler:
    """One handler on the root logger in the chosen format, with the context and scrubbing
    filters; returns it (tests read what it wrote)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_Context())
    handler.addFilter(_Scrub(secrets))
    root = logging.getLogger()
    if force:
        for old in list(root.handlers):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs every run of the half-second watch job at INFO.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return handler
