"""The after-action report: what the exercise was and what every team did, when.

:func:`build` gathers the facts in one read of the database into one JSON-able document;
``report.render`` writes it as self-contained HTML (inline CSS with a print stylesheet, the
score progression as server-side SVG, no external asset), JSON and CSV. The same facts in
every format.

- the exercise timeline as it ran: phases (with extensions and skips), the organisers'
  start, pauses, resumes, extensions, skips and end, and the injects as they fired;
- participation; the final standings (the organisers' board) and, if a freeze happened, the
  frozen one teams saw; the score progression;
- per challenge: solves, first blood, median time to solve from its opening, wrong attempts,
  hints bought;
- per team a timeline of everything it did (attempts with outcome, solves, hints, instance
  actions, task submissions and grades, awards, sharing alerts involving it) and, where people
  have accounts, per member;
- the organisers' actions from the audit log.

``team``: one team's debrief (what a delegation takes home): its own facts, its position, the
public values of the challenges it can see now; nothing of another team, nothing hidden from it.
``anonymise``: teams, people and actors as codes (``Team 01``, ``Team 01 member 2``, ``Staff
1``), ids and identifying audit details dropped (``report.naming``). ``blind``: for a caller
who may not link a graded task's submissions to their teams before publication (the
``unblind`` permission), the submissions of unpublished tasks are left out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import ActorKind
from range_control.core.clock import iso
from range_control.core.errors import NotFound
from range_control.services.event import scenario
from range_control.services.people import accounts
from range_control.services.play import scoreboard
from range_control.services.play.challenges import seen_by_teams
from range_control.services.whitecell import ground_truth
from range_control.services.whitecell.publication import published_totals
from range_control.services.whitecell.report.naming import Naming, Pseudonyms
from range_control.store.models import (
    Account,
    Announcement,
    Attempt,
    AuditLog,
    Award,
    Challenge,
    DefenceCapture,
    DefenceReset,
    DefenceVerdict,
    Event,
    Hint,
    HintUnlock,
    RedAction,
    RedCommand,
    SharingAlert,
    Solve,
    Submission,
    TaskRelease,
    Team,
)

CONTROL = (
    "event.start",
    "event.pause",
    "event.resume",
    "event.extend",
    "event.skip",
    "event.end",
    "event.stop",
    "scenario.load",
)


@dataclass
class Progress:
    """What the caller shows while the report is made (a CLI progress bar)."""

    step: Callable[[str], None] = field(default=lambda _what: None)


def _when(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _rows(s: Session, q: Any) -> list[Any]:
    return list(s.execute(q).all())


def build(
    ctx: Range,
    *,
    team: str | None = None,
    anonymise: bool = False,
    blind: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The report's document (see the module's docstring)."""
    step = (progress or Progress()).step
    now = ctx.clock.now()
    step("the exercise")
    where = scenario.where(ctx, now)
    ev = where.view
    phases = scenario.rows_of(where)
    step("the boards")
    final = scoreboard.snapshot(ctx, public=False)
    shown = scoreboard.snapshot(ctx, public=True)
    step("the records")
    with ctx.store.read() as s:
        facts = _Facts.read(s, ctx, blind)
    only = None
    if team is not None:
        only = next(
            (t for t in facts.teams.values() if t["name"].casefold() == team.casefold()), None
        )
        if only is None:
            raise NotFound("team {team!r} not found", team=team[:100])
    naming = facts.naming = _naming(facts, final.board.standings, anonymise)
    seen = {ch.slug for ch in seen_by_teams(shown)} if only is not None else None
    step("the challenges")
    doc: dict[str, Any] = {
        "event": {
            "slug": ctx.event_slug,
            "name": ev.name,
            "state": ev.state,
            "interim": ev.state != "ended",
            "generated_at": iso(now),
            "started_at": _when(facts.started_at),
            "ended_at": _when(facts.ended_at),
            "freeze_at": _when(ev.freeze_at),
            "frozen": ev.frozen,
            "team": naming.team(only["id"]) if only else None,
            "anonymised": anonymise,
            "blind": blind,
        },
        "timeline": _timeline(phases, facts, seen),
        "participation": _participation(facts, only),
        "standings": _standings(final.board.standings, only, naming),
        "frozen_standings": (
            _standings(shown.board.standings, only, naming)
            if shown.public and shown.event.frozen
            else None
        ),
        "progression": _progression(final.board.standings, only, naming),
        "challenges": _challenges(facts, phases, only, seen),
    }
    step("the teams' timelines")
    doc["teams"] = sorted(
        (
            _team(facts, t, final.board.standings)
            for t in facts.teams.values()
            if only is None or t["id"] == only["id"]
        ),
        key=lambda t: t["name"] if anonymise else 0,  # codes in order: no trace of the ids
    )
    doc["organiser_actions"] = []
    if only is None:
        step("the organisers' actions")
        doc["organiser_actions"] = [
            _action(a, naming) for a in facts.audit if not _team_instance_action(a)
        ]
    return doc


