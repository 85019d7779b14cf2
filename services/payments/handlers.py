"""Payments in the saga: which event calls which use case of the service layer."""

from __future__ import annotations

from collections.abc import Sequence

from services.payments.service import (
    AUTHORIZE_STEPS,
    CAPTURE_STEPS,
    RETURN_MONEY_STEPS,
    VOID_STEPS,
    GatewaySteps,
    Payments,
)
from shared.events import (
    CustomsCleared,
    CustomsRejected,
    Envelope,
    Event,
    FulfilmentCancelled,
    OrderPlaced,
    ShipmentException,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork

SUBSCRIPTIONS = [Topics.ORDERS, Topics.CUSTOMS, Topics.FULFILLMENT]

# The gateway requests of the use case each event calls.
GATEWAY_STEPS: dict[type[Event], GatewaySteps] = {
    OrderPlaced: AUTHORIZE_STEPS,
    CustomsCleared: CAPTURE_STEPS,
    CustomsRejected: VOID_STEPS,
    FulfilmentCancelled: RETURN_MONEY_STEPS,
    ShipmentException: RETURN_MONEY_STEPS,
}


def build_prefetch(payments: Payments):
    async def prefetch(events: Sequence[Event], uow: UnitOfWork) -> None:
        """Lock what the batch's handlers read, so that they read it without SQL."""
        await payments.lock_for_batch(
            uow, [(event.order_id, GATEWAY_STEPS[type(event)]) for event in events]
        )

    return prefetch


def build_handlers(payments: Payments) -> dict:
    async def authorize(event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
        await payments.authorize(uow, event.order_id, event.order)

    async def capture(event: CustomsCleared, _: Envelope, uow: UnitOfWork) -> None:
        await payments.capture(uow, event.order_id, event.duties_and_taxes)

    async def void(event: CustomsRejected, _: Envelope, uow: UnitOfWork) -> None:
        await payments.void_for(
            uow, event.order_id, "customs rejected: " + "; ".join(event.reasons)
        )

    async def cancelled(event: FulfilmentCancelled, _: Envelope, uow: UnitOfWork) -> None:
        await payments.return_money(uow, event.order_id, f"order cancelled: {event.reason}")

    async def not_delivered(event: ShipmentException, _: Envelope, uow: UnitOfWork) -> None:
        await payments.return_money(uow, event.order_id, f"shipment failed: {event.reason}")

    return {
        OrderPlaced: authorize,
        CustomsCleared: capture,
        CustomsRejected: void,
        FulfilmentCancelled: cancelled,
        ShipmentException: not_delivered,
    }
