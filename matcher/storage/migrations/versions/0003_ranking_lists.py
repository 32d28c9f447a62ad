"""ranking lists: one row per ranked list of a run (batch layer)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ranking_lists",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False, comment="citizen id or need id"),
        sa.Column(
            "ids", sa.JSON(), nullable=False,
            comment="need ids (direction citizen) or citizen ids (direction need)",
        ),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("overqualification", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking_runs.id"], name=op.f("fk_ranking_lists_run_id_ranking_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "direction", "owner_id", name=op.f("pk_ranking_lists")),
    )


def downgrade() -> None:
    op.drop_table("ranking_lists")
