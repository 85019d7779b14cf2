"""A consumer batch reads what its handlers need up front; the handlers then issue no SQL.

The database is replaced by an in-memory stand-in that answers the few reads of the
prefetch and counts every statement the session is asked to run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.domain.payment import GatewayOperation, idempotency_key
from services.payments.handlers import build_handlers, build_prefetch
from services.payments.service import Payments, payment_id_for
from services.payments.settings import PaymentsSettings
from services.payments.tables import CancelledOrder, OperationRecord, PaymentRecord, SandboxMemory
from shared.events import (
    CustomsCleared,
    Event,
    FulfilmentCancelled,
    OrderPlaced,
    PaymentAuthorizationExpired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentVoided,
)
from tests.unit.sample_orders import demo_order

PLACED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORDER_TOTAL = Decimal("57.10")


class Rows(list):
    def all(self) -> list[Any]:
        return list(self)

    def unique(self) -> Rows:
        return self


class InMemoryDatabase:
    """Answers the statements of the prefetch from rows kept here, and counts all."""

    def __init__(
        self,
        payments: list[PaymentRecord] = (),  # type: ignore[assignment]
        memory: dict[str, tuple[str, dict[str, Any]]] | None = None,
        cancelled: set[uuid.UUID] | None = None,
    ) -> None:
        self.payments = list(payments)
        self.memory = memory or {}
        self.cancelled = cancelled or set()
        self.statements = 0

    def serve(self, session: AsyncSession) -> AsyncSession:
        session.scalars = self._scalars  # type: ignore[method-assign]
        session.execute = self._execute  # type: ignore[method-assign]
        return session

    async def _scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Rows:
        self.statements += 1
        entity = statement.column_descriptions[0]["entity"]
        parameters = statement.compile(dialect=postgresql.dialect()).params
        if entity is CancelledOrder:
            return Rows(order_id for order_id in parameters["ids"] if order_id in self.cancelled)
        assert entity is PaymentRecord
        if "ids" in parameters:
            return Rows(record for record in self.payments if record.order_id in parameters["ids"])
        return Rows(record for record in self.payments if record.status == "AUTHORIZED")

    async def _execute(self, statement: Any, *args: Any, **kwargs: Any) -> list[tuple]:
        self.statements += 1
        assert statement.column_descriptions[0]["entity"] is SandboxMemory
        keys = statement.compile(dialect=postgresql.dialect()).params["keys"]
        return [(key, *self.memory[key]) for key in sorted(keys) if key in self.memory]


class RecordingUnitOfWork:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.emitted: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.emitted.append(event)


@pytest.fixture
def payments() -> Payments:
    return Payments(PaymentsSettings())


def placed(order_id: uuid.UUID, token: str = "tok_visa") -> OrderPlaced:
    return OrderPlaced.model_validate(
        {
            "order_id": order_id,
            "partner_id": uuid.uuid4(),
            "placed_at": PLACED_AT,
            "order": demo_order(partner_reference="ref-1", payment={"token": token}),
        }
    )


def cleared(order_id: uuid.UUID, duty_at_checkout: str = "0.00") -> CustomsCleared:
    def eur(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "EUR"}

    return CustomsCleared.model_validate(
        {
            "order_id": order_id,
            "declaration_id": uuid.uuid4(),
            "declaration_type": "H7",
            "lane": "GREEN",
            "duties_and_taxes": {
                "duty": eur(duty_at_checkout),
                "vat": eur("0.00"),
                "other_taxes": eur("0.00"),
                "fees": eur("0.00"),
                "total": eur(duty_at_checkout),
                "collected_at_checkout": duty_at_checkout != "0.00",
            },
        }
    )


def authorized_payment(order_id: uuid.UUID, expires_at: datetime) -> PaymentRecord:
    """A payment as stored once authorized, and what the sandbox remembers of it."""
    payment_id = payment_id_for(order_id)
    return PaymentRecord(
        id=payment_id,
        order_id=order_id,
        currency="EUR",
        token="tok_visa",
        status="AUTHORIZED",
        authorized_amount=ORDER_TOTAL,
        captured_amount=Decimal("0"),
        refunded_amount=Decimal("0"),
        authorization_reference=f"sbx_authorize_{order_id.hex[:24]}",
        authorized_at=PLACED_AT,
        expires_at=expires_at,
        operations=[
            OperationRecord(
                sequence=1,
                kind="AUTHORIZATION",
                amount=ORDER_TOTAL,
                idempotency_key=idempotency_key(payment_id, GatewayOperation.AUTHORIZE, 1),
                at=PLACED_AT,
            )
        ],
    )


def sandbox_authorization(record: PaymentRecord) -> tuple[str, tuple[str, dict[str, Any]]]:
    def eur(amount: str) -> dict[str, str]:
        return {"amount": amount, "currency": "EUR"}

    state = {
        "token": record.token,
        "amount": eur(str(ORDER_TOTAL)),
        "refunded": eur("0"),
        "captured": None,
        "voided": False,
    }
    assert record.authorization_reference is not None
    return record.authorization_reference, ("authorization", state)


async def run_batch(payments: Payments, database: InMemoryDatabase, events: list[Event]):
    uow = RecordingUnitOfWork(database.serve(AsyncSession()))
    handlers = build_handlers(payments)
    await build_prefetch(payments)(events, uow)  # type: ignore[arg-type]
    read_by_prefetch = database.statements
    for event in events:
        await handlers[type(event)](event, None, uow)  # type: ignore[arg-type]
    return uow, read_by_prefetch


async def test_placements_read_payments_cancellations_and_sandbox_memory_once(payments):
    orders = [uuid.uuid4() for _ in range(3)]
    cancelled_early = uuid.uuid4()
    database = InMemoryDatabase(cancelled={cancelled_early})

    uow, read_by_prefetch = await run_batch(
        payments, database, [placed(order_id) for order_id in [*orders, cancelled_early]]
    )

    assert read_by_prefetch == 3
    assert database.statements == 3, "the handlers issued SQL of their own"
    assert [(type(event), event.order_id) for event in uow.emitted] == [
        (PaymentAuthorized, order_id) for order_id in orders
    ]
    added = {record.order_id for record in uow.session.new if isinstance(record, PaymentRecord)}
    assert added == set(orders)


async def test_a_cancellation_then_its_placement_in_one_batch_authorizes_nothing(payments):
    order_id = uuid.uuid4()
    database = InMemoryDatabase()

    uow, _ = await run_batch(
        payments,
        database,
        [FulfilmentCancelled(order_id=order_id, reason="buyer changed mind"), placed(order_id)],
    )

    assert uow.emitted == []
    assert [type(row) for row in uow.session.new] == [CancelledOrder]
    assert database.statements == 3


async def test_captures_with_and_without_duties_read_only_in_the_prefetch(payments):
    later = datetime.now(UTC) + timedelta(days=6)
    records = [authorized_payment(uuid.uuid4(), later) for _ in range(2)]
    database = InMemoryDatabase(payments=records, memory=dict(map(sandbox_authorization, records)))

    uow, read_by_prefetch = await run_batch(
        payments,
        database,
        [cleared(records[0].order_id), cleared(records[1].order_id, duty_at_checkout="3.00")],
    )

    # Every payment was found, so no cancellation is looked up: payments and sandbox memory.
    assert read_by_prefetch == 2
    assert database.statements == 2, "the handlers issued SQL of their own"
    assert [(type(event), event.amount.amount) for event in uow.emitted] == [
        (PaymentCaptured, Decimal("57.10")),
        (PaymentCaptured, Decimal("60.10")),
    ]
    assert [record.status for record in records] == ["CAPTURED", "CAPTURED"]


async def test_a_request_the_prefetch_could_not_foresee_reads_its_own_key(payments):
    order_id = uuid.uuid4()
    database = InMemoryDatabase()

    uow, read_by_prefetch = await run_batch(
        payments,
        database,
        [placed(order_id), FulfilmentCancelled(order_id=order_id, reason="buyer changed mind")],
    )

    assert [type(event) for event in uow.emitted] == [PaymentAuthorized, PaymentVoided]
    # The void's key follows the authorization made in this very batch: read on its own.
    assert database.statements == read_by_prefetch + 1


async def test_expiry_voids_a_batch_of_lapsed_authorizations_in_two_reads(payments):
    lapsed = datetime.now(UTC) - timedelta(seconds=1)
    records = [authorized_payment(uuid.uuid4(), lapsed) for _ in range(3)]
    database = InMemoryDatabase(payments=records, memory=dict(map(sandbox_authorization, records)))
    uow = RecordingUnitOfWork(database.serve(AsyncSession()))

    expired = await payments.expire_due(uow, limit=100)  # type: ignore[arg-type]

    assert expired == 3
    assert database.statements == 2
    assert [type(event) for event in uow.emitted] == [
        PaymentVoided,
        PaymentAuthorizationExpired,
    ] * 3
    assert [record.status for record in records] == ["VOIDED"] * 3
