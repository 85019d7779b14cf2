"""partner keys' last use, per-partner quotas, the replicas' heartbeats for the rate limiter

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_api_keys_partner_id", "api_keys", ["partner_id"])
    op.add_column("partners", sa.Column("rate_limit_per_second", sa.Integer(), nullable=True))
    op.add_column("partners", sa.Column("rate_limit_burst", sa.Integer(), nullable=True))
    op.create_table(
        "orders_replicas",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("orders_replicas")
    op.drop_column("partners", "rate_limit_burst")
    op.drop_column("partners", "rate_limit_per_second")
    op.drop_index("ix_api_keys_partner_id", table_name="api_keys")
    op.drop_column("api_keys", "last_used_at")
