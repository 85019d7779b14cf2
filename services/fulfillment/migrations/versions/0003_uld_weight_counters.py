"""ULDs count their net weight and say when they left

Revision ID: 0003
Revises: 0002

Choosing a ULD for a booking used to add up the weight of every shipment of the departure;
each ULD now carries the figure (`net_weight_kg`) and the moment its first shipment
departed (`departed_at`), when its build-up ended. Both are computed here from the
shipments already built up: cancelled shipments and those in exception weigh nothing,
and a unit left at its shipments' first DEP.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ulds",
        sa.Column(
            "net_weight_kg",
            sa.Numeric(precision=12, scale=3),
            server_default="0",
            nullable=False,
        ),
    )
    op.add_column("ulds", sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        """
        UPDATE ulds SET net_weight_kg = carried.weight_kg
        FROM (
            SELECT shipments.uld_id, sum(parcels.weight_kg) AS weight_kg
            FROM shipments JOIN parcels ON parcels.order_id = shipments.order_id
            WHERE shipments.uld_id IS NOT NULL
              AND shipments.status NOT IN ('CANCELLED', 'EXCEPTION')
              AND parcels.weight_kg IS NOT NULL
            GROUP BY shipments.uld_id
        ) AS carried
        WHERE ulds.id = carried.uld_id
        """
    )
    op.execute(
        """
        UPDATE ulds SET departed_at = gone.at
        FROM (
            SELECT shipments.uld_id, min((entry ->> 'at')::timestamptz) AS at
            FROM shipments CROSS JOIN LATERAL jsonb_array_elements(shipments.history) AS entry
            WHERE shipments.uld_id IS NOT NULL AND entry ->> 'status' = 'DEPARTED'
            GROUP BY shipments.uld_id
        ) AS gone
        WHERE ulds.id = gone.uld_id
        """
    )
    op.alter_column("ulds", "net_weight_kg", server_default=None)
    op.drop_index("ix_ulds_departure", table_name="ulds")
    op.create_index(
        "ix_ulds_building",
        "ulds",
        ["departs_at"],
        unique=False,
        postgresql_where=sa.text("departed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ulds_building", table_name="ulds")
    op.create_index("ix_ulds_departure", "ulds", ["leg_id", "departs_at"], unique=False)
    op.drop_column("ulds", "departed_at")
    op.drop_column("ulds", "net_weight_kg")
