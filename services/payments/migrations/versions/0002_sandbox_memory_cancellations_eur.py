"""sandbox processor memory, cancelled orders, amounts reported in EUR

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_memory",
        sa.Column("key", sa.String(length=255), primary_key=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    )
    op.create_table(
        "cancelled_orders",
        sa.Column("order_id", sa.Uuid(), primary_key=True),
        sa.Column(
            "cancelled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("payments", sa.Column("amount_eur", sa.Numeric(18, 2), nullable=True))
    op.add_column(
        "payments",
        sa.Column("exchange_rate", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("payments", "exchange_rate")
    op.drop_column("payments", "amount_eur")
    op.drop_table("cancelled_orders")
    op.drop_table("sandbox_memory")
