"""The batch writes of `shared.db` on the real PostgreSQL: a consumer batch's changed rows are
written by one UPDATE per table and set of changed columns, its new rows by one INSERT, with
the values, key matching and update defaults the ORM's own flush would give."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import DateTime, ForeignKey, Numeric, String, event, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload
from sqlalchemy.orm.exc import StaleDataError

from shared.db import insert_missing, session_factory, write_changed_rows

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Consignment(Base):
    __tablename__ = "batched_write_consignments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Account(Base):
    __tablename__ = "batched_write_accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    entries: Mapped[list[Entry]] = relationship(order_by="Entry.id", lazy="raise")


class Entry(Base):
    __tablename__ = "batched_write_entries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batched_write_accounts.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class Pallet(Base):
    __tablename__ = "batched_write_pallets"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)


class Carton(Base):
    __tablename__ = "batched_write_cartons"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    pallet_id: Mapped[str | None] = mapped_column(
        ForeignKey("batched_write_pallets.id", deferrable=True, initially="DEFERRED")
    )
    pallet: Mapped[Pallet | None] = relationship(lazy="raise")


class BuyerTotal(Base):
    __tablename__ = "batched_write_buyer_totals"

    buyer: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))


@pytest.fixture
async def sessions(engine):
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
        await connection.execute(
            text(f"TRUNCATE {', '.join(table.name for table in Base.metadata.sorted_tables)}")
        )
    return session_factory(engine)


@contextmanager
def statements(engine) -> Iterator[list[str]]:
    """The SQL statements the server executes for `engine` while the block runs: an
    executemany is one execution per set of parameters."""
    sent: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        sent.extend([statement] * (len(parameters) if executemany else 1))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def writes(sent: list[str]) -> list[str]:
    return [statement for statement in sent if statement.lstrip().startswith(("UPDATE", "INSERT"))]


async def updates_at_commit(engine, session) -> list[str]:
    """The UPDATE statements the session's batch write and commit send."""
    with statements(engine) as sent:
        await write_changed_rows(session)
        await session.commit()
    return [statement for statement in writes(sent) if statement.startswith("UPDATE")]


async def add_consignments(sessions, count: int) -> list[uuid.UUID]:
    ids = sorted(uuid.uuid4() for _ in range(count))
    async with sessions() as session, session.begin():
        session.add_all(
            Consignment(id=id_, status="received", value=Decimal("10.00"), lines=[]) for id_ in ids
        )
    return ids


async def test_many_changed_rows_are_one_update_with_the_flush_s_values(engine, sessions):
    ids = await add_consignments(sessions, 60)
    async with sessions() as session:
        before = {row.id: row.updated_at for row in await session.scalars(select(Consignment))}

    async with sessions() as session:
        consignments = (await session.scalars(select(Consignment).with_for_update())).all()
        for position, consignment in enumerate(consignments):
            consignment.status = "cleared"
            consignment.value = Decimal("11.00") + position
            consignment.lines = [{"sku": f"SKU-{position}", "quantity": position}]
        with statements(engine) as sent:
            await write_changed_rows(session)
            await session.commit()
        assert writes(sent) == [writes(sent)[0]]
        assert writes(sent)[0].startswith("UPDATE batched_write_consignments SET")

    async with sessions() as session:
        stored = {row.id: row for row in await session.scalars(select(Consignment))}
    assert sorted(stored) == ids
    for consignment in consignments:
        row = stored[consignment.id]
        position = consignment.lines[0]["quantity"]
        assert (row.status, row.value) == ("cleared", Decimal("11.00") + position)
        assert row.lines == [{"sku": f"SKU-{position}", "quantity": position}]
        assert row.updated_at > before[row.id]


async def test_rows_that_changed_different_columns_are_one_update_per_set_of_columns(
    engine, sessions
):
    await add_consignments(sessions, 6)
    async with sessions() as session:
        consignments = (await session.scalars(select(Consignment))).all()
        for consignment in consignments[:3]:
            consignment.status = "held"
        for consignment in consignments[3:]:
            consignment.value = Decimal("99.95")
        with statements(engine) as sent:
            await write_changed_rows(session)
            await session.commit()
        assert len(writes(sent)) == 2

    async with sessions() as session:
        stored = {row.id: row for row in await session.scalars(select(Consignment))}
    assert [stored[c.id].status for c in consignments] == ["held"] * 3 + ["received"] * 3
    assert [stored[c.id].value for c in consignments] == [Decimal("10.00")] * 3 + [
        Decimal("99.95")
    ] * 3


async def test_rows_of_a_two_column_key_are_matched_on_both_columns(engine, sessions):
    days = [date(2026, 12, day) for day in (1, 2)]
    async with sessions() as session, session.begin():
        await insert_missing(
            session,
            BuyerTotal,
            [
                {"buyer": buyer, "day": day, "total": Decimal("0")}
                for buyer in ("anna", "bram")
                for day in days
            ],
        )
    async with sessions() as session:
        totals = {(row.buyer, row.day): row for row in await session.scalars(select(BuyerTotal))}
        totals["anna", days[1]].total = Decimal("150.00")
        totals["bram", days[0]].total = Decimal("22.50")
        await write_changed_rows(session)
        await session.commit()

    async with sessions() as session:
        stored = {
            (row.buyer, row.day): row.total for row in await session.scalars(select(BuyerTotal))
        }
    assert stored == {
        ("anna", days[0]): Decimal("0.00"),
        ("anna", days[1]): Decimal("150.00"),
        ("bram", days[0]): Decimal("22.50"),
        ("bram", days[1]): Decimal("0.00"),
    }


