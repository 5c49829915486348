"""Errors a user can cause. Each has a stable code; the API maps them to HTTP statuses."""

from __future__ import annotations


class ServiceError(Exception):
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
