"""the order a payment names, for China's three documents

Revision ID: 0003
Revises: 0002

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
        "declarations", sa.Column("payment_order_reference", sa.String(100), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("declarations", "payment_order_reference")
