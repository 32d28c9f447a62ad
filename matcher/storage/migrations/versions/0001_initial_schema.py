"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 21:59:38.683539
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_subject", "audit_log", ["subject_type", "subject_id"], unique=False)
    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=500), nullable=False),
        sa.Column("target_group", sa.String(length=40), nullable=False),
        sa.Column("postcode", sa.String(length=4), nullable=True),
        sa.Column("consent_share_with_employers", sa.Boolean(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False, comment="the validated Citizen model as JSON"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_citizens_external_ref")),
    )
    op.create_index(op.f("ix_citizens_postcode"), "citizens", ["postcode"], unique=False)
    op.create_index(op.f("ix_citizens_target_group"), "citizens", ["target_group"], unique=False)
    op.create_table(
        "employers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("cvr", sa.String(length=8), nullable=False),
        sa.Column("postcode", sa.String(length=4), nullable=False),
        sa.Column("industry", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
    )
    op.create_index(op.f("ix_employers_cvr"), "employers", ["cvr"], unique=False)
    op.create_table(
        "ranking_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_citizens", sa.Integer(), nullable=False),
        sa.Column("n_needs", sa.Integer(), nullable=False),
        sa.Column("n_results", sa.Integer(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_runs")),
    )
    op.create_index(op.f("ix_ranking_runs_status"), "ranking_runs", ["status"], unique=False)
    op.create_table(
        "service_meta",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_service_meta")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False, comment="sha256 hex of the key"),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employers.id"], name=op.f("fk_api_keys_employer_id_employers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "needs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("postcode", sa.String(length=4), nullable=True),
        sa.Column("positions", sa.Integer(), nullable=False),
        sa.Column("expires", sa.Date(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False, comment="the validated Vacancy model as JSON"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employers.id"], name=op.f("fk_needs_employer_id_employers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_needs")),
    )
    op.create_index(op.f("ix_needs_employer_id"), "needs", ["employer_id"], unique=False)
    op.create_index(op.f("ix_needs_expires"), "needs", ["expires"], unique=False)
    op.create_index(op.f("ix_needs_kind"), "needs", ["kind"], unique=False)
    op.create_table(
        "match_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_match_feedback_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_match_feedback_need_id_needs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_feedback")),
    )
    op.create_index(op.f("ix_match_feedback_need_id"), "match_feedback", ["need_id"], unique=False)
    op.create_index("ix_match_feedback_pair", "match_feedback", ["citizen_id", "need_id"], unique=False)
    op.create_table(
        "ranking_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("assigned", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_ranking_results_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_ranking_results_need_id_needs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ranking_runs.id"], name=op.f("fk_ranking_results_run_id_ranking_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_results")),
    )
    op.create_index(op.f("ix_ranking_results_citizen_id"), "ranking_results", ["citizen_id"], unique=False)
    op.create_index("ix_ranking_results_run_citizen", "ranking_results", ["run_id", "citizen_id", "rank"], unique=False)
    op.create_index("ix_ranking_results_run_need", "ranking_results", ["run_id", "need_id", "rank"], unique=False)


def downgrade() -> None:

    op.drop_index("ix_ranking_results_run_need", table_name="ranking_results")
    op.drop_index("ix_ranking_results_run_citizen", table_name="ranking_results")
    op.drop_index(op.f("ix_ranking_results_citizen_id"), table_name="ranking_results")
    op.drop_table("ranking_results")
    op.drop_index("ix_match_feedback_pair", table_name="match_feedback")
    op.drop_index(op.f("ix_match_feedback_need_id"), table_name="match_feedback")
    op.drop_table("match_feedback")
    op.drop_index(op.f("ix_needs_kind"), table_name="needs")
    op.drop_index(op.f("ix_needs_expires"), table_name="needs")
    op.drop_index(op.f("ix_needs_employer_id"), table_name="needs")
    op.drop_table("needs")
    op.drop_table("api_keys")
    op.drop_table("service_meta")
    op.drop_index(op.f("ix_ranking_runs_status"), table_name="ranking_runs")
    op.drop_table("ranking_runs")
    op.drop_index(op.f("ix_employers_cvr"), table_name="employers")
    op.drop_table("employers")
    op.drop_index(op.f("ix_citizens_target_group"), table_name="citizens")
    op.drop_index(op.f("ix_citizens_postcode"), table_name="citizens")
    op.drop_table("citizens")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
