"""The orders service app: `python -m shared.serve services.orders.main:app`."""

from __future__ import annotations

from pathlib import Path

from services.orders.api import router
from services.orders.handlers import HANDLERS, SUBSCRIPTIONS, prefetch
from services.orders.operator_api import router as operator_router
from services.orders.partner_auth import partner_keys
from services.orders.partners import partner_upkeep_job
from services.orders.saga_metrics import probes
from services.orders.settings import OrdersSettings
from services.orders.webhooks import webhook_delivery_job
from shared.service import create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"

settings = OrdersSettings()

app = create_service_app(
    settings,
    title="Liège eHub — Orders (partner API)",
    description=(
        "Partner platforms place cross-border orders here and follow them through payment, "
        "customs and the Liège hub. Authenticate with `Authorization: Bearer <api key>`; "
        "errors are RFC 9457 problem details."
    ),
    migrations_dir=MIGRATIONS,
    routers=[router],
    operator_routers=[operator_router],
    subscriptions=SUBSCRIPTIONS,
    handlers=HANDLERS,
    prefetch=prefetch,
    background_jobs=[webhook_delivery_job(settings), partner_upkeep_job(partner_keys, settings)],
    probes=probes(settings),
)
