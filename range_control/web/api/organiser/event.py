"""The event: its times and scoring options, the exercise's controls, the scenario and
announcements."""

from __future__ import annotations

from flask import g, request

from range_control.core.errors import InvalidInput
from range_control.core.permissions import Permission
from range_control.services.event import announcements, controls, event, scenario
from range_control.specs.api.event import (
    AnnouncementIn,
    AnnouncementOut,
    EventOut,
    EventPatch,
    ExtendIn,
    ScenarioOut,
)
from range_control.specs.durations import parse_duration
from range_control.specs.scenario import ScenarioSpec
from range_control.web.api import get, ok, parse, patch, post, put
from range_control.web.common import ctx


# --- event and live scoreboard ------------------------------------------------------------
@get("/admin/event", Permission.LOOK, out=EventOut)
def admin_get_event():
    """The event, as organisers see it."""
    return ok(EventOut, scenario.overview(ctx()))


@patch("/admin/event", Permission.CHANGE, out=EventOut, json=EventPatch, errors=(400,))
def admin_patch_event():
    """Set name, start, end, freeze and scoring options."""
    body = parse(EventPatch)
    ev = event.configure(ctx(), g.actor, **body.model_dump(exclude_unset=True))
    return ok(EventOut, scenario.overview(ctx(), ev))


@post("/admin/event/start", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_start_event():
    """Start the event: flags are accepted from now on."""
    return ok(EventOut, scenario.overview(ctx(), controls.start(ctx(), g.actor)))


@post("/admin/event/end", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_end_event():
    """End the event now: no more flags are accepted."""
    return ok(EventOut, scenario.overview(ctx(), controls.end(ctx(), g.actor)))


@post("/admin/event/stop", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_stop_event():
    """Alias of /admin/event/end."""
    return ok(EventOut, scenario.overview(ctx(), controls.end(ctx(), g.actor)))


@post("/admin/event/pause", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_pause_event():
    """Pause: flags are refused with a clear status; the remaining time is kept."""
    return ok(EventOut, scenario.overview(ctx(), controls.pause(ctx(), g.actor)))


@post("/admin/event/resume", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_resume_event():
    """Resume a paused event; every later transition moves by the pause."""
    return ok(EventOut, scenario.overview(ctx(), controls.resume(ctx(), g.actor)))


@post("/admin/event/extend", Permission.CHANGE, out=EventOut, json=ExtendIn, errors=(400, 409))
def admin_extend_event():
    """Extend the current phase by a duration such as 15m."""
    body = parse(ExtendIn)
    try:
        by = parse_duration(body.by)
    except ValueError as exc:
        raise InvalidInput("by: {exc}", exc=exc) from None
    return ok(EventOut, scenario.overview(ctx(), controls.extend(ctx(), by, g.actor)))


@post("/admin/event/skip", Permission.CHANGE, out=EventOut, errors=(409,))
def admin_skip_phase():
    """End the current phase now; the next one starts."""
    return ok(EventOut, scenario.overview(ctx(), controls.skip(ctx(), g.actor)))


@get("/admin/scenario", Permission.LOOK, out=ScenarioOut)
def admin_get_scenario():
    """The event with its computed timeline."""
    return ok(ScenarioOut, scenario.with_timeline(ctx()))


@put("/admin/scenario", Permission.CHANGE, out=ScenarioOut, json=ScenarioSpec, errors=(400,))
def admin_load_scenario():
    """Load a scenario (scenario.yml as JSON); unknown challenge slugs are refused."""
    data = request.get_json(silent=True, force=True)
    spec_ = scenario.parse(data, "body")
    scenario.load(ctx(), spec_, g.actor, source="api")
    return ok(ScenarioOut, scenario.with_timeline(ctx()))


@post(
    "/admin/announcements",
    Permission.CHANGE,
    out=AnnouncementOut,
    status=201,
    json=AnnouncementIn,
    errors=(400,),
)
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
