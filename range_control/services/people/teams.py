"""Teams and their tokens.

A token is 256 bits from ``secrets`` and is shown once. Only its SHA-256 is stored: for a random
token of that size a slow password hash adds no protection against guessing, while a plain
digest lets every request authenticate with one indexed lookup.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import os
import re
import secrets
from pathlib import Path

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from range_control.services.audit import audit
from range_control.services.environments import team_access
from range_control.services.event.event import bump_generation
from range_control.specs.api.people import TeamOut, TeamTokenOut
from range_control.specs.text import CsvWriter, name_problem
from range_control.store.models import Team, WebSession
from range_control.store.prepared import Prepared

TOKEN_PREFIX = "rct_"  # noqa: S105 - a marker, not a secret
MAX_TOKEN_LEN = 128
COUNTRY_RE = re.compile(r"^[A-Z]{2,3}$")
MAX_TEAMS_CSV_BYTES = 1024 * 1024


def _view(t: Team) -> TeamOut:
    return TeamOut.model_validate(t)


def _issued(t: Team, token: str) -> TeamTokenOut:
    return TeamTokenOut(team=_view(t), token=token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def clean_name(name: str) -> str:
    """Spaces collapsed; 1 to 100 characters; no control, format or bidi characters (a name
    must read as what it is, next to others); not starting with ``#`` (that is an id)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise InvalidInput("team name: must be 1 to 100 characters")
    bad = name_problem(name)
    if bad is not None:
        raise InvalidInput("team name: {bad}", bad=bad)
    if name.startswith("#"):
        raise InvalidInput("team name: must not start with # (#<id> names a team by its id)")
    return name


def clean_country(country: str | None) -> str | None:
    if country is None or country.strip() == "":
        return None
    code = country.strip().upper()
    if not COUNTRY_RE.fullmatch(code):
        raise InvalidInput(
            "country: {country!r} is not an ISO 3166 code (two or three letters, e.g. NL, NLD)",
            country=country,
        )
    return code


def add_team(ctx: Range, name: str, country: str | None = None, *, actor: Actor) -> TeamTokenOut:
    name = clean_name(name)
    code = clean_country(country)
    token = new_token()
    try:
        with ctx.store.write() as s:
            if s.scalar(select(Team.id).where(Team.name == name)) is not None:
                raise Conflict("team name: a team named {name!r} already exists", name=name)
            team = Team(
                name=name,
                country=code,
                token_hash=hash_token(token),
                disabled=False,
                created_at=ctx.clock.now(),
            )
            s.add(team)
            s.flush()
            audit(s, ctx, actor, "team.add", team=name)
            bump_generation(s, ctx)
            return _issued(team, token)
    except IntegrityError:
        raise Conflict("team name: a team named {name!r} already exists", name=name) from None


def read_csv_text(source: Path, most: int) -> str:
    """A CSV file's text: at most ``most`` bytes, UTF-8 (a BOM is fine); errors name it."""
    raw = source.read_bytes()
    if len(raw) > most:
        raise InvalidInput("{source}: larger than {most} bytes", source=source, most=most)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "{source}: not UTF-8 ({reason} at byte {start})",
            source=source,
            reason=exc.reason,
            start=exc.start,
        ) from None


def import_csv(ctx: Range, source: Path, actor: Actor) -> list[TeamTokenOut]:
    """Read ``name,country`` rows (a header row is optional); all or nothing."""
    text = read_csv_text(source, MAX_TEAMS_CSV_BYTES)
    rows: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if lineno == 1 and [c.strip().lower() for c in row[:2]] == ["name", "country"]:
            continue
        if len(row) > 2:
            raise InvalidInput(
                "{source}:{lineno}: expected name,country, got {row} fields",
                source=source,
                lineno=lineno,
                row=len(row),
            )
        try:
            name = clean_name(row[0])
            country = clean_country(row[1] if len(row) > 1 else None)
        except InvalidInput as exc:
            raise InvalidInput(
                "{source}:{lineno}: {detail}", source=source, lineno=lineno, detail=exc
            ) from None
        if name in seen:
            raise InvalidInput(
                "{source}:{lineno}: team name {name!r} appears twice",
                source=source,
                lineno=lineno,
                name=name,
            )
        seen.add(name)
        rows.append((name, country))
    if not rows:
        raise InvalidInput("{source}: no teams found", source=source)
    created: list[TeamTokenOut] = []
    with ctx.store.write() as s:
        existing = set(s.scalars(select(Team.name).where(Team.name.in_(seen))))
        if existing:
            raise Conflict(
                "{source}: team(s) already exist: {existing}",
                source=source,
                existing=", ".join(sorted(existing)),
            )
        now = ctx.clock.now()
        for name, country in rows:
            token = new_token()
            team = Team(name=name, country=country, token_hash=hash_token(token), created_at=now)
            s.add(team)
            s.flush()
            created.append(_issued(team, token))
        audit(s, ctx, actor, "team.import", count=len(rows), source=source.name)
        bump_generation(s, ctx)
    return created


def list_teams(ctx: Range) -> list[TeamOut]:
    with ctx.store.read() as s:
        return teams_in(s)


def teams_in(s: Session) -> list[TeamOut]:
    return [_view(t) for t in s.scalars(select(Team).order_by(Team.id))]


ID_REF = re.compile(r"^#([0-9]{1,10})$")


