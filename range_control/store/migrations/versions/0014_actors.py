"""Who did something as a typed actor in columns (kind, id, label, the team it acted for)
instead of strings: the audit log's actor, who created an award, an announcement or an API
token, and who published a task's grades. Existing rows are converted from the four string
formats they used.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TEAM = re.compile(r"^team:(\d+)$")
_PERSON = re.compile(r"^(.*) <([^<>]+)>$")
# table -> the column that named who did it
_WHO = {
    "awards": "created_by",
    "announcements": "created_by",
    "api_tokens": "created_by",
    "task_releases": "published_by",
}


def _columns(prefix: str, team: str) -> list[sa.Column]:
    return [
        sa.Column(f"{prefix}_kind", sa.String(length=16), nullable=True),
        sa.Column(f"{prefix}_id", sa.Integer(), nullable=True),
        sa.Column(f"{prefix}_label", sa.String(length=100), nullable=True),
        sa.Column(team, sa.Integer(), nullable=True),
    ]


class _Known:
    """Names and logins as the old strings wrote them, to find the ids."""

    def __init__(self, conn: sa.Connection) -> None:
        self.teams = {n: i for i, n in conn.execute(sa.text("SELECT id, name FROM teams"))}
        self.team_names = {i: n for n, i in self.teams.items()}
        self.accounts = {
            login: (i, team)
            for i, login, team in conn.execute(sa.text("SELECT id, login, team_id FROM accounts"))
        }
        self.tokens = {n: i for i, n in conn.execute(sa.text("SELECT id, name FROM api_tokens"))}

    def actor(self, text: str, by: Any = None) -> tuple[str, int | None, str, int | None]:
        """(kind, id, label, team) of an old actor string; ``by``: an audit entry's detail."""
        text = text or ""
        if m := _TEAM.match(text):
            team_id = int(m.group(1))
            if isinstance(by, str) and (p := _PERSON.match(by)):
                account = self.accounts.get(p.group(2))
                return "person", account[0] if account else None, by[:100], team_id
            name = self.team_names.get(team_id, str(team_id))
            return "team", team_id, f"machine: token of team {name}"[:100], team_id
        if text == "machine: organiser token":
            return "organiser_token", None, text, None
        if text.startswith("machine: token of team "):
            team_id = self.teams.get(text.removeprefix("machine: token of team "))
            return "team", team_id, text, team_id
        if text.startswith("machine: token "):
            return "token", self.tokens.get(text.removeprefix("machine: token ")), text, None
        if p := _PERSON.match(text):  # "Name <login>": a person, with an account or not
            account = self.accounts.get(p.group(2))
            return "person", account[0] if account else None, text, account[1] if account else None
        return "range", None, text[:100] or "range", None


def upgrade() -> None:
    conn = op.get_bind()
    known = _Known(conn)
    with op.batch_alter_table("audit_log") as batch:
        for column in _columns("actor", "team_id"):
            batch.add_column(column)
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("actor", sa.String),
        sa.column("detail", sa.JSON),
        sa.column("actor_kind", sa.String),
        sa.column("actor_id", sa.Integer),
        sa.column("actor_label", sa.String),
        sa.column("team_id", sa.Integer),
    )
    for row in conn.execute(sa.select(audit.c.id, audit.c.actor, audit.c.detail)).all():
        detail = dict(row.detail or {})
        kind, ident, label, team = known.actor(row.actor, detail.get("by"))
        if _TEAM.match(row.actor or ""):
            detail.pop("by", None)  # now the actor itself
        conn.execute(
            audit.update()
            .where(audit.c.id == row.id)
            .values(actor_kind=kind, actor_id=ident, actor_label=label, team_id=team, detail=detail)
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("actor_kind", existing_type=sa.String(16), nullable=False)
        batch.alter_column("actor_label", existing_type=sa.String(100), nullable=False)
        batch.drop_column("actor")
        batch.create_index("ix_audit_log_team_action", ["team_id", "created_at"])
    for table, who in _WHO.items():
        _convert(conn, known, table, who)


def _convert(conn: sa.Connection, known: _Known, table: str, who: str) -> None:
    key = "challenge_id" if table == "task_releases" else "id"
    with op.batch_alter_table(table) as batch:
        for column in _columns(who, f"{who}_team_id"):
            batch.add_column(column)
    t = sa.table(
        table,
        sa.column(key, sa.Integer),
        sa.column(who, sa.String),
        *(sa.column(f"{who}_{part}") for part in ("kind", "id", "label", "team_id")),
    )
    for row in conn.execute(sa.select(t.c[key], t.c[who])).all():
        kind, ident, label, team = known.actor(row[1])
        values = {f"{who}_kind": kind, f"{who}_id": ident, f"{who}_label": label}
        conn.execute(
            t.update().where(t.c[key] == row[0]).values(**values, **{f"{who}_team_id": team})
        )
    with op.batch_alter_table(table) as batch:
        batch.alter_column(f"{who}_kind", existing_type=sa.String(16), nullable=False)
        batch.alter_column(f"{who}_label", existing_type=sa.String(100), nullable=False)
        batch.drop_column(who)


def downgrade() -> None:
    conn = op.get_bind()
    for table, target in (*_WHO.items(), ("audit_log", "actor")):
        prefix = target
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(target, sa.String(length=100), nullable=True))
        conn.execute(sa.text(f"UPDATE {table} SET {target} = {prefix}_label"))  # noqa: S608
        with op.batch_alter_table(table) as batch:
            batch.alter_column(target, existing_type=sa.String(100), nullable=False)
            if table == "audit_log":
                batch.drop_index("ix_audit_log_team_action")
                batch.drop_column("team_id")
            else:
                batch.drop_column(f"{prefix}_team_id")
            for suffix in ("kind", "id", "label"):
                batch.drop_column(f"{prefix}_{suffix}")
