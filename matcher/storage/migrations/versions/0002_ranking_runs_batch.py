"""ranking runs: resumable blocks, progress and plan report (batch layer)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def _run_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("data_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("model_version", sa.String(length=200), server_default="", nullable=False),
        sa.Column("top_k", sa.Integer(), server_default="0", nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True, comment="the scoring date; a resumed run keeps it"),
        sa.Column("block_size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("blocks_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("blocks_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True, comment="host:pid of the process running it"),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True, comment="counts and the placement-plan report"),
    )


def upgrade() -> None:
    with op.batch_alter_table("ranking_runs") as batch:
        for column in _run_columns():
            batch.add_column(column)
    op.create_table(
        "ranking_blocks",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.Integer(), nullable=False),
        sa.Column("n_results", sa.Integer(), nullable=False),
        sa.Column("partial", sa.LargeBinary(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking_runs.id"], name=op.f("fk_ranking_blocks_run_id_ranking_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "block", name=op.f("pk_ranking_blocks")),
    )


def downgrade() -> None:
    op.drop_table("ranking_blocks")
    with op.batch_alter_table("ranking_runs") as batch:
        for column in reversed(_run_columns()):
            batch.drop_column(column.name)
