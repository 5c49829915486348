"""Team access: members' SSH public keys for the jumpbox, WireGuard peers on the gateway

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _owned(table: str, *columns: sa.Column, unique: tuple[str, ...]) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        *columns,
        sa.Column(
            "created_at", range_control.store.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f(f"fk_{table}_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("team_id", *unique, name=op.f(f"uq_{table}_team_id")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_team_id"), ["team_id"], unique=False)


def upgrade() -> None:
    _owned(
        "ssh_keys",
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        unique=("fingerprint",),
    )
    _owned(
        "wireguard_peers",
        sa.Column("public_key", sa.String(length=44), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        unique=("address",),
    )
    with op.batch_alter_table("wireguard_peers", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_wireguard_peers_public_key"), ["public_key"]
        )


def downgrade() -> None:
    for table in ("wireguard_peers", "ssh_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_team_id"))
        op.drop_table(table)
