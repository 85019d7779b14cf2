"""The roles of the Kubernetes deployment on the real PostgreSQL: a migrator that owns a
service's database runs its migrations, then `grant_dml` leaves the service's runtime role
able to read and write the tables (those of later revisions too) and nothing more; no other
role may connect. This is what the migration Jobs run (deploy/k8s/migrations)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.migrations import grant_dml, upgrade_to_head
from tests.infrastructure import devstack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = uuid.uuid4().hex[:8]
DATABASE = f"ehub_grants_{SUFFIX}"
MIGRATOR, RUNTIME, STRANGER = (f"it_{role}_{SUFFIX}" for role in ("migrator", "app", "other"))
PASSWORD = "grants-test"


def url(role: str, driver: str = "postgresql") -> str:
    host, port = devstack.LOCAL_POSTGRES_HOST, devstack.LOCAL_POSTGRES_PORT
    return f"{driver}://{role}:{PASSWORD}@{host}:{port}/{DATABASE}"


@pytest.fixture(scope="module")
def migrated() -> Iterator[None]:
    devstack.start_postgres()
    for role in (MIGRATOR, RUNTIME, STRANGER):
        devstack.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    devstack.psql(f"CREATE DATABASE {DATABASE} OWNER {MIGRATOR}")
    try:
        migrator = url(MIGRATOR, "postgresql+asyncpg")
        upgrade_to_head(ROOT / "services" / "orders" / "migrations", migrator)
        grant_dml(migrator, RUNTIME)
        yield
    finally:
        devstack.drop_database(DATABASE)
        for role in (MIGRATOR, RUNTIME, STRANGER):
            devstack.psql(f"DROP ROLE IF EXISTS {role}")


def as_role(role: str, *statements: str) -> list:
    async def run() -> list:
        connection = await asyncpg.connect(url(role))
        try:
            return [await connection.fetch(statement) for statement in statements]
        finally:
            await connection.close()

    return asyncio.run(run())


def test_the_runtime_role_reads_and_writes_the_tables(migrated: None) -> None:
    event_id = uuid.uuid4()
    rows = as_role(
        RUNTIME,
        "INSERT INTO inbox (event_id, consumer_group, event_type) "
        f"VALUES ('{event_id}', 'orders', 'OrderPlaced')",
        f"UPDATE inbox SET event_type = 'OrderPaid' WHERE event_id = '{event_id}'",
        f"SELECT event_type FROM inbox WHERE event_id = '{event_id}'",
        f"DELETE FROM inbox WHERE event_id = '{event_id}'",
        "SELECT version_num FROM alembic_version",
    )
    assert rows[2][0]["event_type"] == "OrderPaid"
    assert rows[4], "the runtime role can see which revision it runs against"


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE smuggled (id int)",
        "DROP TABLE inbox",
        "ALTER TABLE inbox ADD COLUMN smuggled int",
        "TRUNCATE inbox",
    ],
)
def test_the_runtime_role_changes_no_schema(migrated: None, ddl: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        as_role(RUNTIME, ddl)


def test_tables_of_later_revisions_are_granted_too(migrated: None) -> None:
    as_role(MIGRATOR, "CREATE TABLE later_revision (id int)")
    assert as_role(RUNTIME, "INSERT INTO later_revision VALUES (1) RETURNING id")[0][0]["id"] == 1


def test_no_other_role_may_connect(migrated: None) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        as_role(STRANGER, "SELECT 1")
