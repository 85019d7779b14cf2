"""Partner API v1, webhooks: the endpoint, its secret, the delivery log, redelivery.

A delivery is bound to the endpoint (URL and secret) it was created for. Setting a new URL
creates a new endpoint: deliveries already queued still go to the old URL, signed with the
old secret, unless the request says `retarget_pending`, which moves every pending delivery
to the new endpoint. Redelivery works the same way: to the delivery's own endpoint, or with
`retarget` to the current one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
    UrlConstraints,
)
from sqlalchemy import ColumnElement, select, tuple_, update

from services.orders.partner_auth import PartnerIdDep, PartnerRoute
from services.orders.settings import OrdersSettings
from services.orders.tables import Partner, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from services.orders.webhooks import PENDING, new_secret, requeue
from shared.fields import Timestamp
from shared.pagination import Cursor, decode_cursor, encode_cursor
from shared.problems import ProblemError
from shared.service import UnitOfWorkDep, runtime_of

router = APIRouter(tags=["webhooks"], route_class=PartnerRoute)

MAX_SECRET_OVERLAP = timedelta(days=7)
WEBHOOK_URL_LENGTH = 2000


def _fits_its_column(url: HttpUrl) -> HttpUrl:
    if len(str(url)) > WEBHOOK_URL_LENGTH:
        raise ValueError(f"must be at most {WEBHOOK_URL_LENGTH} characters once normalised")
    return url


class WebhookRequest(BaseModel):
    # The columns hold 2000 characters; normalising (a trailing slash, punycode) adds a few.
    url: Annotated[HttpUrl, UrlConstraints(max_length=1900), AfterValidator(_fits_its_column)] = (
        Field(examples=["https://partner.example/hooks/liege-ehub"])
    )
    retarget_pending: StrictBool = Field(
        default=False,
        description="Move deliveries still pending for earlier URLs to this one (signed with "
        "the new secret); by default they stay bound to the URL and secret they were created for",
    )


class WebhookResponse(BaseModel):
    url: str
    secret: str | None = Field(
        default=None,
        description="Shown once, when the webhook is set or its secret rotated: verify each "
        "delivery's `webhook-signature` (Standard Webhooks, HMAC-SHA256) with it",
    )
    enabled: bool = True
    disabled_at: datetime | None = None
    failing_since: datetime | None = Field(
        default=None, description="Since when every attempt failed; null after a success"
    )
    notice: str | None = Field(
        default=None, description="Why the endpoint was disabled, until it is enabled again"
    )
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="Until then deliveries carry a second signature, by the secret replaced",
    )


class RotateSecretRequest(BaseModel):
    overlap_seconds: StrictInt = Field(
        default=86_400,
        ge=0,
        le=int(MAX_SECRET_OVERLAP.total_seconds()),
        description="How long the replaced secret keeps signing, beside the new one",
    )


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class AttemptOut(BaseModel):
    attempted_at: datetime
    url: str
    status_code: int | None = Field(description="The receiver's HTTP status; null if none")
    latency_ms: int
    error: str | None
    next_retry_at: datetime | None = Field(description="null once delivered or given up")


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="Also the `webhook-id` header of every attempt")
    order_id: uuid.UUID
    type: str
    status: DeliveryStatus
    url: str = Field(description="The endpoint this delivery is bound to")
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    attempts: list[AttemptOut] = Field(description="Oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class RedeliverRequest(BaseModel):
    retarget: StrictBool = Field(
        default=False,
        description="Send to the current endpoint instead of the one the delivery was bound to",
    )


class RedeliverRangeRequest(RedeliverRequest):
    since: Timestamp = Field(description="Deliveries created at or after this time")
    until: Timestamp = Field(
        description="... and before this time (a range that ends where it starts is empty)"
    )
    status: DeliveryStatus | None = Field(
        default=DeliveryStatus.FAILED,
        description="Only deliveries in this state; null for every delivery of the range",
    )


class Requeued(BaseModel):
    requeued: int


def _status_condition(status: DeliveryStatus) -> list[ColumnElement[bool]]:
    if status is DeliveryStatus.DELIVERED:
        return [WebhookDelivery.delivered_at.is_not(None)]
    if status is DeliveryStatus.FAILED:
        return [WebhookDelivery.failed_at.is_not(None)]
    return list(PENDING)


async def _current_endpoint(uow: UnitOfWorkDep, partner_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = await uow.session.scalar(
        select(WebhookEndpoint)
        .join(Partner, Partner.webhook_endpoint_id == WebhookEndpoint.id)
        .where(Partner.id == partner_id)
    )
    if endpoint is None:
        raise ProblemError(404, "webhook-not-set", "No webhook is set for this partner")
    return endpoint


def _webhook_response(
    endpoint: WebhookEndpoint, notice: str | None, secret: str | None = None
) -> WebhookResponse:
    now = datetime.now(UTC)
    overlap_ends = endpoint.previous_secret_until
    return WebhookResponse(
        url=endpoint.url,
        secret=secret,
        enabled=endpoint.disabled_at is None,
        disabled_at=endpoint.disabled_at,
        failing_since=endpoint.failing_since,
        notice=notice,
        previous_secret_expires_at=overlap_ends if overlap_ends and overlap_ends > now else None,
    )


@router.put(
    "/webhook",
    response_model=WebhookResponse,
    summary="Receive a signed notification at this URL for every step of your orders",
)
async def set_webhook(
    body: WebhookRequest, partner_id: PartnerIdDep, uow: UnitOfWorkDep, request: Request
) -> WebhookResponse:
    settings: OrdersSettings = runtime_of(request).settings
    if body.url.scheme != "https" and not settings.webhook_local_targets:
        raise ProblemError(
            422,
            "webhook-url-not-https",
            "Webhook URLs must use https",
            errors=[{"pointer": "/url", "detail": "must use https"}],
        )
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        partner_id=partner_id,
        url=str(body.url),
        secret=new_secret(),
        created_at=datetime.now(UTC),
    )
    uow.session.add(endpoint)
    await uow.session.flush()
    await uow.session.execute(
        update(Partner)
        .where(Partner.id == partner_id)
        .values(webhook_endpoint_id=endpoint.id, webhook_notice=None)
    )
    if body.retarget_pending:
        await uow.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.partner_id == partner_id, *PENDING)
            .values(endpoint_id=endpoint.id)
            .execution_options(synchronize_session=False)
        )
    await uow.commit()
    return _webhook_response(endpoint, None, endpoint.secret)


@router.get("/webhook", response_model=WebhookResponse, summary="Your webhook and its health")
async def get_webhook(partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> WebhookResponse:
    endpoint = await _current_endpoint(uow, partner_id)
    notice = await uow.session.scalar(
        select(Partner.webhook_notice).where(Partner.id == partner_id)
    )
    return _webhook_response(endpoint, notice)


@router.post(
    "/webhook/secret",
    response_model=WebhookResponse,
    summary="Rotate the signing secret; the replaced one keeps signing during the overlap",
    description="Every delivery carries one signature per secret in force "
    "(`webhook-signature: v1,<new> v1,<old>`), so a receiver can switch at any time within "
    "the overlap.",
)
async def rotate_secret(
    body: RotateSecretRequest, partner_id: PartnerIdDep, uow: UnitOfWorkDep
) -> WebhookResponse:
    endpoint = await _current_endpoint(uow, partner_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = datetime.now(UTC) + timedelta(seconds=body.overlap_seconds)
    endpoint.secret = new_secret()
    await uow.commit()
    return _webhook_response(endpoint, None, endpoint.secret)


@router.post(
    "/webhook/enable",
    response_model=WebhookResponse,
    summary="Enable a disabled endpoint again: the deliveries that waited go out",
)
async def enable_webhook(partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> WebhookResponse:
    endpoint = await _current_endpoint(uow, partner_id)
    endpoint.disabled_at = None
    endpoint.failing_since = None
    await uow.session.execute(
        update(Partner).where(Partner.id == partner_id).values(webhook_notice=None)
    )
    await uow.commit()
    return _webhook_response(endpoint, None)


async def _deliveries_out(
    uow: UnitOfWorkDep, deliveries: list[WebhookDelivery]
) -> list[DeliveryOut]:
    ids = [delivery.id for delivery in deliveries]
    attempts: dict[uuid.UUID, list[AttemptOut]] = {delivery_id: [] for delivery_id in ids}
    endpoints = await uow.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url).where(
            WebhookEndpoint.id.in_({delivery.endpoint_id for delivery in deliveries})
        )
    )
    urls = {endpoint.id: endpoint.url for endpoint in endpoints}
    for attempt in await uow.session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    ):
        attempts[attempt.delivery_id].append(
            AttemptOut(
                attempted_at=attempt.attempted_at,
                url=attempt.url,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                next_retry_at=attempt.next_retry_at,
            )
        )
    return [
        DeliveryOut(
            id=delivery.id,
            order_id=delivery.order_id,
            type=delivery.payload["type"],
            status=(
                DeliveryStatus.DELIVERED
                if delivery.delivered_at
                else DeliveryStatus.FAILED
                if delivery.failed_at
                else DeliveryStatus.PENDING
            ),
            url=urls[delivery.endpoint_id],
            created_at=delivery.created_at,
            next_attempt_at=(
                None if delivery.delivered_at or delivery.failed_at else delivery.next_attempt_at
            ),
            delivered_at=delivery.delivered_at,
            failed_at=delivery.failed_at,
            attempts=attempts[delivery.id],
        )
        for delivery in deliveries
    ]


@router.get(
    "/webhook/deliveries",
    response_model=DeliveryPage,
    summary="Your delivery log, newest first, every attempt of each delivery",
)
async def list_deliveries(
    partner_id: PartnerIdDep,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    order_id: Annotated[uuid.UUID | None, Query()] = None,
    since: Annotated[Timestamp | None, Query(description="created at or after")] = None,
    until: Annotated[Timestamp | None, Query(description="created before")] = None,
) -> Response:
    query = select(WebhookDelivery).where(WebhookDelivery.partner_id == partner_id)
    if status is not None:
        query = query.where(*_status_condition(status))
    if order_id is not None:
        query = query.where(WebhookDelivery.order_id == order_id)
    if since is not None:
        query = query.where(WebhookDelivery.created_at >= since)
    if until is not None:
        query = query.where(WebhookDelivery.created_at < until)
    if cursor is not None:
        query = query.where(
            tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < decode_cursor(cursor)
        )
    deliveries = list(
        await uow.session.scalars(
            query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
                limit + 1
            )
        )
    )
    page = deliveries[:limit]
    page_out = DeliveryPage(
        items=await _deliveries_out(uow, page),
        next_cursor=(
            encode_cursor(page[-1].created_at, page[-1].id) if len(deliveries) > limit else None
        ),
    )
    return Response(page_out.model_dump_json(), media_type="application/json")


async def _own_delivery(
    uow: UnitOfWorkDep, partner_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    delivery = await uow.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.partner_id == partner_id
        )
    )
    if delivery is None:
        raise ProblemError(404, "delivery-not-found", f"No delivery {delivery_id} for this partner")
    return delivery


@router.get(
    "/webhook/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="One delivery with every attempt",
)
async def get_delivery(
    delivery_id: uuid.UUID, partner_id: PartnerIdDep, uow: UnitOfWorkDep
) -> DeliveryOut:
    delivery = await _own_delivery(uow, partner_id, delivery_id)
    [out] = await _deliveries_out(uow, [delivery])
    return out


async def _retarget_to(
    uow: UnitOfWorkDep, partner_id: uuid.UUID, retarget: bool
) -> uuid.UUID | None:
    return (await _current_endpoint(uow, partner_id)).id if retarget else None


@router.post(
    "/webhook/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send one delivery again, whatever its state",
)
async def redeliver(
    delivery_id: uuid.UUID,
    partner_id: PartnerIdDep,
    uow: UnitOfWorkDep,
    body: RedeliverRequest | None = None,
) -> DeliveryOut:
    await _own_delivery(uow, partner_id, delivery_id)
    retarget_to = await _retarget_to(uow, partner_id, body is not None and body.retarget)
    await requeue(
        uow.session, partner_id, WebhookDelivery.id == delivery_id, retarget_to=retarget_to
    )
    await uow.commit()
    delivery = await _own_delivery(uow, partner_id, delivery_id)
    await uow.session.refresh(delivery)
    [out] = await _deliveries_out(uow, [delivery])
    return out


@router.post(
    "/webhook/redeliveries",
    status_code=202,
    response_model=Requeued,
    summary="Send again the deliveries created in a time range (by default the failed ones)",
)
async def redeliver_range(
    body: RedeliverRangeRequest, partner_id: PartnerIdDep, uow: UnitOfWorkDep
) -> Requeued:
    conditions = [
        WebhookDelivery.created_at >= body.since,
        WebhookDelivery.created_at < body.until,
    ]
    if body.status is not None:
        conditions += _status_condition(body.status)
    retarget_to = await _retarget_to(uow, partner_id, body.retarget)
    requeued = await requeue(uow.session, partner_id, *conditions, retarget_to=retarget_to)
    await uow.commit()
    return Requeued(requeued=requeued)
