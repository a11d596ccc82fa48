"""Dynamic partitions: keys added at run time, per partitions name.

Revision ID: 0003
Revises: 0002
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
        "dynamic_partitions",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("partition_key", sa.Text, primary_key=True),
        sa.Column("added_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dynamic_partitions")
