"""Partner API v1: place orders, read them back. Thin: rules live in `domain`."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel
from sqlalchemy import (
    DateTime,
    Numeric,
    String,
    Uuid,
    bindparam,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import joinedload, selectinload

from services.orders.domain import CancellationRefused, OrderStatus, check_cancellable
from services.orders.key_api import router as key_router
from services.orders.partner_auth import PartnerIdDep, PartnerRoute
from services.orders.saga_metrics import ORDERS_ENTERED_STATUS
from services.orders.schemas import (
    CancelRequest,
    OrderPage,
    OrderRequest,
    OrderResponse,
    TimelineItem,
    Totals,
)
from services.orders.tables import IdempotencyKey, Order
from services.orders.webhook_api import router as webhook_router
from services.orders.webhooks import announce, webhook_payload
from shared.events import OrderCancellationRequested, OrderDetails, OrderPlaced
from shared.messaging.unit_of_work import OUTBOX_ROWS
from shared.pagination import Cursor, decode_cursor, encode_cursor
from shared.problems import PROBLEM_RESPONSES, ProblemError
from shared.service import UnitOfWorkDep

router = APIRouter(
    prefix="/v1", tags=["orders"], responses=PROBLEM_RESPONSES, route_class=PartnerRoute
)


def _json(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`model` serialised by pydantic's own encoder, skipping FastAPI's re-validation of it."""
    return Response(
        model.model_dump_json(),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )


def _fingerprint(details: dict[str, object]) -> str:
    canonical = json.dumps(details, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _totals(details: OrderDetails) -> Totals:
    return Totals(
        goods=details.goods_total,
        shipping=details.shipping_cost,
        insurance=details.insurance_cost,
        total=details.order_total,
        currency=details.currency,
    )


def order_response(order: Order) -> OrderResponse:
    """An order read with its timeline (`selectinload(Order.timeline)`)."""
    return OrderResponse(
        id=order.id,
        partner_reference=order.partner_reference,
        status=order.status,
        totals=_totals(OrderDetails.model_validate(order.details)),
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


# The claim of an Idempotency-Key comes first: a concurrent retry waits on it for the first
# request's commit, then writes nothing (and the statement returns no row).
_CLAIM_KEY = """
claimed AS (
    INSERT INTO idempotency_keys (partner_id, key, request_fingerprint, order_id)
    VALUES (:partner_id, :idempotency_key, :fingerprint, :order_id)
    ON CONFLICT (partner_id, key) DO NOTHING
    RETURNING order_id
),"""

# The order, its first timeline entry, its OrderPlaced in the outbox and, if the partner has
# a webhook, its delivery, in one statement returning the new order's id: the whole unit of
# work in one round trip (`UnitOfWork.write_at_once`). Plain SQL rather than the PostgreSQL
# dialect's `insert()`, which SQLAlchemy never caches: it would be compiled for every request.
_PLACE_ORDER = """
WITH {claim}
placed AS (
    INSERT INTO orders (
        id, partner_id, partner_reference, status, currency, total, details,
        created_at, updated_at
    )
    SELECT :order_id, :partner_id, :partner_reference, :status, :currency, :total, :details,
        :now, :now
    {source}
    RETURNING id, partner_id, created_at
),
first_entry AS (
    INSERT INTO order_timeline (
        order_id, event_id, event_type, source_service, occurred_at, detail
    )
    SELECT id, :event_id, 'OrderPlaced', 'orders', created_at, :entry_detail FROM placed
),
delivery AS (
    INSERT INTO webhook_deliveries (
        id, partner_id, endpoint_id, order_id, payload, attempts, created_at, next_attempt_at
    )
    SELECT :delivery_id, placed.partner_id, partners.webhook_endpoint_id, placed.id, :payload,
        0, placed.created_at, placed.created_at
    FROM placed JOIN partners ON partners.id = placed.partner_id
    WHERE partners.webhook_endpoint_id IS NOT NULL
),
announced AS (
    {outbox} WHERE EXISTS (SELECT FROM placed)
)
SELECT id FROM placed
"""

_PLACEMENT_TYPES = (
    bindparam("order_id", type_=Uuid),
    bindparam("partner_id", type_=Uuid),
    bindparam("partner_reference", type_=String),
    bindparam("status", type_=String),
    bindparam("currency", type_=String),
    bindparam("total", type_=Numeric),
    bindparam("details", type_=JSONB),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("event_id", type_=Uuid),
    bindparam("entry_detail", type_=JSONB),
    bindparam("delivery_id", type_=Uuid),
    bindparam("payload", type_=JSONB),
)

PLACE_ORDER = text(_PLACE_ORDER.format(claim="", source="", outbox=OUTBOX_ROWS)).bindparams(
    *_PLACEMENT_TYPES
)
PLACE_ORDER_ONCE = text(
    _PLACE_ORDER.format(claim=_CLAIM_KEY, source="FROM claimed", outbox=OUTBOX_ROWS)
).bindparams(
    *_PLACEMENT_TYPES,
    bindparam("idempotency_key", type_=String),
    bindparam("fingerprint", type_=String),
)


async def _replay(
    uow: UnitOfWorkDep, partner_id: uuid.UUID, key: str, fingerprint: str
) -> OrderResponse:
    """The order an earlier request with this Idempotency-Key placed."""
    stored = (
        await uow.session.execute(
            select(IdempotencyKey.request_fingerprint, Order)
            .outerjoin(Order, Order.id == IdempotencyKey.order_id)
            .where(IdempotencyKey.partner_id == partner_id, IdempotencyKey.key == key)
            .options(selectinload(Order.timeline))
        )
    ).first()
    if stored is None or stored.request_fingerprint != fingerprint:
        # 409, as for a key still in flight: the body is valid, what the key already stands
        # for conflicts with it (no schema can say which keys were used).
        raise ProblemError(
            409,
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request body",
            errors=[{"pointer": "header:/Idempotency-Key", "detail": "used with another body"}],
        )
    if stored.Order is None:
        raise ProblemError(
            409, "idempotency-key-in-flight", "The first request with this key is still running"
        )
    return order_response(stored.Order)


@router.post("/orders", status_code=201, response_model=OrderResponse, summary="Place an order")
async def place_order(
    body: OrderRequest,
    partner_id: PartnerIdDep,
    uow: UnitOfWorkDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="A retry with the same key returns the first order, not a second one",
        ),
    ] = None,
) -> Response:
    details = body.model_dump(mode="json")
    order_id = uuid.uuid4()
    now = datetime.now(UTC)
    status = OrderStatus.PENDING.value
    detail = {"partner_reference": body.partner_reference}
    # Staged, not written: a replayed request never commits, and its event goes with it.
    envelope = await uow.emit(
        OrderPlaced(order_id=order_id, partner_id=partner_id, placed_at=now, order=body)
    )
    parameters = {
        "order_id": order_id,
        "partner_id": partner_id,
        "partner_reference": body.partner_reference,
        "status": status,
        "currency": body.currency,
        "total": body.order_total,
        "details": details,
        "now": now,
        "event_id": envelope.id,
        "entry_detail": detail,
        "delivery_id": uuid.uuid4(),
        "payload": webhook_payload(
            order_id, body.partner_reference, status, "OrderPlaced", detail, now
        ),
    }
    if idempotency_key is None:
        await uow.write_at_once(PLACE_ORDER, parameters)
    else:
        fingerprint = _fingerprint(details)
        placed = (
            await uow.write_at_once(
                PLACE_ORDER_ONCE,
                {**parameters, "idempotency_key": idempotency_key, "fingerprint": fingerprint},
            )
        ).scalar()
        if placed is None:
            earlier = await _replay(uow, partner_id, idempotency_key, fingerprint)
            return _json(earlier, 201, {"Idempotent-Replayed": "true"})
    await uow.commit()
    ORDERS_ENTERED_STATUS.labels(status).inc()
    placed_order = OrderResponse(
        id=order_id,
        partner_reference=body.partner_reference,
        status=status,
        totals=_totals(body),
        created_at=now,
        updated_at=now,
        cancellation_requested_at=None,
        timeline=[
            TimelineItem(
                event_type="OrderPlaced", occurred_at=now, source_service="orders", detail=detail
            )
        ],
    )
    return _json(placed_order, 201, {"Location": f"/v1/orders/{order_id}"})


