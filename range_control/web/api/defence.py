"""Defence routes: the public grid of verdicts, and a team's defended services (Bearer team
token): their verdicts, a reset to the baseline, an unscored check now."""

from __future__ import annotations

from flask import g, request

from range_control.core.errors import InvalidInput, NotFound
from range_control.core.permissions import Permission
from range_control.services.defence import actions, views
from range_control.services.defence.submit import submissions
from range_control.specs.api.defence import (
    AttackDataOut,
    CapturesIn,
    CapturesOut,
    FlagAnswerOut,
    ForcadAnswerOut,
    ForcadAnswers,
    GridOut,
    QueuedOut,
    TeamDefenceOut,
)
from range_control.web.api import get, ok, parse, post, put
from range_control.web.common import ctx

NO_DEFENCE = "this event has no defence (the scenario has no defence block)"


@get("/defence/grid", Permission.PUBLIC, out=GridOut, errors=(404,))
def defence_grid():
    """Every team's defended services: the latest tick's verdict and the ones before it, with
    the checkers' public messages (the freeze holds back what came after it)."""
    out = views.grid(ctx())
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(GridOut, out)


@get("/defence", Permission.PLAY, out=TeamDefenceOut, errors=(404,))
def my_defence():
    """Our defended services: their verdicts, how to reach them, our shell, the next tick."""
    out = views.team_view(ctx(), g.team.id)
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(TeamDefenceOut, out)


@post("/defence/<slug>/reset", Permission.PLAY, out=QueuedOut, status=202, errors=(404, 409))
def reset_my_service(slug: str):
    """Our copy back to its baseline (fresh containers, its data afresh): it costs the
    scenario's reset cost; the reconciler does it within seconds."""
    cost = actions.reset(ctx(), g.team.id, slug[:100], g.actor)
    return ok(QueuedOut, QueuedOut(id=0, message=f"reset asked: it costs {cost} points"), 202)


@post("/defence/<slug>/check", Permission.PLAY, out=QueuedOut, status=202, errors=(404, 409, 429))
def check_my_service(slug: str):
    """An unscored check of our copy now (rate limited per hour): its answer shows in
    ``GET /defence`` within seconds."""
    probe = actions.check_now(ctx(), g.team.id, slug[:100], g.actor)
    return ok(QueuedOut, QueuedOut(id=probe, message="the check runs within seconds"), 202)


FORCAD_MOST = 100  # flags in one PUT, as ForcAD's receiver takes


@get("/attack-data", Permission.PUBLIC, out=AttackDataOut, errors=(404,))
def attack_data():
    """Per defended service, team and valid tick, the public data each placed flag came with
    (ForcAD's ``attack_data``, EnoEngine's ``attack.json``): never a flag or a private id."""
    out = views.attack_data(ctx())
    if out is None:
        raise NotFound(NO_DEFENCE)
    return ok(AttackDataOut, out)


@post("/captures", Permission.PLAY, json=CapturesIn, out=CapturesOut, errors=(400,))
def submit_captures():
    """Submit captured flags: one answer per flag, in order (``OK``, ``DUP``, ``OWN``,
    ``OLD``, ``INV``, ``ERR``); the captures are stored before the answer."""
    body = parse(CapturesIn)
    got = submissions(ctx()).submit(g.team.id, body.flags, "http", request.remote_addr or "")
    return ok(CapturesOut, CapturesOut(answers=[FlagAnswerOut.model_validate(a) for a in got]))


@put("/flags", Permission.PLAY, out=ForcadAnswers, errors=(400,))
def submit_forcad():
    """ForcAD's HTTP door, as its receiver speaks it: ``PUT`` a JSON array of at most 100
    flags with the team's token (``X-Team-Token`` or Bearer); one ``{flag, msg, status}``
    per flag (``msg``: "<flag> <CODE> <words>")."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, list) or not all(isinstance(f, str) for f in data):
        raise InvalidInput("request body must be a JSON array of flags (strings)")
    if not 1 <= len(data) <= FORCAD_MOST:
        raise InvalidInput("between 1 and {most} flags in one request", most=FORCAD_MOST)
    got = submissions(ctx()).submit(g.team.id, data, "http", request.remote_addr or "")
    return ok(
        ForcadAnswers,
        [ForcadAnswerOut(flag=a.flag, msg=a.line(), status=str(a.code)) for a in got],
    )
