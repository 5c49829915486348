"""The organiser console: event control, the environment grid (team x challenge), the live
attempts feed, flag-sharing alerts, teams, announcements and awards. Organiser token only; a
team session is refused here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from range_control.core.errors import InvalidInput, Unauthorized
from range_control.core.languages import languages
from range_control.services.environments import instances, team_access
from range_control.services.event import announcements, controls
from range_control.services.organiser import awards, dashboard, records
from range_control.services.people import accounts, api_tokens, sessions, teams
from range_control.services.whitecell import grading, publication, tasks
from range_control.specs.api.people import TeamTokenOut
from range_control.specs.challenge import slugify
from range_control.web.api import ID, whole
from range_control.web.i18n import gettext, label, message, ngettext
from range_control.web.pages.common import (
    KIND,
    SID,
    begin_session,
    ctx,
    end_session_action,
    flash_errors,
    html_error,
    login_limiter,
    person_login,
    second_factor_page,
    too_many,
)

bp = Blueprint("console", __name__, url_prefix="/console")

ACTOR = api_tokens.MACHINE_ORGANISER  # the shared token's session is a machine actor
CONTROLS = {
    "start": controls.start,
    "pause": controls.pause,
    "resume": controls.resume,
    "skip": controls.skip,
    "end": controls.end,
}


# The white cell's forms: graders may send these (and no other change).
GRADING = ("console.grade_task", "console.moderate_task")


def organiser_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The organiser token's session, or a person's with a console role. Every change (a POST)
    needs the organiser role: a grader or an observer may look, not change."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kind, sid = session.get(KIND), session.get(SID, "")
        if kind == sessions.ORGANISER and sessions.is_organiser(ctx(), sid):
            g.actor, g.role, g.account = ACTOR, "organiser", None
        elif kind == sessions.PERSON:
            try:
                account = sessions.person_of(ctx(), sid)
            except Unauthorized as exc:
                session.clear()
                flash(message(exc), "error")
                return redirect(url_for("console.login"))
            if account.role not in accounts.CONSOLE_ROLES:
                refused = gettext("The organiser console refuses team sessions.")
                return html_error(403, "forbidden", refused)
            g.actor, g.role, g.account = accounts.actor(account), account.role, account
        elif kind in (sessions.TEAM,):
            refused = gettext("The organiser console refuses team sessions.")
            return html_error(403, "forbidden", refused)
        else:
            return redirect(url_for("console.login"))
        own = ("console.security", "console.end_session")  # a person's own, whatever the role
        if (
            g.account is not None
            and request.endpoint not in own
            and accounts.must_enrol(ctx(), g.account)
        ):
            flash(gettext("Your role needs a second factor: add it before going on."), "info")
            return redirect(url_for("console.security"))
        may = ("organiser", "grader") if request.endpoint in GRADING else ("organiser",)
        if request.method == "POST" and g.role not in may and request.endpoint not in own:
            refused = gettext(
                "Read-only: your role (%(role)s) may look at the console, not change anything.",
                role=label(g.role),
            )
            return html_error(403, "forbidden", refused)
        return fn(*args, **kwargs)

    return wrapper


def _back() -> Response:
    return redirect(url_for("console.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("console/login.html")
    if "login" in request.form:  # a person, with an account
        refused = person_login("console", "console/login.html")
        return refused or _back()
    token = request.form.get("token", "").strip()
    wait = login_limiter().wait("console-login", request.remote_addr, token)
    if wait is not None:
        return too_many("console/login.html", wait)
    try:
        sid = sessions.open_organiser(ctx(), token)
    except Unauthorized:
        login_limiter().failed("console-login", request.remote_addr, token)
        flash(gettext("That is not the organiser token."), "error")
        return render_template("console/login.html"), 401
    begin_session(sid, sessions.ORGANISER)
    return _back()


@bp.post("/logout")
def logout() -> Response:
    sessions.close(ctx(), session.get(SID, ""))
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@organiser_required
def index() -> str:
    d = dashboard.console(ctx())
    return render_template("console/index.html", **{f.name: getattr(d, f.name) for f in fields(d)})


@bp.post("/event/<action>")
@organiser_required
def event_control(action: str) -> Response:
    with flash_errors():
        if action == "extend":
            minutes = whole(request.form.get("minutes"), "minutes", 1, 24 * 60)
            controls.extend(ctx(), timedelta(minutes=minutes), g.actor)
            flash(gettext("Current phase extended by %(minutes)d min.", minutes=minutes), "ok")
        elif action in CONTROLS:
            ev = CONTROLS[action](ctx(), g.actor)
            flash(gettext("Done: the event is now %(state)s.", state=label(ev.state)), "ok")
        else:
            flash(gettext("Unknown action."), "error")
    return _back()


@bp.post("/environments")
@organiser_required
def env_action() -> Response:
    action = request.form.get("action", "")
    sel = instances.Selection(
        team=request.form.get("team") or None, challenge=request.form.get("challenge") or None
    )
    ops = {"up": instances.up, "reset": instances.reset, "stop": instances.down}
    with flash_errors():
        if action not in ops:
            raise InvalidInput("action: one of {ops}", ops=", ".join(ops))
        n = ops[action](ctx(), sel, g.actor)
        done = ngettext(
            "%(num)d instance: the reconciler applies it within seconds.",
            "%(num)d instances: the reconciler applies it within seconds.",
            n,
        )
        flash(done, "ok")
    return _back()


@bp.post("/teams")
@organiser_required
def add_team() -> Response | str:
    with flash_errors():
        nt = teams.add_team(
            ctx(), request.form.get("name", ""), request.form.get("country") or None, actor=g.actor
        )
        return _token_page(gettext("Team added"), nt)
    return _back()


def _token_page(what: str, nt: TeamTokenOut) -> Response:
    """The new token in this answer's body only: never in a cookie, a URL or a log."""
    body = render_template("console/token.html", what=what, team=nt.team, token=nt.token)
    return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")


