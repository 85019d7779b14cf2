"""Operator commands of the orders service.

python -m services.orders.cli create-partner NAME         # a new partner (or NAME) and a new key
python -m services.orders.cli list-keys NAME              # its keys: id, prefix, created, last used
python -m services.orders.cli create-key NAME             # another key for NAME (rotation)
python -m services.orders.cli revoke-key NAME KEY_ID      # refused everywhere within seconds
python -m services.orders.cli set-rate-limit NAME --per-second N --burst M   # or --default
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.partners import (
    LastActiveKey,
    create_partner,
    issue_key,
    list_keys,
    partner_named,
    revoke_key,
)
from services.orders.settings import OrdersSettings
from services.orders.tables import Partner
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head

MIGRATIONS = Path(__file__).parent / "migrations"


class CommandError(Exception):
    pass


async def _in_transaction(
    settings: OrdersSettings, work: Callable[[AsyncSession], Awaitable[list[str]]]
) -> list[str]:
    engine = create_engine(settings)
    try:
        async with session_factory(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


async def _partner(session: AsyncSession, name: str) -> Partner:
    partner = await partner_named(session, name)
    if partner is None:
        raise CommandError(f"no partner named {name!r}")
    return partner


def _command(arguments: argparse.Namespace) -> Callable[[AsyncSession], Awaitable[list[str]]]:
    async def create(session: AsyncSession) -> list[str]:
        _, key = await create_partner(session, arguments.name)
        return [key]

    async def keys(session: AsyncSession) -> list[str]:
        partner = await _partner(session, arguments.name)
        return [
            "\t".join(
                (
                    str(key.id),
                    key.prefix,
                    f"created {key.created_at.isoformat()}",
                    f"last used {key.last_used_at.isoformat() if key.last_used_at else 'never'}",
                    f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active",
                )
            )
            for key in await list_keys(session, partner.id)
        ]

    async def another_key(session: AsyncSession) -> list[str]:
        partner = await _partner(session, arguments.name)
        _, key = await issue_key(session, partner.id, enforce_limit=False)
        return [key]

    async def revoke(session: AsyncSession) -> list[str]:
        partner = await _partner(session, arguments.name)
        try:
            key = await revoke_key(
                session, partner.id, arguments.key_id, keep_one=not arguments.last
            )
        except LastActiveKey as refusal:
            raise CommandError(f"{refusal} (--last revokes it all the same)") from None
        if key is None:
            raise CommandError(f"{arguments.name} has no key {arguments.key_id}")
        return [f"revoked {key.id} ({key.prefix}) at {key.revoked_at.isoformat()}"]

    async def rate_limit(session: AsyncSession) -> list[str]:
        partner = await _partner(session, arguments.name)
        per_second, burst = (
            (None, None) if arguments.default else (arguments.per_second, arguments.burst)
        )
        await session.execute(
            update(Partner)
            .where(Partner.id == partner.id)
            .values(rate_limit_per_second=per_second, rate_limit_burst=burst)
        )
        return [
            f"{arguments.name}: "
            + ("the default quota" if arguments.default else f"{per_second}/s, bursts of {burst}")
        ]

    return {
        "create-partner": create,
        "list-keys": keys,
        "create-key": another_key,
        "revoke-key": revoke,
        "set-rate-limit": rate_limit,
    }[arguments.command]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="services.orders.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the orders database to the latest revision")
    commands.add_parser("create-partner", help="issue an API key for a partner").add_argument(
        "name"
    )
    commands.add_parser("list-keys", help="a partner's keys (never the keys)").add_argument("name")
    commands.add_parser("create-key", help="another key for a partner").add_argument("name")
    revoke = commands.add_parser("revoke-key", help="revoke one of a partner's keys")
    revoke.add_argument("name")
    revoke.add_argument("key_id", type=uuid.UUID, help="its id, as list-keys prints it")
    revoke.add_argument("--last", action="store_true", help="even the partner's last active key")
    limit = commands.add_parser("set-rate-limit", help="a partner's quota, for all its keys")
    limit.add_argument("name")
    quota = limit.add_mutually_exclusive_group(required=True)
    quota.add_argument("--per-second", type=int, help="requests per second (with --burst)")
    quota.add_argument("--default", action="store_true", help="back to the service's default")
    limit.add_argument("--burst", type=int, help="requests at once")
    return parser


def main() -> None:
    parser = _parser()
    arguments = parser.parse_args()
    quota_given = arguments.command == "set-rate-limit" and not arguments.default
    if quota_given and (arguments.burst is None or min(arguments.per_second, arguments.burst) < 1):
        parser.error("set-rate-limit takes --per-second N --burst M, both at least 1")
    settings = OrdersSettings()
    upgrade_to_head(MIGRATIONS, settings.database_url)
    if arguments.command == "migrate":
        return
    try:
        lines = asyncio.run(_in_transaction(settings, _command(arguments)))
    except CommandError as error:
        sys.exit(f"error: {error}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
