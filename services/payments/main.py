"""The payments service app: `uvicorn services.payments.main:app`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.payments.domain.gateway import SandboxGateway
from services.payments.domain.retry import RetryPolicy
from services.payments.gateway_client import GatewayClient
from services.payments.handlers import SUBSCRIPTIONS, PaymentHandlers
from services.payments.settings import PaymentsSettings
from shared.service import create_service_app

settings = PaymentsSettings()
gateway = GatewayClient(
    SandboxGateway(),
    RetryPolicy(
        max_attempts=settings.gateway_max_attempts,
        base_delay=timedelta(seconds=settings.gateway_base_delay_seconds),
    ),
)

app = create_service_app(
    settings,
    title="Liège eHub — Payments",
    description="Authorizes, captures, voids and refunds order payments through the gateway.",
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    handlers=PaymentHandlers(gateway, settings).handlers(),
)
