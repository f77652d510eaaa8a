"""The service's data choices (snapshot switch) and the shared rate-limit buckets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_data_choice",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("snapshot_id", sa.String(200), nullable=True),
        sa.Column("chosen_by", sa.String(100), nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_rate_bucket",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_rate_bucket")
    op.drop_table("api_data_choice")
