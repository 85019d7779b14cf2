"""Partner API v1: place orders, read them back. Thin: rules live in `domain`."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from services.orders.domain import CancellationRefused, OrderStatus, check_cancellable
from services.orders.partners import partner_for_key
from services.orders.schemas import (
    CancelRequest,
    OrderPage,
    OrderResponse,
    TimelineItem,
    Totals,
    WebhookRequest,
    WebhookResponse,
)
from services.orders.settings import OrdersSettings
from services.orders.tables import IdempotencyKey, Order, Partner, TimelineRecord
from services.orders.webhooks import announce, new_secret
from shared.events import OrderCancellationRequested, OrderDetails, OrderPlaced
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep, runtime_of

router = APIRouter(prefix="/v1", tags=["orders"], responses=PROBLEM_RESPONSES)


async def current_partner(
    uow: UnitOfWorkDep,
    authorization: Annotated[str | None, Header(description="Bearer <partner API key>")] = None,
) -> Partner:
    scheme, _, key = (authorization or "").partition(" ")
    partner = (
        await partner_for_key(uow.session, key) if scheme.lower() == "bearer" and key else None
    )
    if partner is None:
        raise ProblemError(
            401,
            "unauthorized",
            "A valid partner API key is required: Authorization: Bearer <api key>",
        )
    return partner


PartnerDep = Annotated[Partner, Depends(current_partner)]


def _fingerprint(body: OrderDetails) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _order_response(order: Order) -> OrderResponse:
    details = OrderDetails.model_validate(order.details)
    return OrderResponse(
        id=order.id,
        partner_reference=order.partner_reference,
        status=order.status,
        totals=Totals(
            goods=details.goods_total,
            shipping=details.shipping_cost,
            insurance=details.insurance_cost,
            total=details.order_total,
            currency=details.currency,
        ),
        created_at=order.created_at,
        updated_at=order.updated_at,
        cancellation_requested_at=order.cancellation_requested_at,
        timeline=[
            TimelineItem(
                event_type=entry.event_type,
                occurred_at=entry.occurred_at,
                source_service=entry.source_service,
                detail=entry.detail,
            )
            for entry in order.timeline
        ],
    )


async def _replay(uow: UnitOfWorkDep, partner: Partner, key: str, fingerprint: str) -> Order:
    """The order an earlier request with this Idempotency-Key placed."""
    stored = await uow.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.partner_id == partner.id, IdempotencyKey.key == key
        )
    )
    if stored is None or stored.request_fingerprint != fingerprint:
        raise ProblemError(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request body",
            errors=[{"pointer": "header:/Idempotency-Key", "detail": "used with another body"}],
        )
    order = await uow.session.get(Order, stored.order_id)
    if order is None:
        raise ProblemError(
            409, "idempotency-key-in-flight", "The first request with this key is still running"
        )
    return order


@router.post("/orders", status_code=201, response_model=OrderResponse, summary="Place an order")
async def place_order(
    body: OrderDetails,
    partner: PartnerDep,
    uow: UnitOfWorkDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="A retry with the same key returns the first order, not a second one",
        ),
    ] = None,
) -> OrderResponse:
    fingerprint = _fingerprint(body)
    order_id = uuid.uuid4()
    if idempotency_key is not None:
        # Claiming the key first makes a concurrent retry wait here for the first request's
        # commit, then answer with its order rather than place a second one.
        claimed = await uow.session.scalar(
            insert(IdempotencyKey)
            .values(
                partner_id=partner.id,
                key=idempotency_key,
                request_fingerprint=fingerprint,
                order_id=order_id,
            )
            .on_conflict_do_nothing(index_elements=["partner_id", "key"])
            .returning(IdempotencyKey.id)
        )
        if claimed is None:
            earlier = await _replay(uow, partner, idempotency_key, fingerprint)
            response.headers["Idempotent-Replayed"] = "true"
            return _order_response(earlier)

    now = datetime.now(UTC)
    envelope = await uow.emit(
        OrderPlaced(order_id=order_id, partner_id=partner.id, placed_at=now, order=body)
    )
    uow.session.add(
        Order(
            id=order_id,
            partner_id=partner.id,
            partner_reference=body.partner_reference,
            status=OrderStatus.PENDING,
            currency=body.currency,
            total=body.order_total,
            details=body.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
            timeline=[
                TimelineRecord(
                    event_id=envelope.id,
                    event_type="OrderPlaced",
                    source_service="orders",
                    occurred_at=now,
                    detail={"partner_reference": body.partner_reference},
                )
            ],
        )
    )
    order = await uow.session.get(Order, order_id)
    await announce(uow, order, "OrderPlaced", {"partner_reference": body.partner_reference})
    await uow.commit()
    response.headers["Location"] = f"/v1/orders/{order.id}"
    return _order_response(order)


@router.get(
    "/orders/{order_id}",
    response_model=OrderResponse,
    summary="An order with its timeline",
)
async def get_order(order_id: uuid.UUID, partner: PartnerDep, uow: UnitOfWorkDep) -> OrderResponse:
    order = await uow.session.get(Order, order_id)
    if order is None or order.partner_id != partner.id:
        raise ProblemError(404, "order-not-found", f"No order {order_id} for this partner")
    return _order_response(order)


@router.post(
    "/orders/{order_id}/cancel",
    status_code=202,
    response_model=OrderResponse,
    summary="Ask to cancel an order; allowed until its shipment departs",
    description=(
        "Accepted (202) while the goods are still at the hub: the hub confirms with "
        "`FulfilmentCancelled` and the order becomes CANCELLED, the payment voided or, once "
        "captured, refunded in full. A 409 problem explains why an order cannot be cancelled."
    ),
)
async def cancel_order(
    order_id: uuid.UUID, body: CancelRequest, partner: PartnerDep, uow: UnitOfWorkDep
) -> OrderResponse:
    order = await uow.session.get(Order, order_id, with_for_update=True)
    if order is None or order.partner_id != partner.id:
        raise ProblemError(404, "order-not-found", f"No order {order_id} for this partner")
    try:
        check_cancellable(OrderStatus(order.status))
    except CancellationRefused as refusal:
        raise ProblemError(
            409, "order-not-cancellable", str(refusal), order_status=order.status
        ) from None
    if order.cancellation_requested_at is None:
        now = datetime.now(UTC)
        order.cancellation_requested_at = now
        order.cancellation_reason = body.reason
        order.updated_at = now
        await uow.emit(OrderCancellationRequested(order_id=order.id, reason=body.reason))
        await announce(uow, order, "CancellationRequested", {"reason": body.reason})
        await uow.commit()
    return _order_response(order)


def _encode_cursor(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created_at, order_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created_at), uuid.UUID(order_id)
    except ValueError:
        raise ProblemError(
            400,
            "invalid-cursor",
            "cursor is not one this API returned",
            pointer="query:/cursor",
        ) from None


@router.get("/orders", response_model=OrderPage, summary="This partner's orders, newest first")
async def list_orders(
    partner: PartnerDep,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> OrderPage:
    query = select(Order).where(Order.partner_id == partner.id)
    if status is not None:
        query = query.where(Order.status == status)
    if cursor is not None:
        query = query.where(tuple_(Order.created_at, Order.id) < _decode_cursor(cursor))
    orders = (
        await uow.session.scalars(
            query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
        )
    ).all()
    page = orders[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(orders) > limit else None
    return OrderPage(items=[_order_response(order) for order in page], next_cursor=next_cursor)


@router.put(
    "/webhook",
    response_model=WebhookResponse,
    tags=["webhooks"],
    summary="Receive a signed notification at this URL for every step of your orders",
)
async def set_webhook(
    body: WebhookRequest, partner: PartnerDep, uow: UnitOfWorkDep, request: Request
) -> WebhookResponse:
    settings: OrdersSettings = runtime_of(request).settings
    if body.url.scheme != "https" and not settings.webhook_local_targets:
        raise ProblemError(
            422,
            "webhook-url-not-https",
            "Webhook URLs must use https",
            errors=[{"pointer": "/url", "detail": "must use https"}],
        )
    partner.webhook_url = str(body.url)
    partner.webhook_secret = new_secret()
    await uow.commit()
    return WebhookResponse(url=partner.webhook_url, secret=partner.webhook_secret)


@router.get("/webhook", response_model=WebhookResponse, tags=["webhooks"], summary="Your webhook")
async def get_webhook(partner: PartnerDep) -> WebhookResponse:
    if not partner.webhook_url:
        raise ProblemError(404, "webhook-not-set", "No webhook is set for this partner")
    return WebhookResponse(url=partner.webhook_url)
