"""People: accounts with a role, their invites, passwords and sign-in.

An account is a person: ``organiser`` (the console, everything), ``grader`` and ``observer``
(the console, read-only until the white cell gives graders their work), ``member`` of exactly
one team, ``captain`` (a member who manages the team's members). Organisers import a
delegation's people from CSV; each gets a single-use, expiring invite link (only its SHA-256 is
kept) where the person sets a password, hashed with argon2id (argon2-cffi). Signing in answers
the same for an unknown account and a wrong password, and costs the same time. Disabling an
account, or removing a member from the team, ends its sessions at once; the team keeps its
points. The team token and the organiser token remain, for machines.

A captain invites members of the captain's own team: the invite is *pending* (no account, no
login taken) until the person accepts it, so a captain can neither take a login the organisers
will need nor learn which e-mails have accounts; a team has at most ``MAX_PENDING`` such
invites waiting. Organisers remove or rename any account (audited)."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from range_control.core.settings import secret
from range_control.services.audit import audit
from range_control.services.people import teams
from range_control.specs.api.people import (
    AccountOut,
    InvitedOut,
    InviteeOut,
    MemberInvitedOut,
    PendingInviteOut,
)
from range_control.specs.text import name_problem
from range_control.store.models import Account, Invite, Team, WebSession

ROLES = ("organiser", "grader", "observer", "red", "member", "captain")
CONSOLE_ROLES = ("organiser", "grader", "observer", "red")
TEAM_ROLES = ("member", "captain")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_CSV_BYTES = 1024 * 1024
MAX_PENDING = 20  # a team's captain invites waiting at once


@cache
def _passwords() -> tuple[Any, str]:
    """argon2id (the library's RFC 9106 defaults: 64 MiB, t=3) and a hash to check against when
    the account does not exist (the same work, so the same time). Made on the first sign-in:
    a web worker that never checks a password does not load argon2 or spend 64 MiB on it."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    return hasher, hasher.hash(secrets.token_urlsafe(16))


def view(a: Account, team: str | None) -> AccountOut:
    """An account as the pages and the API show it (``team``: its team's name)."""
    return AccountOut(
        id=a.id,
        login=a.login,
        name=a.name,
        callsign=a.callsign,
        email=a.email,
        role=a.role,
        team=team,
        team_id=a.team_id,
        disabled=a.disabled,
        active=a.password_hash is not None,
        totp=a.totp_sealed is not None,
        sso=a.oidc_subject is not None,
        created_at=a.created_at,
    )


def actor(a: AccountOut) -> Actor:
    """The person as an actor (acting for their team, if they have one)."""
    return Actor.person(a.id, a.name, a.login, a.team_id)


def _clean(value: str | None, field: str, most: int) -> str | None:
    value = " ".join((value or "").split())
    if not value:
        return None
    if len(value) > most or any(ord(ch) < 32 for ch in value):
        raise InvalidInput("{field}: at most {most} printable characters", field=field, most=most)
    return value


def _login_of(email: str | None, callsign: str | None, name: str) -> str:
    return (email or callsign or name).lower()


def _person(
    name: str, role: str, callsign: str | None, email: str | None
) -> tuple[str, str | None, str | None]:
    """A person's name, call sign and e-mail, checked; a refusal names the field."""
    name = " ".join((name or "").split())
    problem = name_problem(name) if name else "empty"
    if problem is not None or len(name) > 100:
        raise InvalidInput("name: {problem}", problem=problem or "at most 100 characters")
    if role not in ROLES:
        raise InvalidInput(
            "role: {role!r} is not one of {roles}", role=role, roles=", ".join(ROLES)
        )
    callsign = _clean(callsign, "callsign", 40)
    email = _clean(email, "email", 254)
    if email is not None and ("@" not in email or " " in email):
        raise InvalidInput("email: {email!r} is not an e-mail address", email=email)
    return name, callsign, email


def add(
    ctx: Range,
    name: str,
    role: str,
    actor: Actor,
    *,
    team: str | None = None,
    callsign: str | None = None,
    email: str | None = None,
) -> InvitedOut:
    """One person, with an invite link (shown once)."""
    with ctx.store.write() as s:
        return _add(s, ctx, name, role, actor, team=team, callsign=callsign, email=email)


def _add(
    s: Session,
    ctx: Range,
    name: str,
    role: str,
    actor: Actor,
    *,
    team: str | None,
    callsign: str | None,
    email: str | None,
) -> InvitedOut:
    name, callsign, email = _person(name, role, callsign, email)
    team_row = None
    if role in TEAM_ROLES:
        if not team:
            raise InvalidInput("team: a {role} belongs to a team", role=role)
        team_row = teams.find(s, team)
    elif team:
        raise InvalidInput("team: an {role} belongs to no team", role=role)
    account = Account(
        login=_login_of(email, callsign, name),
        name=name,
        callsign=callsign,
        email=email,
        role=role,
        team_id=team_row.id if team_row else None,
        disabled=False,
        created_at=ctx.clock.now(),
    )
    s.add(account)
    try:
        s.flush()
    except IntegrityError:
        raise Conflict("an account signs in as {login!r} already", login=account.login) from None
    audit(
        s,
        ctx,
        actor,
        "account.add",
        login=account.login,
        role=role,
        team=team_row.name if team_row else None,
    )
    token, _row = _new_invite(s, ctx, account.id)
    return InvitedOut(
        account=view(account, team_row.name if team_row else None),
        token=token,
        link=invite_link(ctx, token),
    )


def invite_link(ctx: Range, token: str) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/invite/{token}"


def _new_invite(
    s: Session, ctx: Range, account_id: int | None, **pending: Any
) -> tuple[str, Invite]:
    """A fresh link: for an account (whose older unused links stop working), or ``pending``
    (the fields of the account it will make)."""
    now = ctx.clock.now()
    if account_id is not None:
        s.execute(
            update(Invite)
            .where(Invite.account_id == account_id, Invite.used_at.is_(None))
            .values(used_at=now)
        )
    token = secrets.token_urlsafe(24)
    row = Invite(
        account_id=account_id,
        token_hash=teams.hash_token(token),
        created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.invite_hours),
        **pending,
    )
    s.add(row)
    s.flush()
    return token, row


