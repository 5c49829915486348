"""A team's deliverables for a graded task: every version kept with its time and member, the late
rule applied, a file checked for its type by its extension *and* its content and written durably
before its row commits (a refusal stores nothing)."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from range_control.context import Range
from range_control.core.errors import (
    Conflict,
    EventNotRunning,
    Explained,
    Forbidden,
    InvalidInput,
    NotFound,
)
from range_control.core.files import write_durably
from range_control.domain import documents
from range_control.domain.visibility import is_visible
from range_control.services.event import event as events
from range_control.services.play import gates
from range_control.services.whitecell.tasks import (
    MAX_TEXT,
    Upload,
    _names,
    _submission_view,
    _task_row,
    due_at,
    task_of,
)
from range_control.specs.api.whitecell import SubmissionOut
from range_control.specs.challenge import TaskSpec
from range_control.store.models import Challenge, Submission


# --- submitting -----------------------------------------------------------------------------
def upload_allowance(ctx: Range, slug: str) -> int | None:
    """The largest file the graded task ``slug`` takes now; None when there is no such task
    that teams can see or it takes no file (the web tier then keeps its normal body limit)."""
    with ctx.store.read() as s:
        ch = s.scalars(select(Challenge).where(Challenge.slug == slug)).one_or_none()
        task = task_of(ch) if ch is not None and is_visible(ch) else None
        if task is None or task.deliverable == "text":
            return None
        return task.upload.max_bytes


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
    try:
        documents.check(ext, up.data)
    except Explained as exc:
        raise InvalidInput("file: {name!r} {reason}", name=name, reason=exc) from None
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
