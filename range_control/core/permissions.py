"""Who may do what: roles, token scopes, event states and permissions, and the one table that
joins them.

A caller holds one credential: a person's account (its :class:`Role`), a personal API token
(its :class:`Scope`) or one of the two shared tokens (:class:`Machine`). Each is accepted at
some :class:`Place` only (bearer tokens on the API, sessions on the portal or the console) and
grants a set of :class:`Permission`. A route declares the place and the permission it needs
(``web.api.route``, ``web.pages.*.page``); a use case that shows more or less to different
callers (the blind white cell) asks :func:`allows` itself. Nothing names a web endpoint.

The reference's role matrix (docs/reference/roles.md) is rendered from this table
(:func:`matrix`) and checked against it by the tests, which also call every route as every
caller.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A person's role (``accounts.role``)."""

    ORGANISER = "organiser"
    GRADER = "grader"
    OBSERVER = "observer"
    MEMBER = "member"
    CAPTAIN = "captain"
    RED = "red"  # the red cell: the organisers' attackers


class Scope(StrEnum):
    """A personal organiser API token's scope (``api_tokens.scope``)."""

    READ = "read"
    GRADE = "grade"
    FULL = "full"
    RED = "red-cell"  # a red cell member's own token (its value differs from the role's)

    @property
    def label(self) -> str:
        return f"{self.value} API token"


class Machine(StrEnum):
    """The two shared credentials: a team's token, the organisers' token."""

    TEAM_TOKEN = "team token"  # noqa: S105 - names of credentials, not secrets
    ORGANISER_TOKEN = "organiser token"  # noqa: S105


class Place(StrEnum):
    """Where a credential is presented: the JSON API (bearer tokens) or a page (a session)."""

    API = "api"
    PORTAL = "portal"
    CONSOLE = "console"


class Permission(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SIGN_IN = "sign in"  # anyone may try to sign in (rate limited), or out
    PLAY = "play"  # a team's own: challenges, attempts, instances, access, tasks
    OWN_ACCOUNT = "own account"  # a person's own second factor and sessions
    MANAGE_TEAM = "manage team"  # a captain's: invite and remove the team's members
    LOOK = "look"  # read everything the organisers see (blind where the white cell is)
    GRADE = "grade"  # the white cell's grades and moderation
    CHANGE = "change"  # change the event, teams, people, environments, publish
    UNBLIND = "unblind"  # link a task's submissions to their team before publication
    RED_CELL = "red cell"  # declare red actions, read the red cell's targets and own log


class EventState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


Holder = Role | Scope | Machine

CONSOLE_ROLES = frozenset({Role.ORGANISER, Role.GRADER, Role.OBSERVER, Role.RED})
TEAM_ROLES = frozenset({Role.MEMBER, Role.CAPTAIN})

_WHITE_CELL = frozenset({Permission.LOOK, Permission.GRADE})
_ALL_ORGANISER = _WHITE_CELL | {Permission.CHANGE, Permission.UNBLIND}

# The table: what each credential grants.
GRANTS: dict[Holder, frozenset[Permission]] = {
    Machine.TEAM_TOKEN: frozenset({Permission.PLAY}),
    Role.MEMBER: frozenset({Permission.PLAY, Permission.OWN_ACCOUNT}),
    Role.CAPTAIN: frozenset({Permission.PLAY, Permission.OWN_ACCOUNT, Permission.MANAGE_TEAM}),
    Role.OBSERVER: frozenset({Permission.LOOK, Permission.OWN_ACCOUNT}),
    Role.GRADER: _WHITE_CELL | {Permission.OWN_ACCOUNT},
    Role.ORGANISER: _ALL_ORGANISER | {Permission.OWN_ACCOUNT},
    Role.RED: frozenset({Permission.RED_CELL, Permission.OWN_ACCOUNT}),
    Scope.READ: frozenset({Permission.LOOK}),
    Scope.GRADE: _WHITE_CELL,
    Scope.FULL: _ALL_ORGANISER,
    Scope.RED: frozenset({Permission.RED_CELL}),
    Machine.ORGANISER_TOKEN: _ALL_ORGANISER,
}

# Where each credential is accepted: bearer tokens on the API, sessions on the pages.
PLACES: dict[Place, frozenset[Holder]] = {
    Place.API: frozenset({Machine.TEAM_TOKEN, *Scope, Machine.ORGANISER_TOKEN}),
    Place.PORTAL: frozenset({Machine.TEAM_TOKEN, *TEAM_ROLES}),
    Place.CONSOLE: frozenset({Machine.ORGANISER_TOKEN, *CONSOLE_ROLES}),
}


def grants(holder: Holder) -> frozenset[Permission]:
    return GRANTS[holder]


def allows(holder: Holder | None, permission: Permission, place: Place | None = None) -> bool:
    """May ``holder`` (None: nobody signed in) do what ``permission`` covers, at ``place``?"""
    if permission in (Permission.PUBLIC, Permission.SIGN_IN):
        return True
    if holder is None or (place is not None and holder not in PLACES[place]):
        return False
    return permission in GRANTS[holder]


def holder_of(role: str) -> Holder:
    """A person's role, a token's scope or a shared token's name as the table's key."""
    for kind in (Role, Scope, Machine):
        try:
            return kind(role)
        except ValueError:
            continue
    raise ValueError(f"no such role, scope or shared token: {role!r}")


# --- the matrix as the reference shows it ---------------------------------------------------
# Every caller, in the matrix's order (anonymous first).
CALLERS: tuple[Holder | None, ...] = (
    None,
    Machine.TEAM_TOKEN,
    Role.MEMBER,
    Role.CAPTAIN,
    Role.OBSERVER,
    Role.GRADER,
    Role.ORGANISER,
    Role.RED,
    Scope.READ,
    Scope.GRADE,
    Scope.FULL,
    Scope.RED,
    Machine.ORGANISER_TOKEN,
)

# A route's requirement: the place it is reached at (None: anywhere) and the permission.
Rule = tuple[Place | None, Permission]
RULES: dict[Rule, str] = {
    (None, Permission.PUBLIC): "public",
    (Place.API, Permission.PLAY): "team API",
    (Place.API, Permission.LOOK): "organiser API, look",
    (Place.API, Permission.GRADE): "organiser API, grade",
    (Place.API, Permission.CHANGE): "organiser API, change",
    (Place.API, Permission.RED_CELL): "red cell API",
    (Place.PORTAL, Permission.PLAY): "portal",
    (Place.PORTAL, Permission.OWN_ACCOUNT): "portal, person",
    (Place.PORTAL, Permission.MANAGE_TEAM): "portal, captain",
    (Place.CONSOLE, Permission.LOOK): "console, look",
    (Place.CONSOLE, Permission.GRADE): "console, grade",
    (Place.CONSOLE, Permission.CHANGE): "console, change",
    (Place.CONSOLE, Permission.OWN_ACCOUNT): "console, person",
    (Place.CONSOLE, Permission.RED_CELL): "console, red cell",
}


def caller_name(holder: Holder | None) -> str:
    if holder is None:
        return "anonymous"
    return holder.label if isinstance(holder, Scope) else str(holder)


def matrix() -> str:
    """The reference's table: each rule, and whether each caller passes it."""
    head = ["rule", *(caller_name(h) for h in CALLERS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (place, permission), name in RULES.items():
        cells = ["yes" if allows(h, permission, place) else "no" for h in CALLERS]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)
