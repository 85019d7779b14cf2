"""The fulfilment service app: `python -m shared.serve services.fulfillment.main:app`."""

from __future__ import annotations

from pathlib import Path

from services.fulfillment.api import router
from services.fulfillment.departures_api import router as departures_router
from services.fulfillment.handlers import HANDLERS, SUBSCRIPTIONS, prefetch
from services.fulfillment.hub_clock import hub_clock_job
from services.fulfillment.settings import FulfillmentSettings
from shared.service import create_service_app

settings = FulfillmentSettings()

app = create_service_app(
    settings,
    title="Liège eHub — Fulfilment",
    description=(
        "Receives parcels at the Liège hub, books them onto departures, builds them up into "
        "ULDs and tracks them; hub operators record scans here (operator key required)."
    ),
    migrations_dir=Path(__file__).parent / "migrations",
    operator_routers=[router, departures_router],
    subscriptions=SUBSCRIPTIONS,
    handlers=HANDLERS,
    prefetch=prefetch,
    background_jobs=[hub_clock_job(settings.hub_clock_factor)] if settings.hub_clock_factor else [],
)
