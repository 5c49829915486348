"""The team's defended services: each one's verdicts with the checker's public messages, how
to reach it and the team's shell in it, the next tick, the reset to the baseline and the
unscored "check my service now"."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from range_control.core.permissions import Permission
from range_control.services.defence import actions, views
from range_control.services.defence.submit import submissions
from range_control.web.i18n import gettext
from range_control.web.pages.common import ctx, flash_errors
from range_control.web.pages.portal import bp, page

FORM_FLAGS = 200  # flags one form sends (the API and the TCP door take more)


@bp.get("/defence")
@page(Permission.PLAY)
def defence() -> str:
    mine = views.team_view(ctx(), g.team.id)
    if mine is None:
        abort(404)
    return render_template("portal/defence.html", d=mine, answers=None)


@bp.post("/defence/flags")
@page(Permission.PLAY)
def submit_flags() -> str:
    """The portal's door: flags pasted one per line (or separated by spaces), answered on the
    page by the same logic as the TCP and HTTP doors."""
    mine = views.team_view(ctx(), g.team.id)
    if mine is None:
        abort(404)
    text = (request.form.get("flags") or "")[: FORM_FLAGS * 120]
    flags = text.split()[:FORM_FLAGS]
    got = submissions(ctx()).submit(g.team.id, flags, "portal", request.remote_addr or "")
    return render_template("portal/defence.html", d=mine, answers=got)


@bp.post("/defence/<slug>/reset")
@page(Permission.PLAY)
def reset_service(slug: str) -> Response:
    with flash_errors():
        cost = actions.reset(ctx(), g.team.id, slug[:100], g.actor)
        flash(
            gettext(
                "%(slug)s goes back to its baseline within seconds (it costs %(cost)d points).",
                slug=slug[:100],
                cost=cost,
            ),
            "ok",
        )
    return redirect(url_for("portal.defence"))


@bp.post("/defence/<slug>/check")
@page(Permission.PLAY)
def check_service(slug: str) -> Response:
    with flash_errors():
        actions.check_now(ctx(), g.team.id, slug[:100], g.actor)
        flash(gettext("The check runs within seconds: reload this page for its answer."), "ok")
    return redirect(url_for("portal.defence"))
