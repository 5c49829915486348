"""What every blueprint of the pages shares: the range, error pages, session keys, the login
limiter and turning a service's refusal into a message on the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Response, current_app, flash, render_template

from range_control import metrics
from range_control.context import Range
from range_control.errors import ServiceError
from scoreboard_web.i18n import gettext, label, message
from scoreboard_web.sessions import LoginLimiter

SID = "sid"  # the only session key: the secret of a server-side session (services.sessions)
KIND = "kind"  # "team" or "organiser": which login the browser holds, for messages only


def ctx() -> Range:
    return current_app.extensions["range"]


def login_limiter() -> LoginLimiter:
    return current_app.extensions["login_limiter"]


def too_many(template: str, wait: int, **context: object) -> tuple[str, int]:
    metrics.RATE_LIMITED.labels("login").inc()
    flash(gettext("Too many failed logins: try again in %(wait)d s.", wait=wait), "error")
    return render_template(template, **context), 429


def html_error(status: int, code: str, message: str) -> Response:
    """The error page: the error's code as a word in the reader's language, and the message."""
    body = render_template("error.html", status=status, title=label(code), message=message)
    return Response(body, status=status, mimetype="text/html")


@contextmanager
def flash_errors() -> Iterator[None]:
    """A form's action: a refusal by the service (bad input, conflict, limit, ...) becomes a
    message on the page the user is sent back to, never an error page."""
    try:
        yield
    except ServiceError as exc:
        flash(message(exc), "error")
