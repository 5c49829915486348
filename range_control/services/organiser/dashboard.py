"""The organiser console's front page: everything it shows, read in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from range_control.context import Range
from range_control.domain import timeline
from range_control.services.catalog.sync import live_slugs_in
from range_control.services.environments import instances
from range_control.services.event import announcements, scenario
from range_control.services.event.event import EventView
from range_control.services.organiser import records
from range_control.services.organiser.awards import awards_in
from range_control.services.people import teams
from range_control.specs.api.environments import EnvRowOut
from range_control.specs.api.event import AnnouncementOut, PhaseRowOut
from range_control.specs.api.organiser import AwardOut, SharingAlertOut
from range_control.specs.api.people import TeamOut

ALERTS_SHOWN = 50
AWARDS_SHOWN = 50
ANNOUNCEMENTS_SHOWN = 10


@dataclass(frozen=True)
class Dashboard:
    ev: EventView
    st: timeline.State | None
    timeline: list[PhaseRowOut]
    teams: list[TeamOut]
    grid: dict[str, dict[str, EnvRowOut]]  # team name -> challenge slug -> instance
    live: list[str]  # the grid's columns: live challenges open or with an instance
    alerts: list[SharingAlertOut]
    awards: list[AwardOut]
    announcements: list[AnnouncementOut]
    now: datetime
    phase_translations: dict[str, dict[str, str]]  # the current phase's


def console(ctx: Range) -> Dashboard:
    now = ctx.clock.now()
    with ctx.store.read() as s:
        w = scenario.where_in(s, ctx, now)
        status = instances.status_in(s)
        grid: dict[str, dict[str, EnvRowOut]] = {}
        for row in status:
            grid.setdefault(row.team, {})[row.challenge] = row
        with_env = live_slugs_in(s)
        open_live = {c.slug for c in records.challenges_in(s) if c.visible and c.slug in with_env}
        return Dashboard(
            ev=w.view,
            st=w.at,
            timeline=scenario.rows_of(w),
            teams=teams.teams_in(s),
            grid=grid,
            live=sorted({row.challenge for row in status} | open_live),
            alerts=records.sharing_alerts_in(s, ALERTS_SHOWN),
            awards=awards_in(s, AWARDS_SHOWN),
            announcements=announcements.recent_in(s, ANNOUNCEMENTS_SHOWN),
            now=now,
            phase_translations=scenario.phase_translations(w),
        )
