"""Single sign-on: a person who signed in at the organisers' OpenID Connect provider becomes
(or is linked to) an account here, with the role and team the provider's claims say.

The protocol (discovery, state, nonce, PKCE, the ID token's signature) is Authlib's, in the
web layer; this module takes the claims it verified and decides who that is:

- an account already linked to this provider's ``sub`` is that person;
- else an account with the same e-mail (the provider says it is verified) and no link yet is
  linked now (an organiser who imported the delegations first keeps the accounts);
- else a new account is made.

The claims stay the authority: on every sign-in the role, the team and the name follow them
(audited when they change). A claim that is missing or names a role or a team the range does
not have is a clear refusal, and nothing is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Unauthorized
from range_control.services.audit import audit
from range_control.services.people import accounts
from range_control.specs.api.people import AccountOut
from range_control.store.models import Account, Team, WebSession

# When a provider sends several roles (a list of groups): the one that may do the most.
_PRECEDENCE = ("organiser", "grader", "observer", "red", "captain", "member")

# What the provider's claims change (a role, a team) is done by the range itself.
SSO = Actor.range("single sign-on")


def _one(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()]
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str)]
    return []


def role_of(ctx: Range, claims: Mapping[str, Any]) -> str:
    name = ctx.settings.oidc_role_claim
    given = [r.lower() for r in _one(claims.get(name))]
    for role in _PRECEDENCE:
        if role in given:
            return role
    if not given:
        raise Unauthorized(
            "your identity provider sent no {claim!r} claim: ask the organisers to give you a "
            "role on the range (one of {roles})",
            claim=name,
            roles=", ".join(accounts.ROLES),
        )
    raise Unauthorized(
        "your identity provider's {claim!r} claim ({given}) names no role of the range (one "
        "of {roles}): ask the organisers",
        claim=name,
        given=", ".join(given)[:100],
        roles=", ".join(accounts.ROLES),
    )


def _team_of(s: Session, ctx: Range, role: str, claims: Mapping[str, Any]) -> Team | None:
    name = ctx.settings.oidc_team_claim
    given = [t for t in _one(claims.get(name)) if t]
    if role not in accounts.TEAM_ROLES:
        return None
    if len(given) != 1:
        raise Unauthorized(
            "a {role} belongs to one team, and your identity provider sent {count} in its "
            "{claim!r} claim: ask the organisers to set your team there",
            role=role,
            count=len(given),
            claim=name,
        )
    team = s.scalars(select(Team).where(func.lower(Team.name) == given[0].lower())).first()
    if team is None:
        raise Unauthorized(
            "the team {team!r} your identity provider names does not exist on this range: "
            "ask the organisers",
            team=given[0][:100],
        )
    if team.disabled:
        raise Unauthorized("this team is disabled; ask the organisers")
    return team


def subject(issuer: str, sub: str) -> str:
    return f"{issuer} {sub}"[:300]


def sign_in(ctx: Range, issuer: str, claims: Mapping[str, Any]) -> tuple[AccountOut, str]:
    """The account of the person the provider vouched for (made or linked on first sign-in),
    with its role and team as the claims say now, and the session's credential (a new
    password elsewhere still ends it)."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise Unauthorized("your identity provider sent no subject (sub): sign-in refused")
    role = role_of(ctx, claims)
    email = claims.get("email") if claims.get("email_verified") is True else None
    email = email.strip().lower()[:254] if isinstance(email, str) and "@" in email else None
    name = (
        " ".join(
            str(claims.get("name") or claims.get("preferred_username") or email or sub).split()
        )[:100]
        or sub[:100]
    )
    link = subject(issuer, sub)
    with ctx.store.write() as s:
        team = _team_of(s, ctx, role, claims)
        account = s.scalars(select(Account).where(Account.oidc_subject == link)).one_or_none()
        if account is None and email:
            unlinked = select(Account).where(
                func.lower(Account.email) == email, Account.oidc_subject.is_(None)
            )
            account = s.scalars(unlinked).first()
            if account is not None:
                account.oidc_subject = link
                audit(
                    s,
                    ctx,
                    accounts.actor(accounts.view(account, None)),
                    "account.sso_link",
                    login=account.login,
                    issuer=issuer,
                )
        if account is None:
            login = email or f"{sub}@{urlsplit(issuer).hostname or 'sso'}".lower()[:254]
            if s.scalars(select(Account.id).where(Account.login == login)).first() is not None:
                raise Unauthorized(
                    "an account {login!r} exists and is not linked to your identity provider: "
                    "ask the organisers",
                    login=login,
                )
            account = Account(
                login=login,
                name=name,
                email=email,
                role=role,
                team_id=team.id if team else None,
                oidc_subject=link,
                disabled=False,
                created_at=ctx.clock.now(),
            )
            s.add(account)
            s.flush()
            audit(
                s,
                ctx,
                accounts.actor(accounts.view(account, None)),
                "account.sso_create",
                login=login,
                role=role,
                team=team.name if team else None,
            )
        if account.disabled:
            raise Unauthorized("your account is disabled; ask the organisers")
        team_id = team.id if team else None
        if (account.role, account.team_id) != (role, team_id):
            audit(
                s,
                ctx,
                SSO,
                "account.sso_update",
                login=account.login,
                role=role,
                was=account.role,
                team=team.name if team else None,
            )
            if account.team_id != team_id:  # moved: the old team's sessions end
                s.execute(delete(WebSession).where(WebSession.account_id == account.id))
            account.role, account.team_id = role, team_id
        account.name = name
        credential = accounts.fingerprint(account.password_hash or "")
        return accounts.view(account, team.name if team else None), credential