@bp.post(f"/teams/<{ID}:team_id>/<action>")
@organiser_required
def team_action(team_id: int, action: str) -> Response:
    with flash_errors():
        if action in ("disable", "enable"):
            t = teams.set_disabled(ctx(), team_id, action == "disable", g.actor)
            if t.disabled:
                flash(gettext("Team %(team)s disabled.", team=t.name), "ok")
            else:
                flash(gettext("Team %(team)s enabled.", team=t.name), "ok")
        elif action == "rotate":
            return _token_page(gettext("New token"), teams.rotate_token(ctx(), team_id, g.actor))
        else:
            flash(gettext("Unknown action."), "error")
    return _back()


@bp.post("/announcements")
@organiser_required
def post_announcement() -> Response:
    with flash_errors():
        langs = {
            lang: (request.form.get(f"title_{lang}", ""), request.form.get(f"body_{lang}", ""))
            for lang in languages()
            if lang != ctx().settings.default_language
        }
        announcements.post(
            ctx(), request.form.get("title", ""), request.form.get("body", ""), g.actor, langs
        )
        flash(gettext("Announcement posted."), "ok")
    return _back()


@bp.post("/awards")
@organiser_required
def add_award() -> Response:
    with flash_errors():
        value = whole(request.form.get("value"), "value", -1_000_000, 1_000_000)
        awards.add_award(
            ctx(), request.form.get("team", ""), value, request.form.get("reason", ""), g.actor
        )
        flash(gettext("Award given."), "ok")
    return _back()


def _attempt_filter() -> records.AttemptFilter:
    return records.AttemptFilter(
        team=request.args.get("team") or None,
        person=(request.args.get("person") or None) and request.args["person"][:254],
        challenge=request.args.get("challenge") or None,
        result=request.args.get("result") or None,
        limit=100,
    )


@bp.get("/attempts")
@organiser_required
def attempts_page() -> str:
    f = _attempt_filter()
    return render_template(
        "console/attempts.html",
        rows=records.list_attempts(ctx(), f),
        f=f,
        teams=teams.list_teams(ctx()),
        people=_members(),
        challenges=records.list_challenges(ctx()),
    )


def _members() -> list[Any]:
    """The people who can submit (members and captains), for the attempts' person filter."""
    return [a for a in accounts.list_accounts(ctx()) if a.role in accounts.TEAM_ROLES]


@bp.get("/attempts/feed")
@organiser_required
def attempts_feed() -> str:
    """The rows alone, for the page's live refresh."""
    rows = records.list_attempts(ctx(), _attempt_filter())
    return render_template("console/_attempts.html", rows=rows)


@bp.get("/wireguard")
@organiser_required
def wireguard_page() -> str:
    """Each team's gateway and its devices' last handshake; revoke any of them."""
    reason, gateways = team_access.gateways(ctx())
    return render_template("console/wireguard.html", reason=reason, gateways=gateways)


@bp.post(f"/wireguard/<{ID}:peer_id>/revoke")
@organiser_required
def revoke_peer(peer_id: int) -> Response:
    with flash_errors():
        team_access.revoke_peer(ctx(), peer_id, g.actor)
        flash(gettext("Device revoked: it cannot connect any more."), "ok")
    return redirect(url_for("console.wireguard_page"))


# --- graded tasks: the white cell ------------------------------------------------------------
@bp.get("/tasks")
@organiser_required
def tasks_page() -> str:
    return render_template("console/tasks.html", tasks=grading.summaries(ctx()))


