"""The challenge catalog: lint ``challenge.yml`` trees and sync them into the database.

Every problem is reported as ``path/challenge.yml: field.path: message`` so that an author can go
straight to the line at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.domain.visibility import is_visible
from range_control.errors import InvalidInput, NotFound
from range_control.orchestrator.images import context_digest, image_tag
from range_control.services.events import audit, bump_generation
from range_control.specs.challenge import ChallengeSpec, SolverSpec
from range_control.specs.files import FileProblem, field_errors, read_yaml
from range_control.store.models import Challenge, Flag, Hint, HintUnlock, environment_of

SPEC_NAME = "challenge.yml"
ALT_SPEC_NAME = "challenge.yaml"
MAX_SPEC_BYTES = 512 * 1024
MAX_SCAN_BYTES = 64 * 1024 * 1024  # distributed files larger than this are not scanned for flags
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv"}


@dataclass(frozen=True)
class Problem:
    path: Path
    where: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.where}: {self.message}"
            if self.where
            else f"{self.path}: {self.message}"
        )


@dataclass
class Loaded:
    path: Path  # the challenge.yml
    spec: ChallengeSpec

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def slug(self) -> str:
        return self.spec.resolved_slug


@dataclass
class LintResult:
    challenges: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_specs(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Each given path is a challenge.yml, a challenge dir, or a tree of challenge dirs."""
    found: list[Path] = []
    problems: list[Problem] = []
    for p in paths:
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            direct = [p / n for n in (SPEC_NAME, ALT_SPEC_NAME) if (p / n).is_file()]
            if direct:
                found.append(direct[0])
                continue
            hits = sorted(
                q
                for q in p.rglob("*")
                if q.name in (SPEC_NAME, ALT_SPEC_NAME)
                and not SKIP_DIRS.intersection(q.relative_to(p).parts)
            )
            if not hits:
                problems.append(Problem(p, "", f"no {SPEC_NAME} found under this directory"))
            found.extend(hits)
        else:
            problems.append(Problem(p, "", "no such file or directory"))
    return found, problems


def _named(loc: tuple[Any, ...], data: dict[str, Any]) -> tuple[Any, ...]:
    """``environment.services.1.memory`` -> ``environment.services.db.memory`` when named."""
    if loc[:2] == ("environment", "services") and len(loc) > 2 and isinstance(loc[2], int):
        services = (data.get("environment") or {}).get("services") or []
        if loc[2] < len(services) and isinstance(services[loc[2]], dict):
            name = services[loc[2]].get("name")
            if isinstance(name, str) and name:
                return (*loc[:2], name, *loc[3:])
    return loc


def _validation_problems(path: Path, exc: ValidationError, data: dict[str, Any]) -> list[Problem]:
    unknown = "unknown key (not part of challenge.yml; a typo?)"
    found = field_errors(exc, unknown=unknown, rename=lambda loc: _named(loc, data))
    return [Problem(path, loc or "(top level)", msg) for loc, msg in found]


def load_spec(path: Path) -> tuple[ChallengeSpec | None, list[Problem]]:
    try:
        data = read_yaml(path, MAX_SPEC_BYTES)
    except FileProblem as exc:
        return None, [Problem(path, exc.where, exc.message)]
    if not isinstance(data, dict):
        return None, [Problem(path, "", "must be a YAML mapping of keys to values")]
    try:
        return ChallengeSpec.model_validate(data), []
    except ValidationError as exc:
        return None, _validation_problems(path, exc, data)


def _inside(base: Path, rel: str) -> Path | None:
    if Path(rel).is_absolute():
        return None
    target = (base / rel).resolve()
    try:
        target.relative_to(base.resolve())
    except ValueError:
        return None
    return target


