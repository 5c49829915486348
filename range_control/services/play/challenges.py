"""What a team sees of the catalog: the list, and one challenge with its hints."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.errors import NotFound
from range_control.domain.visibility import is_visible
from range_control.services.play import gates
from range_control.services.play.hints import hints_for
from range_control.services.play.scoreboard import ChallengeInfo, Snapshot, names_in, snapshot
from range_control.specs.api.play import ChallengeDetail, ChallengeSummary
from range_control.store.models import Challenge, Solve


def seen_by_teams(snap: Snapshot) -> list[ChallengeInfo]:
    """The challenges teams can see in ``snap`` (released, in an open phase, not hidden),
    locked ones included: a team sees their name and value. A defended service is not one to
    solve: its page is the defence's."""
    return [ch for ch in snap.challenges.values() if ch.visible and ch.score.type != "defended"]


def team_challenges(ctx: Range, team_id: int) -> list[ChallengeSummary]:
    """The catalog as a team sees it: values and solve counts from the public board."""
    snap = snapshot(ctx, public=True)
    with ctx.store.read_conn() as c:
        mine = set(c.scalars(select(Solve.challenge_id).where(Solve.team_id == team_id)))
    slugs_solved = {snap.challenges[c].slug for c in mine if c in snap.challenges}
    out = []
    for ch in sorted(seen_by_teams(snap), key=lambda c: (c.category, c.score.value, c.name)):
        state = snap.board.challenges[ch.id]
        out.append(
            ChallengeSummary(
                slug=ch.slug,
                name=ch.name,
                category=ch.category,
                value=state.value,
                solves=state.solves,
                solved_by_me=ch.id in mine,
                locked=any(p not in slugs_solved for p in ch.prerequisites),
                requires=list(ch.prerequisites),
                tags=list(ch.tags),
                translations=ch.translations,
            )
        )
    return out


def challenge_detail(ctx: Range, team_id: int, slug: str) -> ChallengeDetail:
    """One challenge as the team sees it; a locked one shows its name and value only."""
    snap = snapshot(ctx, public=True)
    with ctx.store.read() as s:
        return challenge_detail_in(s, ctx, snap, team_id, slug)


def challenge_detail_in(
    s: Session, ctx: Range, snap: Snapshot, team_id: int, slug: str
) -> ChallengeDetail:
    """``challenge_detail`` in the caller's transaction, values from the public ``snap``."""
    ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
    if ch is None or not is_visible(ch):
        raise NotFound("challenge {slug!r} not found", slug=slug)
    solved = s.scalar(select(Solve.id).where(Solve.team_id == team_id, Solve.challenge_id == ch.id))
    state = snap.board.challenges.get(ch.id)
    live = (
        "none"
        if not ch.environment
        else ("available" if ctx.settings.environments_on else "unavailable")
    )
    if gates.missing_prerequisites(s.connection(), team_id, ch.prerequisites):
        return ChallengeDetail(
            slug=ch.slug,
            name=ch.name,
            category=ch.category,
            author=None,
            description="",
            value=state.value if state else ch.value,
            solves=state.solves if state else 0,
            solved_by_me=False,
            files=[],
            connection_info=None,
            max_attempts=ch.max_attempts,
            requires=list(ch.prerequisites),
            tags=[],
            hints=[],
            locked=True,
            environment=live,
            translations=names_in(ch.translations),
        )
    return ChallengeDetail(
        slug=ch.slug,
        name=ch.name,
        category=ch.category,
        author=ch.author,
        description=ch.description,
        value=state.value if state else ch.value,
        solves=state.solves if state else 0,
        solved_by_me=solved is not None,
        files=[f.rsplit("/", 1)[-1] for f in ch.files],
        connection_info=ch.connection_info,
        max_attempts=ch.max_attempts,
        requires=list(ch.prerequisites),
        tags=list(ch.tags),
        hints=hints_for(s, team_id, ch.id, ch.translations),
        environment=live,
        kind="task" if ch.type == "task" else "flag",
        takes_flags=bool(ch.flags) or ch.dynamic_prefix is not None,
        translations={
            lang: {k: t[k] for k in ("name", "description") if t.get(k)}
            for lang, t in (ch.translations or {}).items()
        },
    )
