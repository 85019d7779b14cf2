"""The payments service layer: each use case is one gateway call and one recorded outcome.

Handlers (events) and routes (operators) call these; they load the payment locked, ask the
gateway with the idempotency key the payment derives for the operation, record the answer
on the `Payment` aggregate, save it and emit the event, all in the caller's unit of work.
A consumer batch first reads and locks, with `lock_for_batch`, what all its use cases will
read, so that they run without SQL of their own; what they change is written at commit.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.domain.amounts import (
    Capture,
    amount_to_authorize,
    capture_decision,
)
from services.payments.domain.errors import AmountExceedsAvailable, ExchangeRateUnavailable
from services.payments.domain.gateway import GatewayOutcome, GatewayRequest, GatewayResponse
from services.payments.domain.payment import (
    GatewayOperation,
    Payment,
    PaymentStatus,
    idempotency_key,
    refund_request_key,
)
from services.payments.domain.retry import RetryPolicy
from services.payments.gateway_client import GatewayClient
from services.payments.reference import ReportingRates
from services.payments.refund_intents import RefundIntents
from services.payments.repository import PaymentRepository
from services.payments.sandbox_store import StoredSandbox, load_memory
from services.payments.settings import PaymentsSettings
from services.payments.tables import RefundIntent
from shared.events import (
    DutiesAndTaxes,
    ExchangeRateUsed,
    MoneyAmount,
    OrderDetails,
    PaymentAuthorizationExpired,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCaptureFailed,
    PaymentDeclined,
    PaymentRefunded,
    PaymentVoided,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.money import Money

log = logging.getLogger(__name__)

# Payment ids derive from the order id, so a redelivered OrderPlaced after a crash sends
# the gateway the very same idempotency key instead of authorizing the card twice.
PAYMENT_ID_NAMESPACE = uuid.UUID("6f1d3c8e-2b0a-4d8e-9a57-5f0c2f7e1b11")


def payment_id_for(order_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(PAYMENT_ID_NAMESPACE, str(order_id))


GatewaySteps = tuple[tuple[GatewayOperation, ...], ...]
"""The gateway requests a use case makes on its common path: the i-th is one of the i-th step.

A batch reads the sandbox's memory of their keys up front; a request off that path (the
void after a failed capture) reads its own.
"""
AUTHORIZE_STEPS: GatewaySteps = ((GatewayOperation.AUTHORIZE,),)
CAPTURE_STEPS: GatewaySteps = (
    (GatewayOperation.INCREMENT_AUTHORIZATION, GatewayOperation.CAPTURE),
    (GatewayOperation.CAPTURE,),
)
VOID_STEPS: GatewaySteps = ((GatewayOperation.VOID,),)
RETURN_MONEY_STEPS: GatewaySteps = ((GatewayOperation.VOID, GatewayOperation.REFUND),)


def _keys_ahead(payment_id: uuid.UUID, recorded: int, steps: GatewaySteps) -> Iterator[str]:
    """The idempotency keys of `steps`, for a payment with `recorded` operations in its log."""
    for sequence, operations in enumerate(steps, start=recorded + 1):
        for operation in operations:
            yield idempotency_key(payment_id, operation, sequence)


async def _read_sandbox_memory(
    uow: UnitOfWork, payments: PaymentRepository, acted_on: Iterable[Payment], keys: set[str]
) -> None:
    """The sandbox's memory of these keys and of the authorizations of these payments."""
    for payment in acted_on:
        if reference := payments.authorization_reference_of(payment):
            keys.add(reference)
    await load_memory(uow.session, keys)


def as_amount(money: Money) -> MoneyAmount:
    return MoneyAmount(amount=money.amount, currency=money.currency)


def now() -> datetime:
    return datetime.now(UTC)


class PaymentDeclinedByGateway(Exception):
    """The processor refused an operator's request; the message is its reason."""