def _naming(f: _Facts, rows: list[Any], anonymise: bool) -> Naming:
    if not anonymise:
        return Naming(f.teams, f.people)
    positions = {r.team_id: r.pos for r in rows}
    return Pseudonyms(f.teams, f.people, positions, (a.actor for a in f.audit))


class _Facts:
    """Every record the report uses, read once."""

    @classmethod
    def read(cls, s: Session, ctx: Range, blind: bool = False) -> _Facts:
        f = cls()
        f.blind = blind
        f.published = set(s.scalars(select(TaskRelease.challenge_id)))
        event = s.scalars(select(Event).where(Event.slug == ctx.event_slug)).one_or_none()
        f.started_at = event.started_at if event else None
        f.ended_at = event.ended_at if event else None
        f.teams = {
            r.id: {"id": r.id, "name": r.name, "country": r.country}
            for r in s.scalars(select(Team).order_by(Team.id))
        }
        f.challenges = {c.id: c for c in s.scalars(select(Challenge).order_by(Challenge.id))}
        f.people = {a.id: a for a in s.scalars(select(Account).order_by(Account.id))}
        f.attempts = _rows(
            s,
            select(
                Attempt.id,
                Attempt.team_id,
                Attempt.challenge_id,
                Attempt.result,
                Attempt.submitted,
                Attempt.created_at,
                Attempt.account_id,
            ).order_by(Attempt.id),
        )
        f.solves = _rows(
            s,
            select(Solve.team_id, Solve.challenge_id, Solve.created_at).order_by(
                Solve.created_at, Solve.id
            ),
        )
        f.unlocks = _rows(
            s,
            select(
                HintUnlock.team_id,
                Hint.challenge_id,
                Hint.title,
                HintUnlock.cost,
                HintUnlock.created_at,
                HintUnlock.account_id,
            )
            .join(Hint, Hint.id == HintUnlock.hint_id)
            .order_by(HintUnlock.id),
        )
        f.awards = _rows(
            s, select(Award.team_id, Award.value, Award.reason, Award.created_at).order_by(Award.id)
        )
        f.alerts = _rows(
            s,
            select(
                SharingAlert.submitting_team_id,
                SharingAlert.owner_team_id,
                SharingAlert.challenge_id,
                SharingAlert.created_at,
            ).order_by(SharingAlert.id),
        )
        f.submissions = list(s.scalars(select(Submission).order_by(Submission.id)))
        f.announcements = _rows(
            s,
            select(Announcement.title, Announcement.source, Announcement.created_at).order_by(
                Announcement.created_at
            ),
        )
        f.audit = list(s.scalars(select(AuditLog).order_by(AuditLog.id)))
        f.grades = published_totals(s)
        f.verdicts = _verdict_changes(
            _rows(
                s,
                select(
                    DefenceVerdict.team_id,
                    DefenceVerdict.challenge_id,
                    DefenceVerdict.tick,
                    DefenceVerdict.verdict,
                    DefenceVerdict.public,
                    DefenceVerdict.at,
                ).order_by(DefenceVerdict.tick, DefenceVerdict.id),
            )
        )
        f.captures = _rows(
            s,
            select(
                DefenceCapture.team_id,
                DefenceCapture.victim_id,
                DefenceCapture.challenge_id,
                DefenceCapture.tick,
                DefenceCapture.created_at,
            ).order_by(DefenceCapture.id),
        )
        f.resets = _rows(
            s,
            select(
                DefenceReset.team_id,
                DefenceReset.challenge_id,
                DefenceReset.cost,
                DefenceReset.created_at,
            ).order_by(DefenceReset.id),
        )
        f.detected = ground_truth.detected_at(s)
        f.red = _rows(
            s,
            select(
                RedAction.id,
                RedAction.target_id,
                RedAction.challenge_id,
                RedAction.technique,
                RedAction.outcome,
                RedAction.summary,
                RedAction.at,
            ).order_by(RedAction.at, RedAction.id),
        )
        f.red_commands = _rows(
            s,
            select(RedCommand.target_id, RedCommand.challenge_id, RedCommand.command, RedCommand.at)
            .where(RedCommand.target_id.is_not(None))
            .order_by(RedCommand.at, RedCommand.id),
        )
        return f

    started_at: datetime | None
    ended_at: datetime | None
    teams: dict[int, dict[str, Any]]
    challenges: dict[int, Challenge]
    people: dict[int, Account]
    attempts: list[Any]
    solves: list[Any]
    unlocks: list[Any]
    awards: list[Any]
    alerts: list[Any]
    submissions: list[Submission]
    announcements: list[Any]
    audit: list[AuditLog]
    grades: dict[tuple[int, int], dict[str, Any]]
    verdicts: list[Any]  # a defended service's verdict where it changed (and the first)
    captures: list[Any]
    resets: list[Any]
    red: list[Any]  # the red cell's actions (its ground truth)
    red_commands: list[Any]  # what it ran on its jumpbox against a team (observed)
    detected: dict[int, datetime]  # red action id -> the first incident report naming it
    blind: bool
    published: set[int]  # graded tasks whose grades are published
    naming: Naming

    def slug(self, challenge_id: int) -> str:
        ch = self.challenges.get(challenge_id)
        return ch.slug if ch is not None else f"#{challenge_id}"

    def submissions_shown(self) -> Iterator[Submission]:
        """Blind: only those of published tasks (nothing else links a submission to a team)."""
        for sub in self.submissions:
            if not self.blind or sub.challenge_id in self.published:
                yield sub


