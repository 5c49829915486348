"""Graded tasks (``type: task``): teams submit a deliverable (markdown text, a file, or both)
and revise it until the due time; the white cell grades it against the task's rubric.

- **Submitting.** Every version is kept with its time and the member who sent it. After the
  due time (absolute, or relative to a phase as it actually runs) the task's ``late`` rule
  applies: ``refuse``, ``accept``, or ``penalty: 20%`` (of the graded points). A file must be
  of an allowed type by its extension *and* its content, and within the size limit; it is
  written and fsync'd under the data directory, named by its digest, before its row commits:
  a refusal stores nothing.
- **Grading.** Blind: a grader sees a code per team and task (an HMAC of the range's secret),
  not the team's name, until the task is published. Per criterion: points (0 to the
  criterion's) and a comment. With ``second_grader`` another person grades too; criteria on
  which the two differ by more than ``moderation_threshold`` go to moderation, else the grade
  is their mean (rounded half up). A moderator's card (role ``final``) settles it. Every card
  is kept; a newer one of the same role replaces the older (``replaced_at``).
- **Publishing.** Per task, once every submission has its grade: the grades become ledger
  entries ("graded by the white cell: criterion Accuracy 8/10") dated at publication, so the
  freeze holds them back from the public board as it does solves. A regrade after publishing
  is a ``final`` card, audited with the points before and after.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from base64 import b32encode
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.clock import iso
from range_control.core.errors import Conflict, EventNotRunning, Forbidden, InvalidInput, NotFound
from range_control.core.files import write_durably
from range_control.core.settings import secret
from range_control.domain.scoring import GradeRec
from range_control.domain.visibility import is_visible
from range_control.services.audit import audit
from range_control.services.event import event as events
from range_control.services.event import scenario
from range_control.services.event.event import bump_generation
from range_control.services.play import gates
from range_control.specs.api import (
    CriterionOut,
    GradeCardOut,
    GradeLineOut,
    QueueRowOut,
    SubmissionOut,
    TaskGradeOut,
    TaskOut,
    TaskSheetOut,
    TaskSummaryOut,
)
from range_control.specs.challenge import TASK_KEYS, DueSpec, TaskSpec
from range_control.store.models import (
    Account,
    Challenge,
    Grade,
    Submission,
    TaskRelease,
    Team,
)

MAX_TEXT = 100_000
MAX_COMMENT = 5_000
ROLES = ("first", "second", "final")
# What a file's first bytes must be for its extension (text types: UTF-8 without NUL).
_MAGIC = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "odt": (b"PK\x03\x04",),
    "docx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
}
_TEXT_TYPES = ("txt", "md", "csv")


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Grader:
    """Who grades: the audit log's name for them, and their account (None: a token)."""

    actor: str
    account_id: int | None = None


# --- reading a task -------------------------------------------------------------------------
def task_of(ch: Challenge) -> TaskSpec | None:
    """The graded part of a challenge row (None: not a task)."""
    if ch.type != "task":
        return None
    return TaskSpec.model_validate({k: ch.spec[k] for k in TASK_KEYS if k in (ch.spec or {})})


def _task_row(s: Session, slug: str) -> tuple[Challenge, TaskSpec]:
    ch = s.scalars(select(Challenge).where(Challenge.slug == slug)).one_or_none()
    task = task_of(ch) if ch is not None else None
    if ch is None or task is None:
        raise NotFound("no graded task {slug!r}", slug=slug)
    return ch, task


def due_at(ctx: Range, task: TaskSpec, where: scenario.Where | None = None) -> datetime | None:
    """When the task is due: its absolute time, or its phase's start or end as the timeline
    runs (None until the exercise has started, or when the phase is not in the scenario)."""
    if task.due is None or isinstance(task.due, datetime):
        return task.due
    due: DueSpec = task.due
    for row in scenario.rows_of(where or scenario.where(ctx)):
        if row.id == due.phase:
            base = row.start if due.at == "start" else row.end
            return base + due.delta if base is not None else None
    return None


