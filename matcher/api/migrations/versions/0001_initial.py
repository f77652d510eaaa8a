"""Accounts, studies, criteria versions, submissions, audit log, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
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
        "api_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("practice", sa.String(100), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_account_name", "api_account", ["name"], unique=True)
    op.create_index("ix_api_account_token_hash", "api_account", ["token_hash"], unique=True)
    op.create_table(
        "api_study",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_study_owner_id", "api_study", ["owner_id"])
    op.create_table(
        "api_criteria_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("criteria_hash", sa.String(80), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("ir_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("study_id", "number", name="uq_version_number"),
        sa.UniqueConstraint("study_id", "criteria_hash", name="uq_version_hash"),
    )
    op.create_index("ix_api_criteria_version_study_id", "api_criteria_version", ["study_id"])
    op.create_table(
        "api_submission",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("diagnostics_json", sa.Text(), nullable=False),
        sa.Column(
            "version_id", sa.Integer(), sa.ForeignKey("api_criteria_version.id"), nullable=True
        ),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_api_submission_study_id", "api_submission", ["study_id"])
    op.create_table(
        "api_audit",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("object", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "api_audit_head",
        sa.Column("key", sa.String(20), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "api_idempotency",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("headers_json", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "key", name="uq_idempotency_key"),
    )


def downgrade() -> None:
    for table in (
        "api_idempotency",
        "api_audit_head",
        "api_audit",
        "api_submission",
        "api_criteria_version",
        "api_study",
        "api_account",
    ):
        op.drop_table(table)
