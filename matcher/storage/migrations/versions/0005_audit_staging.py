"""audit staging: read-audit entries land in a table without secondary indexes and move to audit_log in batches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_staging")),
    )


def downgrade() -> None:
    # entries still staged belong to the audit log: move them before the table goes
    op.execute(
        "INSERT INTO audit_log (at, key_id, action, purpose, subject_type, subject_id, details) "
        "SELECT at, key_id, action, purpose, subject_type, subject_id, details FROM audit_staging ORDER BY id"
    )
    op.drop_table("audit_staging")
