"""The red cell's own console page: its targets (every team's defended services at their game
addresses), the form that declares an action, and its log."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from range_control.core.actors import person_id
from range_control.core.permissions import Permission
from range_control.services.redcell import actions, plants
from range_control.specs.api.defence import OUTCOMES, RedActionIn, RedPlantIn
from range_control.specs.files import checked
from range_control.web.i18n import gettext
from range_control.web.pages.common import ctx, flash_errors
from range_control.web.pages.console import bp, page


@bp.get("/red")
@page(Permission.RED_CELL)
def red_page() -> str:
    cell = actions.cell(ctx(), person_id(g.actor))
    return render_template("console/red.html", cell=cell, outcomes=OUTCOMES)


@bp.post("/red")
@page(Permission.RED_CELL)
def red_declare() -> Response:
    with flash_errors():
        form = request.form
        body = checked(
            RedActionIn,
            team=form.get("team", "")[:100],
            service=form.get("service", "")[:100] or None,
            technique=form.get("technique", "").strip().upper()[:16],
            outcome=form.get("outcome", ""),
            summary=form.get("summary", "")[:2000],
        )
        done = actions.declare(ctx(), body, g.actor)
        flash(gettext("Action %(id)d recorded against %(team)s.", id=done.id, team=done.team), "ok")
    return redirect(url_for("console.red_page"))


@bp.post("/red/plants")
@page(Permission.RED_CELL)
def red_plant() -> Response:
    with flash_errors():
        form = request.form
        body = checked(
            RedPlantIn,
            team=form.get("team", "")[:100],
            service=form.get("service", "")[:100],
            where=form.get("where", "")[:500],
            technique=form.get("technique", "").strip().upper()[:16],
        )
        done = plants.plant(ctx(), body, g.actor)
        flash(
            gettext(
                "Plant %(id)d recorded in %(team)s's %(service)s: leave %(token)s there.",
                id=done.id,
                team=done.team,
                service=done.service,
                token=done.token,
            ),
            "ok",
        )
    return redirect(url_for("console.red_page"))
