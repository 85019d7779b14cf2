"""order cancellation requests

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("cancellation_requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("orders", sa.Column("cancellation_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "cancellation_reason")
    op.drop_column("orders", "cancellation_requested_at")
