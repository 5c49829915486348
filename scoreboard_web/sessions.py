"""Browser sessions (signed cookies, Secure behind TLS, none at all for the JSON API) and the
login limiter of the portal and the console."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class SessionInterface(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over TLS (ProxyFix included).

    The JSON API authenticates by bearer token and never uses the session: its requests (flag
    attempts, scoreboard polls) skip reading and signing a cookie altogether."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith("/api/"):
            return None  # Flask uses a null session: nothing read, nothing written back
        return super().open_session(app, request)


class LoginLimiter:
    """Login attempts per client address: a moving window (``limits``, in memory per process:
    with N gunicorn workers a client gets at most N times the limit)."""

    def __init__(self, limit: str = "10/minute") -> None:
        self.item = parse_limit(limit)
        self._pid = -1
        self._limiter: MovingWindowRateLimiter | None = None

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        # Made in the worker that uses it: the storage runs an expiry thread, and a thread does
        # not survive the fork of a preloading server (gunicorn --preload).
        if self._limiter is None or self._pid != os.getpid():
            self._limiter, self._pid = MovingWindowRateLimiter(MemoryStorage()), os.getpid()
        return self._limiter

    def hit(self, scope: str, key: str) -> int | None:
        """Count one attempt; None when allowed, else the seconds until the next one."""
        if self.limiter.hit(self.item, scope, key):
            return None
        reset = self.limiter.get_window_stats(self.item, scope, key).reset_time
        return max(1, int(reset - datetime.now().timestamp()) + 1)


def install(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.extensions["login_limiter"] = LoginLimiter()
