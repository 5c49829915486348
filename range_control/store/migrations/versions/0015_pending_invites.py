"""A captain's invite is pending until the person accepts it: it holds who is invited (name,
login, call sign, e-mail, role, team, and the captain who invited) and makes the account only
then, so that it occupies no login before. Existing invites keep their account.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("name", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("login", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("callsign", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("created_by_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("created_by_label", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("created_by_team_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_invites_team_id_teams", "teams", ["team_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_invites_team_id", ["team_id"])


def downgrade() -> None:
    op.execute("DELETE FROM invites WHERE account_id IS NULL")
    with op.batch_alter_table("invites") as batch:
        batch.drop_index("ix_invites_team_id")
        batch.drop_constraint("fk_invites_team_id_teams", type_="foreignkey")
        for column in (
            "created_by_team_id",
            "created_by_label",
            "created_by_id",
            "created_by_kind",
            "role",
            "email",
            "callsign",
            "login",
            "name",
            "team_id",
        ):
            batch.drop_column(column)
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
