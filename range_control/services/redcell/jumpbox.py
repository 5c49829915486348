"""The red cell's own entry point: a jumpbox on the game network (``orchestrator.game``) that
reaches every team's defended services at their game addresses in every defence tick, defence
or attack-defence (unless the organisers close the game network), and nothing else a team's
jumpbox does not. Each member of the red cell (an enabled account of the ``red`` role) has a
login of their own on it (``red<account id>``, a password derived like the teams', shown to
that person only); every command of their sessions is logged and read back into the ground
truth (``services.redcell.commands``).

It exists while the event has defended services to attack and a red cell to attack them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.permissions import Role
from range_control.core.settings import secret
from range_control.domain.keys import red_login, red_password
from range_control.orchestrator.types import RED_CELL, DesiredJumpbox
from range_control.services.environments.ports import RED_JUMPBOX, PortPool
from range_control.specs.api.environments import JumpboxOut
from range_control.store.models import Account, PortAllocation


def people(s: Session) -> list[Account]:
    """The red cell: its enabled members, by id."""
    return list(
        s.scalars(
            select(Account)
            .where(Account.role == Role.RED.value, Account.disabled.is_(False))
            .order_by(Account.id)
        )
    )


def desired_red(
    s: Session, ctx: Range, ports: PortPool, packages: tuple[str, ...]
) -> DesiredJumpbox | None:
    """The red cell's jumpbox (its port held from now on), or None without a red cell."""
    members = people(s)
    if not members:
        return None
    key = secret(ctx.settings.flag_secret)
    logins = tuple((red_login(a.id), red_password(key, ctx.event_slug, a.id)) for a in members)
    return DesiredJumpbox(
        ctx.event_slug,
        RED_CELL,
        ports.get(None, None, RED_JUMPBOX),
        # The team user's password: no login has it (only the people's logins are allowed).
        red_password(key, ctx.event_slug, 0),
        (),
        packages,
        ctx.settings.game_subnet,
        logins,
    )


def access(ctx: Range, account_id: int) -> JumpboxOut | None:
    """How a member of the red cell logs in to its jumpbox (shown to that person only); None
    before the jumpbox has a port (no defended service yet) or for anyone else."""
    with ctx.store.read() as s:
        account = s.get(Account, account_id)
        if account is None or account.role != Role.RED.value or account.disabled:
            return None
        row = s.execute(
            select(PortAllocation.port, PortAllocation.host).where(
                PortAllocation.team_id.is_(None), PortAllocation.purpose == RED_JUMPBOX
            )
        ).first()
    if row is None:
        return None
    port, host = row
    host = host or ctx.settings.public_host
    user = red_login(account_id)
    password = red_password(secret(ctx.settings.flag_secret), ctx.event_slug, account_id)
    return JumpboxOut(
        host=host, port=port, user=user, password=password, command=f"ssh -p {port} {user}@{host}"
    )
