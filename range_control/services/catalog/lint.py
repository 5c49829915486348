"""Linting a challenge pack: every ``challenge.yml`` (and ctfcli file) of a tree read, checked
and resolved without touching the database (``catalog.sync`` loads the result).

Every problem is reported as ``path/challenge.yml: field.path: message`` so that an author can go
straight to the line at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from range_control.core.languages import languages
from range_control.orchestrator.images import context_digest, image_tag
from range_control.specs import ctfcli
from range_control.specs.challenge import ChallengeSpec, Prerequisite, SolverSpec
from range_control.specs.files import FileProblem, field_errors, read_yaml

SPEC_NAME = "challenge.yml"
ALT_SPEC_NAME = "challenge.yaml"
MAX_SPEC_BYTES = 512 * 1024
MAX_SCAN_BYTES = 64 * 1024 * 1024  # distributed files larger than this are not scanned for flags
MAX_SOLUTION_BYTES = 256 * 1024
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
    # What loads but not as written (an unknown key of the repository's own, a plugin type,
    # a flag inside a distributed file ...): one line each; ``--strict`` makes them problems.
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def warnings_of(self, path: Path) -> list[Problem]:
        return [w for w in self.warnings if w.path == path]


@dataclass(frozen=True)
class Known:
    """The challenges already in the database, which prerequisites may name (ctfcli's workflow
    syncs one challenge at a time): by slug, by name and by id."""

    slugs: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)  # name -> slug
    ids: dict[int, str] = field(default_factory=dict)  # id -> slug

    @classmethod
    def of(cls, rows: Iterable[Any]) -> Known:
        """From anything with ``id``, ``slug`` and ``name`` (rows, ORM objects)."""
        rows = list(rows)
        return cls(
            frozenset(r.slug for r in rows),
            {r.name: r.slug for r in rows},
            {r.id: r.slug for r in rows},
        )


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
    return [Problem(path, f.loc or "(top level)", f.msg) for f in found]


def load_spec(path: Path) -> tuple[ChallengeSpec | None, list[Problem], list[Problem]]:
    """The spec (None if it cannot load), its problems and its warnings."""
    try:
        data = read_yaml(path, MAX_SPEC_BYTES)
    except FileProblem as exc:
        return None, [Problem(path, exc.where, exc.message)], []
    if not isinstance(data, dict):
        return None, [Problem(path, "", "must be a YAML mapping of keys to values")], []
    norm = ctfcli.normalise(data, path.parent)
    warnings = [Problem(path, n.where, n.message) for n in norm.warnings]
    problems = [Problem(path, n.where, n.message) for n in norm.errors]
    if norm.foreign:
        return None, problems, warnings
    try:
        spec = ChallengeSpec.model_validate(norm.data)
    except ValidationError as exc:
        return None, problems + _validation_problems(path, exc, norm.data), warnings
    return (None if problems else spec), problems, warnings


def inside(base: Path, rel: str) -> Path | None:
    if Path(rel).is_absolute():
        return None
    target = (base / rel).resolve()
    try:
        target.relative_to(base.resolve())
    except ValueError:
        return None
    return target


def _file_problems(item: Loaded, warnings: list[Problem]) -> list[Problem]:
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
        target = inside(item.directory, rel)
        if target is None:
            problems.append(
                Problem(item.path, where, f"{rel!r} is outside the challenge directory")
            )
            continue
        if not target.is_file():
            problems.append(Problem(item.path, where, _not_a_file(rel, target)))
            continue
        if spec.flag_in_files == "allowed" or target.stat().st_size > MAX_SCAN_BYTES:
            continue
        text = target.read_bytes().decode("latin-1")
        for label, pattern in needles:
            if pattern.search(text):
                # A beginner's forensics challenge may ship its flag on purpose.
                warnings.append(
                    Problem(
                        item.path,
                        where,
                        f"{rel!r} contains {label}: every team can read it (if intended, "
                        "set flag_in_files: allowed)",
                    )
                )
    return problems


def _not_a_file(rel: str, target: Path) -> str:
    if target.is_dir():
        return f"{rel!r} is a directory: list its files one by one (ctfcli uploads files)"
    if any(ch in rel for ch in "*?["):
        return f"{rel!r} is a pattern: list the files it means one by one (ctfcli takes no globs)"
    return f"{rel!r} does not exist"


def _solution_warnings(item: Loaded) -> list[Problem]:
    sol = item.spec.solution
    if sol is None:
        return []
    target = inside(item.directory, sol.path)
    if target is None or not target.is_file():
        return [
            Problem(
                item.path,
                "solution",
                f"{sol.path!r} is not a file in the challenge: no write-up is stored",
            )
        ]
    if target.stat().st_size > MAX_SOLUTION_BYTES:
        return [
            Problem(
                item.path,
                "solution",
                f"{sol.path!r} is larger than {MAX_SOLUTION_BYTES // 1024} KiB: not stored",
            )
        ]
    return []


def _environment_problems(
    item: Loaded, image_present: Callable[[str], bool | None] | None, warnings: list[Problem]
) -> list[Problem]:
    env = item.spec.environment
    if env is None:
        return []
    problems = []
    for svc in env.services:
        where = f"environment.services.{svc.name}"
        if svc.build is None:
            present = image_present(svc.image) if image_present and svc.image else True
            if present is False:
                msg = (
                    f"the image {svc.image!r} is not on the engine, and the range pulls from "
                    "no registry: `docker load` it, or build it from a directory"
                )
                problems.append(Problem(item.path, f"{where}.image", msg))
            elif present is None:
                msg = f"no engine answers: whether the image {svc.image!r} is there is not checked"
                warnings.append(Problem(item.path, f"{where}.image", msg))
            continue
        context_dir = inside(item.directory, svc.build)
        if context_dir is None or not context_dir.is_dir():
            msg = f"{svc.build!r} is not a directory inside the challenge"
            problems.append(Problem(item.path, f"{where}.build", msg))
            continue
        dockerfile = inside(context_dir, svc.dockerfile or "Dockerfile")
        if dockerfile is None or not dockerfile.is_file():
            msg = f"no {svc.dockerfile or 'Dockerfile'} in {svc.build!r}"
            problems.append(Problem(item.path, f"{where}.dockerfile", msg))
    return problems


def _checker_problems(item: Loaded) -> list[Problem]:
    """A defended service's checker: its build context and its Dockerfile are there."""
    defence = item.spec.defence
    if defence is None:
        return []
    context_dir = inside(item.directory, defence.checker.build)
    if context_dir is None or not context_dir.is_dir():
        msg = f"{defence.checker.build!r} is not a directory inside the challenge"
        return [Problem(item.path, "defence.checker.build", msg)]
    if not (context_dir / "Dockerfile").is_file():
        msg = f"no Dockerfile in {defence.checker.build!r}"
        return [Problem(item.path, "defence.checker.build", msg)]
    return []


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
    where = inside(item.directory, solver.path)
    if where is None or not where.is_dir():
        msg = f"{solver.path!r} is not a directory inside the challenge"
        return [Problem(item.path, "solver.path", msg)]
    return []


