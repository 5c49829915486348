"""The public scoreboard: ranking, first bloods, solve matrix, chart, banner, announcements;
live by conditional polling of the board fragment (ETag), readable with JavaScript off."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from range_control.core.errors import Conflict, InvalidInput, NotFound
from range_control.core.languages import languages
from range_control.services.event import announcements
from range_control.services.people import accounts
from range_control.services.play import scoreboard
from range_control.web.common import ID, public
from range_control.web.i18n import COOKIE, current_language, gettext, message
from range_control.web.pages.board import BoardView, board_view
from range_control.web.pages.common import ctx, local_path

# Our own script and stylesheet, at /assets (nginx serves the same directory in production).
STATIC = Path(__file__).resolve().parent.parent / "static"
bp = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/assets")


def _large() -> bool:
    return request.args.get("large") in ("1", "yes", "on")


@dataclass(frozen=True)
class _Body:
    key: str
    raw: bytes
    gz: bytes  # compressed once per change: a 500-team matrix is ~750 KiB, ~5 % gzipped


def cached_page(name: str, key: str, render: Callable[[], str]) -> _Body:
    """Public bodies are the same for every visitor of one language: render and compress once
    per change, language and process. Countdowns take the server's time from the Date header."""
    lang = current_language()
    name, key = f"{name}:{lang}", f"{key}-{lang}"
    cache = ctx().cache.setdefault("web_pages", {})
    body = cache.get(name)
    if body is None or body.key != key:
        raw = render().encode()
        body = _Body(key, raw, gzip.compress(raw, compresslevel=6, mtime=0))
        cache[name] = body
    return body


def send_page(body: _Body, status: int = 200) -> Response:
    headers = {
        "ETag": f'"{body.key}"',
        "Cache-Control": "no-cache",
        "Vary": "Accept-Encoding, Accept-Language, Cookie",
    }
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return Response(status=304, headers=headers)
    data = body.raw
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        data, headers["Content-Encoding"] = body.gz, "gzip"
    return Response(data, status=status, mimetype="text/html", headers=headers)


def _board(view: BoardView) -> _Body:
    return cached_page("board", view.key, lambda: render_template("_board.html", b=view))


@bp.get("/")
@public
def scoreboard_page() -> Response:
    view = board_view(ctx())
    board = _board(view)
    large = _large()
    return send_page(
        cached_page(
            f"page:{large}",
            view.key,
            lambda: render_template(
                "scoreboard.html",
                key=board.key,
                large=large,
                board=Markup(board.raw.decode()),  # noqa: S704 - our own template's output
            ),
        )
    )


@bp.get("/board")
@public
def board_fragment() -> Response:
    """The live part of the page; 304 when nothing shown has changed."""
    return send_page(_board(board_view(ctx())))


@bp.get(f"/teams/<{ID}:team_id>")
@public
def ledger_page(team_id: int) -> str:
    """Why this score: every entry with the points it gives now and the rule behind them."""
    ledger = scoreboard.ledger(ctx(), team_id, public=True)
    return render_template("ledger.html", ledger=ledger, team_id=team_id)


@bp.get("/language/<code>")
@public
def choose_language(code: str) -> Response:
    """The chooser: remember the language for a year, back to the page the reader was on."""
    if code not in languages():
        abort(404)
    resp = redirect(local_path(request.args.get("next")) or "/", code=303)
    resp.set_cookie(
        COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True, secure=request.is_secure
    )
    return resp


@bp.get("/announcements")
@public
def announcements_page() -> str:
    return render_template(
        "announcements.html",
        items=announcements.recent(ctx(), 100),
        back="web.scoreboard_page",
    )


# --- a person's invite: set a password ------------------------------------------------------
@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def invite_page(token: str) -> Response:
    """Whose invite it is and a password form; once used or expired, why not (the same page,
    no session needed). The link is never cached and sends no Referer."""
    token = token[:200]
    status = 200
    account = None
    try:
        account = accounts.invite_for(ctx(), token)
        if request.method == "POST":
            password = request.form.get("password", "")
            if password != request.form.get("confirm", ""):
                raise InvalidInput("the two passwords differ")
            account = accounts.accept_invite(ctx(), token, password)
            flash(gettext("Password set: sign in with %(login)s.", login=account.login), "ok")
            where = "console.login" if account.role in accounts.CONSOLE_ROLES else "portal.login"
            return redirect(url_for(where))
    except (NotFound, Conflict) as exc:
        flash(message(exc), "error")
        account, status = None, 410 if isinstance(exc, Conflict) else 404
    except InvalidInput as exc:
        flash(message(exc), "error")
        status = 400
    body = render_template("invite.html", account=account, token=token)
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(body, status=status, mimetype="text/html", headers=headers)
