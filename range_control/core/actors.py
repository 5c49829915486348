"""Who did something: one typed actor, stored as columns wherever an action is recorded (the
audit log, awards, announcements, API tokens), never as a string to parse back.

- a **person** (an account: its id, ``Name <login>``; ``team_id`` when a member acts for the
  team);
- a **team** acting through its own token (the team's id; ``machine: token of team NAME``);
- a personal API **token** (its id; ``machine: token NAME``);
- the shared **organiser token** (``machine: organiser token``);
- the **range** itself or its operator's command line (no id; the label says which: ``cli``,
  ``timeline``, ``demo``, ``scheduler``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LABEL_MAX = 100


class ActorKind(StrEnum):
    PERSON = "person"
    TEAM = "team"
    TOKEN = "token"  # noqa: S105 - a kind of actor, not a secret
    ORGANISER_TOKEN = "organiser_token"  # noqa: S105
    RANGE = "range"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None
    label: str = ""
    team_id: int | None = None  # the team a person or a team's token acts for

    def __post_init__(self) -> None:
        # Rows hand the kind back as text: the enum again, and the label within its column.
        object.__setattr__(self, "kind", ActorKind(self.kind))
        object.__setattr__(self, "label", self.label[:LABEL_MAX])

    def __str__(self) -> str:
        return self.label

    @property
    def is_machine(self) -> bool:
        """A token (the team's, a personal one, the organisers'), not a person or the range."""
        return self.kind in (ActorKind.TEAM, ActorKind.TOKEN, ActorKind.ORGANISER_TOKEN)

    @classmethod
    def person(cls, account_id: int, name: str, login: str, team_id: int | None = None) -> Actor:
        return cls(ActorKind.PERSON, account_id, f"{name} <{login}>", team_id)

    @classmethod
    def team(cls, team_id: int, name: str) -> Actor:
        return cls(ActorKind.TEAM, team_id, f"machine: token of team {name}", team_id)

    @classmethod
    def token(cls, token_id: int, name: str) -> Actor:
        return cls(ActorKind.TOKEN, token_id, f"machine: token {name}")

    @classmethod
    def range(cls, label: str) -> Actor:
        """The range itself or its command line: ``cli``, ``timeline``, ``demo``..."""
        return cls(ActorKind.RANGE, None, label)


def person_id(actor: Actor) -> int | None:
    """The account of a person acting (None for a token or the range)."""
    return actor.id if actor.kind == ActorKind.PERSON else None


ORGANISER_TOKEN = Actor(ActorKind.ORGANISER_TOKEN, None, "machine: organiser token")
CLI = Actor.range("cli")
TIMELINE = Actor.range("timeline")