def _team_instance_action(a: AuditLog) -> bool:
    """A team's own instance action: part of its timeline, not the organisers' actions."""
    return a.team_id is not None and a.action.startswith("instance.")


def _action(a: AuditLog, naming: Naming) -> dict[str, Any]:
    return {
        "at": iso(a.created_at),
        "actor": naming.actor(a.actor),
        "actor_kind": a.actor.kind.value,
        "action": a.action,
        "detail": naming.detail(a.detail),
    }


def _timeline(phases: list[Any], f: _Facts, seen: set[str] | None) -> dict[str, Any]:
    control = [_action(a, f.naming) for a in f.audit if a.action in CONTROL]
    injects = [
        {"at": iso(at), "title": f.naming.text(title), "source": source}
        for title, source, at in f.announcements
        if source in ("inject", "phase")
    ]
    return {
        "phases": [
            {
                "id": p.id,
                "title": p.title,
                "start": _when(p.start),
                "end": _when(p.end),
                "status": p.status,
                "extended_by": p.extended_by.total_seconds() if p.extended_by else None,
                "challenges": [c for c in p.challenges if seen is None or c in seen],
            }
            for p in phases
        ],
        "control": control,
        "injects": injects,
    }


def _participation(f: _Facts, only: dict[str, Any] | None) -> dict[str, Any]:
    keep = (lambda tid: tid == only["id"]) if only else (lambda _tid: True)
    active = {a.team_id for a in f.attempts if keep(a.team_id)}
    members = [
        a
        for a in f.people.values()
        if a.role in accounts.TEAM_ROLES and a.team_id is not None and keep(a.team_id)
    ]
    acting = {a.account_id for a in f.attempts if a.account_id is not None and keep(a.team_id)}
    return {
        "teams": 1 if only else len(f.teams),
        "teams_with_attempts": len(active),
        "members": len(members),
        "members_who_submitted": len(acting & {m.id for m in members}),
        "attempts": sum(1 for a in f.attempts if keep(a.team_id)),
        "solves": sum(1 for sv in f.solves if keep(sv.team_id)),
    }


