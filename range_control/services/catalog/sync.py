"""Loading a linted pack into the database (idempotent: a second sync of the same pack changes
nothing), and the catalog as the other use cases read it: visibility, live challenges,
attachments."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput, NotFound, Unavailable
from range_control.domain.visibility import is_visible
from range_control.orchestrator.types import BackendError
from range_control.services.audit import audit
from range_control.services.catalog.lint import (
    CHECKER,
    MAX_SOLUTION_BYTES,
    Known,
    Loaded,
    image_refs,
    inside,
    resolve_prerequisite,
)
from range_control.services.catalog.releases import released_state
from range_control.services.event.event import bump_generation, ensure_event
from range_control.specs.challenge import ChallengeSpec
from range_control.store.models import Challenge, Flag, Hint, HintUnlock, environment_of


def known_in(ctx: Range) -> Known:
    with ctx.store.read_conn() as c:
        return Known.of(c.execute(select(Challenge.id, Challenge.slug, Challenge.name)))


def _spec_hash(spec: ChallengeSpec, solution: str | None) -> str:
    doc = {"spec": spec.model_dump(mode="json"), "solution": solution}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _build_checkers(ctx: Range, loaded: list[Loaded]) -> None:
    """A defended service's checker is built before it is loaded: one whose image does not
    build is refused here, with the build's line (with an engine; without one, the first
    tick's check job builds it and reports the same line as a checker error)."""
    defended = [item for item in loaded if item.spec.defence is not None]
    if not defended or not ctx.settings.environments_on:
        return
    from range_control.services.environments import engine

    try:
        backend = engine.backend(ctx.settings)
    except Unavailable:
        return
    for item in defended:
        checker = item.spec.defence.checker  # type: ignore[union-attr]
        ref = image_refs(item)[CHECKER]
        try:
            backend.build_image(item.directory / checker.build, ref, item.slug)
            backend.wrapped("checker", ref, item.slug)
        except BackendError as exc:
            raise InvalidInput(
                "{path}: defence.checker.build: {reason}", path=item.path, reason=str(exc)
            ) from None


def sync(ctx: Range, loaded: list[Loaded], actor: Actor) -> SyncReport:
    """Insert or update by slug; solves, attempts and paid hints are never touched."""
    _build_checkers(ctx, loaded)
    report = SyncReport()
    now = ctx.clock.now()
    releases_moved = False
    with ctx.store.write() as s:
        existing = {c.slug: c for c in s.scalars(select(Challenge))}
        known = Known.of(existing.values())
        for item in loaded:
            spec = item.spec
            prereqs = []
            for req in spec.prerequisites:
                slug = resolve_prerequisite(req, loaded, known)
                if slug is None:
                    raise InvalidInput(
                        "{path}: requirements: unknown challenge {req!r}", path=item.path, req=req
                    )
                prereqs.append(slug)
            solution = _solution_text(item)
            digest = _spec_hash(spec, solution)
            images = image_refs(item)
            ch = existing.get(item.slug)
            if (
                ch is not None
                and ch.spec_hash == digest
                and ch.source_dir == str(item.directory.resolve())
                and ch.images == images
                and ch.prerequisites == prereqs
            ):
                report.unchanged.append(item.slug)
                continue
            if ch is None:
                ch = Challenge(slug=item.slug)
                s.add(ch)
                report.created.append(item.slug)
            else:
                report.updated.append(item.slug)
            extra = spec.extra if spec.type == "dynamic" else None
            ch.name = spec.name
            ch.category = spec.category
            ch.author = spec.author
            ch.description = spec.description
            ch.translations = {
                lang: t.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
                for lang, t in spec.translations.items()
            }
            ch.type = spec.type
            ch.value = spec.initial_value
            ch.minimum = extra.minimum if extra else 0
            ch.decay = extra.decay if extra else 0.0
            ch.decay_function = extra.function if extra else "logarithmic"
            if ch.release_at != spec.scheduled_at:
                releases_moved = True
            ch.release_at = spec.scheduled_at
            ch.spec_state = released_state(spec.state, spec.scheduled_at, now)
            ch.logic = "all" if spec.logic == "all" else "any"
            ch.solution = solution
            ch.solution_state = spec.solution.state if solution is not None else None  # type: ignore[union-attr]
            ch.max_attempts = spec.attempts
            ch.connection_info = spec.connection_info
            ch.prerequisites = prereqs
            ch.files = list(spec.files)
            ch.tags = list(spec.tags)
            ch.source_dir = str(item.directory.resolve())
            ch.dynamic_prefix = spec.dynamic_flag.prefix if spec.dynamic_flag else None
            ch.dynamic_length = spec.dynamic_flag.length if spec.dynamic_flag else 32
            ch.spec = spec.model_dump(mode="json")
            ch.spec_hash = digest
            ch.images = images
            ch.version = spec.version
            ch.updated_at = now
            _sync_flags(ch, spec)
            s.flush()
            _sync_hints(s, ch, spec)
        if report.created or report.updated:
            audit(s, ctx, actor, "challenges.sync", created=report.created, updated=report.updated)
            bump_generation(s, ctx)
        if releases_moved:  # the scheduler derives its jobs again, release times included
            ensure_event(s, ctx).control_generation += 1
    return report


