"""where instances and ports are: the node of an instance, the host of a port

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=200), nullable=True))
    with op.batch_alter_table("port_allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=253), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("port_allocations", schema=None) as batch_op:
        batch_op.drop_column("host")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("node")
