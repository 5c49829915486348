"""Defence exercises: ticks, verdicts, flags, resets, unscored checks, and the organisers'
pause of the checks.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import range_control.store.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = range_control.store.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("defence_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "defence_ticks",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("phase", sa.String(length=40), nullable=False),
        sa.Column("starts_at", WHEN(), nullable=False),
        sa.Column("ends_at", WHEN(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("finished_at", WHEN(), nullable=True),
        sa.PrimaryKeyConstraint("number", name="pk_defence_ticks"),
    )
    op.create_table(
        "defence_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("private", sa.Text(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("checked_at", WHEN(), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("reruns", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_defence_verdicts_team_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_defence_verdicts_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defence_verdicts"),
        sa.UniqueConstraint("tick", "team_id", "challenge_id", name="uq_defence_verdicts_tick"),
    )
    op.create_index("ix_defence_verdicts_tick", "defence_verdicts", ["tick"])
    op.create_index("ix_defence_verdicts_team_id", "defence_verdicts", ["team_id"])
    op.create_table(
        "defence_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("store", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=100), nullable=False),
        sa.Column("flag_id", sa.String(length=200), nullable=False),
        sa.Column("public_info", sa.Text(), nullable=False),
        sa.Column("placed", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_defence_flags_team_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_defence_flags_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defence_flags"),
        sa.UniqueConstraint("flag", name="uq_defence_flags_flag"),
        sa.UniqueConstraint(
            "tick", "team_id", "challenge_id", "store", name="uq_defence_flags_tick"
        ),
    )
    op.create_index("ix_defence_flags_tick", "defence_flags", ["tick"])
    op.create_table(
        "defence_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("created_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_label", sa.String(length=100), nullable=False),
        sa.Column("created_by_team_id", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_defence_resets_team_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_defence_resets_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defence_resets"),
    )
    op.create_index("ix_defence_resets_team_id", "defence_resets", ["team_id"])
    op.create_table(
        "defence_probes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("challenge_id", sa.Integer(), nullable=False),
        sa.Column("tick", sa.Integer(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("private", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("done_at", WHEN(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_defence_probes_team_id_teams", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenges.id"],
            name="fk_defence_probes_challenge_id_challenges",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defence_probes"),
    )
    op.create_index("ix_defence_probes_team_id", "defence_probes", ["team_id"])


def downgrade() -> None:
    for table in ("defence_probes", "defence_resets", "defence_flags", "defence_verdicts"):
        op.drop_table(table)
    op.drop_table("defence_ticks")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("defence_paused")
