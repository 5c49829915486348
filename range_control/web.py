"""The Flask application factory: the JSON API and the web pages (``scoreboard_web``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from range_control.clock import Clock
from range_control.context import Range
from range_control.services import schema
from range_control.settings import Settings, load_settings, secret


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    """Build the app. Schema migrations are *not* run here: gunicorn starts many workers, and
    ``rangectl db upgrade`` (or ``rangectl serve``) owns the schema."""
    settings = (settings or load_settings()).ensure_secrets()
    app = Flask("range_control")
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

    from range_control.api import bp, install_error_handlers, spec

    app.register_blueprint(bp)
    install_error_handlers(app)
    spec.register(app)

    import scoreboard_web

    scoreboard_web.init_app(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    logging.getLogger(__name__).debug("app created for event %s", settings.event_slug)
    return app
