"""The customs service app: `python -m shared.serve services.customs.main:app`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.customs.api import router
from services.customs.handlers import SUBSCRIPTIONS, CustomsHandlers
from services.customs.settings import CustomsSettings
from shared.service import ServiceRuntime, admin_app_of, create_service_app

settings = CustomsSettings()
handlers = CustomsHandlers(settings)


async def watch_reference_tables(runtime: ServiceRuntime) -> None:
    """Keeps the reference tables, their coverage gauge and warnings current while idle."""
    while True:
        async with runtime.units_of_work() as uow:
            await handlers.reference.refresh(uow.session)
        await asyncio.sleep(settings.reference_check_seconds)


app = create_service_app(
    settings,
    title="Liège eHub — Customs clearance",
    description=(
        "Declares each order under EU import or China cross-border retail import rules; hub "
        "customs officers review held declarations here (operator key required)."
    ),
    migrations_dir=Path(__file__).parent / "migrations",
    operator_routers=[router],
    subscriptions=SUBSCRIPTIONS,
    handlers=handlers.handlers(),
    prefetch=handlers.prefetch,
    background_jobs=[watch_reference_tables],
    readiness_warnings=handlers.reference.warnings,
)
# The officers' release counts a CBEC order within the annual limit of the loaded tables.
admin_app_of(app).state.reference = handlers.reference
