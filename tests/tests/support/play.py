"""Play in a test: a live environment that needs no build, the attempts a range stored, a challenge's hints."""

from __future__ import annotations

from sqlalchemy import select

from range_control.store.models import Attempt
from tests.support.env import Env

LIVE = {"services": [{"name": "box", "image": "range/base:bookworm"}]}


def attempts_stored(env: Env) -> int:
    with env.ctx.store.read() as s:
        return len(list(s.scalars(select(Attempt.id))))


def _hints(env: Env, slug: str) -> list:
    from range_control.store.models import Challenge, Hint

    with env.ctx.store.read() as s:
        cid = s.scalar(select(Challenge.id).where(Challenge.slug == slug))
        return list(s.scalars(select(Hint).where(Hint.challenge_id == cid)))
