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
    op.create_table(
        "cbec_buyer_totals",
        sa.Column("buyer_key", sa.String(length=128), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("cleared_cny", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("buyer_key", "year"),
    )
    op.create_table(
        "declarations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("order", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("lane", sa.String(length=30), nullable=True),
        sa.Column("declaration_type", sa.String(length=10), nullable=True),
        sa.Column("assessment", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("duties_and_taxes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("dangerous_goods", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rules_applied", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
        sa.UniqueConstraint("reference"),
    )
    op.create_index(op.f("ix_declarations_status"), "declarations", ["status"], unique=False)
    op.create_table(
        "declaration_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "decided_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["declarations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_declaration_decisions_declaration_id"),
        "declaration_decisions",
        ["declaration_id"],
        unique=False,
    )
    create_messaging_tables()
    # Officers' decisions are evidence: the table accepts inserts only.
    op.execute(
        """
        CREATE FUNCTION refuse_decision_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'declaration_decisions is append-only (% refused)', TG_OP;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER declaration_decisions_append_only
            BEFORE UPDATE OR DELETE OR TRUNCATE ON declaration_decisions
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_decision_change();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER declaration_decisions_append_only ON declaration_decisions")
    op.execute("DROP FUNCTION refuse_decision_change()")
    drop_messaging_tables()
    op.drop_index(
        op.f("ix_declaration_decisions_declaration_id"), table_name="declaration_decisions"
    )
    op.drop_table("declaration_decisions")
    op.drop_index(op.f("ix_declarations_status"), table_name="declarations")
    op.drop_table("declarations")
    op.drop_table("cbec_buyer_totals")
