"""Alembic, run the same way for every service: at start-up, or by
`python -m shared.migrations <service> [--grant-dml-to ROLE]` (with that service's
DATABASE_URL), e.g. from a Kubernetes Job when MIGRATE_ON_START is false.

On Kubernetes the Job connects as the service's migrator role, which owns the database and
its tables; `--grant-dml-to` then gives the service's runtime role DML on them and nothing
more (deploy/k8s/README.md, "Migrations").

Each service keeps its own revisions under `services/<name>/migrations/`; their `env.py`
is one call to `run_migrations`. A transaction-level advisory lock serialises replicas
that start together.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.messaging.tables import messaging_metadata

MIGRATION_LOCK_ID = 0x0E4B_A1E3
DML = "SELECT, INSERT, UPDATE, DELETE"


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Blocking; call from a thread when an event loop is running."""
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def grant_dml(database_url: str, role: str) -> None:
    """Let `role` connect to this database and read and write its tables, now and after later
    revisions, without creating, altering or dropping anything; nobody else may connect.
    Run as the owner (the migrator) after `upgrade_to_head`; blocking, like it."""

    async def run() -> None:
        engine = create_async_engine(database_url, poolclass=pool.NullPool)
        quote = engine.dialect.identifier_preparer.quote
        async with engine.begin() as connection:
            database = quote(await connection.scalar(sa.text("SELECT current_database()")))
            grantee = quote(role)
            for statement in (
                f"REVOKE ALL ON DATABASE {database} FROM PUBLIC",
                f"GRANT CONNECT ON DATABASE {database} TO {grantee}",
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                f"GRANT USAGE ON SCHEMA public TO {grantee}",
                f"GRANT {DML} ON ALL TABLES IN SCHEMA public TO {grantee}",
                f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantee}",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {DML} ON TABLES TO {grantee}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                f"GRANT USAGE, SELECT ON SEQUENCES TO {grantee}",
            ):
                await connection.execute(sa.text(statement))
        await engine.dispose()

    asyncio.run(run())


def run_migrations(target_metadata: MetaData) -> None:
    """The body of every service's `env.py`."""
    url = context.config.get_main_option("sqlalchemy.url")

    def migrate(connection: Connection) -> None:
        # Held until the migration transaction ends, whatever way it ends.
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
        context.configure(
            connection=connection,
            target_metadata=[target_metadata, messaging_metadata],
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run())


def create_messaging_tables() -> None:
    """Called by each service's first revision: the outbox and inbox live beside its tables."""
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("consumer_group", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", "consumer_group"),
    )
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("partition_key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "trace_context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["position"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )


def drop_messaging_tables() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")


def main() -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m shared.migrations")
    parser.add_argument("service", choices=["orders", "payments", "customs", "fulfillment"])
    parser.add_argument(
        "--grant-dml-to",
        metavar="ROLE",
        help="then give ROLE (the service's runtime role) DML on the tables, and no DDL",
    )
    arguments = parser.parse_args()
    service = arguments.service
    migrations_dir = Path(__file__).resolve().parent.parent / "services" / service / "migrations"
    upgrade_to_head(migrations_dir, os.environ["DATABASE_URL"])
    print(f"{service}: database at the latest revision")
    if arguments.grant_dml_to:
        grant_dml(os.environ["DATABASE_URL"], arguments.grant_dml_to)
        print(f"{service}: {arguments.grant_dml_to} may read and write its tables, nothing more")


if __name__ == "__main__":
    main()