def find(s: Session, ref: int | str) -> Team:
    """The one way every use case finds a team an organiser names: a name exactly as written,
    or ``#<id>`` (an int is an id too). A name never starts with ``#``, so a reference never
    means two teams: the team named "3" is "3", the team with id 3 is "#3"."""
    team = lookup(s, ref)
    if team is None:
        if isinstance(ref, int) or ref.startswith("#"):
            raise NotFound("team {ref!r} not found", ref=ref)
        raise NotFound("team {ref!r} not found (by name; #<id> for an id)", ref=ref)
    return team


def lookup(s: Session, ref: int | str) -> Team | None:
    """:func:`find`, or None when there is no such team."""
    if isinstance(ref, int):
        return s.get(Team, ref) if 0 < ref < 2**31 else None
    if m := ID_REF.fullmatch(ref.strip()):
        return s.get(Team, int(m.group(1))) if int(m.group(1)) < 2**31 else None
    return s.scalar(select(Team).where(Team.name == " ".join(ref.split())))


def set_disabled(ctx: Range, ref: int | str, disabled: bool, actor: Actor) -> TeamOut:
    with ctx.store.write() as s:
        team = find(s, ref)
        team.disabled = disabled
        if disabled:
            _end_access(s, team.id)
        audit(s, ctx, actor, "team.disable" if disabled else "team.enable", team=team.name)
        bump_generation(s, ctx)
        view = _view(team)
    if disabled:
        team_access.push(ctx, view.id)
    return view


def _end_access(s: Session, team_id: int) -> None:
    """Every browser login of the team ends now (its token changed, or it was disabled), and
    its members' SSH keys and WireGuard devices are revoked (the jumpbox's password changes
    with the token; the gateway is told once the caller commits: ``team_access.push``)."""
    s.execute(delete(WebSession).where(WebSession.team_id == team_id))
    team_access.revoke_all(s, team_id)


def rotate_token(ctx: Range, ref: int | str, actor: Actor) -> TeamTokenOut:
    token = new_token()
    with ctx.store.write() as s:
        team = find(s, ref)
        team.token_hash = hash_token(token)
        _end_access(s, team.id)
        audit(s, ctx, actor, "team.rotate_token", team=team.name)
        issued = _issued(team, token)
    team_access.push(ctx, issued.team.id)
    return issued


MAX_NETWORKS = 16


def set_networks(ctx: Range, ref: int | str, networks: list[str], actor: Actor) -> TeamOut:
    """The networks the team's machines are on (CIDRs, at most 16; none clears them): the flag
    door names the team by a connection's address. Two teams never share an address."""
    if len(networks) > MAX_NETWORKS:
        raise InvalidInput("networks: at most {most} per team", field="networks", most=MAX_NETWORKS)
    wanted = []
    for i, raw in enumerate(networks):
        try:
            wanted.append(ipaddress.ip_network(str(raw).strip()[:64], strict=False))
        except ValueError:
            raise InvalidInput(
                "networks.{i}: {value!r} is not a network (10.1.3.0/24, 2001:db8::/64)",
                field="networks",
                i=i,
                value=str(raw)[:64],
            ) from None
    with ctx.store.write() as s:
        team = find(s, ref)
        for other in s.scalars(select(Team).where(Team.id != team.id)):
            for theirs in map(ipaddress.ip_network, other.networks or []):
                clash = next((n for n in wanted if n.overlaps(theirs)), None)
                if clash is not None:
                    raise Conflict(
                        "{net} overlaps {theirs}, a network of team {team!r}",
                        net=str(clash),
                        theirs=str(theirs),
                        team=other.name,
                    )
        team.networks = sorted({str(n) for n in wanted})
        audit(s, ctx, actor, "team.networks", team=team.name, networks=team.networks)
        return _view(team)


def by_address(ctx: Range, address: str) -> TeamOut | None:
    """The enabled team whose networks hold ``address`` (None: no team's)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    with ctx.store.read() as s:
        for team in s.scalars(select(Team).where(Team.disabled.is_(False))):
            if any(ip in ipaddress.ip_network(n) for n in team.networks or []):
                return _view(team)
    return None


def authenticate(ctx: Range, token: str) -> TeamOut:
    if not token or len(token) > MAX_TOKEN_LEN:
        raise Unauthorized("a valid team token is required")
    return authenticate_hash(ctx, hash_token(token))


def authenticate_hash(ctx: Range, token_hash: str) -> TeamOut:
    """A web session holds the token's hash: rotating the token or disabling the team ends it."""
    if len(token_hash) != 64:
        raise Unauthorized("a valid team token is required")
    with ctx.store.read_conn(snapshot=False) as c:  # one statement
        row = _BY_TOKEN.one_or_none(c, h=token_hash)
        if row is None:
            raise Unauthorized("a valid team token is required")
        if row.disabled:
            raise Unauthorized("this team is disabled; ask the organisers")
        return TeamOut.model_validate(row)


# Every authenticated request runs it: on the driver.
_BY_TOKEN = Prepared(
    select(Team.id, Team.name, Team.country, Team.disabled, Team.created_at).where(
        Team.token_hash == bindparam("h")
    )
)


def write_tokens_csv(created: list[TeamTokenOut], dest: Path) -> None:
    """The hand-out sheet: name, country, token. Written 0600; it holds live credentials."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        w = CsvWriter(fh)
        w.writerow(["name", "country", "token"])
        for nt in created:
            w.writerow([nt.team.name, nt.team.country or "", nt.token])
