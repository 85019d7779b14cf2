"""The fulfilment service app: `uvicorn services.fulfillment.main:app`."""

from __future__ import annotations

from pathlib import Path

from services.fulfillment.handlers import HANDLERS, SUBSCRIPTIONS
from services.fulfillment.settings import FulfillmentSettings
from shared.service import create_service_app

app = create_service_app(
    FulfillmentSettings(),
    title="Liège eHub — Fulfilment",
    description="Receives parcels at the Liège hub, books them onto departures, tracks them.",
    migrations_dir=Path(__file__).parent / "migrations",
    subscriptions=SUBSCRIPTIONS,
    handlers=HANDLERS,
)
