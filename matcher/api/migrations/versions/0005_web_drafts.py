"""Drafts of the web criteria editor (matcher.web.drafts).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
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
        "api_web_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("study_id", sa.Integer(), sa.ForeignKey("api_study.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("api_account.id"), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("study_id", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("api_web_draft")
