"""Teams: the networks their own machines submit flags from (the flag door names a team by
its address).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch would copy the teams table, and dropping the old one on SQLite
    # cascades into every row that refers to a team (awards, solves...).
    op.add_column(
        "teams", sa.Column("networks", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    op.drop_column("teams", "networks")  # SQLite has DROP COLUMN since 3.35
