"""The web tier: the Flask application factory that mounts the JSON API (``web.api``) and the
pages (``web.pages``: public scoreboard, team portal, organiser console)."""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import logging
import os
import re
import time
from datetime import timedelta
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

from range_control.context import Range
from range_control.core import logs, metrics
from range_control.core.clock import Clock
from range_control.core.errors import Forbidden, Unauthorized
from range_control.core.settings import Settings, load_settings, secret
from range_control.services.operations import schema, scrape
from range_control.web import errors
from range_control.web.common import bearer_token, public

access_log = logging.getLogger("range_control.access")
# A request id from the proxy in front (nginx's $request_id) is kept when it looks like one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    """Build the app. Schema migrations are *not* run here: gunicorn starts many workers, and
    ``rangectl db upgrade`` (or ``rangectl serve``) owns the schema."""
    settings = (settings or load_settings()).ensure_secrets()
    # Templates in web/templates; static files are served by the pages at /assets, not /static.
    app = _RangeFlask(__name__, template_folder="templates", static_folder=None)
    # One line per request in JSON (the machine-readable log operators ask for); in text the
    # proxy's access log has them.
    app.access_lines = settings.log_format == "json"
    app.config.update(
        SECRET_KEY=secret(settings.secret_key),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The cookie only names a server-side session, which holds the real expiry.
        PERMANENT_SESSION_LIFETIME=timedelta(
            hours=max(settings.team_session_hours, settings.console_session_hours)
        ),
    )
    if not logging.getLogger().handlers:
        # Under gunicorn nothing has set up logging: the range's own format and scrubbing.
        logs.configure(settings.log_format, secrets=settings.secret_values())
    logs.set_context_provider(_log_context)
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    ctx = Range.from_settings(settings, clock)
    schema.require_current(ctx)
    # No pooled connection outlives the factory: under `gunicorn --preload` the app is built
    # before the workers fork, and a database connection must never be shared across a fork.
    ctx.store.engine.dispose()
    app.extensions["range"] = ctx

    from range_control.web.api import bp, spec

    app.register_blueprint(bp)
    errors.install_error_handlers(app)
    spec.register(app)

    from range_control.web import pages

    pages.init_app(app)

    @app.get("/healthz")
    @public
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics_view() -> Response:
        _metrics_allowed(settings)
        body, content_type = metrics.exposition(scrape.ScrapeCollector(ctx))
        return Response(body, mimetype=None, content_type=content_type)

    logging.getLogger(__name__).debug("app created for event %s", settings.event_slug)
    return app


def _metrics_allowed(settings: Settings) -> None:
    """``RANGE_METRICS_TOKEN`` as a bearer token when it is set; otherwise loopback clients
    only (the nginx site in infra/deploy never forwards /metrics)."""
    token = settings.metrics_token
    if token is not None:
        if not hmac.compare_digest(bearer_token().encode(), secret(token).encode()):
            raise Unauthorized("/metrics needs the metrics token (RANGE_METRICS_TOKEN)")
        return
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("/metrics answers loopback clients only: set RANGE_METRICS_TOKEN")


# This process's request ids: unique (pid and a count), cheap; a proxy's own is kept.
_SEQ = itertools.count(1)


class _RangeFlask(Flask):
    """Flask, timing and counting every request around its whole dispatch (hooks, view, error
    handlers): no per-request hook, no ``g`` (a third of the cost of the instrumentation)."""

    access_lines = False

    def full_dispatch_request(self) -> Response:  # type: ignore[override]
        started = time.perf_counter()
        response = super().full_dispatch_request()
        elapsed = time.perf_counter() - started
        req = request._get_current_object()  # type: ignore[attr-defined]
        route = _route(req)
        method = req.method if req.method in _METHODS else "other"  # bounded labels
        metrics.request_done(route, method, response.status_code, elapsed)
        if "HTTP_X_REQUEST_ID" in req.environ:
            response.headers["X-Request-ID"] = _request_id()  # the proxy's, echoed
        if self.access_lines:
            access_log.info(
                "%s %s %d %.1f ms",
                req.method,
                route,
                response.status_code,
                elapsed * 1000,
                extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2)},
            )
        return response


def _request_id() -> str:
    """The proxy's request id when it sent a sane one, else one of this process (made once)."""
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get("X-Request-ID")
        if given is not None and _REQUEST_ID.match(given):
            rid = given
        else:
            rid = f"{os.getpid():x}-{next(_SEQ):x}"
        g.request_id = rid
    return rid


def _route(req: Any = request) -> str:
    """The route template (bounded, unlike the path), or ``<unmatched>``."""
    rule = req.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _log_context() -> dict[str, Any]:
    if not has_request_context():
        return {}
    found: dict[str, Any] = {
        "route": _route(),
        "method": request.method,
        "request_id": _request_id(),
    }
    team = g.get("team")
    if team is not None and getattr(team, "id", None) is not None:
        found["team_id"] = team.id
    return found
