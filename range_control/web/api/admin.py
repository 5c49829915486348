"""Organiser routes under ``/api/v1/admin`` (Bearer organiser token; team tokens are refused)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request, stream_with_context
from spectree import Response as Doc

from range_control.core.errors import InvalidInput, NotFound
from range_control.services.audit import audit_log
from range_control.services.catalog.sync import set_visibility
from range_control.services.environments import instances, team_access
from range_control.services.event import announcements, controls, event, scenario
from range_control.services.organiser import awards, records
from range_control.services.people import accounts, api_tokens, teams
from range_control.services.play import scoreboard
from range_control.services.whitecell import grading, publication, tasks
from range_control.specs.api.base import ErrorOut
from range_control.specs.api.environments import EnvChangeOut, EnvList, EnvSelectionIn, GatewaysOut
from range_control.specs.api.event import (
    AnnouncementIn,
    AnnouncementOut,
    AuditList,
    EventOut,
    EventPatch,
    ExtendIn,
    ScenarioOut,
)
from range_control.specs.api.organiser import (
    AdminChallengeList,
    AttemptList,
    AttemptQuery,
    AwardIn,
    AwardList,
    AwardOut,
    SharingAlertList,
    SolutionOut,
    VisibilityIn,
)
from range_control.specs.api.people import (
    AccountIn,
    AccountList,
    AccountOut,
    ApiTokenIn,
    ApiTokenList,
    ApiTokenOut,
    InvitedOut,
    NewApiTokenOut,
    TeamIn,
    TeamList,
    TeamOut,
    TeamTokenOut,
)
from range_control.specs.api.play import ScoreboardOut
from range_control.specs.api.whitecell import (
    GradeCardOut,
    GradeIn,
    QueueList,
    TaskSummaryList,
    TaskSummaryOut,
)
from range_control.specs.scenario import ScenarioSpec, parse_duration
from range_control.web.api import ID, admin_required, bp, ctx, ok, parse, spec

ORG = {"organiser": []}


def _doc(model, **extra):
    return spec.validate(
        resp=Doc(HTTP_200=model, HTTP_401=ErrorOut, HTTP_403=ErrorOut, **extra),
        tags=["organiser"],
        security=ORG,
        skip_validation=True,
        **({"json": extra.pop("json_body")} if "json_body" in extra else {}),
    )


# --- teams --------------------------------------------------------------------------------
@bp.get("/admin/teams")
@_doc(TeamList)
@admin_required
def admin_list_teams():
    """All teams, enabled or not."""
    return ok(TeamList, teams.list_teams(ctx()))


@bp.post("/admin/teams")
@spec.validate(
    json=TeamIn,
    resp=Doc(HTTP_201=TeamTokenOut, HTTP_400=ErrorOut, HTTP_409=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_add_team():
    """Add a team; the answer holds its token, shown this once."""
    body = parse(TeamIn)
    return ok(TeamTokenOut, teams.add_team(ctx(), body.name, body.country, actor=g.actor), 201)


@bp.post("/admin/teams/<ref>/disable")
@_doc(TeamOut, HTTP_404=ErrorOut)
@admin_required
def admin_disable_team(ref: str):
    """Disable a team (its token stops working; it leaves the scoreboard)."""
    return ok(TeamOut, teams.set_disabled(ctx(), ref[:100], True, g.actor))


@bp.post("/admin/teams/<ref>/enable")
@_doc(TeamOut, HTTP_404=ErrorOut)
@admin_required
def admin_enable_team(ref: str):
    """Enable a disabled team again."""
    return ok(TeamOut, teams.set_disabled(ctx(), ref[:100], False, g.actor))


@bp.post("/admin/teams/<ref>/rotate-token")
@_doc(TeamTokenOut, HTTP_404=ErrorOut)
@admin_required
def admin_rotate_token(ref: str):
    """Issue a new token; the old one stops working at once."""
    return ok(TeamTokenOut, teams.rotate_token(ctx(), ref[:100], g.actor))


# --- challenges ---------------------------------------------------------------------------
@bp.get("/admin/challenges")
@_doc(AdminChallengeList)
@admin_required
def admin_list_challenges():
    """Every challenge with its state, solves and the organiser override."""
    return ok(AdminChallengeList, records.list_challenges(ctx()))


@bp.post("/admin/challenges/<slug>/visibility")
@spec.validate(
    json=VisibilityIn,
    resp=Doc(HTTP_200=AdminChallengeList, HTTP_404=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_set_visibility(slug: str):
    """Hide or show a challenge (null returns to what challenge.yml says)."""
    body = parse(VisibilityIn)
    set_visibility(ctx(), slug[:100], body.visible, g.actor)
    return ok(AdminChallengeList, [c for c in records.list_challenges(ctx()) if c.slug == slug])


@bp.get("/admin/challenges/<slug>/solution")
@_doc(SolutionOut, HTTP_404=ErrorOut)
@admin_required
def admin_solution(slug: str):
    """The challenge's write-up (challenge.yml's solution), with the state its author gave."""
    return ok(SolutionOut, records.solution(ctx(), slug[:100]))


# --- attempts, alerts, awards -------------------------------------------------------------
def _attempt_filter() -> records.AttemptFilter:
    q = parse(AttemptQuery, dict(request.args))
    return records.AttemptFilter(**q.model_dump())


@bp.get("/admin/attempts")
@spec.validate(
    query=AttemptQuery,
    resp=Doc(HTTP_200=AttemptList, HTTP_400=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_list_attempts():
    """Attempts, newest first, filtered by team, challenge, result and time; paged by before_id."""
    return ok(AttemptList, records.list_attempts(ctx(), _attempt_filter()))


@bp.get("/admin/attempts.csv")
@spec.validate(query=AttemptQuery, tags=["organiser"], security=ORG, skip_validation=True)
@admin_required
def admin_attempts_csv():
    """Every matching attempt as CSV (no page limit): the after-action record."""
    f = _attempt_filter()
    return Response(
        stream_with_context(records.attempts_csv(ctx(), f)),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=attempts.csv"},
    )


@bp.get("/admin/sharing-alerts")
@_doc(SharingAlertList)
@admin_required
def admin_sharing_alerts():
    """Attempts that carried another team's dynamic flag: both teams named."""
    return ok(SharingAlertList, records.sharing_alerts(ctx()))


