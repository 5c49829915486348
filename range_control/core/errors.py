"""Errors a user or an operator can cause, for every layer (the store raises some of them).

Each has a stable ``code``; the API maps them to HTTP statuses, the pages to a message on the
page, the command line to one line and exit status 1. The message says what is at fault (the
file, field or value) and, where there is one, what to do. ``retry_after`` (seconds), when set,
says when trying again makes sense (the API sends it as ``Retry-After``)."""

from __future__ import annotations

from collections.abc import Callable

from range_control.core.languages import format_message


def first_line(text: str) -> str:
    """The first line of a message: errors are shown on one line ("" for an empty one)."""
    return (text.strip().splitlines() or [""])[0]


def no_translation(text: str) -> str:
    return text


def _localized(value: object, translate: Callable[[str], str]) -> object:
    """A parameter as shown: an error inside an error translated too, a list of them joined."""
    if isinstance(value, ServiceError | Explained):
        return value.localized(translate)
    if isinstance(value, list) and value and all(isinstance(v, ServiceError) for v in value):
        return "; ".join(v.localized(translate) for v in value)
    return value


class Explained(ValueError):
    """A refusal from below the services (the domain's key checks, say): a message template
    and its values like a ``ServiceError``'s, so that the service that passes it on keeps it
    translatable (``InvalidInput("public_key: {reason}", reason=exc)``)."""

    def __init__(self, message: str, **params: object) -> None:
        self.template = message
        self.params = params
        super().__init__(self.localized(no_translation))

    def localized(self, translate: Callable[[str], str]) -> str:
        values = {k: _localized(v, translate) for k, v in self.params.items()}
        return format_message(self.template, values, translate)


class ServiceError(Exception):
    """``message`` is written in English with ``str.format`` fields named by ``params``
    (``NotFound("challenge {slug!r} not found", slug=slug)``), never pre-formatted: the constant
    text is what the message catalogs translate (``pybabel extract`` takes these class names as
    keywords), so an interface answers in its user's language with ``localized``. A message
    given without params is used as it is (no braces to escape)."""

    code = "error"

    def __init__(self, message: str, retry_after: int | None = None, **params: object) -> None:
        self.template = message
        self.params = params
        self.message = self.localized(no_translation)
        super().__init__(self.message)
        self.retry_after = retry_after

    def localized(self, translate: Callable[[str], str]) -> str:
        """The message in the language of ``translate`` (a gettext); a parameter that is itself
        a ``ServiceError`` (an error inside an error), or a list of them, is translated the
        same way."""
        values = {k: _localized(v, translate) for k, v in self.params.items()}
        return format_message(self.template, values, translate)


class InvalidInput(ServiceError):
    code = "invalid"


class NotFound(ServiceError):
    code = "not_found"


class Unauthorized(ServiceError):
    code = "unauthorized"


class Forbidden(ServiceError):
    code = "forbidden"


class Locked(Forbidden):
    """The challenge exists and is visible, but cannot be attempted now."""

    code = "locked"


class EventNotRunning(Forbidden):
    code = "event_not_running"


class Conflict(ServiceError):
    code = "conflict"


class RateLimited(ServiceError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, **params: object) -> None:
        super().__init__(message, retry_after, **params)


class Unavailable(ServiceError):
    """Something the range depends on is not there now (an engine, a lock, a pool)."""

    code = "unavailable"


class EngineFailed(ServiceError):
    """The engine refused or failed an operation (a build, a start); the message says which."""

    code = "engine_failed"


class SchemaMismatch(Unavailable):
    """The database has no schema, or not the one this code needs."""

    code = "schema_mismatch"


class LeaseBusy(Unavailable):
    """A named lease (one process at a time) is held by another process."""

    code = "busy"


class SchedulerBusy(LeaseBusy):
    """Another scheduler already runs on this database."""


class WriterBusy(Unavailable):
    """The database's writer queue did not come free in time (a writer is stuck)."""

    code = "writer_busy"


class ReadOnly(Unavailable):
    """The database can be read but not written (a read-only copy, file or mount)."""

    code = "read_only"


class Corrupt(Unavailable):
    """The database file fails SQLite's integrity check."""

    code = "corrupt"