async def test_a_row_deleted_since_it_was_loaded_fails_the_write(sessions):
    first, second = await add_consignments(sessions, 2)
    async with sessions() as session:
        for consignment in await session.scalars(select(Consignment)):
            consignment.status = "cleared"
        async with sessions() as other, other.begin():
            await other.execute(
                text(f"DELETE FROM {Consignment.__tablename__} WHERE id = :id"), {"id": second}
            )
        with pytest.raises(StaleDataError, match="matched 1 of 2 rows"):
            await write_changed_rows(session)
        await session.rollback()

    async with sessions() as session:
        assert (await session.get(Consignment, first)).status == "received"


async def test_a_changed_primary_key_is_left_to_the_flush(sessions):
    [original] = await add_consignments(sessions, 1)
    renamed = uuid.uuid4()
    async with sessions() as session:
        consignment = await session.get(Consignment, original)
        consignment.id = renamed
        consignment.status = "cleared"
        await write_changed_rows(session)
        await session.commit()

    async with sessions() as session:
        stored = (await session.scalars(select(Consignment))).all()
    assert [(row.id, row.status) for row in stored] == [(renamed, "cleared")]


async def test_insert_missing_writes_a_batch_in_one_statement_and_keeps_existing_rows(
    engine, sessions
):
    [existing] = await add_consignments(sessions, 1)
    new = [uuid.uuid4() for _ in range(40)]
    rows = [
        {"id": id_, "status": "received", "value": Decimal("5.00"), "lines": [{"sku": "A"}]}
        for id_ in [*new, existing]
    ]
    async with sessions() as session:
        with statements(engine) as sent:
            await insert_missing(session, Consignment, rows)
        await session.commit()
        assert len(writes(sent)) == 1

    async with sessions() as session:
        stored = {row.id: row for row in await session.scalars(select(Consignment))}
    assert sorted(stored) == sorted([*new, existing])
    assert stored[existing].value == Decimal("10.00")
    assert stored[existing].lines == []
    assert all(stored[id_].lines == [{"sku": "A"}] for id_ in new)


async def test_a_row_that_also_gained_children_is_in_the_batch_s_update(engine, sessions):
    ids = sorted(uuid.uuid4() for _ in range(5))
    async with sessions() as session, session.begin():
        session.add_all(Account(id=id_, balance=Decimal("0.00"), entries=[]) for id_ in ids)
    async with sessions() as session:
        accounts = (
            await session.scalars(select(Account).options(selectinload(Account.entries)))
        ).all()
        for position, account in enumerate(accounts):
            account.balance = Decimal("10.00") + position
            account.entries.append(Entry(amount=Decimal("10.00") + position))
        assert len(await updates_at_commit(engine, session)) == 1

    async with sessions() as session:
        stored = (
            await session.scalars(
                select(Account).options(selectinload(Account.entries)).order_by(Account.id)
            )
        ).all()
    assert [account.id for account in stored] == ids
    for account in stored:
        assert [entry.amount for entry in account.entries] == [account.balance]
    assert sorted(account.balance for account in stored) == [
        Decimal("10.00") + position for position in range(5)
    ]


async def test_rows_pointed_at_new_rows_by_a_key_checked_at_commit_are_one_update(engine, sessions):
    ids = sorted(uuid.uuid4() for _ in range(8))
    async with sessions() as session, session.begin():
        session.add_all(Carton(id=id_, pallet_id=None) for id_ in ids)
    async with sessions() as session:
        cartons = (await session.scalars(select(Carton))).all()
        session.add_all([Pallet(id="PAL-1"), Pallet(id="PAL-2")])
        for position, carton in enumerate(cartons):
            carton.pallet_id = f"PAL-{1 + position % 2}"
        assert len(await updates_at_commit(engine, session)) == 1

    async with sessions() as session:
        stored = {row.id: row.pallet_id for row in await session.scalars(select(Carton))}
    assert stored == {id_: f"PAL-{1 + position % 2}" for position, id_ in enumerate(ids)}


async def test_a_key_checked_at_each_statement_is_left_to_the_flush(engine, sessions):
    ids = sorted(uuid.uuid4() for _ in range(3))
    async with sessions() as session, session.begin():
        session.add_all(Account(id=id_, balance=Decimal("0.00"), entries=[]) for id_ in ids)
        session.add_all(Entry(account_id=ids[0], amount=Decimal("1.00")) for _ in range(4))
    async with sessions() as session:
        entries = (await session.scalars(select(Entry))).all()
        for position, entry in enumerate(entries):
            entry.account_id = ids[1 + position % 2]
        with statements(engine) as sent:
            await write_changed_rows(session)
            assert writes(sent) == []
            await session.commit()

    async with sessions() as session:
        stored = sorted(row.account_id for row in await session.scalars(select(Entry)))
    assert stored == sorted([ids[1], ids[2]] * 2)