@bp.get("/admin/awards")
@_doc(AwardList)
@admin_required
def admin_list_awards():
    """Awards and penalties given by the organisers."""
    return ok(AwardList, awards.list_awards(ctx()))


@bp.post("/admin/awards")
@spec.validate(
    json=AwardIn,
    resp=Doc(HTTP_201=AwardOut, HTTP_400=ErrorOut, HTTP_404=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_add_award():
    """Give points (or take them, with a negative value); the reason shows in the ledger."""
    body = parse(AwardIn)
    return ok(AwardOut, awards.add_award(ctx(), body.team, body.value, body.reason, g.actor), 201)


# --- event and live scoreboard ------------------------------------------------------------
@bp.get("/admin/event")
@_doc(EventOut)
@admin_required
def admin_get_event():
    """The event, as organisers see it."""
    return ok(EventOut, scenario.overview(ctx()))


@bp.patch("/admin/event")
@spec.validate(
    json=EventPatch,
    resp=Doc(HTTP_200=EventOut, HTTP_400=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_patch_event():
    """Set name, start, end, freeze and scoring options."""
    body = parse(EventPatch)
    ev = event.configure(ctx(), g.actor, **body.model_dump(exclude_unset=True))
    return ok(EventOut, scenario.overview(ctx(), ev))


@bp.post("/admin/event/start")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_start_event():
    """Start the event: flags are accepted from now on."""
    return ok(EventOut, scenario.overview(ctx(), controls.start(ctx(), g.actor)))


@bp.post("/admin/event/end")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_end_event():
    """End the event now: no more flags are accepted."""
    return ok(EventOut, scenario.overview(ctx(), controls.end(ctx(), g.actor)))


@bp.post("/admin/event/stop")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_stop_event():
    """Alias of /admin/event/end."""
    return ok(EventOut, scenario.overview(ctx(), controls.end(ctx(), g.actor)))


@bp.post("/admin/event/pause")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_pause_event():
    """Pause: flags are refused with a clear status; the remaining time is kept."""
    return ok(EventOut, scenario.overview(ctx(), controls.pause(ctx(), g.actor)))


@bp.post("/admin/event/resume")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_resume_event():
    """Resume a paused event; every later transition moves by the pause."""
    return ok(EventOut, scenario.overview(ctx(), controls.resume(ctx(), g.actor)))


@bp.post("/admin/event/extend")
@spec.validate(
    json=ExtendIn,
    resp=Doc(HTTP_200=EventOut, HTTP_400=ErrorOut, HTTP_409=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_extend_event():
    """Extend the current phase by a duration such as 15m."""
    body = parse(ExtendIn)
    try:
        by = parse_duration(body.by)
    except ValueError as exc:
        raise InvalidInput("by: {exc}", exc=exc) from None
    return ok(EventOut, scenario.overview(ctx(), controls.extend(ctx(), by, g.actor)))


@bp.post("/admin/event/skip")
@_doc(EventOut, HTTP_409=ErrorOut)
@admin_required
def admin_skip_phase():
    """End the current phase now; the next one starts."""
    return ok(EventOut, scenario.overview(ctx(), controls.skip(ctx(), g.actor)))


@bp.get("/admin/scenario")
@_doc(ScenarioOut)
@admin_required
def admin_get_scenario():
    """The event with its computed timeline."""
    return ok(ScenarioOut, scenario.with_timeline(ctx()))


@bp.put("/admin/scenario")
@spec.validate(
    json=ScenarioSpec,
    resp=Doc(HTTP_200=ScenarioOut, HTTP_400=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_load_scenario():
    """Load a scenario (scenario.yml as JSON); unknown challenge slugs are refused."""
    data = request.get_json(silent=True, force=True)
    spec_ = scenario.parse(data, "body")
    scenario.load(ctx(), spec_, g.actor, source="api")
    return ok(ScenarioOut, scenario.with_timeline(ctx()))


@bp.post("/admin/announcements")
@spec.validate(
    json=AnnouncementIn,
    resp=Doc(HTTP_201=AnnouncementOut, HTTP_400=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_post_announcement():
    """Post an announcement now (portal, API, scoreboard banner)."""
    body = parse(AnnouncementIn)
    return ok(
        AnnouncementOut,
        announcements.post(
            ctx(),
            body.title,
            body.message,
            g.actor,
            {lang: (t.title, t.message) for lang, t in body.translations.items()},
        ),
        201,
    )


@bp.get("/admin/audit")
@_doc(AuditList)
@admin_required
def admin_audit():
    """Organiser actions, newest first: who did what, when."""
    return ok(AuditList, audit_log(ctx()))


@bp.get("/admin/scoreboard")
@_doc(ScoreboardOut)
@admin_required
def admin_scoreboard():
    """The live scoreboard, ignoring the freeze."""
    snap = scoreboard.snapshot(ctx(), public=False)
    return Response(snap.body, mimetype="application/json")


# --- environments -------------------------------------------------------------------------
@bp.get("/admin/environments")
@_doc(EnvList)
@admin_required
def admin_environments():
    """Every desired instance with what the reconciler last saw (state, health, restarts)."""
    return ok(EnvList, instances.status(ctx()))


def _env_change(action: str, change: Any, summary: str) -> None:
    """``POST /admin/environments/<action>``: one selection body, one service call."""

    def view():
        body = parse(EnvSelectionIn)
        sel = instances.Selection(team=body.team, challenge=body.challenge)
        return ok(EnvChangeOut, {"changed": change(ctx(), sel, g.actor)})

    view.__name__ = f"admin_environments_{action}"
    view.__doc__ = summary
    documented = spec.validate(
        json=EnvSelectionIn,
        resp=Doc(HTTP_200=EnvChangeOut, HTTP_404=ErrorOut),
        tags=["organiser"],
        security=ORG,
        skip_validation=True,
    )(admin_required(view))
    bp.post(f"/admin/environments/{action}")(documented)


_env_change(
    "up", instances.up, "Make instances desired (all teams x open live challenges, or filtered)."
)
_env_change(
    "down",
    instances.down,
    "Remove instances from the desired state (with no filter: every one of the event).",
)
_env_change(
    "reset",
    instances.reset,
    "Fresh containers for the selected existing instances (a new generation each).",
)


# --- WireGuard ------------------------------------------------------------------------------
@bp.get("/admin/wireguard")
@_doc(GatewaysOut)
@admin_required
def admin_gateways():
    """Every team with WireGuard devices: its gateway and each device's last handshake."""
    reason, gateways = team_access.gateways(ctx())
    return ok(GatewaysOut, GatewaysOut(reason=reason, gateways=gateways))


@bp.delete(f"/admin/wireguard/<{ID}:peer_id>")
@spec.validate(
    resp=Doc(HTTP_204=None, HTTP_401=ErrorOut, HTTP_403=ErrorOut, HTTP_404=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_revoke_peer(peer_id: int):
    """Revoke a team's device: its gateway forgets it at once."""
    team_access.revoke_peer(ctx(), peer_id, g.actor)
    return Response(status=204)


# --- people ---------------------------------------------------------------------------------
@bp.get("/admin/accounts")
@_doc(AccountList)
@admin_required
def admin_accounts():
    """Everyone with an account: role, team, invited / active / disabled."""
    return ok(AccountList, accounts.list_accounts(ctx()))


@bp.post("/admin/accounts")
@spec.validate(
    json=AccountIn,
    resp=Doc(HTTP_201=InvitedOut, HTTP_400=ErrorOut, HTTP_404=ErrorOut, HTTP_409=ErrorOut),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_add_account():
    """Add a person; the answer holds their invite link, shown this once."""
    body = parse(AccountIn)
    invited = accounts.add(
        ctx(),
        body.name,
        body.role,
        g.actor,
        team=body.team,
        email=body.email,
        callsign=body.callsign,
    )
    return ok(InvitedOut, invited, 201)


@bp.post("/admin/accounts/<login>/invite")
@_doc(InvitedOut, HTTP_404=ErrorOut)
@admin_required
def admin_reinvite(login: str):
    """A new invite link for the person (their older unused ones stop working), shown once."""
    return ok(InvitedOut, accounts.reinvite(ctx(), login[:254], g.actor))


@bp.post("/admin/accounts/<login>/<action>")
@_doc(AccountOut, HTTP_404=ErrorOut)
@admin_required
def admin_account_action(login: str, action: str):
    """``disable`` (their sessions end at once) or ``enable``."""
    if action not in ("disable", "enable"):
        raise NotFound("no such action {action!r}", action=action[:40])
    return ok(AccountOut, accounts.set_disabled(ctx(), login[:254], action == "disable", g.actor))


# --- personal organiser API tokens ---------------------------------------------------------
@bp.get("/admin/tokens")
@_doc(ApiTokenList)
@admin_required
def admin_tokens():
    """Personal organiser API tokens (never their secret): name, scope, creator, last use."""
    return ok(ApiTokenList, api_tokens.list_tokens(ctx()))


@bp.post("/admin/tokens")
@spec.validate(
    json=ApiTokenIn,
    resp=Doc(
        HTTP_201=NewApiTokenOut,
        HTTP_400=ErrorOut,
        HTTP_401=ErrorOut,
        HTTP_403=ErrorOut,
        HTTP_409=ErrorOut,
    ),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_create_token():
    """A named token, ``read`` (GET routes only) or ``full``; the answer holds it, this once."""
    body = parse(ApiTokenIn)
    return ok(NewApiTokenOut, api_tokens.create(ctx(), body.name, body.scope, g.actor), 201)


@bp.delete("/admin/tokens/<ref>")
@_doc(ApiTokenOut, HTTP_404=ErrorOut)
@admin_required
def admin_revoke_token(ref: str):
    """Revoke a token by name or id: the next call with it is refused."""
    return ok(ApiTokenOut, api_tokens.revoke(ctx(), ref[:60], g.actor))


# --- graded tasks: the white cell's queue, grades and publication --------------------------
@bp.get("/admin/tasks")
@_doc(TaskSummaryList)
@admin_required
def admin_tasks():
    """Every graded task: due time, submissions, graded, to moderate, published."""
    return ok(TaskSummaryList, grading.summaries(ctx()))


@bp.get("/admin/tasks/<slug>/submissions")
@_doc(QueueList, HTTP_404=ErrorOut)
@admin_required
def admin_task_queue(slug: str):
    """The grading queue: each team by its code (by name once published), its status."""
    return ok(QueueList, grading.queue(ctx(), slug[:100]))


@bp.post("/admin/tasks/<slug>/grades")
@spec.validate(
    json=GradeIn,
    resp=Doc(
        HTTP_201=GradeCardOut,
        HTTP_400=ErrorOut,
        HTTP_401=ErrorOut,
        HTTP_403=ErrorOut,
        HTTP_404=ErrorOut,
        HTTP_409=ErrorOut,
    ),
    tags=["organiser"],
    security=ORG,
    skip_validation=True,
)
@admin_required
def admin_grade_task(slug: str):
    """A grade of the team's latest version: every criterion's points (0 to its points) and
    comment; ``moderate`` for the grade that counts."""
    body = parse(GradeIn)
    grader = tasks.Grader(g.actor)
    card = grading.grade(ctx(), slug[:100], body.code, body.scores, grader, body.moderate)
    return ok(GradeCardOut, card, 201)


@bp.post("/admin/tasks/<slug>/publish")
@_doc(TaskSummaryOut, HTTP_404=ErrorOut, HTTP_409=ErrorOut)
@admin_required
def admin_publish_task(slug: str):
    """Teams, the scoreboard and the CTFtime feed get the task's grades."""
    return ok(TaskSummaryOut, publication.publish(ctx(), slug[:100], g.actor))
