"""The red cell's jumpbox: its port (held by no team) and the commands of its sessions; the
red cell's plants.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

WHEN = range_control.store.models.UTCDateTime


def upgrade() -> None:
    # Nobody refers to port_allocations: the batch's copy of it cascades into nothing.
    with op.batch_alter_table("port_allocations") as batch:
        batch.alter_column("team_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "red_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("who", sa.String(length=254), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("challenge_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_red_commands_account_id_accounts",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["teams.id"], name="fk_red_commands_target_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_red_commands_challenge_id_challenges",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_red_commands"),
    )
    op.create_index("ix_red_commands_at", "red_commands", ["at"])
    op.create_index("ix_red_commands_target_id", "red_commands", ["target_id"])
    op.create_table(
        "red_plants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("where", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["red_actions.id"],
            name="fk_red_plants_action_id_red_actions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["teams.id"], name="fk_red_plants_target_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_red_plants_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_red_plants"),
    )
    op.create_index("ix_red_plants_target_id", "red_plants", ["target_id"])


def downgrade() -> None:
    op.drop_table("red_plants")
    op.drop_table("red_commands")
    op.execute("DELETE FROM port_allocations WHERE team_id IS NULL")
    with op.batch_alter_table("port_allocations") as batch:
        batch.alter_column("team_id", existing_type=sa.Integer(), nullable=False)
