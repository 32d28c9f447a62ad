"""audit staging: one staged row may stand for several entries that differ only in their subject

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_staging") as batch:
        batch.add_column(
            sa.Column(
                "subjects",
                sa.JSON(),
                nullable=True,
                comment="subject ids of the entries this row stands for (null: just subject_id)",
            )
        )


_COLUMNS = "at, key_id, action, purpose, subject_type, subject_id, details"
_EXPANDED = "s.at, s.key_id, s.action, s.purpose, s.subject_type, COALESCE(j.value, s.subject_id), s.details"


def downgrade() -> None:
    # rows standing for several entries mean nothing without the column: move everything staged into the log
    # first, one row per entry in staging order (as the service's move does), then drop the column
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"WITH s AS (DELETE FROM audit_staging RETURNING id, subjects, {_COLUMNS}) "
            f"INSERT INTO audit_log ({_COLUMNS}) SELECT {_EXPANDED} FROM s "
            "LEFT JOIN LATERAL json_array_elements_text(s.subjects) WITH ORDINALITY AS j(value, n) ON true "
            "ORDER BY s.id, j.n"
        )
    else:
        op.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) SELECT {_EXPANDED} FROM audit_staging AS s "
            "LEFT JOIN json_each(s.subjects) AS j ORDER BY s.id, j.key"
        )
        op.execute("DELETE FROM audit_staging")
    with op.batch_alter_table("audit_staging") as batch:
        batch.drop_column("subjects")
