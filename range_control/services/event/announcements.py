"""Announcements: injects as they fire, phase briefings, and the organisers' own messages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput
from range_control.core.languages import LANGUAGE_RE
from range_control.services.audit import audit
from range_control.specs.api.event import AnnouncementOut
from range_control.store.models import (
    Announcement,
)


# --- announcements ------------------------------------------------------------------------
def recent(ctx: Range, limit: int = 50) -> list[AnnouncementOut]:
    with ctx.store.read() as s:
        return recent_in(s, limit)


def recent_in(s: Session, limit: int) -> list[AnnouncementOut]:
    rows = s.scalars(select(Announcement).order_by(Announcement.id.desc()).limit(limit))
    return [AnnouncementOut.model_validate(a) for a in rows]


def post(
    ctx: Range,
    title: str,
    body: str,
    actor: Actor,
    translations: dict[str, tuple[str, str]] | None = None,
) -> AnnouncementOut:
    """Post a message to every team; ``translations`` is ``{lang: (title, body)}`` (a language
    left blank is left out: its readers see the original)."""
    title, body = _announcement_text("", title, body)
    langs = {}
    for lang, (t_title, t_body) in (translations or {}).items():
        if not LANGUAGE_RE.match(lang):
            raise InvalidInput("translations: {lang!r} is not a language code", lang=lang)
        if t_title.strip() or t_body.strip():
            t_title, t_body = _announcement_text(f"translations.{lang}.", t_title, t_body)
            langs[lang] = {"title": t_title, "body": t_body}
    with ctx.store.write() as s:
        a = Announcement(
            title=title,
            body=body,
            source="organiser",
            created_by=actor,
            created_at=ctx.clock.now(),
            translations=langs,
        )
        s.add(a)
        s.flush()
        audit(s, ctx, actor, "announcement.post", title=title)
        return AnnouncementOut.model_validate(a)


def _announcement_text(where: str, title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    if not 1 <= len(title) <= 200:
        raise InvalidInput("{where}title: 1 to 200 characters", where=where)
    if len(body) > 20_000:
        raise InvalidInput("{where}body: at most 20000 characters", where=where)
    return title, body
