"""Browser logins to the portal and the console, held server-side.

The browser's signed cookie carries only a random session secret; the database keeps its
SHA-256 with who logged in, with what, and until when. A session ends when its row goes (logout,
a rotated team token, a disabled team) or stops matching (the organiser token changed, the
team's token is no longer the one it logged in with, the time is up), whatever the cookie says.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from range_control.context import Range
from range_control.core.errors import Unauthorized
from range_control.core.settings import secret
from range_control.services.people import accounts, api_tokens, teams
from range_control.specs.api.people import AccountOut, TeamOut
from range_control.store.models import Account, Team, WebSession

TEAM = "team"
ORGANISER = "organiser"
PERSON = "person"  # an account's login, to the console or (a member) to the portal
ENDED = "your session has ended: log in again"


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


def organiser_fingerprint(token: str) -> str:
    return hashlib.sha256(b"console:" + token.encode()).hexdigest()


def _open(
    c: Connection,
    ctx: Range,
    kind: str,
    team_id: int | None,
    credential: str,
    hours: float,
    account_id: int | None = None,
) -> str:
    now = ctx.clock.now()
    sid = secrets.token_urlsafe(32)
    c.execute(delete(WebSession).where(WebSession.expires_at <= now))  # keep the table small
    c.execute(
        insert(WebSession).values(
            id=_digest(sid),
            kind=kind,
            team_id=team_id,
            credential=credential,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            account_id=account_id,
        )
    )
    return sid


def open_person(
    ctx: Range, login: str, password: str, place: str, code: str | None = None
) -> tuple[str, AccountOut]:
    """A person signs in to the console (organiser, grader, observer) or to the portal (a
    member or captain of a team that is enabled); ``code``: the second factor's, if on."""
    account, credential = accounts.authenticate(ctx, login, password, code)
    return open_account(ctx, account, credential, place), account


def open_account(ctx: Range, account: AccountOut, credential: str, place: str) -> str:
    """The session of a person whose credential was checked (a password, or the identity
    provider's word): ``place`` must be where the role signs in."""
    if place == "console" and account.role not in accounts.CONSOLE_ROLES:
        raise Unauthorized("your account signs in to the team portal, not the console")
    if place == "portal":
        if account.role not in accounts.TEAM_ROLES:
            raise Unauthorized("your account signs in to the organiser console, not the portal")
        team_of_account(ctx, account)
    hours = (
        ctx.settings.console_session_hours
        if place == "console"
        else (ctx.settings.team_session_hours)
    )
    with ctx.store.write_conn() as c:
        return _open(c, ctx, PERSON, account.team_id, credential, hours, account.id)


_PERSON = (
    select(Account, Team.name, WebSession.credential)
    .join(WebSession, WebSession.account_id == Account.id)
    .outerjoin(Team, Team.id == Account.team_id)
    .where(
        WebSession.id == bindparam("h"),
        WebSession.kind == PERSON,
        WebSession.expires_at > bindparam("now"),
        Account.disabled.is_(False),
    )
)


def person_of(ctx: Range, sid: str) -> AccountOut:
    """The account a session belongs to while it is enabled and its password unchanged (one
    query: every page a person opens asks it)."""
    if not sid or len(sid) > 100:
        raise Unauthorized(ENDED)
    with ctx.store.read() as s:
        row = s.execute(_PERSON, {"h": _digest(sid), "now": ctx.clock.now()}).one_or_none()
        if row is None:
            raise Unauthorized(ENDED)
        account, team, held = row
        if not secrets.compare_digest(held, accounts.fingerprint(account.password_hash or "")):
            raise Unauthorized(ENDED)
        return accounts.view(account, team)


def team_of_account(ctx: Range, account: AccountOut) -> TeamOut:
    """A member's team, while the member is in it and the team is enabled."""
    if account.team_id is None:
        raise Unauthorized("you are no longer a member of a team; ask the organisers")
    with ctx.store.read() as s:
        team = s.get(Team, account.team_id)
        if team is None:
            raise Unauthorized(ENDED)
        if team.disabled:
            raise Unauthorized("this team is disabled; ask the organisers")
        return TeamOut.model_validate(team)


