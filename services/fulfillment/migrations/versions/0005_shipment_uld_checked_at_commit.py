"""A shipment's ULD is checked at commit

Revision ID: 0005
Revises: 0004

A consumer batch books shipments into ULDs it creates in the same transaction, and writes
all its changed shipments with one UPDATE before the flush inserts the new ULDs: the foreign
key from `shipments.uld_id` to `ulds.id` is now checked at commit (DEFERRABLE INITIALLY
DEFERRED) rather than at each statement. What it allows stays the same.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE shipments ALTER CONSTRAINT shipments_uld_id_fkey DEFERRABLE INITIALLY DEFERRED"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE shipments ALTER CONSTRAINT shipments_uld_id_fkey NOT DEFERRABLE")