def _standings(
    rows: list[Any], only: dict[str, Any] | None, naming: Naming
) -> list[dict[str, Any]]:
    return [
        {
            "pos": r.pos,
            "team": naming.team(r.team_id),
            "country": naming.country(r.team_id),
            "score": r.score,
            "solves": r.solves,
        }
        for r in rows
        if only is None or r.team_id == only["id"]
    ]


def _progression(
    rows: list[Any], only: dict[str, Any] | None, naming: Naming
) -> list[dict[str, Any]]:
    """Each team's score after each ledger entry: ``[[time, score], ...]``."""
    out = []
    for r in rows:
        if only is not None and r.team_id != only["id"]:
            continue
        total, points = 0, []
        for e in sorted(r.ledger, key=lambda e: e.at):
            total += e.points
            points.append([iso(e.at), total])
        out.append({"team": naming.team(r.team_id), "pos": r.pos, "points": points})
    return out


def _opening(ch: Challenge, phases: list[Any], started: datetime | None) -> datetime | None:
    """When teams could first work on it: its phase's start, its release, the event's start."""
    for p in phases:
        if ch.slug in p.challenges and p.start is not None:
            return p.start
    return ch.release_at or started


def _challenges(
    f: _Facts, phases: list[Any], only: dict[str, Any] | None, seen: set[str] | None
) -> list[dict[str, Any]]:
    """Every challenge's figures; for one team's debrief, those it can see now."""
    solves: dict[int, list[Any]] = defaultdict(list)
    for sv in f.solves:
        solves[sv.challenge_id].append(sv)
    wrong: dict[int, int] = defaultdict(int)
    for a in f.attempts:
        if a.result == "incorrect" and (only is None or a.team_id == only["id"]):
            wrong[a.challenge_id] += 1
    bought: dict[int, int] = defaultdict(int)
    for u in f.unlocks:
        if u.cost and (only is None or u.team_id == only["id"]):
            bought[u.challenge_id] += 1
    out = []
    for ch in f.challenges.values():
        if seen is not None and ch.slug not in seen:
            continue
        mine = solves.get(ch.id, [])
        opened = _opening(ch, phases, f.started_at)
        times = [(sv.created_at - opened).total_seconds() for sv in mine if opened is not None]
        row: dict[str, Any] = {
            "slug": ch.slug,
            "name": ch.name,
            "category": ch.category,
            "type": ch.type,
            "opened_at": _when(opened),
            "solves": len(mine),
        }
        if only is None:
            first = mine[0] if mine else None
            row.update(
                {
                    "first_blood": (
                        {"team": f.naming.team(first.team_id), "at": iso(first.created_at)}
                        if first is not None and first.team_id in f.teams
                        else None
                    ),
                    "median_seconds_to_solve": statistics.median(times) if times else None,
                    "wrong_attempts": wrong[ch.id],
                    "hints_bought": bought[ch.id],
                }
            )
        else:  # the team's own figures; the public ones (value, solves) stay
            own = next((sv for sv in mine if sv.team_id == only["id"]), None)
            row.update(
                {
                    "solved_at": _when(own.created_at) if own else None,
                    "seconds_to_solve": (
                        (own.created_at - opened).total_seconds()
                        if own is not None and opened is not None
                        else None
                    ),
                    "wrong_attempts": wrong[ch.id],
                    "hints_bought": bought[ch.id],
                }
            )
        out.append(row)
    return out


def _team(f: _Facts, t: dict[str, Any], rows: list[Any]) -> dict[str, Any]:
    tid = t["id"]
    standing = next((r for r in rows if r.team_id == tid), None)
    events = sorted(_events_of(f, tid), key=lambda e: (e["at"], e["kind"]))
    members = []
    for a in f.people.values():
        if a.team_id == tid and a.role in accounts.TEAM_ROLES:
            theirs = [e for e in events if e.get("account") == a.id]
            members.append(
                {
                    "name": f.naming.person(a.id),
                    "callsign": f.naming.callsign(a.id),
                    "role": a.role,
                    "events": theirs,
                }
            )
    if f.naming.anonymous:  # the account's id was only to find the member's own events
        for e in events:
            e.pop("account", None)
    restores = _restores(f, tid)
    detections = _detections(f, tid)
    return {
        "name": f.naming.team(tid),
        "country": f.naming.country(tid),
        "pos": standing.pos if standing else None,
        "score": standing.score if standing else 0,
        "events": events,
        "members": members,
        "restores": restores,
        "mean_restore_seconds": (
            round(sum(r["seconds"] for r in restores) / len(restores)) if restores else None
        ),
        "detections": detections,
        "mean_detect_seconds": _mean(
            [d["seconds"] for d in detections if d["seconds"] is not None]
        ),
    }