def blind_code(ctx: Range, challenge_id: int, team_id: int) -> str:
    """The team as graders see it for this task: stable, unguessable, not the same across
    tasks (graders cannot follow a team from one task to the next)."""
    mac = hmac.new(
        secret(ctx.settings.secret_key).encode(),
        f"blind:{ctx.event_slug}:{challenge_id}:{team_id}".encode(),
        hashlib.sha256,
    ).digest()
    return "T-" + b32encode(mac[:5]).decode()[:6]


# --- submitting -----------------------------------------------------------------------------
def _clean_name(name: str) -> str:
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    base = "".join(ch for ch in base if ch.isprintable())[:200]
    return base or "deliverable"


def _check_file(task: TaskSpec, up: Upload) -> tuple[str, str]:
    """The file's cleaned name and type, or a refusal naming what is wrong."""
    name = _clean_name(up.name)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = list(task.upload.types)
    if ext not in allowed:
        raise InvalidInput(
            "file: {name!r} is not an allowed type ({allowed})",
            name=name,
            allowed=", ".join(allowed),
        )
    if len(up.data) > task.upload.max_bytes:
        raise InvalidInput(
            "file: {size} bytes, more than this task's {most}",
            size=len(up.data),
            most=task.upload.max_bytes,
        )
    if not up.data:
        raise InvalidInput("file: {name!r} is empty", name=name)
    if ext in _TEXT_TYPES:
        try:
            text = up.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("file: {name!r} is not UTF-8 text", name=name) from None
        if "\x00" in text:
            raise InvalidInput("file: {name!r} is not text (it holds NUL bytes)", name=name)
    elif not up.data.startswith(_MAGIC[ext]):
        raise InvalidInput(
            "file: {name!r} is not a {ext} file (its content says otherwise)", name=name, ext=ext
        )
    return name, ext


def _store_file(
    ctx: Range, team_id: int, challenge_id: int, ext: str, data: bytes
) -> tuple[str, str]:
    """Write the file durably (fsync'd, then renamed into place): its path under the data
    directory and its SHA-256. The same content is stored once."""
    digest = hashlib.sha256(data).hexdigest()
    rel = (
        Path("submissions") / ctx.event_slug / str(team_id) / str(challenge_id) / f"{digest}.{ext}"
    )
    dest = ctx.settings.data_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_durably(dest, data, mode=0o600)
    return str(rel), digest


def submit(
    ctx: Range,
    team_id: int,
    slug: str,
    text: str | None,
    upload: Upload | None,
    account_id: int | None = None,
) -> SubmissionOut:
    """A new version of the team's deliverable (the first, or a revision)."""
    now = ctx.clock.now()
    text = (text or "").strip() or None
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        if not is_visible(ch):
            raise NotFound("no graded task {slug!r}", slug=slug)
        event = events.current_in(s.connection(), ctx, now)
        if not event.running:
            raise EventNotRunning("the event is not running (state: {state})", state=event.state)
        gates.require_unlocked(s.connection(), team_id, slug, ch.prerequisites)
        challenge_id = ch.id
    due = due_at(ctx, task)
    late = due is not None and now > due
    if late and task.late == "refuse":
        raise Forbidden(
            "{slug!r} was due at {due}: it takes no more submissions",
            slug=slug,
            due=due.isoformat(timespec="minutes"),
        )
    if task.deliverable == "file" and text:
        raise InvalidInput("text: this task takes a file, not text")
    if task.deliverable == "text" and upload is not None:
        raise InvalidInput("file: this task takes text, not a file")
    if text is None and upload is None:
        wanted = {"text": "text", "file": "a file", "both": "text, a file or both"}
        raise InvalidInput(
            "nothing to submit: this task takes {what}", what=wanted[task.deliverable]
        )
    if text is not None and len(text) > MAX_TEXT:
        raise InvalidInput("text: at most {most} characters", most=MAX_TEXT)
    stored: dict[str, Any] = {}
    if upload is not None:
        name, ext = _check_file(task, upload)
        path, digest = _store_file(ctx, team_id, challenge_id, ext, upload.data)
        stored = {
            "file_name": name,
            "file_path": path,
            "file_type": ext,
            "file_size": len(upload.data),
            "file_sha256": digest,
        }
    for _ in range(5):  # two members at once: the unique version decides, the loser retries
        try:
            with ctx.store.write() as s:
                version = (
                    s.scalar(
                        select(func.max(Submission.version)).where(
                            Submission.team_id == team_id, Submission.challenge_id == challenge_id
                        )
                    )
                    or 0
                ) + 1
                row = Submission(
                    team_id=team_id,
                    challenge_id=challenge_id,
                    version=version,
                    text=text,
                    late=late,
                    account_id=account_id,
                    created_at=now,
                    **stored,
                )
                s.add(row)
                s.flush()
                return _submission_view(row, _names(s, [row]))
        except IntegrityError:
            continue
    raise Conflict("another version was being sent at the same time: send it again")


