"""Signed webhooks: the partner hears of every step of its orders.

Deliveries follow Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`,
signed with the `standardwebhooks` package). A delivery row is written in the same
transaction as the timeline entry it announces, bound to the partner's current endpoint
(its URL and secret); the engine below posts due rows and logs every attempt.

Isolation: each endpoint is drained by a worker of its own, with its own connection pool
and at most `webhook_concurrency_per_endpoint` attempts in flight, so a receiver that
sleeps or never answers holds only its own partner's deliveries. A worker claims a batch
under a lease (`next_attempt_at` moved past the attempt's timeout) in a short transaction,
posts outside any transaction and records the outcomes in another: no row lock and no
database connection is held while a partner's server thinks. Another replica's worker
skips the leased rows; a process that dies mid-attempt leaves them due at the lease's end.
An outcome is recorded on the delivery only while its lease stands: a delivery the partner
asked to have sent again while it was in flight stays due (the attempt is logged either way).

Addresses: the host is resolved once per batch, every address must be public
(`webhook_policy.refusal`), and the connection goes to the address that was checked, with
the URL's host in `Host` and TLS SNI (and certificate checks): DNS cannot rebind between the
check and the connection. Redirects are never followed; a 3xx is a failed attempt.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import webhook_policy
from services.orders.settings import OrdersSettings
from services.orders.tables import (
    Order,
    Partner,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from shared.messaging.unit_of_work import UnitOfWork
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
# A worker claims up to this many rounds of its endpoint's concurrency at once: fewer
# transactions per delivery when a partner has many due.
CLAIM_ROUNDS = 8
# Beyond the claimed rounds' timeouts, before a claimed delivery is due again.
LEASE_MARGIN = timedelta(seconds=5)
ERROR_LENGTH = 500

Resolver = Callable[[str, int], Awaitable[list[str]]]

PENDING = (WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None))


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


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


def announce(uow: UnitOfWork, order: Order, event_type: str, detail: dict[str, Any]) -> None:
    """Queue a webhook for the order's partner, if it subscribed, in the caller's transaction.

    The order comes with its partner loaded (`joinedload(Order.partner)`): nothing is read here.
    """
    endpoint_id = order.partner.webhook_endpoint_id
    if endpoint_id is None:
        return
    now = datetime.now(UTC)
    uow.insert_at_commit(
        WebhookDelivery.__table__,
        {
            "id": uuid.uuid4(),
            "partner_id": order.partner_id,
            "endpoint_id": endpoint_id,
            "order_id": order.id,
            "payload": webhook_payload(
                order.id, order.partner_reference, order.status, event_type, detail, now
            ),
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        },
    )


async def resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _local(host: str) -> bool:
    """A loopback address, or a name RFC 6761 reserves (never delegated: no public DNS
    server is asked for it)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith((".localhost", ".test"))


async def pinned_address(
    url: httpx.URL, local_targets: bool, resolver: Resolver = resolve
) -> tuple[str | None, str | None]:
    """(the address to connect to, None) or (None, why the URL must not be called)."""
    if local_targets and not _local(url.host):
        # A local stack or test delivers to this machine only, and looks up no public name.
        return None, f"{url.host} is not a loopback address; a local stack delivers to none else"
    try:
        addresses = await resolver(url.host, url.port or (443 if url.scheme == "https" else 80))
    except OSError as error:
        return None, f"cannot resolve {url.host}: {error}"
    if local_targets:
        outside = [address for address in addresses if not _local(address.split("%", 1)[0])]
        refusal = f"{url.host} resolves beyond loopback ({outside[0]})" if outside else None
    else:
        refusal = webhook_policy.target_refusal(url.host, addresses)
    if refusal is not None:
        return None, refusal
    if not addresses:
        return None, f"{url.host} resolves to no address"
    return addresses[0].split("%", 1)[0], None


@dataclass(frozen=True)
class Outcome:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


async def send(
    client: httpx.AsyncClient,
    url: httpx.URL,
    address: str,
    body: bytes,
    headers: dict[str, str],
) -> Outcome:
    """POST `body` to `url` over a connection to `address`, the one that was checked."""
    pinned = url.copy_with(host=address)
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        response = await client.post(
            pinned,
            content=body,
            headers={**headers, "host": url.netloc.decode("ascii")},
            extensions=extensions,
        )
    except httpx.HTTPError as error:
        elapsed = round((time.perf_counter() - started) * 1000)
        error_text = f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
        return Outcome(attempted_at, None, elapsed, error_text)
    elapsed = round((time.perf_counter() - started) * 1000)
    succeeded = 200 <= response.status_code < 300
    return Outcome(
        attempted_at,
        response.status_code,
        elapsed,
        None if succeeded else f"HTTP {response.status_code}",
    )


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    payload: dict[str, Any]
    attempts: int
    lease_until: datetime


