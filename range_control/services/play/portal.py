"""The team portal's challenge page, read in one transaction: the timeline (for the banner and a
task's due time), the challenge as the team sees it, its instance and its graded task. Values
come from the process's cached public board, which reads only when scores changed."""

from __future__ import annotations

from dataclasses import dataclass

from range_control.context import Range
from range_control.services.environments import instances
from range_control.services.event import scenario
from range_control.services.play.challenges import challenge_detail_in
from range_control.services.play.scoreboard import snapshot_in
from range_control.services.whitecell import tasks
from range_control.specs.api.environments import InstanceOut
from range_control.specs.api.play import ChallengeDetail
from range_control.specs.api.whitecell import TaskOut


@dataclass(frozen=True)
class ChallengePage:
    where: scenario.Where
    detail: ChallengeDetail
    instance: InstanceOut | None  # a live challenge's, when it is open to the team
    task: TaskOut | None  # a graded task's, likewise


def challenge_page(ctx: Range, team_id: int, slug: str) -> ChallengePage:
    with ctx.store.read() as s:
        snap = snapshot_in(s.connection(), ctx, public=True)
        where = scenario.where_in(s, ctx, ctx.clock.now())
        detail = challenge_detail_in(s, ctx, snap, team_id, slug)
        instance = task = None
        if not detail.locked and detail.environment == "available":
            instance = instances.instance_info_in(s, ctx, team_id, detail.slug)
        if not detail.locked and detail.kind == "task":
            task = tasks.team_view_in(s, ctx, team_id, detail.slug, where)
    return ChallengePage(where, detail, instance, task)
