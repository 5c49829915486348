"""Who calls the organiser API: the shared organiser token, or a personal API token.

A personal token is created by an organiser (console, CLI or API), has a name, a scope
(``core.permissions.Scope``: ``read`` looks, ``grade`` also sends the white cell's grades, for
a grader's script; ``full`` may do all an organiser may) and can be revoked at once. Both are
*machine* actors (``core.actors``), never a person. Only a token's SHA-256 is kept (tokens are 256
random bits, so a plain digest is not guessable); the lookup is by that digest."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from range_control.context import Range
from range_control.core.actors import ORGANISER_TOKEN, Actor
from range_control.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from range_control.core.permissions import Machine, Scope
from range_control.core.settings import secret
from range_control.services.audit import audit
from range_control.services.people.teams import hash_token
from range_control.specs.api.people import ApiTokenOut, NewApiTokenOut
from range_control.store.models import ApiToken

PREFIX = "rco_"  # recognisable (secret scanners); team tokens are rct_
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,59}")
_TOUCH = timedelta(minutes=1)  # last_used_at is written at most once a minute per token


@dataclass(frozen=True)
class Caller:
    """Who is calling the organiser API: the audit log's actor, and the credential the
    permission table knows (``core.permissions``)."""

    actor: Actor
    holder: Scope | Machine


def view(t: ApiToken) -> ApiTokenOut:
    return ApiTokenOut.model_validate(t)


def create(ctx: Range, name: str, scope: str, actor: Actor) -> NewApiTokenOut:
    name = " ".join(name.split())
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "name: 1 to 60 letters, digits, spaces, '.', '_' or '-', not {name!r}", name=name[:60]
        )
    if scope not in set(Scope):
        raise InvalidInput("scope: read, grade, full or red-cell, not {scope!r}", scope=scope[:20])
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with ctx.store.write() as s:
            row = ApiToken(
                name=name,
                token_hash=hash_token(token),
                scope=scope,
                created_by=actor,
                created_at=ctx.clock.now(),
            )
            s.add(row)
            s.flush()
            audit(s, ctx, actor, "token.create", name=name, scope=scope)
            out = view(row)
    except IntegrityError:
        raise Conflict(
            "an API token named {name!r} exists (names stay taken after revoking)", name=name
        ) from None
    return NewApiTokenOut(api_token=out, token=token)


def list_tokens(ctx: Range) -> list[ApiTokenOut]:
    with ctx.store.read() as s:
        return [view(t) for t in s.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke(ctx: Range, ref: str | int, actor: Actor) -> ApiTokenOut:
    """Revoke by id (an int) or by name (else its id in digits); the next call is refused."""
    with ctx.store.write() as s:
        row = None
        if isinstance(ref, str):
            row = s.scalars(select(ApiToken).where(ApiToken.name == ref)).one_or_none()
        if row is None and re.fullmatch(r"[0-9]{1,9}", str(ref)):
            row = s.get(ApiToken, int(ref))
        if row is None:
            raise NotFound("no API token {ref!r}", ref=str(ref)[:60])
        if row.revoked_at is None:
            row.revoked_at = ctx.clock.now()
            audit(s, ctx, actor, "token.revoke", name=row.name)
        return view(row)


def caller(ctx: Range, token: str) -> Caller:
    """The organiser token, else a personal token that is not revoked; else refused."""
    if is_organiser_token(ctx, token):
        return Caller(ORGANISER_TOKEN, Machine.ORGANISER_TOKEN)
    if not token:
        raise Unauthorized("the organiser token is required")
    if token.startswith(PREFIX) and len(token) <= 100:
        now = ctx.clock.now()
        with ctx.store.read() as s:
            row = s.scalars(
                select(ApiToken).where(
                    ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
                )
            ).one_or_none()
            found = None if row is None else (row.id, row.name, row.scope, row.last_used_at)
        if found is not None:
            token_id, name, scope, last = found
            if last is None or now - last >= _TOUCH:
                with ctx.store.write_conn() as c:
                    c.execute(
                        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                    )
            return Caller(Actor.token(token_id, name), Scope(scope))
    raise Forbidden("this route needs the organiser token or an organiser API token")


def is_organiser_token(ctx: Range, token: str) -> bool:
    """Constant-time comparison with the configured organiser token; empty never matches."""
    expected = secret(ctx.settings.admin_token)
    return bool(token) and hmac.compare_digest(
        token.encode("utf-8", "surrogatepass"), expected.encode()
    )
