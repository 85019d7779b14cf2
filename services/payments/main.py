"""The payments service app: `python -m shared.serve services.payments.main:app`."""

from __future__ import annotations

from pathlib import Path

from services.payments.api import router
from services.payments.expiry import expiry_job
from services.payments.handlers import SUBSCRIPTIONS, build_handlers, build_prefetch
from services.payments.refund_intents import refund_recovery_job
from services.payments.service import Payments
from services.payments.settings import PaymentsSettings
from shared.service import admin_app_of, create_service_app

settings = PaymentsSettings()
payments = Payments(settings)

app = create_service_app(
    settings,
    title="Liège eHub — Payments",
    description=(
        "Authorizes, captures, voids and refunds order payments through the gateway "
        "(the built-in sandbox processor by default). Operator key required."
    ),
    migrations_dir=Path(__file__).parent / "migrations",
    operator_routers=[router],
    subscriptions=SUBSCRIPTIONS,
    handlers=build_handlers(payments),
    prefetch=build_prefetch(payments),
    background_jobs=[
        expiry_job(payments, settings),
        refund_recovery_job(payments, settings),
        payments.rates.watch,
    ],
)
# The refund route is an operator route, served by the admin app.
app.state.payments = admin_app_of(app).state.payments = payments
