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
public values of the challenges; nothing of another team. ``anonymise``: teams and people as
codes (``Team 01``, ``Team 01 member 2``), in every string of the document.
"""

from __future__ import annotations

import re
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
from range_control.services.whitecell.publication import published_totals
from range_control.store.models import (
    Account,
    Announcement,
    Attempt,
    AuditLog,
    Award,
    Challenge,
    Event,
    Hint,
    HintUnlock,
    SharingAlert,
    Solve,
    Submission,
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
        facts = _Facts.read(s, ctx)
    only = None
    if team is not None:
        only = next(
            (t for t in facts.teams.values() if t["name"].casefold() == team.casefold()), None
        )
        if only is None:
            raise NotFound("team {team!r} not found", team=team[:100])
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
            "team": only["name"] if only else None,
            "anonymised": anonymise,
        },
        "timeline": _timeline(phases, facts),
        "participation": _participation(facts, only),
        "standings": _standings(final.board.standings, only),
        "frozen_standings": (
            _standings(shown.board.standings, only) if shown.public and shown.event.frozen else None
        ),
        "progression": _progression(final.board.standings, only),
        "challenges": _challenges(facts, phases, only),
    }
    step("the teams' timelines")
    doc["teams"] = [
        _team(facts, t, final.board.standings)
        for t in facts.teams.values()
        if only is None or t["id"] == only["id"]
    ]
    if only is None:
        step("the organisers' actions")
        doc["organiser_actions"] = facts.organiser_actions
    else:
        doc["organiser_actions"] = []
    if anonymise:
        step("anonymising")
        doc = _anonymise(doc, facts, final.board.standings)
    return doc


class _Facts:
    """Every record the report uses, read once."""

    @classmethod
    def read(cls, s: Session, ctx: Range) -> _Facts:
        f = cls()
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
        f.organiser_actions = [_action(a) for a in f.audit if not _team_instance_action(a)]
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
    organiser_actions: list[dict[str, Any]]

    def slug(self, challenge_id: int) -> str:
        ch = self.challenges.get(challenge_id)
        return ch.slug if ch is not None else f"#{challenge_id}"

    def person(self, account_id: int | None) -> str | None:
        a = self.people.get(account_id) if account_id is not None else None
        return a.name if a is not None else None


def _team_instance_action(a: AuditLog) -> bool:
    """A team's own instance action: part of its timeline, not the organisers' actions."""
    return a.team_id is not None and a.action.startswith("instance.")


def _action(a: AuditLog) -> dict[str, Any]:
    return {
        "at": iso(a.created_at),
        "actor": a.actor.label,
        "actor_kind": a.actor.kind.value,
        "action": a.action,
        "detail": a.detail,
    }


def _timeline(phases: list[Any], f: _Facts) -> dict[str, Any]:
    control = [_action(a) for a in f.audit if a.action in CONTROL]
    injects = [
        {"at": iso(at), "title": title, "source": source}
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
                "challenges": list(p.challenges),
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


def _standings(rows: list[Any], only: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [
        {"pos": r.pos, "team": r.team, "country": r.country, "score": r.score, "solves": r.solves}
        for r in rows
        if only is None or r.team_id == only["id"]
    ]


def _progression(rows: list[Any], only: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each team's score after each ledger entry: ``[[time, score], ...]``."""
    out = []
    for r in rows:
        if only is not None and r.team_id != only["id"]:
            continue
        total, points = 0, []
        for e in sorted(r.ledger, key=lambda e: e.at):
            total += e.points
            points.append([iso(e.at), total])
        out.append({"team": r.team, "pos": r.pos, "points": points})
    return out


def _opening(ch: Challenge, phases: list[Any], started: datetime | None) -> datetime | None:
    """When teams could first work on it: its phase's start, its release, the event's start."""
    for p in phases:
        if ch.slug in p.challenges and p.start is not None:
            return p.start
    return ch.release_at or started


def _challenges(f: _Facts, phases: list[Any], only: dict[str, Any] | None) -> list[dict[str, Any]]:
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
                        {"team": f.teams[first.team_id]["name"], "at": iso(first.created_at)}
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
                {"name": a.name, "callsign": a.callsign, "role": a.role, "events": theirs}
            )
    return {
        "name": t["name"],
        "country": t["country"],
        "pos": standing.pos if standing else None,
        "score": standing.score if standing else 0,
        "events": events,
        "members": members,
    }


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
        "submitted": a.submitted,
        "by": f.person(a.account_id),
        "account": a.account_id,
    }


def _solve(f: _Facts, sv: Any, _tid: int) -> dict[str, Any]:
    return {"at": iso(sv.created_at), "kind": "solve", "challenge": f.slug(sv.challenge_id)}


def _hint(f: _Facts, u: Any, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(u.created_at),
        "kind": "hint",
        "challenge": f.slug(u.challenge_id),
        "hint": u.title or "",
        "cost": u.cost,
        "by": f.person(u.account_id),
        "account": u.account_id,
    }


def _instance_action(f: _Facts, a: AuditLog, _tid: int) -> dict[str, Any]:
    account = a.actor.id if a.actor.kind is ActorKind.PERSON else None
    return {
        "at": iso(a.created_at),
        "kind": a.action.replace(".", "_"),
        "challenge": a.detail.get("challenge"),
        "by": f.person(account),
        "account": account,
    }


def _submission(f: _Facts, sub: Submission, _tid: int) -> dict[str, Any]:
    return {
        "at": iso(sub.created_at),
        "kind": "task_submission",
        "challenge": f.slug(sub.challenge_id),
        "version": sub.version,
        "late": sub.late,
        "text": sub.text,
        "file": sub.file_name,
        "by": f.person(sub.account_id),
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


def _award(_f: _Facts, aw: Any, _tid: int) -> dict[str, Any]:
    return {"at": iso(aw.created_at), "kind": "award", "points": aw.value, "reason": aw.reason}


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
    (lambda f: f.submissions, lambda sub: (sub.team_id,), _submission),
    (lambda f: f.grades.items(), lambda item: (item[0][0],), _grade),
    (lambda f: f.awards, lambda aw: (aw.team_id,), _award),
    (lambda f: f.alerts, lambda al: (al.submitting_team_id, al.owner_team_id), _alert),
)


def _anonymise(doc: dict[str, Any], f: _Facts, rows: list[Any]) -> dict[str, Any]:
    """Every team's name as ``Team NN`` (by final position) and every person's as ``Team NN
    member K`` (or ``Staff K``), in every string of the document; countries dropped."""
    order = {r.team_id: r.pos for r in rows}
    names: dict[str, str] = {}
    for tid, t in f.teams.items():
        names[t["name"]] = f"Team {order.get(tid, 0):02d}" if tid in order else f"Team x{tid}"
    count: dict[int | None, int] = defaultdict(int)
    for a in f.people.values():
        count[a.team_id] += 1
        label = (
            f"{names.get(f.teams[a.team_id]['name'], 'Team')} member {count[a.team_id]}"
            if a.team_id in f.teams
            else f"Staff {count[a.team_id]}"
        )
        for text in (a.name, a.login, a.callsign, a.email):
            if text:
                names[text] = label
    staff: dict[str, str] = {}
    for a in [*doc["organiser_actions"], *doc["timeline"]["control"]]:  # people who acted
        actor = a["actor"]
        if a["actor_kind"] == ActorKind.PERSON and actor not in names:
            staff.setdefault(actor, f"Staff {len(staff) + 1}")
    names.update(staff)
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: names[m.group(0)], value) if names else value
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: (None if k == "country" else scrub(v)) for k, v in value.items()}
        return value

    return scrub(doc)
