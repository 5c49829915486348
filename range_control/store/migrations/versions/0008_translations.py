"""Translated content: challenges' and announcements' texts in other languages

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("challenges", "announcements"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("translations", sa.JSON(), nullable=False, server_default="{}")
            )


def downgrade() -> None:
    for table in ("announcements", "challenges"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("translations")