def reinvite(ctx: Range, login: str, actor: Actor) -> InvitedOut:
    with ctx.store.write() as s:
        account = _find(s, login)
        token, _row = _new_invite(s, ctx, account.id)
        audit(s, ctx, actor, "account.invite", login=account.login)
        return InvitedOut(
            account=view(account, _team_name(s, account)), token=token, link=invite_link(ctx, token)
        )


def import_csv(ctx: Range, source: Path, actor: Actor) -> list[InvitedOut]:
    """A delegation sheet (team, country, name, callsign, email, role): all or nothing, each
    bad line named; missing teams are created (their tokens can be rotated to be shown)."""
    text = teams.read_csv_text(source, MAX_CSV_BYTES)
    reader = csv.DictReader(io.StringIO(text))
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if "name" not in header or "role" not in header:
        raise InvalidInput(
            "{source}: the header needs name and role (and team for members: "
            "team, country, name, callsign, email, role)",
            source=source,
        )
    rows = list(reader)
    out = []
    with ctx.store.write() as s:
        for line, row in enumerate(rows, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            try:
                team = row.get("team") or None
                if team and teams.lookup(s, team) is None:
                    s.add(
                        Team(
                            name=teams.clean_name(team),
                            country=teams.clean_country(row.get("country") or None),
                            token_hash=teams.hash_token(teams.new_token()),
                            disabled=False,
                            created_at=ctx.clock.now(),
                        )
                    )
                    s.flush()
                out.append(
                    _add(
                        s,
                        ctx,
                        row.get("name", ""),
                        row.get("role", ""),
                        actor,
                        team=team,
                        callsign=row.get("callsign"),
                        email=row.get("email"),
                    )
                )
            except (InvalidInput, Conflict, NotFound) as exc:
                raise InvalidInput(
                    "{source}:{lineno}: {detail}", source=source, lineno=line, detail=exc
                ) from None
    return out


def accept_invite(ctx: Range, token: str, password: str) -> AccountOut:
    """The person sets a password: once, before the link expires."""
    if len(password) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
        raise InvalidInput(
            "password: {least} to {most} characters", least=MIN_PASSWORD, most=MAX_PASSWORD
        )
    now = ctx.clock.now()
    hashed = _passwords()[0].hash(password)
    with ctx.store.write() as s:
        inv = _invite(s, token, now)
        inv.used_at = now
        account = s.get(Account, inv.account_id) if inv.account_id is not None else None
        if account is None:
            account = _account_of_pending(s, ctx, inv)
        if account is None:  # the login was taken since: the link is spent, the refusal after
            audit(s, ctx, _inviter(inv), "team.member.invite_refused", login=inv.login)
        else:
            account.password_hash = hashed
            s.execute(delete(WebSession).where(WebSession.account_id == account.id))
            audit(s, ctx, actor(view(account, None)), "account.password_set", login=account.login)
            return view(account, _team_name(s, account))
    raise Conflict("this invite link cannot be used any more: ask your captain for a new one")


def _account_of_pending(s: Session, ctx: Range, inv: Invite) -> Account | None:
    """The account a captain's invite makes now; None when its login has been taken since
    (the answer is the same whoever holds it: the invite cannot be used)."""
    assert inv.login is not None and inv.name is not None and inv.role is not None
    account = Account(
        login=inv.login,
        name=inv.name,
        callsign=inv.callsign,
        email=inv.email,
        role=inv.role,
        team_id=inv.team_id,
        disabled=False,
        created_at=ctx.clock.now(),
    )
    try:
        with s.begin_nested():
            s.add(account)
            s.flush()
    except IntegrityError:
        return None
    inv.account_id = account.id
    team = _team_name(s, account)
    audit(s, ctx, _inviter(inv), "account.add", login=account.login, role=inv.role, team=team)
    return account


def _inviter(inv: Invite) -> Actor:
    return Actor(
        inv.created_by_kind or "range",
        inv.created_by_id,
        inv.created_by_label or "invite",
        inv.created_by_team_id,
    )


def _invite(s: Session, token: str, now: datetime) -> Invite:
    """The invite a link names, or why the link cannot be used."""
    inv = s.scalar(select(Invite).where(Invite.token_hash == teams.hash_token(token[:200])))
    check_invite(inv, now)
    assert inv is not None
    return inv


def check_invite(inv: Invite | None, now: datetime) -> None:
    if inv is None:
        raise NotFound("this invite link is not valid: ask an organiser for a new one")
    if inv.used_at is not None:
        raise Conflict("this invite link was used already: ask an organiser for a new one")
    if inv.expires_at <= now:
        raise Conflict("this invite link expired: ask an organiser for a new one")


def invite_for(ctx: Range, token: str) -> InviteeOut:
    """Whose invite this is (the page that asks for a password), or why it cannot be used."""
    with ctx.store.read() as s:
        inv = _invite(s, token, ctx.clock.now())
        if inv.account_id is not None:
            a = s.get(Account, inv.account_id)
            assert a is not None
            return InviteeOut(name=a.name, login=a.login, role=a.role, team=_team_name(s, a))
        team = s.scalar(select(Team.name).where(Team.id == inv.team_id))
        return InviteeOut(name=inv.name, login=inv.login, role=inv.role, team=team)


def authenticate(
    ctx: Range, login: str, password: str, code: str | None = None
) -> tuple[AccountOut, str]:
    """The account and a fingerprint of its password hash (a session outlives no new
    password). With a second factor, ``code`` must be its current code, used once. The same
    refusal for an unknown account, a wrong password and a wrong code."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    login = (login or "").strip().lower()[:254]
    password = (password or "")[:MAX_PASSWORD]
    with ctx.store.read() as s:
        account = s.scalar(select(Account).where(Account.login == login))
        stored = account.password_hash if account is not None else None
        hasher, dummy = _passwords()
        try:
            hasher.verify(stored or dummy, password)
            ok = stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or account is None:
            raise Unauthorized("unknown account, wrong password or wrong code")
        person = view(account, _team_name(s, account))
        sealed, last = account.totp_sealed, account.totp_step
    if sealed is not None:
        step = _step_of(_unseal(ctx, sealed), code or "", ctx.clock.now().timestamp(), last)
        if step is None or not _use_step(ctx, person.id, step):
            raise Unauthorized("unknown account, wrong password or wrong code")
    if person.disabled:
        raise Unauthorized("this account is disabled; ask the organisers")
    return person, fingerprint(stored or "")


# --- the second factor (TOTP, RFC 6238: 30 s steps, 6 digits) ---------------------------------
def _sealer(ctx: Range) -> Any:
    """The second factor's secret sealed at rest (Fernet, a key derived from RANGE_SECRET_KEY)."""
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"totp\0" + secret(ctx.settings.secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _unseal(ctx: Range, sealed: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _sealer(ctx).decrypt(sealed.encode()).decode()
    except InvalidToken:  # RANGE_SECRET_KEY changed: the person enrols again (reset-totp)
        return ""


def _step_of(key: str, code: str, now: float, last: int | None) -> int | None:
    """The time step whose code ``code`` is (this one, or one before or after: clocks drift),
    if it is later than the last one used."""
    import pyotp

    if not key or not re.fullmatch(r"[0-9]{6}", code.strip()):
        return None
    totp, current = pyotp.TOTP(key), int(now) // 30
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * 30), code.strip()) and (last is None or step > last):
            return step
    return None


def _use_step(ctx: Range, account_id: int, step: int) -> bool:
    """Record the step as used, unless it (or a later one) already was: a code works once."""
    with ctx.store.write() as s:
        done = s.execute(
            update(Account)
            .where(
                Account.id == account_id, (Account.totp_step.is_(None)) | (Account.totp_step < step)
            )
            .values(totp_step=step)
        )
        return bool(done.rowcount)


def new_totp_key() -> str:
    import pyotp

    return pyotp.random_base32()


def is_totp_key(key: str | None) -> bool:
    return bool(re.fullmatch(r"[A-Z2-7]{32}", key or ""))


def totp_uri(ctx: Range, account: AccountOut, key: str) -> str:
    """What an authenticator app scans (otpauth://)."""
    import pyotp

    issuer = f"Range Control {ctx.event_slug}"
    return pyotp.TOTP(key).provisioning_uri(name=account.login, issuer_name=issuer)


def enrol_totp(ctx: Range, account: AccountOut, key: str, code: str) -> AccountOut:
    """Turn the second factor on with the key the person's app holds, once it shows the code."""
    if not is_totp_key(key):
        raise InvalidInput("key: not the key this page gave")
    step = _step_of(key, code or "", ctx.clock.now().timestamp(), None)
    if step is None:
        raise InvalidInput("code: not the code your app shows now (6 digits; is its clock right?)")
    with ctx.store.write() as s:
        row = s.get(Account, account.id)
        assert row is not None
        row.totp_sealed = _sealer(ctx).encrypt(key.encode()).decode()
        row.totp_step = step
        audit(s, ctx, actor(account), "account.totp_on", login=row.login)
        return view(row, _team_name(s, row))


def reset_totp(ctx: Range, login: str, actor: Actor) -> AccountOut:
    """An organiser turns a person's second factor off (a lost phone): they enrol again."""
    with ctx.store.write() as s:
        row = _find(s, login)
        row.totp_sealed, row.totp_step = None, None
        s.execute(delete(WebSession).where(WebSession.account_id == row.id))
        audit(s, ctx, actor, "account.totp_reset", login=row.login)
        return view(row, _team_name(s, row))


def must_enrol(ctx: Range, account: AccountOut) -> bool:
    """Its role requires a second factor (RANGE_TOTP_REQUIRED) once one of that role has one,
    and it has none yet. A person who signs in only through single sign-on has the identity
    provider's second factor instead (this range never asks them for a code)."""
    if account.totp or account.role not in ctx.settings.totp_roles:
        return False
    if account.sso and not account.active:
        return False
    with ctx.store.read() as s:
        return (
            s.scalar(
                select(Account.id)
                .where(Account.role == account.role, Account.totp_sealed.is_not(None))
                .limit(1)
            )
            is not None
        )


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(b"account:" + password_hash.encode()).hexdigest()


def _team_name(s: Session, account: Account) -> str | None:
    if account.team_id is None:
        return None
    return s.scalar(select(Team.name).where(Team.id == account.team_id))


def _find(s: Session, login: str) -> Account:
    account = s.scalar(select(Account).where(Account.login == (login or "").strip().lower()))
    if account is None:
        raise NotFound("account {login!r} not found", login=login)
    return account


def list_accounts(ctx: Range, team_id: int | None = None) -> list[AccountOut]:
    with ctx.store.read() as s:
        q = select(Account, Team.name).outerjoin(Team, Team.id == Account.team_id)
        if team_id is not None:
            q = q.where(Account.team_id == team_id)
        return [view(a, t) for a, t in s.execute(q.order_by(Account.name))]


def set_disabled(ctx: Range, login: str, disabled: bool, actor: Actor) -> AccountOut:
    """Disable (its sessions end at once) or enable an account."""
    with ctx.store.write() as s:
        account = _find(s, login)
        account.disabled = disabled
        if disabled:
            s.execute(delete(WebSession).where(WebSession.account_id == account.id))
        audit(
            s,
            ctx,
            actor,
            "account.disable" if disabled else "account.enable",
            login=account.login,
        )
        return view(account, _team_name(s, account))


def remove_member(ctx: Range, captain: AccountOut, account_id: int) -> AccountOut:
    """A captain removes a member of the captain's own team: the member's sessions end at
    once, the team's points stay."""
    with ctx.store.write() as s:
        account = s.get(Account, account_id)
        if account is None or captain.team_id is None or account.team_id != captain.team_id:
            raise NotFound("member {account_id} not found in your team", account_id=account_id)
        if account.id == captain.id:
            raise Forbidden("a captain cannot remove themselves: ask the organisers")
        team = _team_name(s, account)
        account.team_id = None
        account.disabled = True
        s.execute(delete(WebSession).where(WebSession.account_id == account.id))
        audit(s, ctx, actor(captain), "team.member.remove", login=account.login, team=team)
        return view(account, None)


def invite_member(
    ctx: Range, captain: AccountOut, name: str, email: str | None, callsign: str | None
) -> MemberInvitedOut:
    """A captain invites a member of the captain's own team (never another role). The invite
    is pending: it takes no login and looks at no other account; the person's account is made
    when they accept it."""
    if captain.role != "captain" or captain.team_id is None:
        raise Forbidden("only a team's captain invites its members")
    name, callsign, email = _person(name, "member", callsign, email)
    now = ctx.clock.now()
    by = actor(captain)
    with ctx.store.write() as s:
        waiting = _pending(s, captain.team_id, now)
        if len(waiting) >= MAX_PENDING:
            raise Conflict(
                "your team has {count} invites waiting, the most it may have: cancel one first",
                count=len(waiting),
            )
        token, inv = _new_invite(
            s,
            ctx,
            None,
            team_id=captain.team_id,
            name=name,
            login=_login_of(email, callsign, name),
            callsign=callsign,
            email=email,
            role="member",
            created_by_kind=by.kind.value,
            created_by_id=by.id,
            created_by_label=by.label,
            created_by_team_id=by.team_id,
        )
        audit(s, ctx, by, "team.member.invite", login=inv.login)
        return MemberInvitedOut(
            invite=_pending_view(inv), token=token, link=invite_link(ctx, token)
        )


def _pending(s: Session, team_id: int, now: datetime) -> list[Invite]:
    return list(
        s.scalars(
            select(Invite)
            .where(
                Invite.team_id == team_id,
                Invite.account_id.is_(None),
                Invite.used_at.is_(None),
                Invite.expires_at > now,
            )
            .order_by(Invite.id)
        )
    )


def _pending_view(inv: Invite) -> PendingInviteOut:
    return PendingInviteOut(
        id=inv.id,
        name=inv.name or "",
        login=inv.login or "",
        callsign=inv.callsign,
        email=inv.email,
        created_at=inv.created_at,
        expires_at=inv.expires_at,
    )


def pending_invites(ctx: Range, team_id: int) -> list[PendingInviteOut]:
    """The team's captain invites not yet accepted (nor expired, nor cancelled)."""
    with ctx.store.read() as s:
        return [_pending_view(i) for i in _pending(s, team_id, ctx.clock.now())]


def cancel_invite(ctx: Range, captain: AccountOut, invite_id: int) -> PendingInviteOut:
    """A captain withdraws one of the team's waiting invites: its link stops working."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        inv = next((i for i in _pending(s, captain.team_id or 0, now) if i.id == invite_id), None)
        if inv is None or captain.role != "captain":
            raise NotFound("invite {invite_id} not found in your team", invite_id=invite_id)
        inv.used_at = now
        audit(s, ctx, actor(captain), "team.member.invite_cancel", login=inv.login)
        return _pending_view(inv)


# --- the organisers: remove or rename an account ------------------------------------------------
def remove(ctx: Range, login: str, by: Actor) -> AccountOut:
    """Delete an account: its sessions, invites and second factor go with it; what it did stays
    (attempts, submissions and the audit log keep their rows, without the account)."""
    with ctx.store.write() as s:
        account = _find(s, login)
        gone = view(account, _team_name(s, account))
        s.delete(account)
        audit(s, ctx, by, "account.remove", login=gone.login, role=gone.role, team=gone.team)
        return gone


def rename(
    ctx: Range, login: str, by: Actor, new_login: str | None = None, name: str | None = None
) -> AccountOut:
    """A new login (the old one is free at once: a person added under the wrong e-mail) or a
    new display name. Sessions stay open."""
    if new_login is None and name is None:
        raise InvalidInput("give a new login or a new name")
    with ctx.store.write() as s:
        account = _find(s, login)
        was = {"was": account.login, "was_name": account.name}
        if name is not None:
            account.name = _person(name, account.role, None, None)[0]
        if new_login is not None:
            clean = _clean(new_login, "login", 254)
            if clean is None or " " in clean:
                raise InvalidInput("login: printable characters without spaces")
            account.login = clean.lower()
        try:
            s.flush()
        except IntegrityError:
            raise Conflict("an account signs in as {login!r} already", login=new_login) from None
        audit(s, ctx, by, "account.rename", login=account.login, name=account.name, **was)
        return view(account, _team_name(s, account))