def _mean(values: list[float]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def _detections(f: _Facts, tid: int) -> list[dict[str, Any]]:
    """Each red cell action against the team: when it happened, when the team's first incident
    report naming it came (as its grader marked it), and the time between (None: never)."""
    out = []
    for a in f.red:
        if a.target_id != tid:
            continue
        seen = f.detected.get(a.id)
        out.append(
            {
                "at": iso(a.at),
                "challenge": f.slug(a.challenge_id) if a.challenge_id else None,
                "technique": a.technique,
                "outcome": a.outcome,
                "detected_at": iso(seen) if seen is not None else None,
                "seconds": round((seen - a.at).total_seconds()) if seen is not None else None,
            }
        )
    return out


DOWNS = ("DOWN", "MUMBLE", "CORRUPT")  # the team's service failing (RECOVERING answers)


def _verdict_changes(rows: list[Any]) -> list[Any]:
    """A team's defended service: its first verdict, then each tick whose verdict differs from
    the one before (the timeline says what changed, not every tick)."""
    last: dict[tuple[int, int], str] = {}
    out = []
    for r in rows:
        key = (r.team_id, r.challenge_id)
        if last.get(key) != r.verdict:
            out.append(r)
        last[key] = r.verdict
    return out


def _restores(f: _Facts, tid: int) -> list[dict[str, Any]]:
    """Time to restore: from each first DOWN, MUMBLE or CORRUPT of a service to its next OK."""
    out = []
    down: dict[int, Any] = {}
    for r in f.verdicts:
        if r.team_id != tid:
            continue
        if r.verdict in DOWNS and r.challenge_id not in down:
            down[r.challenge_id] = r
        elif r.verdict == "OK" and r.challenge_id in down:
            was = down.pop(r.challenge_id)
            out.append(
                {
                    "challenge": f.slug(r.challenge_id),
                    "down_at": iso(was.at),
                    "restored_at": iso(r.at),
                    "seconds": round((r.at - was.at).total_seconds()),
                }
            )
    return out


def _events_of(f: _Facts, tid: int) -> Iterator[dict[str, Any]]:
    """Everything the team did or that happened to it, one kind of record after another."""
    for rows, teams_of, event in _TIMELINE:
        for row in rows(f):
            if tid in teams_of(row):
                yield event(f, row, tid)


def _attempt(f: _Facts, a: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(a.created_at),
        "kind": "attempt",
        "challenge": f.slug(a.challenge_id),
        "outcome": a.result,
        "submitted": f.naming.text(a.submitted),
        "by": f.naming.person(a.account_id),
        "account": a.account_id,
    }


def _solve(f: _Facts, sv: Any, _tid: int) -> dict[str, Any]:
    return {"at": iso(sv.created_at), "kind": "solve", "challenge": f.slug(sv.challenge_id)}


def _hint(f: _Facts, u: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(u.created_at),
        "kind": "hint",
        "challenge": f.slug(u.challenge_id),
        "hint": f.naming.text(u.title or ""),
        "cost": u.cost,
        "by": f.naming.person(u.account_id),
        "account": u.account_id,
    }


def _instance_action(f: _Facts, a: AuditLog, _tid: int) -> dict[str, Any]:
    account = a.actor.id if a.actor.kind is ActorKind.PERSON else None
    return {
        "at": iso(a.created_at),
        "kind": a.action.replace(".", "_"),
        "challenge": a.detail.get("challenge"),
        "by": f.naming.person(account),
        "account": account,
    }


def _submission(f: _Facts, sub: Submission, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(sub.created_at),
        "kind": "task_submission",
        "challenge": f.slug(sub.challenge_id),
        "version": sub.version,
        "late": sub.late,
        "text": f.naming.text(sub.text),
        "file": f.naming.text(sub.file_name),
        "by": f.naming.person(sub.account_id),
        "account": sub.account_id,
    }


def _grade(f: _Facts, item: tuple[tuple[int, int], dict[str, Any]], _tid: int) -> dict[str, Any]:
    (_team, challenge_id), g = item
    return {
        "at": g["at"],
        "kind": "task_grade",
        "challenge": f.slug(challenge_id),
        "points": g["total"],
        "most": g["most"],
        "lines": g["lines"],
    }


def _award(f: _Facts, aw: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(aw.created_at),
        "kind": "award",
        "points": aw.value,
        "reason": f.naming.text(aw.reason),
    }


def _defence_verdict(f: _Facts, v: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(v.at),
        "kind": "defence_verdict",
        "challenge": f.slug(v.challenge_id),
        "outcome": v.verdict,
        "what": f"tick {v.tick}: {f.naming.text(v.public or '')}".rstrip(": "),
    }


def _capture(f: _Facts, c: Any, tid: int) -> dict[str, Any]:
    if c.team_id == tid:
        what = f"captured {f.naming.team(c.victim_id)}'s flag of tick {c.tick}"
        kind = "capture"
    else:
        what = f"its flag of tick {c.tick} captured by {f.naming.team(c.team_id)}"
        kind = "flag_lost"
    return {
        "at": iso(c.created_at),
        "kind": kind,
        "challenge": f.slug(c.challenge_id),
        "what": what,
    }


def _reset(f: _Facts, r: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(r.created_at),
        "kind": "defence_reset",
        "challenge": f.slug(r.challenge_id),
        "points": -r.cost,
        "what": "reset to its baseline",
    }


def _red(f: _Facts, a: Any, _tid: int) -> dict[str, Any]:
    technique = f" ({a.technique})" if a.technique else ""
    return {
        "at": iso(a.at),
        "kind": "red_action",
        "challenge": f.slug(a.challenge_id) if a.challenge_id else None,
        "outcome": a.outcome,
        "what": f"red cell{technique}: {f.naming.text(a.summary)}",
    }


def _red_command(f: _Facts, c: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(c.at),
        "kind": "red_command",
        "challenge": f.slug(c.challenge_id) if c.challenge_id else None,
        "what": f"red cell ran: {c.command}",
    }


def _alert(f: _Facts, al: Any, tid: int) -> dict[str, Any]:
    if al.submitting_team_id == tid:
        role = "submitted another team's flag"
    else:
        role = "its flag was submitted by another team"
    return {
        "at": iso(al.created_at),
        "kind": "sharing_alert",
        "challenge": f.slug(al.challenge_id),
        "what": role,
    }


# (the records, the teams a record belongs to, the team's event of it), in the order above.
_TIMELINE: tuple[tuple[Callable[[_Facts], Any], Callable[[Any], tuple[Any, ...]], Any], ...] = (
    (lambda f: f.attempts, lambda a: (a.team_id,), _attempt),
    (lambda f: f.solves, lambda sv: (sv.team_id,), _solve),
    (lambda f: f.unlocks, lambda u: (u.team_id,), _hint),
    (
        lambda f: (a for a in f.audit if _team_instance_action(a)),
        lambda a: (a.team_id,),
        _instance_action,
    ),
    (lambda f: f.submissions_shown(), lambda sub: (sub.team_id,), _submission),
    (lambda f: f.grades.items(), lambda item: (item[0][0],), _grade),
    (lambda f: f.awards, lambda aw: (aw.team_id,), _award),
    (lambda f: f.alerts, lambda al: (al.submitting_team_id, al.owner_team_id), _alert),
    (lambda f: f.verdicts, lambda v: (v.team_id,), _defence_verdict),
    (lambda f: f.captures, lambda c: (c.team_id, c.victim_id), _capture),
    (lambda f: f.resets, lambda r: (r.team_id,), _reset),
    (lambda f: f.red, lambda a: (a.target_id,), _red),
    (lambda f: f.red_commands, lambda c: (c.target_id,), _red_command),
)
