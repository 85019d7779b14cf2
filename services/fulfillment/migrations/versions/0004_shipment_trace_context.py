"""Shipments keep the trace context of their order

Revision ID: 0004
Revises: 0003

The hub clock and the operators' scans emit long after the event that created a shipment;
each shipment now stores the W3C trace context (`traceparent`, `tracestate`) it was created
in, so those scans continue the order's trace instead of starting new ones. Shipments
created before this revision have none: their later scans start traces of their own.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "shipments",
        sa.Column("trace_context", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("shipments", "trace_context")
