"""What the JSON API and the pages share: the range of the app, row ids in routes, bounded
numbers from queries and forms, the bearer token of a request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request

from range_control.context import Range
from range_control.core import errors
from range_control.core.permissions import Permission, Place
from range_control.specs.text import whole_number


def ctx() -> Range:
    return current_app.extensions["range"]


# A row id in a route: ``f"/teams/<{ID}:team_id>"``. 1 to 2**31 - 1 (what every database's
# integer column holds): anything else is a 404 like any unknown path, never an overflow in the
# database driver. Documented as such in the OpenAPI document.
ID = "int(min=1, max=2147483647)"


def whole(value: str | None, field: str, low: int, high: int, default: int | None = None) -> int:
    """A whole number from a query or form field, in ASCII digits within bounds; 400 naming the
    field otherwise (never ``int()`` on what ``str.isdigit`` lets through, such as ``"²"``)."""
    if (value is None or value == "") and default is not None:
        return default
    try:
        return whole_number(value or "", field, low, high)
    except ValueError as exc:
        raise errors.InvalidInput(str(exc)) from None


def bearer_token() -> str:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), else empty."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


F = TypeVar("F", bound=Callable[..., Any])


def declare(place: Place | None, need: Permission) -> Callable[[F], F]:
    """Record what a route needs where no guard checks it (public pages, sign-in): every route
    of the app says what it needs (``view.rule``), and the role matrix test reads it."""

    def mark(fn: F) -> F:
        fn.rule = (place, need)  # type: ignore[attr-defined]
        return fn

    return mark


public = declare(None, Permission.PUBLIC)
sign_in = declare(None, Permission.SIGN_IN)
