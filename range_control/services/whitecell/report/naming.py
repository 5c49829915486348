"""How the report names teams, people and actors: as they are, or anonymised.

Anonymising works on the structure, not on the text: every place the report would put a team,
a person, an actor or an audit detail asks a :class:`Naming` for it, and the anonymous naming
answers with a code or nothing.

- a team is ``Team NN`` by its final position (teams off the board follow the last position);
  its country is dropped;
- a person is one pseudonym, chosen from the actor (kind and id), wherever they appear: a
  member ``Team NN member K``, anyone else ``Staff K`` (a person known only by name, with no
  account, gets one ``Staff K`` per name);
- a personal API token is ``API token K``; a team's token is the team's code;
- ids (teams, accounts, tokens) never appear; an audit detail keeps only the keys that cannot
  identify anyone (``SAFE_DETAIL``: what was done to which challenge, counts, points), with a
  team named there mapped to its code;
- and, as a net under all of it, every remaining string has each team's name and each person's
  name, login, call sign and e-mail replaced by the pseudonym (free text: attempts, deliverables,
  award reasons, announcements).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from range_control.core.actors import Actor, ActorKind
from range_control.store.models import Account

# Audit detail keys an anonymised report keeps: what was done, to what challenge or task, how
# much. Everything else (ids, logins, labels, fingerprints, keys, addresses, codes...) goes.
SAFE_DETAIL = frozenset(
    {
        "action",
        "added",
        "challenge",
        "created",
        "grades",
        "minutes",
        "phase",
        "phases",
        "points",
        "reason",
        "removed",
        "reset",
        "role",
        "state",
        "task",
        "title",
        "total",
        "updated",
        "value",
        "was",
    }
)
# A detail key that names a team: kept, as the team's code.
_TEAM_DETAIL = ("team",)


class Naming:
    """The report's names as they are (the organisers' report, a team's own debrief)."""

    anonymous = False

    def __init__(self, teams: Mapping[int, Mapping[str, Any]], people: Mapping[int, Account]):
        self._teams = teams
        self._people = people

    def team(self, team_id: int | None) -> str | None:
        t = self._teams.get(team_id) if team_id is not None else None
        return t["name"] if t is not None else None

    def country(self, team_id: int | None) -> str | None:
        t = self._teams.get(team_id) if team_id is not None else None
        return t["country"] if t is not None else None

    def person(self, account_id: int | None) -> str | None:
        a = self._people.get(account_id) if account_id is not None else None
        return a.name if a is not None else None

    def callsign(self, account_id: int) -> str | None:
        return self._people[account_id].callsign

    def actor(self, actor: Actor) -> str:
        return actor.label

    def detail(self, detail: Mapping[str, Any]) -> dict[str, Any]:
        return dict(detail)

    def text(self, value: Any) -> Any:
        return value


class Pseudonyms(Naming):
    """The anonymised report's names (see the module's docstring)."""

    anonymous = True

    def __init__(
        self,
        teams: Mapping[int, Mapping[str, Any]],
        people: Mapping[int, Account],
        positions: Mapping[int, int],
        actors: Iterable[Actor],
    ) -> None:
        super().__init__(teams, people)
        self._team_code: dict[int, str] = {}
        after = max(positions.values(), default=0)
        for tid in teams:
            if tid not in positions:
                after += 1
            self._team_code[tid] = f"Team {positions.get(tid, after):02d}"
        self._code_of_name = {t["name"]: self._team_code[tid] for tid, t in teams.items()}
        self._person: dict[int, str] = {}
        members: dict[int, int] = {}
        staff = 0
        for a in sorted(people.values(), key=lambda a: a.id):
            if a.team_id in self._team_code:
                members[a.team_id] = members.get(a.team_id, 0) + 1
                self._person[a.id] = f"{self._team_code[a.team_id]} member {members[a.team_id]}"
            else:
                staff += 1
                self._person[a.id] = f"Staff {staff}"
        self._by_label: dict[tuple[ActorKind, str], str] = {}
        tokens = 0
        for actor in actors:
            key = (actor.kind, str(actor.id) if actor.id is not None else actor.label)
            if actor.kind is ActorKind.PERSON and actor.id in self._person:
                continue
            if key in self._by_label:
                continue
            if actor.kind is ActorKind.PERSON:
                staff += 1
                self._by_label[key] = f"Staff {staff}"
            elif actor.kind is ActorKind.TOKEN:
                tokens += 1
                self._by_label[key] = f"API token {tokens}"
        self._pattern, self._names = self._scrubber(teams, people)

    def _scrubber(
        self, teams: Mapping[int, Mapping[str, Any]], people: Mapping[int, Account]
    ) -> tuple[re.Pattern[str] | None, dict[str, str]]:
        names: dict[str, str] = {}
        for tid, t in teams.items():
            names[t["name"]] = self._team_code[tid]
        for a in people.values():
            for text in (a.name, a.login, a.callsign, a.email):
                if text:
                    names[text] = self._person[a.id]
        if not names:
            return None, names
        ordered = sorted(names, key=len, reverse=True)
        return re.compile("|".join(re.escape(n) for n in ordered)), names

    def team(self, team_id: int | None) -> str | None:
        return self._team_code.get(team_id) if team_id is not None else None

    def country(self, team_id: int | None) -> str | None:
        return None

    def person(self, account_id: int | None) -> str | None:
        return self._person.get(account_id) if account_id is not None else None

    def callsign(self, account_id: int) -> str | None:
        return None

    def actor(self, actor: Actor) -> str:
        if actor.kind is ActorKind.PERSON and actor.id in self._person:
            return self._person[actor.id]
        if actor.kind is ActorKind.TEAM:
            return self.team(actor.id) or "a team"
        key = (actor.kind, str(actor.id) if actor.id is not None else actor.label)
        return self._by_label.get(key, actor.label)

    def detail(self, detail: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in detail.items():
            if key in _TEAM_DETAIL and isinstance(value, str):
                out[key] = self._code_of_name.get(value, "a team")
            elif key in SAFE_DETAIL:
                out[key] = self.text(value)
        return out

    def text(self, value: Any) -> Any:
        """``value`` with every name in it replaced, at any depth."""
        if isinstance(value, str):
            if self._pattern is None:
                return value
            return self._pattern.sub(lambda m: self._names[m.group(0)], value)
        if isinstance(value, list | tuple):
            return [self.text(v) for v in value]
        if isinstance(value, dict):
            return {k: self.text(v) for k, v in value.items()}
        return value
