"""The customs service app: `uvicorn services.customs.main:app`."""

from __future__ import annotations

from pathlib import Path

from services.customs.api import router
from services.customs.handlers import SUBSCRIPTIONS, CustomsHandlers, prefetch
from services.customs.settings import CustomsSettings
from shared.service import create_service_app

settings = CustomsSettings()

app = create_service_app(
    settings,
    title="Liège eHub — Customs clearance",
    description=(
        "Declares each order under EU import or China cross-border retail import rules; hub "
        "customs officers review held declarations here (operator key required)."
    ),
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    handlers=CustomsHandlers(settings).handlers(),
    prefetch=prefetch,
)
