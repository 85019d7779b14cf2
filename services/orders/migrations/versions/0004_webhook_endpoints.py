"""webhook endpoints (deliveries bound to a URL and secret), the attempt log

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("delivered_at IS NULL AND failed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("partner_id", sa.Uuid(), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webhook_endpoints_partner_id", "webhook_endpoints", ["partner_id"])
    op.add_column("partners", sa.Column("webhook_endpoint_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_partners_webhook_endpoint",
        "partners",
        "webhook_endpoints",
        ["webhook_endpoint_id"],
        ["id"],
    )
    op.add_column("partners", sa.Column("webhook_notice", sa.String(length=500), nullable=True))
    # Each partner's webhook becomes its first endpoint; its queued deliveries stay bound to it.
    op.execute(
        """
        INSERT INTO webhook_endpoints (id, partner_id, url, secret, created_at)
        SELECT gen_random_uuid(), id, webhook_url, webhook_secret, now()
        FROM partners WHERE webhook_url IS NOT NULL AND webhook_secret IS NOT NULL
        """
    )
    op.execute(
        """
        UPDATE partners SET webhook_endpoint_id = endpoint.id
        FROM webhook_endpoints endpoint WHERE endpoint.partner_id = partners.id
        """
    )
    op.add_column("webhook_deliveries", sa.Column("endpoint_id", sa.Uuid(), nullable=True))
    op.add_column(
        "webhook_deliveries", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        """
        UPDATE webhook_deliveries SET endpoint_id = partners.webhook_endpoint_id,
            created_at = webhook_deliveries.next_attempt_at
        FROM partners WHERE partners.id = webhook_deliveries.partner_id
        """
    )
    op.execute("DELETE FROM webhook_deliveries WHERE endpoint_id IS NULL")
    op.alter_column("webhook_deliveries", "endpoint_id", nullable=False)
    op.alter_column("webhook_deliveries", "created_at", nullable=False)
    op.create_foreign_key(
        "fk_webhook_deliveries_endpoint",
        "webhook_deliveries",
        "webhook_endpoints",
        ["endpoint_id"],
        ["id"],
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_due",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at"],
        postgresql_where=PENDING,
    )
    op.create_index(
        "ix_webhook_deliveries_partner_log",
        "webhook_deliveries",
        ["partner_id", "created_at", "id"],
    )
    op.drop_column("partners", "webhook_secret")
    op.drop_column("partners", "webhook_url")
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.Uuid(), sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.add_column("partners", sa.Column("webhook_url", sa.String(length=2000), nullable=True))
    op.add_column("partners", sa.Column("webhook_secret", sa.String(length=100), nullable=True))
    op.execute(
        """
        UPDATE partners SET webhook_url = endpoint.url, webhook_secret = endpoint.secret
        FROM webhook_endpoints endpoint WHERE endpoint.id = partners.webhook_endpoint_id
        """
    )
    op.drop_index("ix_webhook_deliveries_partner_log", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint_due", table_name="webhook_deliveries")
    op.drop_constraint("fk_webhook_deliveries_endpoint", "webhook_deliveries")
    op.drop_column("webhook_deliveries", "created_at")
    op.drop_column("webhook_deliveries", "endpoint_id")
    op.drop_column("partners", "webhook_notice")
    op.drop_constraint("fk_partners_webhook_endpoint", "partners")
    op.drop_column("partners", "webhook_endpoint_id")
    op.drop_table("webhook_endpoints")
