"""The catalog: every challenge with its state and solves, visibility, solutions."""

from __future__ import annotations

from flask import g

from range_control.core.permissions import Permission
from range_control.services.catalog.sync import set_visibility
from range_control.services.organiser import records
from range_control.specs.api.organiser import (
    AdminChallengeList,
    SolutionOut,
    VisibilityIn,
)
from range_control.web.api import get, ok, parse, post
from range_control.web.common import ctx


# --- challenges ---------------------------------------------------------------------------
@get("/admin/challenges", Permission.LOOK, out=AdminChallengeList)
def admin_list_challenges():
    """Every challenge with its state, solves and the organiser override."""
    return ok(AdminChallengeList, records.list_challenges(ctx()))


@post(
    "/admin/challenges/<slug>/visibility",
    Permission.CHANGE,
    out=AdminChallengeList,
    json=VisibilityIn,
    errors=(404,),
)
def admin_set_visibility(slug: str):
    """Hide or show a challenge (null returns to what challenge.yml says)."""
    body = parse(VisibilityIn)
    set_visibility(ctx(), slug[:100], body.visible, g.actor)
    return ok(AdminChallengeList, [c for c in records.list_challenges(ctx()) if c.slug == slug])


@get("/admin/challenges/<slug>/solution", Permission.LOOK, out=SolutionOut, errors=(404,))
def admin_solution(slug: str):
    """The challenge's write-up (challenge.yml's solution), with the state its author gave."""
    return ok(SolutionOut, records.solution(ctx(), slug[:100]))