def _solution_text(item: Loaded) -> str | None:
    sol = item.spec.solution
    target = inside(item.directory, sol.path) if sol is not None else None
    if target is None or not target.is_file() or target.stat().st_size > MAX_SOLUTION_BYTES:
        return None
    return target.read_bytes().decode("utf-8", "replace")


def _sync_flags(ch: Challenge, spec: ChallengeSpec) -> None:
    wanted = [(f.type, f.content, f.case_insensitive) for f in spec.flags]
    have = [(f.type, f.content, f.case_insensitive) for f in ch.flags]
    if wanted == have:
        return
    ch.flags.clear()
    for pos, (kind, content, ci) in enumerate(wanted):
        ch.flags.append(Flag(position=pos, type=kind, content=content, case_insensitive=ci))


def _sync_hints(s: Session, ch: Challenge, spec: ChallengeSpec) -> None:
    by_pos = {h.position: h for h in ch.hints}
    position_of = {h.key: pos for pos, h in enumerate(spec.hints) if h.key is not None}
    for pos, h in enumerate(spec.hints):
        requires = sorted({position_of[k] for k in h.requirements if k in position_of} - {pos})
        row = by_pos.pop(pos, None)
        if row is None:
            ch.hints.append(
                Hint(position=pos, title=h.title, content=h.content, cost=h.cost, requires=requires)
            )
        else:
            row.title, row.content, row.cost, row.retired = h.title, h.content, h.cost, False
            row.requires = requires
    for row in by_pos.values():
        paid = s.scalar(select(HintUnlock.id).where(HintUnlock.hint_id == row.id).limit(1))
        if paid is None:
            ch.hints.remove(row)
        else:
            row.retired = True


def set_visibility(ctx: Range, slug: str, visible: bool | None, actor: Actor) -> bool:
    """Organiser override: hide or show; ``None`` returns to what challenge.yml says."""
    with ctx.store.write() as s:
        ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
        if ch is None:
            raise NotFound("challenge {slug!r} not found", slug=slug)
        ch.admin_state = None if visible is None else ("visible" if visible else "hidden")
        audit(s, ctx, actor, "challenge.visibility", challenge=slug, state=ch.admin_state)
        bump_generation(s, ctx)
        return is_visible(ch)


def has_environment(ctx: Range, slug: str) -> bool:
    with ctx.store.read() as s:
        spec = s.scalar(select(Challenge.spec).where(Challenge.slug == slug))
    return environment_of(spec) is not None


def live_slugs_in(s: Session) -> set[str]:
    """The challenges with live services (one read, for pages that list many)."""
    return {
        slug
        for slug, spec in s.execute(select(Challenge.slug, Challenge.spec))
        if environment_of(spec) is not None
    }


def attachment(ctx: Range, slug: str, name: str) -> Path | None:
    """The file of ``slug`` whose base name is ``name``, only if the spec lists it and it is
    inside the challenge directory; anything else is None (404), never a path of the caller's."""
    with ctx.store.read() as s:
        row = s.execute(
            select(Challenge.files, Challenge.source_dir).where(Challenge.slug == slug)
        ).one_or_none()
    if row is None or row.source_dir is None:
        return None
    base = Path(row.source_dir)
    for rel in row.files or []:
        if rel.rsplit("/", 1)[-1] == name:
            target = inside(base, rel)
            return target if target is not None and target.is_file() else None
    return None
