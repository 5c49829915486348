"""Browser sessions (signed cookies, Secure behind TLS, none at all for the JSON API) and the
login limiter of the portal and the console."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


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
    """Failed logins, in a moving window (``limits``, in memory per process: with N gunicorn
    workers at most N times these). A success costs nothing. Counted per address and token
    tried (a team mistyping its token is slowed down, another team behind the same NAT is not)
    and, more loosely, per address (spraying many tokens from one place is)."""

    def __init__(self, per_key: str = "10/minute", per_address: str = "60/minute") -> None:
        self._rates = (per_key, per_address)
        self._pid = -1
        self._limiter: Any = None
        self._items: tuple[Any, Any] | None = None

    @property
    def limiter(self) -> Any:
        # Made in the worker that uses it, on its first login: the storage runs an expiry
        # thread, and a thread does not survive the fork of a preloading server (gunicorn
        # --preload); a worker that serves no login does not load ``limits`` at all.
        if self._limiter is None or self._pid != os.getpid():
            from limits import parse
            from limits.storage import MemoryStorage
            from limits.strategies import MovingWindowRateLimiter

            self._items = (parse(self._rates[0]), parse(self._rates[1]))
            self._limiter, self._pid = MovingWindowRateLimiter(MemoryStorage()), os.getpid()
        return self._limiter

    def _checks(self, address: str | None, token: str) -> list[tuple[Any, str]]:
        self.limiter  # noqa: B018 - the rate items are parsed with it
        assert self._items is not None
        tried = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        where = address or "?"
        return [(self._items[0], f"{where}|{tried}"), (self._items[1], where)]

    def wait(self, scope: str, address: str | None, token: str) -> int | None:
        """None when this login may be tried now, else the seconds until it may."""
        for item, key in self._checks(address, token):
            if not self.limiter.test(item, scope, key):
                reset = self.limiter.get_window_stats(item, scope, key).reset_time
                return max(1, int(reset - datetime.now().timestamp()) + 1)
        return None

    def failed(self, scope: str, address: str | None, token: str) -> None:
        for item, key in self._checks(address, token):
            self.limiter.hit(item, scope, key)


def install(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.extensions["login_limiter"] = LoginLimiter()