@router.get(
    "/orders/{order_id}",
    response_model=OrderResponse,
    summary="An order with its timeline",
)
async def get_order(order_id: uuid.UUID, partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> Response:
    order = await uow.session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.partner_id == partner_id)
        .options(selectinload(Order.timeline))
    )
    if order is None:
        raise ProblemError(404, "order-not-found", f"No order {order_id} for this partner")
    return _json(order_response(order))


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
    order_id: uuid.UUID, body: CancelRequest, partner_id: PartnerIdDep, uow: UnitOfWorkDep
) -> Response:
    order = await uow.session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.partner_id == partner_id)
        .options(joinedload(Order.partner, innerjoin=True), selectinload(Order.timeline))
        .with_for_update(of=Order)
    )
    if order is None:
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
        announce(uow, order, "CancellationRequested", {"reason": body.reason})
        await uow.commit()
    return _json(order_response(order), 202)


@router.get("/orders", response_model=OrderPage, summary="This partner's orders, newest first")
async def list_orders(
    partner_id: PartnerIdDep,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
    status: Annotated[OrderStatus | None, Query()] = None,
) -> Response:
    query = select(Order).where(Order.partner_id == partner_id)
    if status is not None:
        query = query.where(Order.status == status)
    if cursor is not None:
        query = query.where(tuple_(Order.created_at, Order.id) < decode_cursor(cursor))
    orders = (
        await uow.session.scalars(
            query.order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit + 1)
            .options(selectinload(Order.timeline))
        )
    ).all()
    page = orders[:limit]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(orders) > limit else None
    return _json(
        OrderPage(items=[order_response(order) for order in page], next_cursor=next_cursor)
    )


router.include_router(webhook_router)
router.include_router(key_router)
