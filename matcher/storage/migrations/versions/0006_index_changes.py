"""index changes: the feed of committed writes that every service process's in-memory index follows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_index_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_index_changes_at"), "index_changes", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_index_changes_at"), table_name="index_changes")
    op.drop_table("index_changes")
