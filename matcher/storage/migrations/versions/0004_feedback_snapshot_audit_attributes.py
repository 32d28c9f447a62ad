"""feedback snapshots for the re-ranker; protected attributes in their own table for fairness audits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match_feedback") as batch:
        batch.add_column(
            sa.Column(
                "snapshot", sa.JSON(), nullable=True,
                comment="what the engine scored for the pair when the feedback was given (components, total, "
                "gates, context): the re-ranker's training row, so later profile edits cannot leak the outcome "
                "back into it",
            )
        )
    op.create_table(
        "citizen_audit_attributes",
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("gender", sa.String(length=20), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("origin_country", sa.String(length=2), nullable=True, comment="ISO 3166 alpha-2"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_citizen_audit_attributes_citizen_id_citizens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_citizen_audit_attributes")),
    )


def downgrade() -> None:
    op.drop_table("citizen_audit_attributes")
    with op.batch_alter_table("match_feedback") as batch:
        batch.drop_column("snapshot")
