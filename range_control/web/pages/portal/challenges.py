"""Challenges by phase and category, a challenge's page (sanitised description, attachments, hints,
the flag form, the team's own instance, a graded task's deliverable), the team's attempts and
the announcements."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from range_control.core.errors import (
    EventNotRunning,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    RateLimited,
)
from range_control.core.languages import Localized
from range_control.core.permissions import Permission
from range_control.services.catalog import sync
from range_control.services.environments import instances
from range_control.services.event import announcements, scenario
from range_control.services.organiser import records
from range_control.services.play import attempts, hints, portal, scoreboard
from range_control.services.play import challenges as play
from range_control.services.whitecell import submissions, tasks
from range_control.specs.api.play import ChallengeSummary, LedgerOut
from range_control.web.common import ID
from range_control.web.i18n import current_language, gettext, message, ngettext, tr
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.portal import bp, page, signed_in


@bp.get("/")
@page(Permission.PLAY)
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
@page(Permission.PLAY)
def challenge(slug: str) -> str:
    page = portal.challenge_page(ctx(), g.team.id, slug[:100])
    g.where = page.where  # the banner's, read with the page
    return render_template(
        "portal/challenge.html",
        c=page.detail,
        instance=page.instance,
        task=page.task,
        now=ctx().clock.now(),
    )


# A deliverable's form may be larger than RANGE_MAX_BODY_BYTES: up to the largest upload a
# task may allow (nginx lets this much through on this route only).
UPLOAD_CEILING = 51 * 1024 * 1024


def upload_limit() -> None:
    """Before every other hook (the CSRF check and the input check read the form): the body
    limit is raised only for a signed-in team (its session checked) sending to a graded task
    that it can see and that takes files, and only to that task's own limit plus the normal
    one (the text and the form around the file). Anyone else gets the normal limit, so no
    worker reads a large body from an anonymous client."""
    if request.endpoint != "portal.submit_task":
        return
    if not signed_in():
        return
    slug = str((request.view_args or {}).get("slug", ""))[:100]
    most = submissions.upload_allowance(ctx(), slug)
    if most is not None:
        normal = current_app.config["MAX_CONTENT_LENGTH"]
        request.max_content_length = min(UPLOAD_CEILING, most + normal)


@bp.post("/challenges/<slug>/submission")
@page(Permission.PLAY)
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
@page(Permission.PLAY)
def submission_file(slug: str, version: int) -> Response:
    """One of our own versions' file (never another team's: the team is the session's)."""
    path, name, _kind = submissions.submission_file(ctx(), slug[:100], version, g.team.id)
    return send_file(path, as_attachment=True, download_name=name)


@bp.post("/challenges/<slug>/attempt")
@page(Permission.PLAY)
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
@page(Permission.PLAY)
def unlock_hint(slug: str, hint_id: int) -> Response:
    if request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm the hint's cost."), "error")
    else:
        with flash_errors():
            hints.unlock(ctx(), g.team.id, hint_id, g.account.id if g.account else None)
            flash(gettext("Hint unlocked."), "ok")
    return redirect(url_for("portal.challenge", slug=slug))


@bp.get("/challenges/<slug>/files/<name>")
@page(Permission.PLAY)
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
@page(Permission.PLAY)
def instance_action(slug: str) -> Response:
    action = request.form.get("action", "")
    with flash_errors():
        if action in ("start", "reset"):
            instances.request_instance(ctx(), g.team.id, slug[:100], g.actor)
            if action == "start":
                flash(gettext("Instance starting: fresh containers in a few seconds."), "ok")
            else:
                flash(gettext("Instance reset: fresh containers in a few seconds."), "ok")
        elif action == "stop":
            instances.stop_instance(ctx(), g.team.id, slug[:100], g.actor)
            flash(gettext("Instance stopped."), "ok")
        elif action == "extend":
            instances.extend_instance(ctx(), g.team.id, slug[:100], g.actor)
            flash(gettext("Instance extended."), "ok")
        else:
            flash(gettext("Unknown action."), "error")
    return redirect(url_for("portal.challenge", slug=slug))


@bp.get("/attempts")
@page(Permission.PLAY)
def my_attempts() -> str:
    rows = records.list_attempts(ctx(), records.AttemptFilter(team=g.team.name, limit=200))
    return render_template("portal/attempts.html", rows=rows)


@bp.get("/announcements", endpoint="announcements")
@page(Permission.PLAY)
def announcements_page() -> str:
    return render_template("portal/announcements.html", items=announcements.recent(ctx(), 100))
