"""Feasibility runs: the durable queue of matcher.services.runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_feasibility_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("criteria_format", sa.String(10), nullable=False),
        sa.Column("requester", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("options_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("phase", sa.String(100), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("notes_json", sa.Text(), nullable=False),
        sa.Column("data_snapshot", sa.String(200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_kind", sa.String(20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_feasibility_run_study_id", "api_feasibility_run", ["study_id"])
    op.create_index("ix_api_feasibility_run_version_id", "api_feasibility_run", ["version_id"])
    op.create_index("ix_api_feasibility_run_requester", "api_feasibility_run", ["requester"])
    op.create_index("ix_api_feasibility_run_status_id", "api_feasibility_run", ["status", "id"])


def downgrade() -> None:
    op.drop_table("api_feasibility_run")
