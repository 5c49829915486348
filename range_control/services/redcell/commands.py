"""What the red cell did, as observed: every command of its members' sessions on the red
cell's jumpbox (``services.redcell.jumpbox``), read back from the jumpbox's output after each
pass of the reconciler. Each command names its person (by the login the session ran under: a
pipe only that person may write, ``contexts/jumpbox/red.sh``) and its time; a command that
names a game address is counted against that team and service. Beside what the red cell
declares, it is the white cell's ground truth; teams never see it."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.orchestrator.game import MAX_SERVICES
from range_control.services.defence.plan import plan_in
from range_control.specs.api.defence import RedCommandOut
from range_control.specs.api.whitecell import ObservedOut
from range_control.store.models import Account, Challenge, RedCommand, Team

MAX_COMMAND = 2000  # characters kept of one command line (the jumpbox cuts there too)
MAX_LOG = 500
_LINE = re.compile(r"^range-command red(\d{1,12}) (\d{1,12}) (.*)$")
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")


def parse(line: str) -> tuple[int, int, str] | None:
    """``range-command red<account id> <unix time> <command>``: (account id, time, command),
    None for anything else."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3)[:MAX_COMMAND]


def named_target(command: str, subnet: str, services: list[str]) -> tuple[int, str] | None:
    """The first game address ``command`` names, as (team id, service slug): the n-th of the
    defence's ``services`` of that team (``orchestrator.game.game_address``)."""
    net = ipaddress.ip_network(subnet)
    for text in _IPV4.findall(command):
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip not in net:
            continue
        offset = int(ip) - int(net.network_address)
        team, index = divmod(offset, 256)
        if team > 0 and 0 < index <= min(len(services), MAX_SERVICES):
            return team, services[index - 1]
    return None


def blind(command: str, subnet: str) -> str:
    """``command`` with every game address's team hidden (``10.60.x.1``): a blind grader sees
    what was run against which service, not which team it was."""
    net = ipaddress.ip_network(subnet)

    def hide(m: re.Match[str]) -> str:
        try:
            ip = ipaddress.ip_address(m.group(1))
        except ValueError:
            return m.group(1)
        if ip not in net or int(ip) - int(net.network_address) < 256:
            return m.group(1)
        parts = m.group(1).split(".")
        return ".".join([*parts[:2], "x", parts[3]])

    return _IPV4.sub(hide, command)


def against(s: Session, ctx: Range, team_id: int, until: datetime) -> list[ObservedOut]:
    """What the red cell ran against a team up to ``until``, oldest first, blind."""
    rows = s.execute(
        select(RedCommand.at, RedCommand.command, Challenge.slug)
        .outerjoin(Challenge, Challenge.id == RedCommand.challenge_id)
        .where(RedCommand.target_id == team_id, RedCommand.at <= until)
        .order_by(RedCommand.at, RedCommand.id)
        .limit(MAX_LOG)
    )
    return [
        ObservedOut(at=at, service=slug, command=blind(command, ctx.settings.game_subnet))
        for at, command, slug in rows
    ]


def since(ctx: Range) -> int:
    """Where to read the jumpbox's output from: the second of the last command stored (lines
    of that second already stored are recognised and skipped)."""
    with ctx.store.read() as s:
        last = s.scalar(select(func.max(RedCommand.at)))
    return int(last.timestamp()) if last is not None else 0


def record(ctx: Range, lines: list[str]) -> int:
    """Store the commands of ``lines`` not stored yet: how many were new."""
    parsed = [p for p in (parse(ln) for ln in lines) if p is not None]
    if not parsed:
        return 0
    now = ctx.clock.now()
    new = 0
    with ctx.store.write() as s:
        plan = plan_in(s, ctx)
        services = list(plan.spec.services) if plan is not None else []
        teams = set(s.scalars(select(Team.id)))
        slugs = dict(s.execute(select(Challenge.slug, Challenge.id)).all())
        logins = dict(s.execute(select(Account.id, Account.login)).all())
        for account_id, epoch, command in parsed:
            at = datetime.fromtimestamp(epoch, UTC)
            who = logins.get(account_id, f"red{account_id}")
            there = s.scalar(
                select(RedCommand.id).where(
                    RedCommand.who == who, RedCommand.at == at, RedCommand.command == command
                )
            )
            if there is not None:
                continue
            target = named_target(command, ctx.settings.game_subnet, services)
            team_id, challenge_id = None, None
            if target is not None and target[0] in teams:
                team_id, challenge_id = target[0], slugs.get(target[1])
            s.add(
                RedCommand(
                    account_id=account_id if account_id in logins else None,
                    who=who,
                    at=at,
                    command=command,
                    target_id=team_id,
                    challenge_id=challenge_id,
                    created_at=now,
                )
            )
            new += 1
    return new


def commands(ctx: Range, team_id: int | None = None, limit: int = MAX_LOG) -> list[RedCommandOut]:
    """The red cell's observed commands, newest first (``team_id``: those naming that team)."""
    with ctx.store.read() as s:
        q = (
            select(RedCommand, Team.name, Challenge.slug)
            .outerjoin(Team, Team.id == RedCommand.target_id)
            .outerjoin(Challenge, Challenge.id == RedCommand.challenge_id)
        )
        if team_id is not None:
            q = q.where(RedCommand.target_id == team_id)
        rows = s.execute(q.order_by(RedCommand.at.desc(), RedCommand.id.desc()).limit(limit))
        return [
            RedCommandOut(by=c.who, at=c.at, command=c.command, team=name, service=slug)
            for c, name, slug in rows
        ]
