"""The event's controls, the environments, announcements and awards."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    flash,
    g,
    request,
)
from werkzeug.wrappers import Response

from range_control.core.errors import InvalidInput
from range_control.core.languages import languages
from range_control.core.permissions import Permission
from range_control.services.environments import instances
from range_control.services.event import announcements, controls
from range_control.services.organiser import awards
from range_control.web.common import whole
from range_control.web.i18n import gettext, label, ngettext
from range_control.web.pages.common import (
    ctx,
    flash_errors,
)
from range_control.web.pages.console import _back, bp, page

CONTROLS = {
    "start": controls.start,
    "pause": controls.pause,
    "resume": controls.resume,
    "skip": controls.skip,
    "end": controls.end,
}


@bp.post("/event/<action>")
@page(Permission.CHANGE)
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
@page(Permission.CHANGE)
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


@bp.post("/announcements")
@page(Permission.CHANGE)
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
@page(Permission.CHANGE)
def add_award() -> Response:
    with flash_errors():
        value = whole(request.form.get("value"), "value", -1_000_000, 1_000_000)
        awards.add_award(
            ctx(), request.form.get("team", ""), value, request.form.get("reason", ""), g.actor
        )
        flash(gettext("Award given."), "ok")
    return _back()
