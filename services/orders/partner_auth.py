"""Who is calling, and whether they may now: the partner of the request's API key
(`Authorization: Bearer <key>`), within the key's rate limit.

Every partner route is a `PartnerRoute`: its response carries the `RateLimit` and
`RateLimit-Policy` fields of the request's key, and a request over the limit is answered
429 with `Retry-After`, before the route runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute

from services.orders.partners import KeyGrant, PartnerKeys
from services.orders.rate_limits import Decision
from shared.problems import PROBLEM_JSON, Problem, ProblemError, problem_response
from shared.service import UnitOfWorkDep

partner_keys = PartnerKeys()

_DECISION = "rate_limit"


class RateLimited(Exception):
    def __init__(self, decision: Decision) -> None:
        super().__init__("rate limit exceeded")
        self.decision = decision


async def current_grant(
    request: Request,
    uow: UnitOfWorkDep,
    authorization: Annotated[str | None, Header(description="Bearer <partner API key>")] = None,
) -> KeyGrant:
    scheme, _, key = (authorization or "").partition(" ")
    grant = (
        await partner_keys.grant(uow.database, key) if scheme.lower() == "bearer" and key else None
    )
    if grant is None:
        raise ProblemError(
            401,
            "unauthorized",
            "A valid partner API key is required: Authorization: Bearer <api key>",
        )
    decision = partner_keys.limiter.acquire(grant.key_id, grant.quota)
    if not decision.allowed:
        raise RateLimited(decision)
    request.scope.setdefault("state", {})[_DECISION] = decision
    return grant


current_grant.problem_statuses = (401, 429)  # type: ignore[attr-defined]


async def current_partner_id(grant: Annotated[KeyGrant, Depends(current_grant)]) -> uuid.UUID:
    return grant.partner_id


PartnerIdDep = Annotated[uuid.UUID, Depends(current_partner_id)]
KeyGrantDep = Annotated[KeyGrant, Depends(current_grant)]

_RATE_HEADERS = {
    "RateLimit": {
        "description": 'The key\'s remaining quota, e.g. `"partner";r=42;t=1` (IETF HTTPAPI '
        "draft): r requests left now, t seconds until the quota is whole again",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": 'The key\'s quota, e.g. `"partner";q=2000;w=2`: q requests per w seconds',
        "schema": {"type": "string"},
    },
}

RATE_LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": "Too many requests for this key: retry after `Retry-After` seconds",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
            **_RATE_HEADERS,
        },
    },
}


class PartnerRoute(APIRoute):
    """A partner route: answers 429 over the key's limit, and publishes the limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        responses = dict(kwargs.pop("responses", None) or {})
        for status, documented in RATE_LIMITED_RESPONSES.items():
            responses.setdefault(status, documented)
        super().__init__(*args, responses=responses, **kwargs)
        self.responses.setdefault(self.status_code or 200, {}).setdefault("headers", _RATE_HEADERS)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_within_limit(request: Request) -> Response:
            try:
                response = await handle(request)
            except RateLimited as refusal:
                return problem_response(
                    request,
                    429,
                    "rate-limited",
                    f"This key may send {refusal.decision.quota.rate:g} requests per second, "
                    f"{refusal.decision.quota.burst} at once; retry after "
                    f"{refusal.decision.retry_after_seconds} s",
                    headers=refusal.decision.headers(),
                )
            decision: Decision | None = request.scope.get("state", {}).get(_DECISION)
            if decision is not None:
                response.headers.update(decision.headers())
            return response

        return handle_within_limit
