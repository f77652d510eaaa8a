"""Outcome histograms of finished runs, for what-ifs without a new scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_run_histogram",
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("api_feasibility_run.id"),
            primary_key=True,
        ),
        sa.Column("data_snapshot", sa.String(200), nullable=False),
        sa.Column("histogram_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_run_histogram")
