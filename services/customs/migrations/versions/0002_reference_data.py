"""reference data: loads, table rows, daily and monthly exchange rates

Revision ID: 0002
Revises: 0001

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_loads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("covers_from", sa.Date(), nullable=False),
        sa.Column("covers_to", sa.Date(), nullable=True),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("extends_load_id", sa.Integer(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["extends_load_id"], ["reference_loads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_reference_loads_table_name"), "reference_loads", ["table_name"], unique=False
    )
    op.create_table(
        "reference_rows",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("cells", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["reference_loads.id"]),
        sa.PrimaryKeyConstraint("load_id", "line"),
    )
    op.create_table(
        "exchange_rates",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=10), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["reference_loads.id"]),
        sa.PrimaryKeyConstraint("load_id", "authority", "published_on", "currency"),
    )
    op.create_table(
        "customs_exchange_rates",
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=10), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("fixing_date", sa.Date(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["reference_loads.id"]),
        sa.PrimaryKeyConstraint("load_id", "authority", "month", "currency"),
    )
    # What a buyer's CBEC year counted for this declaration, so a withdrawal takes back
    # exactly that (issue 8, defect 1).
    op.add_column("declarations", sa.Column("cbec_buyer_key", sa.String(128), nullable=True))
    op.add_column("declarations", sa.Column("cbec_year", sa.Integer(), nullable=True))
    op.add_column("declarations", sa.Column("cbec_counted_cny", sa.Numeric(18, 2), nullable=True))


def downgrade() -> None:
    op.drop_column("declarations", "cbec_counted_cny")
    op.drop_column("declarations", "cbec_year")
    op.drop_column("declarations", "cbec_buyer_key")
    op.drop_table("customs_exchange_rates")
    op.drop_table("exchange_rates")
    op.drop_table("reference_rows")
    op.drop_index(op.f("ix_reference_loads_table_name"), table_name="reference_loads")
    op.drop_table("reference_loads")
