"""Calls the payment gateway with retries; safe because every retry reuses its idempotency key."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from services.payments.domain.gateway import GatewayRequest, GatewayResponse
from services.payments.domain.retry import RetryPolicy

log = logging.getLogger(__name__)

Submit = Callable[[GatewayRequest], Awaitable[GatewayResponse]]


class GatewayClient:
    def __init__(self, submit: Submit, policy: RetryPolicy, jitter: random.Random) -> None:
        self._submit = submit
        self._policy = policy
        self._jitter = jitter

    async def submit(self, request: GatewayRequest) -> GatewayResponse:
        """The processor's definitive answer, or its last transient failure once retries ran out."""
        attempt = 1
        while True:
            response = await self._submit(request)
            if not response.is_transient:
                return response
            delay = self._policy.delay_after(attempt, self._jitter.random)
            log.warning(
                "transient gateway failure",
                extra={
                    "operation": request.operation.value,
                    "idempotency_key": request.idempotency_key,
                    "attempt": attempt,
                    "reason": response.reason,
                },
            )
            if delay is None:
                return response
            await asyncio.sleep(delay.total_seconds())
            attempt += 1
