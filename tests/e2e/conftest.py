"""The four services as separate uvicorn processes on the real broker and databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.infrastructure import admin_url, devstack, start_infrastructure

TEST_PORTS = {"orders": 18001, "payments": 18002, "customs": 18003, "fulfillment": 18004}
OPERATOR_KEY = "e2e-operator-key"
AUTHORIZATION_WINDOW_SECONDS = 8


@pytest.fixture(scope="session")
def stack() -> Iterator[devstack.Stack]:
    # Leftovers of an interrupted run must not hold the test databases while they are recreated.
    devstack.stop_services("-test")
    stack = start_infrastructure("_test")
    stack.ports = TEST_PORTS
    stack.name_suffix = "-test"
    stack.extra_env = {
        "OPERATOR_API_KEY": OPERATOR_KEY,
        # Shipments move only when a test scans them.
        "HUB_CLOCK_FACTOR": "0",
        # Short enough for the expiry test to watch an authorization lapse, long enough for
        # every other test's order to be captured well within it.
        "AUTHORIZATION_WINDOW": f"PT{AUTHORIZATION_WINDOW_SECONDS}S",
        "EXPIRY_CHECK_INTERVAL_SECONDS": "0.5",
    }
    devstack.start_services(stack)
    yield stack
    devstack.stop_services(stack.name_suffix)


def partner_client(stack: devstack.Stack, name: str) -> httpx.Client:
    key = devstack.issue_partner_key(stack, f"{name}-{uuid.uuid4().hex[:6]}")
    return httpx.Client(
        base_url=f"http://127.0.0.1:{stack.port('orders')}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


@pytest.fixture(scope="session")
def partner(stack: devstack.Stack) -> Iterator[httpx.Client]:
    with partner_client(stack, "partner-a") as client:
        yield client


@pytest.fixture(scope="session")
def other_partner(stack: devstack.Stack) -> Iterator[httpx.Client]:
    with partner_client(stack, "partner-b") as client:
        yield client


@pytest.fixture(scope="session")
def operator(stack: devstack.Stack):
    def client(service: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{stack.port(service)}",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            timeout=10,
        )

    return client


class ServiceDatabases:
    """Read-only look into each service's own database, to check effects (one capture...)."""

    def __init__(self) -> None:
        self._engines = {
            service: create_async_engine(admin_url(f"ehub_{service}_test"), pool_pre_ping=True)
            for service in TEST_PORTS
        }

    async def scalar(self, service: str, sql: str, **params) -> object:
        async with self._engines[service].connect() as connection:
            return await connection.scalar(sa.text(sql), params)

    async def execute(self, service: str, sql: str, **params) -> None:
        async with self._engines[service].begin() as connection:
            await connection.execute(sa.text(sql), params)

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()


@pytest.fixture(scope="session")
async def databases(stack):
    databases = ServiceDatabases()
    yield databases
    await databases.close()
