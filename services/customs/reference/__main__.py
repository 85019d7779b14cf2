"""Operator commands for the customs reference tables (one command each, idempotent).

    python -m services.customs.reference load ecb-rates [FILE]     ECB CSV, zipped or not
    python -m services.customs.reference load cfets-rates FILE     date,currency,cny_per_unit
    python -m services.customs.reference load tariff FILE          and every other table
    python -m services.customs.reference load-shipped              every shipped file
    python -m services.customs.reference extend tariff --through 2027-12-31   provisional
    python -m services.customs.reference status
    python -m services.customs.reference check --through 2027-01-31

The database is migrated first, so the commands work on a fresh database. A bad file
changes nothing and the command exits 2 naming the line; `check` exits 1 naming what is
missing.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import socket
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.customs.reference import store
from services.customs.reference.cache import RATE_TABLES, coverage
from services.customs.reference.files import DATA, TABLES
from services.customs.settings import CustomsSettings
from shared.db import create_engine, session_factory
from shared.migrations import upgrade_to_head
from shared.reference_files import ReferenceFileError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SHIPPED_SOURCE = "shipped with the customs service (services/customs/reference/data/README.md)"


def _operator() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


async def _load(session, table: str, path: Path, by: str, source: str | None) -> str:
    if table in RATE_TABLES:
        return str(await store.load_rates(session, table, path, by, source))
    return str(await store.load_table(session, table, path, by, source or str(path)))


async def _run(arguments: argparse.Namespace, settings: CustomsSettings) -> int:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await _command(arguments, settings, session)
    finally:
        await engine.dispose()


async def _command(arguments: argparse.Namespace, settings: CustomsSettings, session) -> int:
    by = arguments.by or _operator()
    if arguments.command == "load":
        path = arguments.file or (
            settings.ecb_rates_file if arguments.table == "ecb-rates" else None
        )
        if path is None:
            raise ReferenceFileError(f"load {arguments.table} needs a FILE")
        result = await _load(session, arguments.table, path, by, arguments.source)
        print(f"{arguments.table}: {result}")
    elif arguments.command == "load-shipped":
        print(f"ecb-rates: {await _load(session, 'ecb-rates', settings.ecb_rates_file, by, None)}")
        for name, spec in TABLES.items():
            result = await _load(session, name, DATA / spec.shipped_file, by, SHIPPED_SOURCE)
            print(f"{name}: {result}")
    elif arguments.command == "extend":
        result = await store.extend(session, arguments.table, arguments.through, by)
        print(f"{arguments.table}: {result}")
    elif arguments.command == "status":
        _print_status(await store.loads(session), await store.read_tables(session))
    elif arguments.command == "check":
        return _check(await store.read_tables(session), arguments.through)
    return 0


def _print_status(loads, read) -> None:
    tables, fx, _ = read
    today = datetime.now(UTC).date()
    print(f"{'table':<20} {'load':>5}  {'covers':<25} {'kind':<12} file (sha256), loaded by, at")
    for load in loads:
        span = f"{load.covers_from} to {load.covers_to or 'open'}"
        kind = "PROVISIONAL" if load.provisional else "official"
        print(
            f"{load.table_name:<20} {'#' + str(load.id):>5}  {span:<25} {kind:<12} "
            f"{load.file_name} ({load.sha256[:12]}), {load.loaded_by}, "
            f"{load.loaded_at:%Y-%m-%d %H:%M}"
        )
    print(f"\ncovered from today ({today}) through:")
    for name, end in coverage(tables, fx, today).items():
        print(f"  {name:<20} {'NOT LOADED' if end == 'none' else end or 'open-ended'}")


def _check(read, through: date) -> int:
    tables, fx, _ = read
    today = datetime.now(UTC).date()
    missing = []
    for name, end in coverage(tables, fx, today).items():
        if end == "none":
            missing.append(f"{name}: not loaded")
        elif end is not None and end < through:
            missing.append(
                f"{name}: covered through {end}, missing {end + timedelta(days=1)} to {through}"
            )
    for line in missing:
        print(f"MISSING {line}")
    if not missing:
        print(f"every reference table is covered through {through}")
    return 1 if missing else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.customs.reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--by", help="who loads (recorded); default user@host")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="load one table file")
    load.add_argument("table", choices=[*RATE_TABLES, *TABLES])
    load.add_argument("file", nargs="?", type=Path)
    load.add_argument("--source", help="where the file comes from (recorded)")
    commands.add_parser("load-shipped", help="load every shipped file (idempotent)")
    extend = commands.add_parser("extend", help="declare a table valid for longer, provisionally")
    extend.add_argument("table", choices=list(TABLES))
    extend.add_argument("--through", type=date.fromisoformat, required=True)
    commands.add_parser("status", help="every load and what each table covers")
    check = commands.add_parser("check", help="exit 1 if a table is not covered through a day")
    check.add_argument("--through", type=date.fromisoformat, required=True)
    return parser


def main() -> int:
    arguments = _parser().parse_args()
    settings = CustomsSettings()
    upgrade_to_head(MIGRATIONS, settings.database_url)
    try:
        return asyncio.run(_run(arguments, settings))
    except ReferenceFileError as error:
        print(f"refused, nothing changed: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
