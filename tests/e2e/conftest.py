"""The four services as separate processes (two listeners each) on the real broker and databases."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import create_async_engine

from shared.operators import CredentialsFile, Role
from tests.infrastructure import admin_url, devstack, start_infrastructure

TEST_PORTS = {"orders": 18001, "payments": 18002, "customs": 18003, "fulfillment": 18004}
AUTHORIZATION_WINDOW_SECONDS = 8
# Every operator of the test stack has a credential of their own, issued at the session's start.
OPERATORS = {
    "e2e.admin": Role.ADMIN,
    "officer.janssens": Role.CUSTOMS_OFFICER,
    "officer.peeters": Role.CUSTOMS_OFFICER,
    "agent.dubois": Role.HUB_OPERATOR,
    "finance.maes": Role.FINANCE,
}
OPERATOR_KEYS = {name: f"ehop_e2e_{secrets.token_urlsafe(24)}" for name in OPERATORS}
OPERATOR_KEY = OPERATOR_KEYS["e2e.admin"]
OPERATOR_CREDENTIALS = devstack.DATA / "operators-test.json"
# The identity provider of the test stack: a key set generated here, served as a JWKS file.
OIDC_ISSUER = "https://idp.e2e.invalid/realms/hub"
OIDC_AUDIENCE = "liege-ehub-operators"
OIDC_KEY_ID = f"e2e-{uuid.uuid4().hex[:8]}"
OIDC_SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OIDC_JWKS = devstack.DATA / "oidc-jwks-test.json"


def oidc_token(
    subject: str, roles: list[str], *, lifetime: float = 300, signing_key=None, **claims
) -> str:
    """A token the test identity provider would issue (signed by `signing_key` instead, if
    given); `claims` override any claim."""
    now = int(time.time())
    payload = {
        "iss": OIDC_ISSUER,
        "aud": OIDC_AUDIENCE,
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now + int(lifetime),
    } | claims
    return jwt.encode(
        payload, signing_key or OIDC_SIGNING_KEY, algorithm="RS256", headers={"kid": OIDC_KEY_ID}
    )


def write_test_identities() -> None:
    OPERATOR_CREDENTIALS.unlink(missing_ok=True)
    store = CredentialsFile(OPERATOR_CREDENTIALS)
    for name, role in OPERATORS.items():
        store.issue(name, role, key=OPERATOR_KEYS[name])
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(OIDC_SIGNING_KEY.public_key()))
    OIDC_JWKS.write_text(json.dumps({"keys": [public | {"kid": OIDC_KEY_ID, "use": "sig"}]}))


@pytest.fixture(scope="session")
def stack() -> Iterator[devstack.Stack]:
    # Leftovers of an interrupted run must not hold the test databases while they are recreated.
    devstack.stop_services("-test")
    stack = start_infrastructure("_test")
    stack.ports = TEST_PORTS
    stack.name_suffix = "-test"
    write_test_identities()
    stack.operator_credentials = OPERATOR_CREDENTIALS
    stack.extra_env = {
        "OIDC_ISSUER": OIDC_ISSUER,
        "OIDC_AUDIENCE": OIDC_AUDIENCE,
        "OIDC_JWKS_FILE": str(OIDC_JWKS),
        # The dead-letter gauges catch up within seconds, for the tests that read them.
        "DEAD_LETTER_WATCH_SECONDS": "2",
        # The metrics sampler too (outbox, lag, statuses), for tests/e2e/test_metrics.py.
        "METRICS_SAMPLE_SECONDS": "1",
        # Shipments move only when a test scans them.
        "HUB_CLOCK_FACTOR": "0",
        # Short enough for the expiry test to watch an authorization lapse, long enough for
        # every other test's order to be captured well within it.
        "AUTHORIZATION_WINDOW": f"PT{AUTHORIZATION_WINDOW_SECONDS}S",
        "EXPIRY_CHECK_INTERVAL_SECONDS": "0.5",
        # The shipped ECB history ends on 2026-10-30, and payments reports in EUR only at a rate
        # at most FX_MAX_RATE_AGE_DAYS old: these tests check the conversion on any date, the
        # refusal of a stale rate is tests/unit/payments/test_ecb_reporting_rates.py's.
        "FX_MAX_RATE_AGE_DAYS": "36500",
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
    """A client of `service`'s operator listener, as the administrator or as operator `name`."""

    def client(service: str, name: str = "e2e.admin") -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{stack.admin_port(service)}",
            headers={"Authorization": f"Bearer {OPERATOR_KEYS[name]}"},
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