def _names(s: Session, rows: list[Submission]) -> dict[int, str]:
    ids = {r.account_id for r in rows if r.account_id is not None}
    if not ids:
        return {}
    return dict(s.execute(select(Account.id, Account.name).where(Account.id.in_(ids))).all())


def _submission_view(r: Submission, names: Mapping[int, str]) -> SubmissionOut:
    return SubmissionOut(
        id=r.id,
        version=r.version,
        created_at=r.created_at,
        late=r.late,
        text=r.text,
        file_name=r.file_name,
        file_size=r.file_size,
        by=names.get(r.account_id) if r.account_id else None,
    )


def submission_file(ctx: Range, slug: str, version: int, team_id: int) -> tuple[Path, str, str]:
    """A version's file: its path, the name it was sent with, its type."""
    with ctx.store.read() as s:
        ch, _task = _task_row(s, slug)
        row = s.scalars(
            select(Submission).where(
                Submission.team_id == team_id,
                Submission.challenge_id == ch.id,
                Submission.version == version,
            )
        ).one_or_none()
        if row is None or row.file_path is None:
            raise NotFound("no file in version {version} of {slug!r}", version=version, slug=slug)
        return (
            ctx.settings.data_dir / row.file_path,
            row.file_name or "deliverable",
            row.file_type or "",
        )


def file_by_code(ctx: Range, slug: str, code: str, version: int) -> tuple[Path, str]:
    """A version's file for a grader: its path, and a download name that does not name the
    team (the code and the version)."""
    with ctx.store.read() as s:
        ch, _task = _task_row(s, slug)
        team_id = _team_by_code(ctx, s, ch.id, code)
    path, _name, kind = submission_file(ctx, slug, version, team_id)
    return path, f"{code}-v{version}.{kind}"


# --- grades: the effective one of a team --------------------------------------------------------
def _total(scores: Mapping[str, Any]) -> int:
    return sum(int(v.get("points", 0)) for v in scores.values())


@dataclass(frozen=True)
class Outcome:
    """Where a team's submission stands: its status, the grade that counts (if any) and the
    card that dates it, the criteria to moderate."""

    status: str  # ungraded | awaiting second grader | to moderate | graded | agreed | final
    scores: dict[str, dict[str, Any]] | None
    dated: datetime | None
    submission_id: int | None
    disagreements: tuple[str, ...] = ()