class Payments:
    def __init__(self, settings: PaymentsSettings) -> None:
        self._settings = settings
        self._policy = RetryPolicy(
            max_attempts=settings.gateway_max_attempts,
            base_delay=timedelta(seconds=settings.gateway_base_delay_seconds),
        )
        self._jitter = random.Random()
        # The ECB rates loaded into this service's database, kept current by `rates.watch`.
        self.rates = ReportingRates(max_age=timedelta(days=settings.fx_max_rate_age_days))

    async def _ask(
        self,
        uow: UnitOfWork,
        payments: PaymentRepository,
        payment: Payment,
        operation: GatewayOperation,
        amount: Money,
        token: str | None = None,
    ) -> GatewayResponse:
        gateway = GatewayClient(StoredSandbox(uow.session).submit, self._policy, self._jitter)
        acts_on_authorization = operation is not GatewayOperation.AUTHORIZE
        return await gateway.submit(
            GatewayRequest(
                operation,
                payment.next_idempotency_key(operation),
                token or payments.token_of(payment),
                amount,
                authorization_reference=(
                    payments.authorization_reference_of(payment) if acts_on_authorization else None
                ),
            )
        )

    # ---- consumer batches --------------------------------------------------------------

    async def lock_for_batch(
        self, uow: UnitOfWork, planned: Sequence[tuple[uuid.UUID, GatewaySteps]]
    ) -> None:
        """Read and lock, in a few statements, what the use cases planned for these orders
        will read: their payments and logs, whether those without one were cancelled, and the
        sandbox's memory of every key they will send on their common path."""
        payments = PaymentRepository(uow.session)
        order_ids = {order_id for order_id, _ in planned}
        found = await payments.lock_for_orders(order_ids)
        await payments.load_cancellations(order_ids - found.keys())
        keys: set[str] = set()
        for order_id, steps in planned:
            payment = found.get(order_id)
            if payment is None:
                keys.update(_keys_ahead(payment_id_for(order_id), 0, steps))
            else:
                keys.update(_keys_ahead(payment.payment_id, len(payment.operations), steps))
        await _read_sandbox_memory(uow, payments, found.values(), keys)

    # ---- placement -------------------------------------------------------------------

    async def authorize(self, uow: UnitOfWork, order_id: uuid.UUID, order: OrderDetails) -> None:
        payments = PaymentRepository(uow.session)
        if await payments.for_order(order_id) is not None:
            return
        if await payments.is_cancelled(order_id):
            log.info(
                "order cancelled before placement reached payments",
                extra={"order_id": str(order_id)},
            )
            return
        currency = order.currency
        payment = Payment.open(payment_id_for(order_id), order_id, currency)
        payments.add(payment, order.payment.token)
        amount = amount_to_authorize(
            goods=Money(order.goods_total, currency),
            shipping=Money(order.shipping_cost, currency),
            insurance=Money(order.insurance_cost, currency),
        )
        response = await self._ask(
            uow, payments, payment, GatewayOperation.AUTHORIZE, amount, token=order.payment.token
        )
        if response.outcome is GatewayOutcome.APPROVED:
            payment.record_authorization(amount, now(), self._settings.authorization_window)
            payments.save(payment, response.gateway_reference)
            in_eur, rate = self._in_eur(amount)
            payments.record_eur_amount(payment, in_eur, rate)
            await uow.emit(
                PaymentAuthorized(
                    order_id=order_id,
                    payment_id=payment.payment_id,
                    amount=as_amount(amount),
                    amount_in_eur=as_amount(in_eur) if in_eur else None,
                    exchange_rate=rate,
                    order_reference=order.partner_reference,
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
            PaymentDeclined(order_id=order_id, payment_id=payment.payment_id, reason=reason)
        )

    def _in_eur(self, amount: Money) -> tuple[Money | None, ExchangeRateUsed | None]:
        if amount.currency == "EUR":
            return amount, None
        try:
            conversion = self.rates.table.convert(amount, "EUR", now().date())
        except ExchangeRateUnavailable as missing:
            log.warning(
                "no exchange rate to report the amount in EUR", extra={"error": str(missing)}
            )
            return None, None
        rate = conversion.rate
        return conversion.converted, ExchangeRateUsed(
            pair=str(rate.pair), rate=rate.rate, rate_date=rate.date, source=rate.source
        )

    # ---- after customs -----------------------------------------------------------------

    async def capture(self, uow: UnitOfWork, order_id: uuid.UUID, charges: DutiesAndTaxes) -> None:
        """Capture goods, transport and the duties the buyer owes at checkout.

        Duties and taxes marked `collected_at_checkout` (an IOSS consignment's duty) are
        charged to the card: the hold is first raised by an incremental authorization. Those
        collected on delivery (import VAT under the special arrangements) are the carrier's.
        """
        payments = PaymentRepository(uow.session)
        payment = await payments.for_order(order_id)
        if payment is None or payment.status is not PaymentStatus.AUTHORIZED:
            log.info("nothing to capture", extra={"order_id": str(order_id)})
            return
        final = payment.authorized_amount
        if charges.collected_at_checkout and charges.total.amount > 0:
            final = final + Money(charges.total.amount, charges.total.currency)
        decision = capture_decision(payment.authorized_amount, final)
        if not isinstance(decision, Capture):
            response = await self._ask(
                uow, payments, payment, GatewayOperation.INCREMENT_AUTHORIZATION, decision.shortfall
            )
            if response.outcome is not GatewayOutcome.APPROVED:
                await self._fail_capture(
                    uow, payments, payment, f"duties not authorized: {response.reason}"
                )
                return
            payment.record_incremental_authorization(decision.shortfall, now())
            payments.save(payment, response.gateway_reference)
        amount = final.rounded()
        response = await self._ask(uow, payments, payment, GatewayOperation.CAPTURE, amount)
        if response.outcome is not GatewayOutcome.APPROVED:
            await self._fail_capture(uow, payments, payment, response.reason or "capture declined")
            return
        payment.capture(amount, now())
        payments.save(payment, response.gateway_reference)
        await uow.emit(
            PaymentCaptured(
                order_id=order_id, payment_id=payment.payment_id, amount=as_amount(amount)
            )
        )

    async def _fail_capture(
        self, uow: UnitOfWork, payments: PaymentRepository, payment: Payment, reason: str
    ) -> None:
        """The order will not ship unpaid: announce the failure and release the hold."""
        await uow.emit(
            PaymentCaptureFailed(
                order_id=payment.order_id, payment_id=payment.payment_id, reason=reason
            )
        )
        await self.release_hold(uow, payments, payment, f"capture failed: {reason}")

    # ---- compensation ------------------------------------------------------------------

    async def release_hold(
        self, uow: UnitOfWork, payments: PaymentRepository, payment: Payment, reason: str
    ) -> None:
        response = await self._ask(
            uow, payments, payment, GatewayOperation.VOID, payment.authorized_amount
        )
        if response.outcome is not GatewayOutcome.APPROVED:
            raise RuntimeError(f"void of payment {payment.payment_id} failed: {response.reason}")
        payment.void(reason[:500], now())
        payments.save(payment, response.gateway_reference)
        await uow.emit(
            PaymentVoided(order_id=payment.order_id, payment_id=payment.payment_id, reason=reason)
        )

    async def void_for(self, uow: UnitOfWork, order_id: uuid.UUID, reason: str) -> None:
        payments = PaymentRepository(uow.session)
        payment = await payments.for_order(order_id)
        if payment is not None and payment.status is PaymentStatus.AUTHORIZED:
            await self.release_hold(uow, payments, payment, reason)

    async def return_money(self, uow: UnitOfWork, order_id: uuid.UUID, reason: str) -> None:
        """The order will not be delivered: void what is held, refund what was taken."""
        payments = PaymentRepository(uow.session)
        payment = await payments.for_order(order_id)
        if payment is None:
            await payments.mark_cancelled(order_id)
            return
        if payment.status is PaymentStatus.AUTHORIZED:
            await self.release_hold(uow, payments, payment, reason)
        elif payment.refundable_amount.amount > 0:
            await self._refund(uow, payments, payment, payment.refundable_amount, reason)

    async def request_refund(
        self,
        uow: UnitOfWork,
        payment_id: uuid.UUID,
        amount: Decimal,
        reason: str,
        requested_by: str,
    ) -> RefundIntent | None:
        """An operator's refund as an intent, for the caller to commit before the processor is
        asked (`settle_refund`). The payment row lock serialises concurrent requests, and what
        pending intents will refund counts as refunded already."""
        payments = PaymentRepository(uow.session)
        payment = await payments.get(payment_id)
        if payment is None:
            return None
        intents = RefundIntents(uow.session)
        refund = payment.check_refundable(Money(amount, payment.currency))
        pending = await intents.pending_total(payment_id)
        if refund.amount + pending > payment.refundable_amount.amount:
            raise AmountExceedsAvailable(
                f"payment {payment_id}: cannot refund {refund}, only "
                f"{payment.refundable_amount.amount - pending} {payment.currency} remains "
                f"once the {pending} {payment.currency} being refunded is"
            )
        intent_id = uuid.uuid4()
        return intents.add(
            payment_id,
            intent_id,
            refund_request_key(payment_id, intent_id),
            refund.amount,
            reason,
            requested_by,
            now(),
        )

    async def settle_refund(self, uow: UnitOfWork, intent_id: uuid.UUID) -> RefundIntent | None:
        """Ask the processor for a committed intent's refund with its key and record the answer
        (in the caller's unit of work). A transient failure leaves it pending for the recovery
        job; so does an intent another transaction is settling (returned unchanged)."""
        intents = RefundIntents(uow.session)
        payment_id = await intents.payment_of(intent_id)
        if payment_id is None:
            return None
        payments = PaymentRepository(uow.session)
        payment = await payments.get(payment_id)
        intent = await intents.lock(intent_id)
        if payment is None or intent is None or intent.outcome is not None:
            return intent
        amount = Money(intent.amount, payment.currency)
        response = await self._ask_processor(
            uow,
            GatewayRequest(
                GatewayOperation.REFUND,
                intent.idempotency_key,
                payments.token_of(payment),
                amount,
                authorization_reference=payments.authorization_reference_of(payment),
            ),
        )
        if response.is_transient:
            return intent
        intent.outcome = response.outcome.value
        intent.settled_at = now()
        if response.outcome is not GatewayOutcome.APPROVED:
            intent.outcome_reason = (response.reason or "refund declined")[:200]
            return intent
        refunded = payment.refund(
            amount, now(), intent.reason, idempotency_key=intent.idempotency_key
        )
        payments.save(payment, response.gateway_reference)
        await uow.emit(
            PaymentRefunded(
                order_id=payment.order_id,
                payment_id=payment.payment_id,
                amount=as_amount(refunded),
                reason=intent.reason,
            )
        )
        return intent

    async def _ask_processor(self, uow: UnitOfWork, request: GatewayRequest) -> GatewayResponse:
        """The processor's answer, given on its side: what the sandbox learns is committed in
        its own transaction, as a real processor's memory outlives our rollback or crash."""
        async with AsyncSession(uow.session.bind) as processor, processor.begin():
            gateway = GatewayClient(StoredSandbox(processor).submit, self._policy, self._jitter)
            return await gateway.submit(request)

    async def _refund(
        self,
        uow: UnitOfWork,
        payments: PaymentRepository,
        payment: Payment,
        amount: Money,
        reason: str,
    ) -> None:
        # The domain refuses an amount above what remains before the gateway is asked.
        payment.check_refundable(amount)
        response = await self._ask(uow, payments, payment, GatewayOperation.REFUND, amount)
        if response.outcome is not GatewayOutcome.APPROVED:
            raise PaymentDeclinedByGateway(response.reason or "refund declined")
        refunded = payment.refund(amount, now(), reason[:500])
        payments.save(payment, response.gateway_reference)
        await uow.emit(
            PaymentRefunded(
                order_id=payment.order_id,
                payment_id=payment.payment_id,
                amount=as_amount(refunded),
                reason=reason,
            )
        )

    # ---- expiry ------------------------------------------------------------------------

    async def expire_due(self, uow: UnitOfWork, limit: int) -> int:
        """Void up to `limit` authorizations left uncaptured past their window; how many."""
        payments = PaymentRepository(uow.session)
        due = await payments.lock_expired(now(), limit)
        keys = {
            key
            for payment in due
            for key in _keys_ahead(payment.payment_id, len(payment.operations), VOID_STEPS)
        }
        await _read_sandbox_memory(uow, payments, due, keys)
        expired = 0
        for payment in due:
            if not payment.is_expired(now()):
                continue
            expired_at = payment.expires_at or now()
            await self.release_hold(uow, payments, payment, "authorization expired uncaptured")
            await uow.emit(
                PaymentAuthorizationExpired(
                    order_id=payment.order_id, payment_id=payment.payment_id, expired_at=expired_at
                )
            )
            expired += 1
        return expired
