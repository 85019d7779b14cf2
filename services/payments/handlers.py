"""Payments in the saga: authorize on placement, capture on clearance, void on rejection."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from services.payments.domain.amounts import amount_to_authorize
from services.payments.domain.gateway import GatewayOutcome, GatewayRequest
from services.payments.domain.payment import GatewayOperation, Payment, PaymentStatus
from services.payments.gateway_client import GatewayClient
from services.payments.repository import PaymentRepository
from services.payments.settings import PaymentsSettings
from shared.events import (
    CustomsCleared,
    CustomsRejected,
    Envelope,
    MoneyAmount,
    OrderPlaced,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentVoided,
    Topics,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.money import Money

log = logging.getLogger(__name__)

SUBSCRIPTIONS = [Topics.ORDERS, Topics.CUSTOMS]

# Payment ids derive from the order id, so a redelivered OrderPlaced after a crash sends
# the gateway the very same idempotency key instead of authorizing the card twice.
PAYMENT_ID_NAMESPACE = uuid.UUID("6f1d3c8e-2b0a-4d8e-9a57-5f0c2f7e1b11")


def payment_id_for(order_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(PAYMENT_ID_NAMESPACE, str(order_id))


def as_amount(money: Money) -> MoneyAmount:
    return MoneyAmount(amount=money.amount, currency=money.currency)


def now() -> datetime:
    return datetime.now(UTC)


class PaymentHandlers:
    def __init__(self, gateway: GatewayClient, settings: PaymentsSettings) -> None:
        self._gateway = gateway
        self._settings = settings

    def handlers(self) -> dict:
        return {
            OrderPlaced: self.authorize,
            CustomsCleared: self.capture,
            CustomsRejected: self.void,
        }

    async def authorize(self, event: OrderPlaced, _: Envelope, uow: UnitOfWork) -> None:
        payments = PaymentRepository(uow.session)
        if await payments.for_order(event.order_id) is not None:
            return
        order = event.order
        currency = order.currency
        payment = Payment.open(payment_id_for(event.order_id), event.order_id, currency)
        payments.add(payment, order.payment.token)
        amount = amount_to_authorize(
            goods=Money(order.goods_total, currency),
            shipping=Money(order.shipping_cost, currency),
            insurance=Money(order.insurance_cost, currency),
        )
        response = await self._gateway.submit(
            GatewayRequest(
                GatewayOperation.AUTHORIZE,
                payment.next_idempotency_key(GatewayOperation.AUTHORIZE),
                order.payment.token,
                amount,
            )
        )
        if response.outcome is GatewayOutcome.APPROVED:
            payment.record_authorization(amount, now(), self._settings.authorization_window)
            payments.save(payment, response.gateway_reference)
            await uow.emit(
                PaymentAuthorized(
                    order_id=event.order_id, payment_id=payment.payment_id, amount=as_amount(amount)
                )
            )
            return
        reason = response.reason or "declined"
        if response.is_transient:
            payment.record_failure(f"processor unavailable: {reason}", now())
        else:
            payment.record_decline(reason, now())
        payments.save(payment)
        await uow.emit(
            PaymentDeclined(order_id=event.order_id, payment_id=payment.payment_id, reason=reason)
        )

    async def capture(self, event: CustomsCleared, _: Envelope, uow: UnitOfWork) -> None:
        payments = PaymentRepository(uow.session)
        payment = await payments.for_order(event.order_id)
        if payment is None or payment.status is not PaymentStatus.AUTHORIZED:
            log.info("nothing to capture", extra={"order_id": str(event.order_id)})
            return
        amount = payment.authorized_amount
        response = await self._gateway.submit(
            GatewayRequest(
                GatewayOperation.CAPTURE,
                payment.next_idempotency_key(GatewayOperation.CAPTURE),
                payments.token_of(payment),
                amount,
                authorization_reference=payments.authorization_reference_of(payment),
            )
        )
        if response.outcome is GatewayOutcome.APPROVED:
            payment.capture(amount, now())
            payments.save(payment, response.gateway_reference)
            await uow.emit(
                PaymentCaptured(
                    order_id=event.order_id, payment_id=payment.payment_id, amount=as_amount(amount)
                )
            )
            return
        reason = response.reason or "capture declined"
        payment.record_failure(reason, now())
        payments.save(payment)
        await uow.emit(
            PaymentCaptureFailed(
                order_id=event.order_id, payment_id=payment.payment_id, reason=reason
            )
        )

    async def void(self, event: CustomsRejected, _: Envelope, uow: UnitOfWork) -> None:
        payments = PaymentRepository(uow.session)
        payment = await payments.for_order(event.order_id)
        if payment is None or payment.status is not PaymentStatus.AUTHORIZED:
            return
        response = await self._gateway.submit(
            GatewayRequest(
                GatewayOperation.VOID,
                payment.next_idempotency_key(GatewayOperation.VOID),
                payments.token_of(payment),
                payment.authorized_amount,
                authorization_reference=payments.authorization_reference_of(payment),
            )
        )
        if response.outcome is not GatewayOutcome.APPROVED:
            raise RuntimeError(f"void of payment {payment.payment_id} failed: {response.reason}")
        reason = "customs rejected: " + "; ".join(event.reasons)
        payment.void(reason[:500], now())
        payments.save(payment, response.gateway_reference)
        await uow.emit(
            PaymentVoided(order_id=event.order_id, payment_id=payment.payment_id, reason=reason)
        )
