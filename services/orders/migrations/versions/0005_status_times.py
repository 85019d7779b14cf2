"""when an order entered its status and passed its last milestone; the in-flight index

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The non-final statuses of services/orders/domain.py at this revision.
IN_FLIGHT = (
    "status IN ('PENDING', 'PAYMENT_AUTHORIZED', 'CUSTOMS_HELD', 'CUSTOMS_CLEARED', "
    "'SHIPPED', 'IN_TRANSIT')"
)


def upgrade() -> None:
    op.add_column("orders", sa.Column("status_changed_at", sa.DateTime(timezone=True)))
    op.add_column("orders", sa.Column("milestone_at", sa.DateTime(timezone=True)))
    # Orders placed before: their last update is the best known time of their status.
    op.execute("UPDATE orders SET status_changed_at = updated_at WHERE status <> 'PENDING'")
    op.create_index(
        "ix_orders_in_flight",
        "orders",
        ["status", "status_changed_at"],
        postgresql_where=sa.text(IN_FLIGHT),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_in_flight", table_name="orders")
    op.drop_column("orders", "milestone_at")
    op.drop_column("orders", "status_changed_at")
