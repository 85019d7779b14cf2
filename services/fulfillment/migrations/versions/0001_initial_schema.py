"""initial schema

Revision ID: 0001
Revises:

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("house_awb_serial", start=1)))
    op.execute(sa.schema.CreateSequence(sa.Sequence("master_awb_serial", start=1_000_000)))
    op.create_table(
        "parcels",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("destination_country", sa.String(length=2), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=12, scale=3), nullable=True),
        sa.Column("dangerous_goods", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("destination", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_before_exception", sa.String(length=30), nullable=True),
        sa.Column("exception_reason", sa.String(length=500), nullable=True),
        sa.Column("history", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("house_awb", sa.String(length=12), nullable=True),
        sa.Column("master_awb", sa.String(length=12), nullable=True),
        sa.Column("leg_id", sa.String(length=40), nullable=True),
        sa.Column("departs_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrives_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("house_awb"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index(op.f("ix_shipments_status"), "shipments", ["status"], unique=False)
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.execute(sa.schema.DropSequence(sa.Sequence("master_awb_serial")))
    op.execute(sa.schema.DropSequence(sa.Sequence("house_awb_serial")))
    op.drop_index(op.f("ix_shipments_status"), table_name="shipments")
    op.drop_table("shipments")
    op.drop_table("parcels")