def open_team(ctx: Range, token: str) -> tuple[str, TeamOut]:
    """Log a team in with its token: the new session's secret (for the cookie) and the team."""
    team = teams.authenticate(ctx, token)
    with ctx.store.write_conn() as c:
        sid = _open(c, ctx, TEAM, team.id, teams.hash_token(token), ctx.settings.team_session_hours)
    return sid, team


def open_organiser(ctx: Range, token: str) -> str:
    if not api_tokens.is_organiser_token(ctx, token):
        raise Unauthorized("that is not the organiser token")
    with ctx.store.write_conn() as c:
        return _open(
            c,
            ctx,
            ORGANISER,
            None,
            organiser_fingerprint(token),
            ctx.settings.console_session_hours,
        )


_TEAM_OF = (
    select(Team.id, Team.name, Team.country, Team.disabled, Team.created_at)
    .join(WebSession, WebSession.team_id == Team.id)
    .where(
        WebSession.id == bindparam("h"),
        WebSession.kind == TEAM,
        WebSession.expires_at > bindparam("now"),
        WebSession.credential == Team.token_hash,
    )
)
_ORGANISER = select(WebSession.credential).where(
    WebSession.id == bindparam("h"),
    WebSession.kind == ORGANISER,
    WebSession.expires_at > bindparam("now"),
)


def team_of(ctx: Range, sid: str) -> TeamOut:
    """The team a session belongs to, or :class:`Unauthorized` when it has ended."""
    if not sid or len(sid) > 100:
        raise Unauthorized(ENDED)
    with ctx.store.read_conn() as c:
        row = c.execute(_TEAM_OF, {"h": _digest(sid), "now": ctx.clock.now()}).one_or_none()
    if row is None:
        raise Unauthorized(ENDED)
    if row.disabled:
        raise Unauthorized("this team is disabled; ask the organisers")
    return TeamOut.model_validate(row)


def is_organiser(ctx: Range, sid: str) -> bool:
    if not sid or len(sid) > 100:
        return False
    with ctx.store.read_conn() as c:
        held = c.scalar(_ORGANISER, {"h": _digest(sid), "now": ctx.clock.now()})
    want = organiser_fingerprint(secret(ctx.settings.admin_token))
    return held is not None and secrets.compare_digest(held, want)


def close(ctx: Range, sid: str) -> None:
    """Logout: the session is gone, whatever the browser keeps."""
    if not sid or len(sid) > 100 or ctx.store.read_only:
        return
    with ctx.store.write_conn() as c:
        c.execute(delete(WebSession).where(WebSession.id == _digest(sid)))


def sessions_of(ctx: Range, account_id: int, current_sid: str) -> list[dict[str, object]]:
    """A person's open sessions, newest first: a handle (not the secret), when it began and
    ends, and whether it is the one asking."""
    now, mine = ctx.clock.now(), _digest(current_sid or "")
    with ctx.store.read_conn() as c:
        rows = c.execute(
            select(WebSession.id, WebSession.created_at, WebSession.expires_at)
            .where(WebSession.account_id == account_id, WebSession.expires_at > now)
            .order_by(WebSession.created_at.desc())
        ).all()
    return [
        {
            "handle": r.id[:16],
            "created_at": r.created_at,
            "expires_at": r.expires_at,
            "current": r.id == mine,
        }
        for r in rows
    ]


def end_session(ctx: Range, account_id: int, handle: str) -> bool:
    """A person ends one of their own sessions (by its handle)."""
    if not handle or len(handle) != 16 or not all(ch in "0123456789abcdef" for ch in handle):
        return False
    with ctx.store.write_conn() as c:
        done = c.execute(
            delete(WebSession).where(
                WebSession.account_id == account_id, WebSession.id.startswith(handle)
            )
        )
        return bool(done.rowcount)