def _file_problems(item: Loaded) -> list[Problem]:
    problems: list[Problem] = []
    spec = item.spec
    needles: list[tuple[str, re.Pattern[str]]] = []
    for f in spec.flags:
        if f.type == "regex":
            needles.append(
                ("a regex flag", re.compile(f.content, re.I if f.case_insensitive else 0))
            )
        else:
            needles.append(
                (
                    "a static flag",
                    re.compile(re.escape(f.content), re.I if f.case_insensitive else 0),
                )
            )
    if spec.dynamic_flag is not None:
        # No team's real flag can be in a file every team gets, but the prefix followed by a
        # flag-shaped value almost certainly is one (for example the author's own test flag).
        needles.append(
            (
                "a flag of the dynamic_flag shape",
                re.compile(
                    re.escape(spec.dynamic_flag.prefix)
                    + r"\{[0-9a-f]{"
                    + str(spec.dynamic_flag.length)
                    + r"}\}"
                ),
            )
        )
    for i, rel in enumerate(spec.files):
        where = f"files.{i}"
        target = _inside(item.directory, rel)
        if target is None:
            problems.append(
                Problem(item.path, where, f"{rel!r} is outside the challenge directory")
            )
            continue
        if not target.is_file():
            problems.append(Problem(item.path, where, f"{rel!r} does not exist"))
            continue
        if target.stat().st_size > MAX_SCAN_BYTES:
            continue
        text = target.read_bytes().decode("latin-1")
        for label, pattern in needles:
            if pattern.search(text):
                problems.append(
                    Problem(
                        item.path,
                        where,
                        f"{rel!r} contains {label}: flag text must not be distributed",
                    )
                )
    return problems


def _environment_problems(item: Loaded) -> list[Problem]:
    env = item.spec.environment
    if env is None:
        return []
    problems = []
    for svc in env.services:
        where = f"environment.services.{svc.name}"
        if svc.build is None:
            continue
        context_dir = _inside(item.directory, svc.build)
        if context_dir is None or not context_dir.is_dir():
            msg = f"{svc.build!r} is not a directory inside the challenge"
            problems.append(Problem(item.path, f"{where}.build", msg))
            continue
        dockerfile = _inside(context_dir, svc.dockerfile or "Dockerfile")
        if dockerfile is None or not dockerfile.is_file():
            msg = f"no {svc.dockerfile or 'Dockerfile'} in {svc.build!r}"
            problems.append(Problem(item.path, f"{where}.dockerfile", msg))
    return problems


def solver_of(item: Loaded) -> SolverSpec | None:
    """The declared solver, or the default one when the challenge has ``solve/solve.py``."""
    if item.spec.solver is not None:
        return item.spec.solver
    default = SolverSpec()
    return default if (item.directory / default.path / "solve.py").is_file() else None


def _solver_problems(item: Loaded) -> list[Problem]:
    solver = item.spec.solver
    if solver is None:
        return []
    where = _inside(item.directory, solver.path)
    if where is None or not where.is_dir():
        msg = f"{solver.path!r} is not a directory inside the challenge"
        return [Problem(item.path, "solver.path", msg)]
    return []


def lint(paths: list[Path]) -> LintResult:
    """Schema, regexes, files, no flag in distributed files, unique slugs, known prerequisites."""
    result = LintResult()
    spec_paths, result.problems = find_specs(paths)
    for path in spec_paths:
        spec, problems = load_spec(path)
        result.problems.extend(problems)
        if spec is not None:
            result.challenges.append(Loaded(path, spec))
    by_slug: dict[str, Loaded] = {}
    names = {c.spec.name for c in result.challenges}
    for item in result.challenges:
        if item.slug in by_slug:
            result.problems.append(
                Problem(
                    item.path,
                    "slug",
                    f"{item.slug!r} is also the slug of {by_slug[item.slug].path}",
                )
            )
        else:
            by_slug[item.slug] = item
        result.problems.extend(_file_problems(item))
    for item in result.challenges:
        result.problems.extend(_environment_problems(item))
        result.problems.extend(_solver_problems(item))
        for i, req in enumerate(item.spec.prerequisites):
            if req not in by_slug and req not in names:
                result.problems.append(
                    Problem(
                        item.path, f"requirements.{i}", f"{req!r} is not a challenge in this set"
                    )
                )
    return result


