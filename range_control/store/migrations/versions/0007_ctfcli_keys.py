"""ctfcli's keys the range uses: flag logic, release time, solution, hint prerequisites

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 05:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("logic", sa.String(length=8), nullable=False, server_default="any")
        )
        batch_op.add_column(
            sa.Column(
                "release_at", range_control.store.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("solution", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("solution_state", sa.String(length=8), nullable=True))
    with op.batch_alter_table("hints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("hints", schema=None) as batch_op:
        batch_op.drop_column("requires")
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_column("solution_state")
        batch_op.drop_column("solution")
        batch_op.drop_column("release_at")
        batch_op.drop_column("logic")
