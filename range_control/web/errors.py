"""Errors at the edge, for the API and the pages alike: every refusal a service raises, every
HTTP error and every surprise becomes ``{"error": {"code", "message"}}`` with its status (JSON
under /api, the error page elsewhere), the message in the request's language; and one check
before any view that no input holds what no database can store."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from range_control.core import errors
from range_control.specs.text import MAX_DEPTH, first_problem
from range_control.web import i18n

log = logging.getLogger("range_control.web")


STATUS = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.RateLimited: 429,
    errors.EngineFailed: 502,
    errors.Unavailable: 503,
}


def html_error(status: int, code: str, message: str) -> Response:
    """The error page: the error's code as a word in the reader's language, and the message."""
    body = render_template("error.html", status=status, title=i18n.label(code), message=message)
    return Response(body, status=status, mimetype="text/html")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """JSON under /api; the error page elsewhere."""
    if request.path.startswith("/api/"):
        resp = jsonify({"error": {"code": code, "message": message}})
    else:
        resp = html_error(status, code, message)
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _status_of(exc: errors.ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _service_error(exc: errors.ServiceError) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="range"'
    return error(_status_of(exc), exc.code, i18n.message(exc), headers)


# Werkzeug's default descriptions are English prose; these are the range's, in the catalogs
# (a specific reason, such as Flask-WTF's missing CSRF token, is kept as it is).
_HTTP_MESSAGES = {
    400: errors.ServiceError("the request is malformed"),
    401: errors.ServiceError("authentication is required"),
    403: errors.ServiceError("not allowed"),
    404: errors.ServiceError("no such page or resource"),
    405: errors.ServiceError("this method is not allowed here"),
    415: errors.ServiceError("unsupported content type"),
    429: errors.ServiceError("too many requests; try again later"),
}


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    status = exc.code or 500
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = i18n.message(
            errors.ServiceError("request body larger than {limit} bytes", limit=limit)
        )
    elif status in _HTTP_MESSAGES and exc.description == type(exc).description:
        message = i18n.message(_HTTP_MESSAGES[status])  # Werkzeug's default text, not a reason
    else:
        message = exc.description or exc.name or "error"
    return error(status, code, message)


_INTERNAL = errors.ServiceError("internal error; the organisers can find it in the server log")


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error(500, "internal", i18n.message(_INTERNAL))


def _has_form() -> bool:
    """Only these bodies are forms (anything else leaves ``request.form`` empty, at a cost)."""
    return request.method != "GET" and request.mimetype in _FORM_TYPES


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def reject_unstorable_input() -> None:
    """Before any view, for the API and the pages alike: no path, query, form or JSON value
    may hold what no database can store (NUL, unpaired surrogates) or nest without end. One
    check at the edge instead of one per field; a 400 naming the field, never a 500."""
    for where, values in (
        ("path", request.view_args or {}),
        ("query", request.args.to_dict(flat=False)),
        ("form", request.form.to_dict(flat=False) if _has_form() else {}),
    ):
        if (bad := first_problem(values, where)) is not None:
            raise errors.InvalidInput("{field}: {problem}", field=bad[0], problem=bad[1])
    if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH"):
        try:
            data = request.get_json(silent=True, force=True)
        except RecursionError:
            raise errors.InvalidInput(
                "body: nested more than {depth} levels deep", depth=MAX_DEPTH
            ) from None
        if (bad := first_problem(data)) is not None:
            raise errors.InvalidInput("{field}: {problem}", field=bad[0], problem=bad[1])


def install_error_handlers(app: Flask) -> None:
    app.before_request(reject_unstorable_input)
    app.register_error_handler(errors.ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
