"""The team portal: login with the team token, challenges by phase and category, a challenge
page (sanitised description, attachments, hints, flag form, the team's own instance), the
team's attempts and the announcements. Every view acts for the session's team only: no URL
names a team, so no team can reach another's instance, attempts or hints."""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import segno
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
from markupsafe import Markup
from werkzeug.wrappers import Response

from range_control.core.errors import (
    EventNotRunning,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    RateLimited,
    Unauthorized,
)
from range_control.core.languages import Localized
from range_control.services.catalog import sync
from range_control.services.environments import instances, team_access
from range_control.services.event import announcements, event, scenario
from range_control.services.organiser import records
from range_control.services.people import accounts, sessions, teams
from range_control.services.play import attempts, hints, scoreboard
from range_control.services.play import challenges as play
from range_control.services.whitecell import submissions, tasks
from range_control.specs.api.play import ChallengeSummary, LedgerOut
from range_control.web.api import ID
from range_control.web.i18n import current_language, gettext, message, ngettext, tr
from range_control.web.pages.common import (
    KIND,
    SID,
    begin_session,
    ctx,
    end_session_action,
    flash_errors,
    local_path,
    login_limiter,
    person_login,
    second_factor_page,
    too_many,
)

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.context_processor
def _banner() -> dict[str, Any]:
    """Team pages show the event banner: a pause, the phase and the countdown, everywhere."""
    if getattr(g, "team", None) is None:
        return {}
    w = scenario.where(ctx())
    phase = w.at.phase if w.at is not None else None
    return {
        "banner": {
            "ev": w.view,
            "phase_title": phase.title if phase else None,
            "phase_translations": scenario.phase_translations(w),
            "next_at": w.at.next_at if w.at is not None else None,
        },
        "now": ctx().clock.now(),
    }