def outcome(task: TaskSpec, cards: Mapping[str, Grade]) -> Outcome:
    final, first, second = cards.get("final"), cards.get("first"), cards.get("second")
    if final is not None:
        return Outcome("final", final.scores, final.created_at, final.submission_id)
    if first is None:
        return Outcome("ungraded", None, None, None)
    if not task.second_grader:
        return Outcome("graded", first.scores, first.created_at, first.submission_id)
    if second is None:
        return Outcome("awaiting second grader", None, None, None)
    limit = task.moderation_threshold
    apart = tuple(
        c.id for c in task.rubric if abs(_points(first, c.id) - _points(second, c.id)) > limit
    )
    if apart:
        return Outcome("to moderate", None, None, None, apart)
    mean = {}
    for c in task.rubric:
        a, b = _points(first, c.id), _points(second, c.id)
        notes = [
            n for n in (first.scores[c.id].get("comment"), second.scores[c.id].get("comment")) if n
        ]
        mean[c.id] = {"points": (a + b + 1) // 2, "comment": "\n\n".join(notes)}
    latest = max(first, second, key=lambda g: g.created_at)
    return Outcome("agreed", mean, latest.created_at, latest.submission_id)


def _points(card: Grade, criterion: str) -> int:
    return int(card.scores.get(criterion, {}).get("points", 0))


Cards = dict[tuple[int, int], dict[str, Grade]]


def _cards(s: Session, challenge_id: int | None = None) -> Cards:
    """The current (not replaced) card of each role, per (team, challenge)."""
    q = select(Grade).where(Grade.replaced_at.is_(None))
    if challenge_id is not None:
        q = q.where(Grade.challenge_id == challenge_id)
    out: Cards = defaultdict(dict)
    for g in s.scalars(q):
        out[g.team_id, g.challenge_id][g.role] = g
    return out


def _lines(task: TaskSpec, scores: Mapping[str, Any]) -> list[GradeLineOut]:
    return [
        GradeLineOut(
            criterion=c.id,
            title=c.title,
            points=int(scores[c.id]["points"]),
            most=c.points,
            comment=scores[c.id].get("comment") or "",
        )
        for c in task.rubric
        if c.id in scores
    ]


def _penalty(task: TaskSpec, total: int, late: bool) -> int:
    return round(total * task.penalty / 100) if late and task.penalty else 0


# --- the team's view --------------------------------------------------------------------------
def team_view(ctx: Range, team_id: int, slug: str) -> TaskOut:
    now = ctx.clock.now()
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        rows = list(
            s.scalars(
                select(Submission)
                .where(Submission.team_id == team_id, Submission.challenge_id == ch.id)
                .order_by(Submission.version.desc())
            )
        )
        names = _names(s, rows)
        release = s.get(TaskRelease, ch.id)
        grade = None
        if release is not None:
            result = outcome(task, _cards(s, ch.id).get((team_id, ch.id), {}))
            if result.scores is not None:
                total = _total(result.scores)
                late = next((r.late for r in rows if r.id == result.submission_id), False)
                penalty = _penalty(task, total, late)
                grade = TaskGradeOut(
                    lines=_lines(task, result.scores),
                    penalty=penalty,
                    total=total - penalty,
                    most=task.most,
                )
    due = due_at(ctx, task)
    return TaskOut(
        deliverable=task.deliverable,
        due_at=due,
        late_rule=task.late_rule,
        closed=due is not None and now > due and task.late == "refuse",
        upload_types=list(task.upload.types),
        upload_max_bytes=task.upload.max_bytes,
        rubric=[CriterionOut(id=c.id, title=c.title, points=c.points) for c in task.rubric],
        submissions=[_submission_view(r, names) for r in rows],
        published=release is not None,
        grade=grade,
    )


# --- the white cell's view ------------------------------------------------------------------
def summaries(ctx: Range, slug: str | None = None) -> list[TaskSummaryOut]:
    """Every graded task's counts (or only ``slug``'s)."""
    where = scenario.where(ctx)
    out = []
    q = select(Challenge).where(Challenge.type == "task").order_by(Challenge.slug)
    if slug is not None:
        q = q.where(Challenge.slug == slug)
    with ctx.store.read() as s:
        for ch in s.scalars(q):
            task = task_of(ch)
            assert task is not None
            teams_in = set(
                s.scalars(select(Submission.team_id).where(Submission.challenge_id == ch.id)).all()
            )
            results = [outcome(task, c) for c in _cards(s, ch.id).values()]
            release = s.get(TaskRelease, ch.id)
            out.append(
                TaskSummaryOut(
                    slug=ch.slug,
                    name=ch.name,
                    due_at=due_at(ctx, task, where),
                    submitted=len(teams_in),
                    graded=sum(r.scores is not None for r in results),
                    to_moderate=sum(r.status == "to moderate" for r in results),
                    published_at=release.published_at if release else None,
                )
            )
    return out


def summary(ctx: Range, slug: str) -> TaskSummaryOut:
    found = summaries(ctx, slug)
    if not found:
        raise NotFound("no graded task {slug!r}", slug=slug)
    return found[0]


def _latest(s: Session, challenge_id: int, team_id: int | None = None) -> dict[int, Submission]:
    """Each team's newest version (only ``team_id``'s, if given), without reading the older
    ones."""
    where = [Submission.challenge_id == challenge_id]
    if team_id is not None:
        where.append(Submission.team_id == team_id)
    newest = (
        select(Submission.team_id, func.max(Submission.version).label("version"))
        .where(*where)
        .group_by(Submission.team_id)
        .subquery()
    )
    same = (Submission.team_id == newest.c.team_id) & (Submission.version == newest.c.version)
    q = select(Submission).join(newest, same).where(*where)
    return {r.team_id: r for r in s.scalars(q)}


def queue(ctx: Range, slug: str) -> list[QueueRowOut]:
    """Every team that submitted, by its code (and name once published): where its grade is."""
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        published = s.get(TaskRelease, ch.id) is not None
        cards = _cards(s, ch.id)
        names = dict(s.execute(select(Team.id, Team.name)).all())
        rows = []
        for team_id, sub in _latest(s, ch.id).items():
            mine = cards.get((team_id, ch.id), {})
            result = outcome(task, mine)
            rows.append(
                QueueRowOut(
                    code=blind_code(ctx, ch.id, team_id),
                    team=names.get(team_id) if published else None,
                    version=sub.version,
                    submitted_at=sub.created_at,
                    late=sub.late,
                    status=result.status,
                    graders=[mine[r].grader for r in ROLES if r in mine],
                    total=_total(result.scores) if result.scores is not None else None,
                    disagreements=list(result.disagreements),
                )
            )
    return sorted(rows, key=lambda r: (r.status != "to moderate", r.status != "ungraded", r.code))


def _team_by_code(ctx: Range, s: Session, challenge_id: int, code: str) -> int:
    for team_id in s.scalars(
        select(Submission.team_id).where(Submission.challenge_id == challenge_id).distinct()
    ):
        if hmac.compare_digest(blind_code(ctx, challenge_id, team_id), code):
            return team_id
    raise NotFound("no submission {code!r} for this task", code=code[:20])


def _card_view(g: Grade) -> GradeCardOut:
    return GradeCardOut(
        id=g.id,
        role=g.role,
        grader=g.grader,
        scores=g.scores,
        total=_total(g.scores),
        created_at=g.created_at,
        replaced_at=g.replaced_at,
    )


def sheet(ctx: Range, slug: str, code: str) -> TaskSheetOut:
    with ctx.store.read() as s:
        ch, task = _task_row(s, slug)
        team_id = _team_by_code(ctx, s, ch.id, code)
        release = s.get(TaskRelease, ch.id)
        subs = list(
            s.scalars(
                select(Submission)
                .where(Submission.team_id == team_id, Submission.challenge_id == ch.id)
                .order_by(Submission.version.desc())
            )
        )
        history = list(
            s.scalars(
                select(Grade)
                .where(Grade.team_id == team_id, Grade.challenge_id == ch.id)
                .order_by(Grade.id)
            )
        )
        current = {g.role: g for g in history if g.replaced_at is None}
        result = outcome(task, current)
        team = s.get(Team, team_id)
        return TaskSheetOut(
            slug=ch.slug,
            name=ch.name,
            code=code,
            team=team.name if release is not None and team is not None else None,
            rubric=[
                CriterionOut(id=c.id, title=c.title, points=c.points, guidance=c.guidance)
                for c in task.rubric
            ],
            second_grader=task.second_grader,
            moderation_threshold=task.moderation_threshold,
            published_at=release.published_at if release else None,
            submissions=[_submission_view(r, {}) for r in subs],  # blind: no member's name
            cards=[_card_view(g) for g in history],
            status=result.status,
            disagreements=list(result.disagreements),
        )


def _clean_scores(task: TaskSpec, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    known = {c.id: c for c in task.rubric}
    for key in given:
        if key not in known:
            raise InvalidInput(
                "unknown criterion {criterion!r} (the rubric has: {ids})",
                criterion=str(key)[:40],
                ids=", ".join(known),
            )
    out = {}
    for c in task.rubric:
        if c.id not in given:
            raise InvalidInput("criterion {criterion!r}: no points given", criterion=c.id)
        raw = given[c.id] if isinstance(given[c.id], Mapping) else {"points": given[c.id]}
        points = raw.get("points")
        if isinstance(points, str) and re.fullmatch(r"\s*[0-9]{1,6}\s*", points):
            points = int(points)
        if not isinstance(points, int) or isinstance(points, bool):
            raise InvalidInput(
                "criterion {criterion!r}: points must be a whole number", criterion=c.id
            )
        if points < 0 or points > c.points:
            raise InvalidInput(
                "criterion {criterion!r}: {points} is outside 0 to {most}",
                criterion=c.id,
                points=points,
                most=c.points,
            )
        comment = str(raw.get("comment") or "").strip()
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(
                "criterion {criterion!r}: a comment of at most {most} characters",
                criterion=c.id,
                most=MAX_COMMENT,
            )
        out[c.id] = {"points": points, "comment": comment}
    return out


def grade(
    ctx: Range,
    slug: str,
    code: str,
    scores: Mapping[str, Any],
    grader: Grader,
    moderate: bool = False,
) -> GradeCardOut:
    """A grader's card for the team's latest version. Its role: the first grade, the second
    (another person, when the task has a second grader), or with ``moderate`` (and for any
    change once the task is published) the final one."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        ch, task = _task_row(s, slug)
        team_id = _team_by_code(ctx, s, ch.id, code)
        clean = _clean_scores(task, scores)
        sub = _latest(s, ch.id, team_id)[team_id]
        current = _cards(s, ch.id).get((team_id, ch.id), {})
        published = s.get(TaskRelease, ch.id) is not None
        before = outcome(task, current)
        role = _role_for(task, current, grader, moderate or published)
        if role in current:
            current[role].replaced_at = now
        card = Grade(
            team_id=team_id,
            challenge_id=ch.id,
            submission_id=sub.id,
            role=role,
            grader=grader.actor,
            account_id=grader.account_id,
            scores=clean,
            created_at=now,
        )
        s.add(card)
        s.flush()
        detail = {"task": ch.slug, "code": code, "role": role, "total": _total(clean)}
        if published:
            was = _total(before.scores) if before.scores is not None else None
            audit(s, ctx, grader.actor, "task.regrade", **detail, was=was)
            bump_generation(s, ctx)
        else:
            audit(s, ctx, grader.actor, "task.grade", **detail)
        return _card_view(card)


def _role_for(task: TaskSpec, current: Mapping[str, Grade], grader: Grader, final: bool) -> str:
    if final:
        return "final"
    if "final" in current:
        raise Conflict("a moderator has settled this grade: a change now is a moderation")

    def mine(card: Grade | None) -> bool:
        if card is None:
            return False
        if grader.account_id is not None:
            return card.account_id == grader.account_id
        return card.account_id is None and card.grader == grader.actor

    first, second = current.get("first"), current.get("second")
    if first is None or mine(first):
        return "first"
    if not task.second_grader:
        raise Conflict(
            "{grader} graded it already: a change now is a moderation", grader=first.grader
        )
    if second is None or mine(second):
        return "second"
    raise Conflict(
        "{first} and {second} graded it already: a change now is a moderation",
        first=first.grader,
        second=second.grader,
    )


def publish(ctx: Range, slug: str, actor: str) -> TaskSummaryOut:
    """Teams, the scoreboard and the CTFtime feed get the task's grades; refused while a
    submission has none (ungraded, awaiting its second grader, or to moderate)."""
    with ctx.store.write() as s:
        ch, task = _task_row(s, slug)
        if s.get(TaskRelease, ch.id) is not None:
            raise Conflict("{slug!r} is published already: a change now is a regrade", slug=slug)
        cards = _cards(s, ch.id)
        submitted = list(
            s.scalars(select(Submission.team_id).where(Submission.challenge_id == ch.id).distinct())
        )
        if not submitted:
            raise Conflict("{slug!r} has no submission to publish", slug=slug)
        waiting = []
        for team_id in submitted:
            result = outcome(task, cards.get((team_id, ch.id), {}))
            if result.scores is None:
                waiting.append(f"{blind_code(ctx, ch.id, team_id)} ({result.status})")
        if waiting:
            raise Conflict(
                "not every submission has its grade yet: {waiting}",
                waiting=", ".join(sorted(waiting)[:20]),
            )
        s.add(TaskRelease(challenge_id=ch.id, published_at=ctx.clock.now(), published_by=actor))
        audit(s, ctx, actor, "task.publish", task=ch.slug, grades=len(cards))
        bump_generation(s, ctx)
    return summary(ctx, slug)


# --- the ledger's lines ---------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    team_id: int
    challenge_id: int
    task: TaskSpec
    scores: dict[str, dict[str, Any]]
    at: datetime  # when it became public: the publication, or a later regrade
    penalty: int


def _published(s: Session) -> Iterator[Published]:
    """Every team's grade on every published task."""
    releases = {r.challenge_id: r.published_at for r in s.scalars(select(TaskRelease))}
    if not releases:
        return
    challenges = {
        ch.id: ch for ch in s.scalars(select(Challenge).where(Challenge.id.in_(list(releases))))
    }
    late = dict(
        s.execute(
            select(Submission.id, Submission.late).where(
                Submission.challenge_id.in_(list(releases))
            )
        ).all()
    )
    for (team_id, challenge_id), mine in _cards(s).items():
        ch = challenges.get(challenge_id)
        task = task_of(ch) if ch is not None else None
        if task is None:
            continue
        result = outcome(task, mine)
        if result.scores is None:
            continue
        at = max(releases[challenge_id], result.dated or releases[challenge_id])
        penalty = _penalty(task, _total(result.scores), bool(late.get(result.submission_id)))
        yield Published(team_id, challenge_id, task, result.scores, at, penalty)


def grade_records(s: Session) -> list[GradeRec]:
    """Every published grade as ledger lines (per criterion, and the late penalty)."""
    out: list[GradeRec] = []
    for p in _published(s):
        for c in p.task.rubric:
            points = int(p.scores[c.id]["points"])
            out.append(
                GradeRec(p.team_id, p.challenge_id, "grade", points, p.at, c.title, c.points)
            )
        if p.penalty:
            out.append(
                GradeRec(
                    p.team_id, p.challenge_id, "late", -p.penalty, p.at, percent=p.task.penalty
                )
            )
    return out


def published_totals(s: Session) -> dict[tuple[int, int], dict[str, Any]]:
    """Per (team, task): the published grade's lines, penalty and total (for the report)."""
    return {
        (p.team_id, p.challenge_id): {
            "at": iso(p.at),
            "total": _total(p.scores) - p.penalty,
            "most": p.task.most,
            "penalty": p.penalty,
            "lines": [line.model_dump() for line in _lines(p.task, p.scores)],
        }
        for p in _published(s)
    }