@bp.get("/tasks/<slug>")
@organiser_required
def task_queue(slug: str) -> str:
    slug = slug[:100]
    return render_template(
        "console/task_queue.html",
        task=grading.summary(ctx(), slug),
        rows=grading.queue(ctx(), slug),
    )


@bp.get("/tasks/<slug>/<code>")
@organiser_required
def task_sheet(slug: str, code: str) -> str:
    sheet = grading.sheet(ctx(), slug[:100], code[:20])
    mine = g.account.id if g.account is not None else None
    return render_template("console/task_sheet.html", s=sheet, mine=mine)


@bp.get(f"/tasks/<slug>/<code>/files/<{ID}:version>")
@organiser_required
def task_file(slug: str, code: str, version: int) -> Response:
    path, name = grading.file_by_code(ctx(), slug[:100], code[:20], version)
    return send_file(path, as_attachment=True, download_name=name)


def _scores_of_form() -> dict[str, dict[str, str]]:
    """``points:<criterion>`` and ``comment:<criterion>`` fields, as the service takes them."""
    out: dict[str, dict[str, str]] = {}
    for key, value in request.form.items():
        kind, _, criterion = key.partition(":")
        if kind in ("points", "comment") and criterion:
            out.setdefault(criterion[:40], {})[kind] = value[:6000]
    return out


def _grade(slug: str, code: str, moderate: bool) -> Response:
    grader = tasks.Grader(g.actor, g.account.id if g.account is not None else None)
    with flash_errors():
        card = grading.grade(ctx(), slug[:100], code[:20], _scores_of_form(), grader, moderate)
        flash(
            gettext(
                "Grade saved (%(role)s): %(total)d points.", role=label(card.role), total=card.total
            ),
            "ok",
        )
    return redirect(url_for("console.task_sheet", slug=slug, code=code))


@bp.post("/tasks/<slug>/<code>/grade")
@organiser_required
def grade_task(slug: str, code: str) -> Response:
    return _grade(slug, code, moderate=False)


@bp.post("/tasks/<slug>/<code>/moderate")
@organiser_required
def moderate_task(slug: str, code: str) -> Response:
    return _grade(slug, code, moderate=True)


@bp.post("/tasks/<slug>/publish")
@organiser_required
def publish_task(slug: str) -> Response:
    with flash_errors():
        publication.publish(ctx(), slug[:100], g.actor)
        flash(gettext("Grades published: teams and the scoreboard have them."), "ok")
    return redirect(url_for("console.task_queue", slug=slug))


# --- the after-action report -------------------------------------------------------------------
@bp.get("/report")
@organiser_required
def report_page() -> str:
    return render_template("console/report.html")


@bp.get("/report/download")
@organiser_required
def report_download() -> Response:
    """The report as one file (HTML, self-contained; or JSON), interim while the event runs."""
    from range_control.services.whitecell.report import build
    from range_control.services.whitecell.report.render import html

    kind = request.args.get("format", "html")
    if kind not in ("html", "json"):
        abort(404)
    team = (request.args.get("team") or "").strip()[:100] or None
    doc = build(ctx(), team=team, anonymise=request.args.get("anonymise") == "1")
    body = html(doc) if kind == "html" else json.dumps(doc, ensure_ascii=False, indent=1)
    who = "-" + slugify(doc["event"]["team"]) if doc["event"]["team"] else ""  # [a-z0-9-] only
    name = f"after-action-{ctx().event_slug}{who}.{kind}"
    return Response(
        body,
        mimetype="text/html" if kind == "html" else "application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/tokens")
@organiser_required
def tokens_page(new: Any = None) -> Response:
    """Personal organiser API tokens: create (shown once), see their last use, revoke."""
    body = render_template("console/tokens.html", tokens=api_tokens.list_tokens(ctx()), new=new)
    return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")


@bp.post("/tokens")
@organiser_required
def create_token() -> Response:
    with flash_errors():
        new = api_tokens.create(
            ctx(), request.form.get("name", "")[:200], request.form.get("scope", "")[:20], g.actor
        )
        flash(gettext("Token created."), "ok")
        return tokens_page(new)
    return redirect(url_for("console.tokens_page"))


@bp.post(f"/tokens/<{ID}:token_id>/revoke")
@organiser_required
def revoke_token(token_id: int) -> Response:
    with flash_errors():
        api_tokens.revoke(ctx(), token_id, g.actor)
        flash(gettext("Token revoked."), "ok")
    return redirect(url_for("console.tokens_page"))


@bp.route("/security", methods=["GET", "POST"])
@organiser_required
def security() -> Response | str:
    """A person's second factor (the organiser token has none)."""
    return second_factor_page(g.account, "console")


@bp.post("/security/end-session")
@organiser_required
def end_session() -> Response:
    return end_session_action(g.account, "console")
