"""Approvals, candidate lists and feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
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
        "api_approval",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column(
            "version_id", sa.Integer(), sa.ForeignKey("api_criteria_version.id"), nullable=False
        ),
        sa.Column("approved_by", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("version_id"),
    )
    op.create_index("ix_api_approval_study_id", "api_approval", ["study_id"])
    op.create_table(
        "api_candidate_list",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list_id", sa.String(100), nullable=False),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column(
            "version_id", sa.Integer(), sa.ForeignKey("api_criteria_version.id"), nullable=False
        ),
        sa.Column("practice", sa.String(100), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("possibly_eligible", sa.Integer(), nullable=False),
        sa.Column("without_token", sa.Integer(), nullable=False),
        sa.Column("data_snapshot", sa.String(200), nullable=False),
        sa.Column("issued", sa.String(40), nullable=False),
        sa.Column("expires", sa.String(40), nullable=False),
        sa.Column("signing_key_id", sa.String(100), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("list_id"),
    )
    op.create_index("ix_api_candidate_list_study_id", "api_candidate_list", ["study_id"])
    op.create_index("ix_api_candidate_list_version_id", "api_candidate_list", ["version_id"])
    op.create_index("ix_api_candidate_list_practice", "api_candidate_list", ["practice"])
    op.create_table(
        "api_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list_pk", sa.Integer(), sa.ForeignKey("api_candidate_list.id"), nullable=False),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column("practice", sa.String(100), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_feedback_list_pk", "api_feedback", ["list_pk"])
    op.create_index("ix_api_feedback_study_id", "api_feedback", ["study_id"])


def downgrade() -> None:
    for table in ("api_feedback", "api_candidate_list", "api_approval"):
        op.drop_table(table)
