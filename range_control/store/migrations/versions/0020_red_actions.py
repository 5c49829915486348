"""The red cell's actions (its ground truth).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

WHEN = range_control.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "red_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("actor_team_id", sa.Integer(), nullable=True),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=True),
        sa.Column("technique", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"], ["teams.id"], name="fk_red_actions_target_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_red_actions_challenge_id_challenges",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_red_actions"),
    )
    op.create_index("ix_red_actions_target_id", "red_actions", ["target_id"])
    op.create_index("ix_red_actions_at", "red_actions", ["at"])


def downgrade() -> None:
    op.drop_table("red_actions")
