"""audit log: the subject index leads with the id's bucket, so new entries land at its end (see AuditRow)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# written out, not imported: a migration must keep meaning what it meant when it was written
_BUCKET = "(id / 16384)"


def upgrade() -> None:
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.create_index("ix_audit_log_bucket_subject", "audit_log", [sa.text(_BUCKET), "subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_bucket_subject", table_name="audit_log")
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_type", "subject_id"])
