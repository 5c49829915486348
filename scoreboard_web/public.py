"""The public scoreboard: ranking, first bloods, solve matrix, chart, banner, announcements;
live by conditional polling of the board fragment (ETag), readable with JavaScript off."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from range_control.services import scenario, scoreboard
from range_control.services.context import Range
from scoreboard_web.render import board_view

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/assets",
               template_folder="templates")  # fmt: skip


def rng() -> Range:
    return current_app.extensions["range"]


def _large() -> bool:
    return request.args.get("large") in ("1", "yes", "on")


@bp.get("/")
def scoreboard_page() -> str:
    view = board_view(rng())
    return render_template("scoreboard.html", b=view, large=_large(), now=rng().clock.now())


@bp.get("/board")
def board_fragment() -> Response:
    """The live part of the page; 304 when nothing shown has changed."""
    view = board_view(rng())
    etag = f'"{view.key}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    html = render_template("_board.html", b=view, now=rng().clock.now())
    return Response(html, mimetype="text/html", headers=headers)


@bp.get("/teams/<int:team_id>")
def ledger_page(team_id: int) -> str:
    """Why this score: every entry with the points it gives now and the rule behind them."""
    ledger = scoreboard.ledger(rng(), team_id, public=True)
    return render_template("ledger.html", ledger=ledger, team_id=team_id)


@bp.get("/announcements")
def announcements_page() -> str:
    return render_template("announcements.html", items=scenario.announcements(rng(), 100),
                           back="web.scoreboard_page")  # fmt: skip


def html_error(status: int, title: str, message: str) -> Response:
    body = render_template("error.html", status=status, title=title, message=message)
    return Response(body, status=status, mimetype="text/html")