def team_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sid, kind = session.get(SID), session.get(KIND)
        if not sid or kind not in (sessions.TEAM, sessions.PERSON):
            return redirect(url_for("portal.login", next=request.path))
        try:
            if kind == sessions.PERSON:  # a member: the team is the account's, now
                g.account = sessions.person_of(ctx(), sid)
                if g.account.role not in accounts.TEAM_ROLES:
                    raise Unauthorized(
                        "your account signs in to the organiser console, not the portal"
                    )
                g.team = sessions.team_of_account(ctx(), g.account)
                if request.endpoint != "portal.security" and accounts.must_enrol(ctx(), g.account):
                    flash(
                        gettext("Your role needs a second factor: add it before going on."), "info"
                    )
                    return redirect(url_for("portal.security"))
            else:
                g.account = None
                g.team = sessions.team_of(ctx(), sid)
        except Unauthorized as exc:
            session.clear()
            flash(message(exc), "error")
            return redirect(url_for("portal.login"))
        g.event = event.current(ctx())
        return fn(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    """Only a path of the portal itself: no other host, no scheme, nothing a header cannot hold."""
    return local_path(target, "/portal/", 300) or url_for("portal.challenges")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("portal/login.html", next=request.args.get("next", ""))
    if "login" in request.form:  # a member, with an account
        refused = person_login("portal", "portal/login.html", next="")
        if refused is not None:
            return refused
        flash(gettext("Logged in."), "ok")
        return redirect(_safe_next(request.form.get("next")))
    token = request.form.get("token", "").strip()
    wait = login_limiter().wait("team-login", request.remote_addr, token)
    if wait is not None:
        return too_many("portal/login.html", wait, next="")
    try:
        sid, team = sessions.open_team(ctx(), token)
    except Unauthorized as exc:
        login_limiter().failed("team-login", request.remote_addr, token)
        flash(message(exc), "error")
        return render_template("portal/login.html", next=request.form.get("next", "")), 401
    begin_session(sid, sessions.TEAM)
    flash(gettext("Logged in as %(team)s.", team=team.name), "ok")
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    sessions.close(ctx(), session.get(SID, ""))
    session.clear()
    flash(gettext("Logged out."), "ok")
    return redirect(url_for("portal.login"))


@bp.get("/")
@team_required
def challenges() -> str:
    items = play.team_challenges(ctx(), g.team.id)
    by_slug = {c.slug: c for c in items}
    groups: list[tuple[Localized, OrderedDict[str, list[ChallengeSummary]]]] = []
    placed: set[str] = set()
    for phase in scenario.spec_phases(ctx()):
        mine = [by_slug[s] for s in phase.challenges if s in by_slug and s not in placed]
        if mine:
            groups.append((tr(phase.title, phase.translations, "title"), _by_category(mine)))
            placed.update(c.slug for c in mine)
    rest = [c for c in items if c.slug not in placed]
    if rest:
        title = gettext("Open challenges") if groups else gettext("Challenges")
        groups.append((Localized(title, current_language()), _by_category(rest)))
    return render_template("portal/challenges.html", groups=groups, standing=_standing())


def _by_category(items: list[ChallengeSummary]) -> OrderedDict[str, list[ChallengeSummary]]:
    out: OrderedDict[str, list[ChallengeSummary]] = OrderedDict()
    for c in sorted(items, key=lambda c: (c.category, c.value, c.name)):
        out.setdefault(c.category, []).append(c)
    return out


def _standing() -> LedgerOut | None:
    try:
        return scoreboard.ledger(ctx(), g.team.id, public=True)
    except NotFound:
        return None


@bp.get("/challenges/<slug>")
@team_required
def challenge(slug: str) -> str:
    detail = play.challenge_detail(ctx(), g.team.id, slug[:100])
    instance = None
    if detail.environment == "available" and not detail.locked:
        instance = instances.instance_info(ctx(), g.team.id, detail.slug)
    task = None
    if detail.kind == "task" and not detail.locked:
        task = tasks.team_view(ctx(), g.team.id, detail.slug)
    return render_template(
        "portal/challenge.html", c=detail, instance=instance, task=task, now=ctx().clock.now()
    )


# A deliverable's form may be larger than RANGE_MAX_BODY_BYTES: up to the largest upload a
# task may allow (the task's own limit is checked by the service, with a clear refusal).
UPLOAD_CEILING = 51 * 1024 * 1024


def upload_limit() -> None:
    """Before every other hook (the CSRF check and the input check read the form)."""
    if request.endpoint == "portal.submit_task":
        request.max_content_length = UPLOAD_CEILING


@bp.post("/challenges/<slug>/submission")
@team_required
def submit_task(slug: str) -> Response:
    """A new version of the team's deliverable: text, a file, or both."""
    f = request.files.get("file")
    upload = tasks.Upload(f.filename or "", f.read()) if f is not None and f.filename else None
    with flash_errors():
        by = g.account.id if g.account is not None else None
        sent = submissions.submit(
            ctx(), g.team.id, slug[:100], request.form.get("text"), upload, by
        )
        if sent.late:
            flash(
                gettext(
                    "Version %(version)d received, after the due time: the task's late "
                    "rule applies.",
                    version=sent.version,
                ),
                "info",
            )
        else:
            flash(gettext("Version %(version)d received.", version=sent.version), "ok")
    return redirect(url_for("portal.challenge", slug=slug))


@bp.get(f"/challenges/<slug>/submissions/<{ID}:version>/file")
@team_required
def submission_file(slug: str, version: int) -> Response:
    """One of our own versions' file (never another team's: the team is the session's)."""
    path, name, _kind = submissions.submission_file(ctx(), slug[:100], version, g.team.id)
    return send_file(path, as_attachment=True, download_name=name)


@bp.post("/challenges/<slug>/attempt")
@team_required
def attempt(slug: str) -> Response:
    flag = request.form.get("flag", "")
    try:
        by = g.account.id if g.account is not None else None
        result = attempts.submit(
            ctx(), g.team.id, slug[:100], flag.strip(), request.remote_addr, account_id=by
        )
    except RateLimited as exc:
        flash(gettext("Slow down: %(reason)s.", reason=message(exc)), "error")
    except EventNotRunning as exc:
        flash(gettext("Not now: %(reason)s.", reason=message(exc)), "error")
    except (Locked, Forbidden, InvalidInput) as exc:
        flash(message(exc), "error")
    else:
        if result.status == "correct":
            flash(
                ngettext("Correct! +%(num)d point.", "Correct! +%(num)d points.", result.points),
                "ok",
            )
        elif result.status == "already_solved":
            flash(gettext("Already solved by your team."), "info")
        elif result.status == "partial":
            flash(gettext("Right, and more flags are needed to solve this challenge."), "ok")
        elif result.attempts_left is None:
            flash(gettext("Incorrect flag."), "error")
        else:
            flash(
                ngettext(
                    "Incorrect flag (%(num)d attempt left).",
                    "Incorrect flag (%(num)d attempts left).",
                    result.attempts_left,
                ),
                "error",
            )
    return redirect(url_for("portal.challenge", slug=slug))


@bp.post(f"/challenges/<slug>/hints/<{ID}:hint_id>")
@team_required
def unlock_hint(slug: str, hint_id: int) -> Response:
    if request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm the hint's cost."), "error")
    else:
        with flash_errors():
            hints.unlock(ctx(), g.team.id, hint_id, g.account.id if g.account else None)
            flash(gettext("Hint unlocked."), "ok")
    return redirect(url_for("portal.challenge", slug=slug))


@bp.get("/challenges/<slug>/files/<name>")
@team_required
def attachment(slug: str, name: str) -> Response:
    """Only a file the challenge lists, by its exact name: nothing else can be reached."""
    detail = play.challenge_detail(ctx(), g.team.id, slug[:100])  # visible to this team
    if detail.locked:
        abort(404)
    path: Path | None = sync.attachment(ctx(), detail.slug, name)
    if path is None:
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.post("/challenges/<slug>/instance")
@team_required
def instance_action(slug: str) -> Response:
    action = request.form.get("action", "")
    with flash_errors():
        if action in ("start", "reset"):
            instances.request_instance(ctx(), g.team.id, slug[:100], _actor())
            if action == "start":
                flash(gettext("Instance starting: fresh containers in a few seconds."), "ok")
            else:
                flash(gettext("Instance reset: fresh containers in a few seconds."), "ok")
        elif action == "stop":
            instances.stop_instance(ctx(), g.team.id, slug[:100], _actor())
            flash(gettext("Instance stopped."), "ok")
        elif action == "extend":
            instances.extend_instance(ctx(), g.team.id, slug[:100], _actor())
            flash(gettext("Instance extended."), "ok")
        else:
            flash(gettext("Unknown action."), "error")
    return redirect(url_for("portal.challenge", slug=slug))


@bp.get("/attempts")
@team_required
def my_attempts() -> str:
    rows = records.list_attempts(ctx(), records.AttemptFilter(team=g.team.name, limit=200))
    return render_template("portal/attempts.html", rows=rows)


@bp.get("/announcements", endpoint="announcements")
@team_required
def announcements_page() -> str:
    return render_template("portal/announcements.html", items=announcements.recent(ctx(), 100))


# --- how we reach our targets --------------------------------------------------------------
@bp.get("/access")
@team_required
def access() -> str:
    team_id = g.team.id
    return render_template(
        "portal/access.html",
        jumpbox=instances.team_jumpbox(ctx(), team_id),
        access=team_access.team_access(ctx(), team_id),
    )


def _back_to_access() -> Response:
    return redirect(url_for("portal.access"))


def _actor() -> str:
    """The person, when one signed in; else the team's token (a machine)."""
    return accounts.actor(g.account) if g.account is not None else teams.machine_actor(g.team.name)


@bp.post("/access/ssh-keys")
@team_required
def add_ssh_key() -> Response:
    with flash_errors():
        key = team_access.add_ssh_key(
            ctx(),
            g.team.id,
            request.form.get("label", ""),
            request.form.get("public_key", ""),
            _actor(),
        )
        flash(
            gettext(
                "Key %(fingerprint)s added: it works on your jumpbox within seconds.",
                fingerprint=key.fingerprint,
            ),
            "ok",
        )
    return _back_to_access()


@bp.post(f"/access/ssh-keys/<{ID}:key_id>/remove")
@team_required
def remove_ssh_key(key_id: int) -> Response:
    with flash_errors():
        team_access.remove_ssh_key(ctx(), g.team.id, key_id, _actor())
        flash(gettext("Key removed."), "ok")
    return _back_to_access()


@bp.post("/access/wireguard")
@team_required
def add_peer() -> Response:
    """The new device's configuration in this answer only (its private key is nowhere else)."""
    with flash_errors():
        new = team_access.add_peer(ctx(), g.team.id, request.form.get("label", ""), _actor())
        body = render_template(
            "portal/wireguard_new.html",
            new=new,
            qr=_qr_svg(new.config),
            download=_data_uri(new.config),
        )
        return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")
    return _back_to_access()


@bp.post(f"/access/wireguard/<{ID}:peer_id>/revoke")
@team_required
def revoke_peer(peer_id: int) -> Response:
    with flash_errors():
        team_access.revoke_peer(ctx(), peer_id, _actor(), team_id=g.team.id)
        flash(gettext("Device revoked: it cannot connect any more."), "ok")
    return _back_to_access()


def _qr_svg(text: str) -> Markup:
    """The configuration as a QR code for the WireGuard mobile apps, inline SVG (no request
    leaves the page, the code exists only in this answer)."""
    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=3, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # noqa: S704 - segno's own SVG of our text, no markup of a user's


def _data_uri(text: str) -> str:
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()


# --- the team's people ----------------------------------------------------------------------
@bp.get("/team")
@team_required
def team_page() -> str:
    return render_template("portal/team.html", people=accounts.list_accounts(ctx(), g.team.id))


def _captain() -> Any:
    if g.account is None or g.account.role != "captain":
        abort(403)
    return g.account


@bp.post("/team/invite")
@team_required
def invite_member() -> Response:
    """The captain adds a member: the invite link is in this answer only."""
    captain = _captain()
    with flash_errors():
        new = accounts.invite_member(
            ctx(),
            captain,
            request.form.get("name", ""),
            request.form.get("email") or None,
            request.form.get("callsign") or None,
        )
        body = render_template("portal/invited.html", new=new)
        return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")
    return redirect(url_for("portal.team_page"))


@bp.post(f"/team/<{ID}:account_id>/remove")
@team_required
def remove_member(account_id: int) -> Response:
    captain = _captain()
    with flash_errors():
        gone = accounts.remove_member(ctx(), captain, account_id)
        flash(gettext("%(name)s is no longer in the team.", name=gone.name), "ok")
    return redirect(url_for("portal.team_page"))


@bp.route("/security", methods=["GET", "POST"])
@team_required
def security() -> Response:
    """A member's second factor (the team token has none)."""
    return second_factor_page(g.account, "portal")


@bp.post("/security/end-session")
@team_required
def end_session() -> Response:
    return end_session_action(g.account, "portal")