@dataclass(frozen=True)
class Target:
    """An endpoint as a batch sees it: where to post and with which secrets to sign."""

    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    secrets: list[str]


# Executed per batch on the connection (Core executemany), as the ORM's bulk UPDATE by
# primary key takes no further condition.
RECORD_UNDER_LEASE = update(WebhookDelivery.__table__).where(
    WebhookDelivery.id == bindparam("claimed_id"),
    WebhookDelivery.next_attempt_at == bindparam("lease_until"),
)


class WebhookEngine:
    """Finds endpoints with due deliveries and keeps one worker per endpoint draining them."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        settings: OrdersSettings,
        resolver: Resolver = resolve,
    ) -> None:
        self._runtime = runtime
        self._settings = settings
        self._resolver = resolver
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def run(self) -> None:
        try:
            while True:
                for endpoint_id in await self._due_endpoints():
                    if endpoint_id not in self._workers:
                        self._start_worker(endpoint_id)
                await asyncio.sleep(self._settings.webhook_poll_seconds)
        finally:
            for worker in self._workers.values():
                worker.cancel()
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    def _start_worker(self, endpoint_id: uuid.UUID) -> None:
        worker = asyncio.create_task(self._drain(endpoint_id), name=f"webhooks-{endpoint_id}")
        self._workers[endpoint_id] = worker

        def done(task: asyncio.Task[None]) -> None:
            self._workers.pop(endpoint_id, None)
            if not task.cancelled() and task.exception() is not None:
                log.error(
                    "webhook worker failed; the next poll starts another",
                    exc_info=task.exception(),
                    extra={"endpoint_id": str(endpoint_id)},
                )

        worker.add_done_callback(done)

    async def _due_endpoints(self) -> list[uuid.UUID]:
        async with self._runtime.units_of_work() as uow:
            return list(
                await uow.session.scalars(
                    select(WebhookDelivery.endpoint_id)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        *PENDING,
                        WebhookDelivery.next_attempt_at <= datetime.now(UTC),
                        WebhookEndpoint.disabled_at.is_(None),
                    )
                    .distinct()
                )
            )

    async def _drain(self, endpoint_id: uuid.UUID) -> None:
        settings = self._settings
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would connect elsewhere
            limits=httpx.Limits(max_connections=settings.webhook_concurrency_per_endpoint),
        ) as client:
            in_flight = asyncio.Semaphore(settings.webhook_concurrency_per_endpoint)

            async def post(target: Target, url: httpx.URL, address: str, claimed: Claimed):
                async with in_flight:
                    return await self._post(client, target, url, address, claimed)

            while True:
                claim = await self._claim(endpoint_id)
                if claim is None:
                    return
                target, batch = claim
                url = httpx.URL(target.url)
                address, refusal = await pinned_address(
                    url, settings.webhook_local_targets, self._resolver
                )
                if refusal is not None:
                    log.warning("webhook target refused", extra={"endpoint_id": str(target.id)})
                    now = datetime.now(UTC)
                    outcomes = [Outcome(now, None, 0, refusal[:ERROR_LENGTH]) for _ in batch]
                else:
                    assert address is not None
                    outcomes = await asyncio.gather(
                        *(post(target, url, address, claimed) for claimed in batch)
                    )
                await self._record(target, batch, outcomes)

    async def _claim(self, endpoint_id: uuid.UUID) -> tuple[Target, list[Claimed]] | None:
        now = datetime.now(UTC)
        rounds = timedelta(seconds=self._settings.webhook_timeout_seconds) * CLAIM_ROUNDS
        lease_until = now + rounds + LEASE_MARGIN
        async with self._runtime.units_of_work() as uow:
            endpoint = await uow.session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint.disabled_at is not None:
                return None
            due = (
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.endpoint_id == endpoint_id,
                    *PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(self._settings.webhook_concurrency_per_endpoint * CLAIM_ROUNDS)
                .with_for_update(skip_locked=True)
                .cte("due")
            )
            rows = (
                await uow.session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(select(due.c.id)))
                    .values(next_attempt_at=lease_until)
                    .returning(
                        WebhookDelivery.id, WebhookDelivery.payload, WebhookDelivery.attempts
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            await uow.commit()
        if not rows:
            return None
        target = Target(
            endpoint.id,
            endpoint.partner_id,
            endpoint.url,
            webhook_policy.secrets_in_force(
                endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_until, now
            ),
        )
        return target, [Claimed(row.id, row.payload, row.attempts, lease_until) for row in rows]

    async def _post(
        self,
        client: httpx.AsyncClient,
        target: Target,
        url: httpx.URL,
        address: str,
        claimed: Claimed,
    ) -> Outcome:
        body = json.dumps(claimed.payload, separators=(",", ":")).encode()
        now = datetime.now(UTC)
        message_id = str(claimed.id)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook_policy.signature_header(
                target.secrets, message_id, now, body
            ),
        }
        return await send(client, url, address, body, headers)

    async def _record(self, target: Target, batch: list[Claimed], outcomes: list[Outcome]) -> None:
        settings = self._settings
        now = datetime.now(UTC)
        first_retry = timedelta(seconds=settings.webhook_first_retry_seconds)
        deliveries, attempts = [], []
        for claimed, outcome in zip(batch, outcomes, strict=True):
            attempt_count = claimed.attempts + 1
            given_up = not outcome.succeeded and attempt_count >= settings.webhook_max_attempts
            next_retry = (
                None
                if outcome.succeeded or given_up
                else now + webhook_policy.retry_delay(attempt_count, first_retry)
            )
            deliveries.append(
                {
                    "claimed_id": claimed.id,
                    "lease_until": claimed.lease_until,
                    "attempts": attempt_count,
                    "delivered_at": now if outcome.succeeded else None,
                    "failed_at": now if given_up else None,
                    "next_attempt_at": next_retry or now,
                    "last_error": outcome.error,
                }
            )
            attempts.append(
                {
                    "delivery_id": claimed.id,
                    "attempted_at": outcome.attempted_at,
                    "url": target.url,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "error": outcome.error,
                    "next_retry_at": next_retry,
                }
            )
            if given_up:
                log.warning(
                    "webhook given up",
                    extra={"delivery_id": str(claimed.id), "error": outcome.error},
                )
        async with self._runtime.units_of_work() as uow:
            session = uow.session
            await (await session.connection()).execute(RECORD_UNDER_LEASE, deliveries)
            await session.execute(insert(WebhookAttempt), attempts)
            endpoint = await session.get(WebhookEndpoint, target.id, with_for_update=True)
            assert endpoint is not None, "endpoints are never deleted"
            if any(outcome.succeeded for outcome in outcomes):
                endpoint.failing_since = None
            else:
                endpoint.failing_since = endpoint.failing_since or now
                disable_after = timedelta(seconds=settings.webhook_disable_after_seconds)
                if endpoint.disabled_at is None and webhook_policy.should_disable(
                    endpoint.failing_since, now, disable_after
                ):
                    endpoint.disabled_at = now
                    notice = webhook_policy.disabled_notice(
                        endpoint.url, endpoint.failing_since, now
                    )
                    await session.execute(
                        update(Partner)
                        .where(Partner.id == target.partner_id)
                        .values(webhook_notice=notice[:ERROR_LENGTH])
                    )
                    log.warning("webhook endpoint disabled", extra={"endpoint_id": str(target.id)})
            await uow.commit()


def webhook_delivery_job(settings: OrdersSettings):
    async def deliver_webhooks(runtime: ServiceRuntime) -> None:
        await WebhookEngine(runtime, settings).run()

    return deliver_webhooks


async def requeue(
    session: AsyncSession,
    partner_id: uuid.UUID,
    *conditions: Any,
    retarget_to: uuid.UUID | None = None,
) -> int:
    """Send the partner's deliveries matching `conditions` again, now, with a fresh series
    of attempts (their log keeps the earlier ones); to `retarget_to` if given, else to the
    endpoint each was created for."""
    values: dict[str, Any] = {
        "delivered_at": None,
        "failed_at": None,
        "attempts": 0,
        "next_attempt_at": func.now(),
    }
    if retarget_to is not None:
        values["endpoint_id"] = retarget_to
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.partner_id == partner_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
