"""ULDs, holds, cancellations and the hub clock's bookkeeping

Revision ID: 0002
Revises: 0001

Before this revision a shipment no leg could carry was put in EXCEPTION; an exception is now
final (the goods go back to the seller), so such shipments become held at the hub instead;
downgrading leaves them RECEIVED_AT_HUB without their hold reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("uld_serial", start=1)))
    op.create_table(
        "ulds",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("type_code", sa.String(length=3), nullable=False),
        sa.Column("leg_id", sa.String(length=40), nullable=False),
        sa.Column("departs_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.String(length=3), nullable=False),
        sa.Column("dangerous_goods", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ulds_departure", "ulds", ["leg_id", "departs_at"], unique=False)

    op.add_column("parcels", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("parcels", sa.Column("cancellation_reason", sa.Text(), nullable=True))

    op.add_column("shipments", sa.Column("uld_id", sa.String(length=12), nullable=True))
    op.create_foreign_key("shipments_uld_id_fkey", "shipments", "ulds", ["uld_id"], ["id"])
    op.create_index(op.f("ix_shipments_uld_id"), "shipments", ["uld_id"], unique=False)
    op.add_column("shipments", sa.Column("hold_reason", sa.Text(), nullable=True))
    op.add_column(
        "shipments", sa.Column("hold_checked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "shipments", sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("shipments", sa.Column("next_scan_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_shipments_next_scan_at"), "shipments", ["next_scan_at"], unique=False)

    op.execute("UPDATE shipments SET last_event_at = (history -> -1 ->> 'at')::timestamptz")
    # A booked shipment's next automatic scan is its departure (domain/clock.py).
    op.execute(
        "UPDATE shipments SET next_scan_at = greatest(last_event_at, departs_at) "
        "WHERE status = 'BOOKED'"
    )
    op.execute(
        """
        UPDATE shipments SET
            status = 'RECEIVED_AT_HUB',
            hold_reason = exception_reason,
            hold_checked_at = last_event_at,
            exception_reason = NULL,
            status_before_exception = NULL,
            history = jsonb_set(
                history,
                '{-1}',
                jsonb_build_object(
                    'status', 'RECEIVED_AT_HUB',
                    'at', history -> -1 -> 'at',
                    'scan_code', NULL,
                    'reason', 'held: ' || exception_reason,
                    'location', 'LGG'
                )
            )
        WHERE status = 'EXCEPTION' AND status_before_exception = 'RECEIVED_AT_HUB'
        """
    )
    op.alter_column("shipments", "last_event_at", nullable=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shipments_next_scan_at"), table_name="shipments")
    op.drop_column("shipments", "next_scan_at")
    op.drop_column("shipments", "last_event_at")
    op.drop_column("shipments", "hold_checked_at")
    op.drop_column("shipments", "hold_reason")
    op.drop_index(op.f("ix_shipments_uld_id"), table_name="shipments")
    op.drop_constraint("shipments_uld_id_fkey", "shipments", type_="foreignkey")
    op.drop_column("shipments", "uld_id")
    op.drop_column("parcels", "cancellation_reason")
    op.drop_column("parcels", "cancelled_at")
    op.drop_index("ix_ulds_departure", table_name="ulds")
    op.drop_table("ulds")
    op.execute(sa.schema.DropSequence(sa.Sequence("uld_serial")))
