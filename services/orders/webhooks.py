"""Signed webhooks: the partner hears of every step of its orders.

Deliveries follow the Standard Webhooks scheme: headers `webhook-id`, `webhook-timestamp`
and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body" with the secret>`.
A delivery row is written in the same transaction as the timeline entry it announces, and
a background job posts due rows, retrying with exponential backoff until the partner
answers 2xx or the attempts run out.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.settings import OrdersSettings
from services.orders.tables import Order, Partner, WebhookDelivery
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=2)
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def is_public_address(address: str) -> bool:
    """Whether a partner's URL may resolve here: never to our own or an internal network."""
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


async def _refused_target(url: str) -> str | None:
    """Why `url` must not be called (it resolves to a non-public address), or None."""
    host = httpx.URL(url).host
    try:
        resolved = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as error:
        return f"cannot resolve {host}: {error}"
    private = sorted({info[4][0] for info in resolved if not is_public_address(info[4][0])})
    return f"{host} resolves to non-public {', '.join(private)}" if private else None


def retry_delay(attempts: int) -> timedelta:
    return FIRST_RETRY * (2 ** (attempts - 1))


def webhook_payload(
    order_id: uuid.UUID,
    partner_reference: str,
    status: str,
    event_type: str,
    detail: dict[str, Any],
    occurred_at: datetime,
) -> dict[str, Any]:
    """The body a partner receives for one step of one of its orders."""
    return {
        "type": f"order.{event_type}",
        "order_id": str(order_id),
        "partner_reference": partner_reference,
        "status": status,
        "occurred_at": occurred_at.isoformat(),
        "detail": detail,
    }


def announce(session: AsyncSession, order: Order, event_type: str, detail: dict[str, Any]) -> None:
    """Queue a webhook for the order's partner, if it subscribed, in the caller's transaction.

    The order comes with its partner loaded (`joinedload(Order.partner)`): nothing is read here.
    """
    if not order.partner.webhook_url:
        return
    now = datetime.now(UTC)
    session.add(
        WebhookDelivery(
            id=uuid.uuid4(),
            partner_id=order.partner_id,
            order_id=order.id,
            payload=webhook_payload(
                order.id, order.partner_reference, order.status, event_type, detail, now
            ),
            attempts=0,
            next_attempt_at=now,
        )
    )


def webhook_delivery_job(settings: OrdersSettings):
    async def deliver_webhooks(runtime: ServiceRuntime) -> None:
        async with httpx.AsyncClient(timeout=5, follow_redirects=False) as client:
            while True:
                delivered = await _deliver_due(runtime, client, settings.webhook_local_targets)
                if not delivered:
                    await asyncio.sleep(0.5)

    return deliver_webhooks


async def _deliver_due(
    runtime: ServiceRuntime, client: httpx.AsyncClient, local_targets: bool
) -> int:
    async with runtime.units_of_work() as uow:
        due = (
            await uow.session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.delivered_at.is_(None),
                    WebhookDelivery.failed_at.is_(None),
                    WebhookDelivery.next_attempt_at <= datetime.now(UTC),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(20)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for delivery in due:
            partner = await uow.session.get(Partner, delivery.partner_id)
            await _attempt(client, delivery, partner, local_targets)
        await uow.commit()
    return len(due)


async def _attempt(
    client: httpx.AsyncClient,
    delivery: WebhookDelivery,
    partner: Partner | None,
    local_targets: bool,
) -> None:
    now = datetime.now(UTC)
    delivery.attempts += 1
    if partner is None or not partner.webhook_url or not partner.webhook_secret:
        delivery.failed_at = now
        return
    # Checked at every attempt, not at registration: DNS can change between the two.
    refusal = None if local_targets else await _refused_target(partner.webhook_url)
    if refusal is not None:
        delivery.failed_at = now
        delivery.last_error = refusal[:500]
        log.warning("webhook target refused", extra={"delivery_id": str(delivery.id)})
        return
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    message_id = str(delivery.id)
    try:
        response = await client.post(
            partner.webhook_url,
            content=body,
            headers={
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(partner.webhook_secret, message_id, timestamp, body),
            },
        )
        succeeded = 200 <= response.status_code < 300
        delivery.last_error = None if succeeded else f"HTTP {response.status_code}"
    except httpx.HTTPError as error:
        succeeded = False
        delivery.last_error = f"{type(error).__name__}: {error}"[:500]
    if succeeded:
        delivery.delivered_at = now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.failed_at = now
        log.warning(
            "webhook given up", extra={"delivery_id": message_id, "error": delivery.last_error}
        )
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
