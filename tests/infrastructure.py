"""Real PostgreSQL and Kafka for integration and end-to-end tests, started by the project.

Tests run on databases of their own (suffix `_test`, recreated each run) and on topics
under a prefix unique to the run, so they never touch what `make up` is running.
If the infrastructure cannot be started the tests fail; they never skip.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devstack  # noqa: E402

from shared.messaging.kafka import ensure_topics  # noqa: E402


def start_infrastructure(database_suffix: str) -> devstack.Stack:
    stack = devstack.infra_up(database_suffix=database_suffix, fresh_databases=True)
    stack.topic_prefix = f"test-{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(stack.kafka_bootstrap, stack.topic_prefix))
    return stack


def admin_url(database: str) -> str:
    """asyncpg URL as the cluster superuser, for assertions across service databases."""
    return devstack.postgres_admin_url(database).replace("postgresql://", "postgresql+asyncpg://")
