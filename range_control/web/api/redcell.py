"""The red cell's routes: its targets and log, an action declared (a red cell member's token);
the organisers' view of the red log."""

from __future__ import annotations

from flask import g
from pydantic import RootModel

from range_control.core.actors import person_id
from range_control.core.permissions import Permission
from range_control.services.redcell import actions, plants
from range_control.specs.api.base import VIEW
from range_control.specs.api.defence import (
    RedActionIn,
    RedActionOut,
    RedCellOut,
    RedPlantIn,
    RedPlantOut,
)
from range_control.web.api import get, ok, parse, post
from range_control.web.common import ctx


class RedActionList(RootModel[list[RedActionOut]]):
    model_config = VIEW


@get("/red", Permission.RED_CELL, out=RedCellOut)
def red_cell():
    """The red cell's targets (every team's defended services at their game addresses), its
    log (declared actions and the commands observed on its jumpbox), newest first, and for a
    signed-in member of the red cell their own login on its jumpbox."""
    return ok(RedCellOut, actions.cell(ctx(), person_id(g.actor)))


@post(
    "/red/actions",
    Permission.RED_CELL,
    out=RedActionOut,
    status=201,
    json=RedActionIn,
    errors=(400, 404),
)
def red_declare():
    """Declare an action: who (the caller), when, target team and service, technique (a MITRE
    ATT&CK id), outcome, what was done. Audited; never shown to teams."""
    body = parse(RedActionIn)
    return ok(RedActionOut, actions.declare(ctx(), body, g.actor), 201)


@post(
    "/red/plants",
    Permission.RED_CELL,
    out=RedPlantOut,
    status=201,
    json=RedPlantIn,
    errors=(400, 404, 409),
)
def red_plant():
    """Record a plant: the token to leave in the team's service (it proves the compromise; the
    team loses the defence's plant_cost), and its action in the red log. Audited."""
    body = parse(RedPlantIn)
    return ok(RedPlantOut, plants.plant(ctx(), body, g.actor), 201)


@get("/admin/red/actions", Permission.LOOK, out=RedActionList)
def admin_red_actions():
    """The red cell's log, newest first (the white cell's ground truth)."""
    return ok(RedActionList, actions.actions(ctx()))