def _spec_hash(spec: ChallengeSpec) -> str:
    return hashlib.sha256(
        json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def sync(ctx: Range, loaded: list[Loaded], actor: str = "cli") -> SyncReport:
    """Insert or update by slug; solves, attempts and paid hints are never touched."""
    report = SyncReport()
    name_to_slug = {c.spec.name: c.slug for c in loaded}
    with ctx.store.write() as s:
        existing = {c.slug: c for c in s.scalars(select(Challenge))}
        known = set(existing) | {c.slug for c in loaded}
        for item in loaded:
            spec = item.spec
            prereqs = [name_to_slug.get(r, r) for r in spec.prerequisites]
            missing = [p for p in prereqs if p not in known]
            if missing:
                raise InvalidInput(
                    f"{item.path}: requirements: unknown challenge(s) {', '.join(missing)}"
                )
            digest = _spec_hash(spec)
            images = image_refs(item)
            ch = existing.get(item.slug)
            if (
                ch is not None
                and ch.spec_hash == digest
                and ch.source_dir == str(item.directory.resolve())
                and ch.images == images
            ):
                report.unchanged.append(item.slug)
                continue
            if ch is None:
                ch = Challenge(slug=item.slug)
                s.add(ch)
                report.created.append(item.slug)
            else:
                report.updated.append(item.slug)
            extra = spec.extra
            ch.name = spec.name
            ch.category = spec.category
            ch.author = spec.author
            ch.description = spec.description
            ch.type = spec.type
            ch.value = spec.initial_value
            ch.minimum = extra.minimum if extra else 0
            ch.decay = extra.decay if extra else 0.0
            ch.decay_function = extra.function if extra else "logarithmic"
            ch.spec_state = spec.state
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
            ch.updated_at = ctx.clock.now()
            _sync_flags(ch, spec)
            s.flush()
            _sync_hints(s, ch, spec)
        if report.created or report.updated:
            audit(s, ctx, actor, "challenges.sync", created=report.created, updated=report.updated)
            bump_generation(s, ctx)
    return report


def image_refs(item: Loaded) -> dict[str, str]:
    """Service -> image reference: content-tagged for builds (built later, once), else as given."""
    env = item.spec.environment
    if env is None:
        return {}
    out = {}
    for svc in env.services:
        if svc.build is not None:
            digest = context_digest(item.directory / svc.build, svc.dockerfile)
            out[svc.name] = image_tag(item.slug, svc.name, digest)
        else:
            out[svc.name] = svc.image or ""
    return out


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
    for pos, h in enumerate(spec.hints):
        row = by_pos.pop(pos, None)
        if row is None:
            ch.hints.append(Hint(position=pos, title=h.title, content=h.content, cost=h.cost))
        else:
            row.title, row.content, row.cost, row.retired = h.title, h.content, h.cost, False
    for row in by_pos.values():
        paid = s.scalar(select(HintUnlock.id).where(HintUnlock.hint_id == row.id).limit(1))
        if paid is None:
            ch.hints.remove(row)
        else:
            row.retired = True


def set_visibility(ctx: Range, slug: str, visible: bool | None, actor: str) -> bool:
    """Organiser override: hide or show; ``None`` returns to what challenge.yml says."""
    with ctx.store.write() as s:
        ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
        if ch is None:
            raise NotFound(f"challenge {slug!r} not found")
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
    return {slug for slug, spec in s.execute(select(Challenge.slug, Challenge.spec))
            if environment_of(spec) is not None}  # fmt: skip


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
            target = _inside(base, rel)
            return target if target is not None and target.is_file() else None
    return None