def lint(
    paths: list[Path],
    *,
    known: Known | None = None,
    image_present: Callable[[str], bool | None] | None = None,
) -> LintResult:
    """Schema, regexes, files, unique slugs, known prerequisites; flags inside distributed
    files are warnings. ``known``: the challenges already loaded, which prerequisites may
    name. ``image_present``: whether the engine has a prebuilt image (None: it cannot say);
    without it prebuilt images are not checked."""
    result = LintResult()
    spec_paths, result.problems = find_specs(paths)
    for path in spec_paths:
        spec, problems, warnings = load_spec(path)
        result.problems.extend(problems)
        result.warnings.extend(warnings)
        if spec is not None:
            result.challenges.append(Loaded(path, spec))
    by_slug: dict[str, Loaded] = {}
    for item in result.challenges:
        if item.slug in by_slug:
            result.problems.append(
                Problem(
                    item.path,
                    "slug",
                    f"{item.slug!r} (from the name {item.spec.name!r}) is also the slug of "
                    f"{by_slug[item.slug].path}: set slug: to tell them apart",
                )
            )
        else:
            by_slug[item.slug] = item
        result.problems.extend(_file_problems(item, result.warnings))
        result.warnings.extend(_solution_warnings(item))
    result.warnings.extend(_translation_warnings(result.challenges))
    for item in result.challenges:
        result.problems.extend(_environment_problems(item, image_present, result.warnings))
        result.problems.extend(_solver_problems(item))
        result.problems.extend(_checker_problems(item))
        for i, req in enumerate(item.spec.prerequisites):
            if resolve_prerequisite(req, result.challenges, known or Known()) is None:
                what = f"id {req}" if isinstance(req, int) else repr(req)
                result.problems.append(
                    Problem(
                        item.path,
                        f"requirements.{i}",
                        f"{what} is not a challenge in this "
                        "set nor in the database (sync it first, or fix the name)",
                    )
                )
    return result


def _translation_warnings(items: list[Loaded]) -> list[Problem]:
    """A pack translated unevenly: some challenges in a language and others not (their teams
    read a mix), a translated hint list of another length than the hints (matched by
    position), a language the pages do not speak (no team can choose it)."""
    out: list[Problem] = []
    by_lang: dict[str, list[Loaded]] = {}
    for item in items:
        for lang, t in item.spec.translations.items():
            by_lang.setdefault(lang, []).append(item)
            where = f"translations.{lang}"
            if t.hints and len(t.hints) != len(item.spec.hints):
                out.append(
                    Problem(
                        item.path,
                        f"{where}.hints",
                        f"{len(t.hints)} translated "
                        f"hint(s) for {len(item.spec.hints)} hint(s): they are "
                        "matched by position",
                    )
                )
            if lang not in languages():
                out.append(
                    Problem(
                        item.path,
                        where,
                        f"the pages do not speak {lang!r} (no catalog), so no team can choose it",
                    )
                )
    for lang, have in sorted(by_lang.items()):
        for item in items:
            if item not in have:
                why = f"no {lang!r} translation, while {len(have)} other challenge(s) of this set"
                out.append(Problem(item.path, "translations", why + " have one"))
    return out


def resolve_prerequisite(req: Prerequisite, loaded: list[Loaded], known: Known) -> str | None:
    """The slug a prerequisite names: a slug or a name of the set being loaded or of the
    database, or (ctfcli's ids) a challenge id in the database."""
    if isinstance(req, int):
        return known.ids.get(req)
    for item in loaded:
        if req in (item.slug, item.spec.name):
            return item.slug
    if req in known.slugs:
        return req
    return known.names.get(req)


CHECKER = "@checker"  # a defended service's checker, among its image references


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
    if item.spec.defence is not None:
        digest = context_digest(item.directory / item.spec.defence.checker.build)
        out[CHECKER] = image_tag(item.slug, "checker", digest)
    return out
