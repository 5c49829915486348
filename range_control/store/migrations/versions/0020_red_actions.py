"""The red cell's actions (its ground truth) and the incident reports that name them.

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
    op.create_table(
        "red_detections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=100), nullable=False),
        sa.Column("actor_team_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["red_actions.id"],
            name="fk_red_detections_action_id_red_actions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name="fk_red_detections_submission_id_submissions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_red_detections"),
        sa.UniqueConstraint("action_id", "submission_id", name="uq_red_detections_action_id"),
    )
    op.create_index("ix_red_detections_action_id", "red_detections", ["action_id"])


def downgrade() -> None:
    op.drop_table("red_detections")
    op.drop_table("red_actions")
