"""The public status grid of the defence: every team's defended services, the latest tick's
verdict and a short history with the checkers' public messages; live like the scoreboard
(the fragment is polled with its ETag), readable with JavaScript off."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, abort, render_template

from range_control.services.defence import views
from range_control.services.event import event as events
from range_control.web.common import public
from range_control.web.pages.common import ctx
from range_control.web.pages.public import bp, cached_page, send_page


def _grid_body() -> tuple[str, Any]:
    grid = views.grid(ctx())
    if grid is None:
        abort(404)
    key = "d" + hashlib.sha256(repr(events.page_marker(ctx())).encode()).hexdigest()[:16]
    return key, cached_page("defence-grid", key, lambda: render_template("_defence.html", d=grid))


@bp.get("/defence")
@public
def defence_page() -> Response:
    key, body = _grid_body()
    return send_page(
        cached_page(
            "defence-page",
            key,
            lambda: render_template("defence.html", key=body.key, grid=body.raw.decode()),
        )
    )


@bp.get("/defence/grid")
@public
def defence_fragment() -> Response:
    """The live part of the page; 304 when nothing shown has changed."""
    return send_page(_grid_body()[1])
