"""Operator commands of the orders service.

python -m services.orders.cli create-partner NAME   # prints a new API key for NAME
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from services.orders.partners import create_partner
from services.orders.settings import OrdersSettings
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).parent / "migrations"


async def _create_partner(settings: OrdersSettings, name: str) -> str:
    engine = create_engine(settings)
    try:
        async with session_factory(engine).begin() as session:
            _, key = await create_partner(session, name)
        return key
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="services.orders.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the orders database to the latest revision")
    create = commands.add_parser("create-partner", help="issue an API key for a partner")
    create.add_argument("name")
    arguments = parser.parse_args()
    settings = OrdersSettings()
    upgrade_to_head(MIGRATIONS, settings.database_url)
    if arguments.command == "create-partner":
        print(asyncio.run(_create_partner(settings, arguments.name)))


if __name__ == "__main__":
    main()
