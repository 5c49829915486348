"""People's second factor: a sealed TOTP secret and the last step accepted

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_sealed", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("totp_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("totp_step")
        batch_op.drop_column("totp_sealed")
