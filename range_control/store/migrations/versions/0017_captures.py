"""Attack-defence: captured flags, once per team and flag.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WHEN = range_control.store.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "defence_captures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("victim_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.Column("store", sa.Integer(), nullable=False),
        sa.Column("door", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_defence_captures_team_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["victim_id"],
            ["teams.id"],
            name="fk_defence_captures_victim_id_teams",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_defence_captures_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defence_captures"),
        sa.UniqueConstraint(
            "team_id",
            "victim_id",
            "challenge_id",
            "tick",
            "store",
            name="uq_defence_captures_team_id",
        ),
    )
    op.create_index("ix_defence_captures_team_id", "defence_captures", ["team_id"])
    op.create_index("ix_defence_captures_victim_id", "defence_captures", ["victim_id"])
    op.create_index("ix_defence_captures_tick", "defence_captures", ["tick"])


def downgrade() -> None:
    op.drop_table("defence_captures")
