"""The sandbox processor with its memory in the payments database.

A real processor remembers authorizations and idempotency keys on its side, whichever of
our replicas calls it and across our restarts. The sandbox gets the same: each call loads
what it needs from `sandbox_memory`, and what it learnt is written back in the caller's
transaction (a rolled-back call is one the processor never saw, and the retry with the
same idempotency key runs again).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.payments.domain.gateway import (
    GatewayOutcome,
    GatewayRequest,
    GatewayResponse,
    IdempotencyRecord,
    SandboxAuthorization,
    SandboxGateway,
)
from services.payments.domain.payment import GatewayOperation
from services.payments.tables import SandboxMemory
from shared.money import Money

RECORD = "idempotency_record"
AUTHORIZATION = "authorization"


def _money(value: dict[str, str] | None) -> Money | None:
    return None if value is None else Money(Decimal(value["amount"]), value["currency"])


def _money_json(money: Money | None) -> dict[str, str] | None:
    return None if money is None else {"amount": str(money.amount), "currency": money.currency}


def _request_json(request: GatewayRequest) -> dict[str, Any]:
    return {
        "operation": request.operation.value,
        "idempotency_key": request.idempotency_key,
        "token": request.token,
        "amount": _money_json(request.amount),
        "authorization_reference": request.authorization_reference,
    }


def _record_json(record: IdempotencyRecord) -> dict[str, Any]:
    response = record.response
    return {
        "request": _request_json(record.request),
        "attempts": record.attempts,
        "response": None
        if response is None
        else {
            "outcome": response.outcome.value,
            "reason": response.reason,
            "gateway_reference": response.gateway_reference,
        },
    }


def _record(state: dict[str, Any]) -> IdempotencyRecord:
    request = state["request"]
    response = state["response"]
    return IdempotencyRecord(
        request=GatewayRequest(
            operation=GatewayOperation(request["operation"]),
            idempotency_key=request["idempotency_key"],
            token=request["token"],
            amount=_money(request["amount"]),
            authorization_reference=request["authorization_reference"],
        ),
        attempts=state["attempts"],
        response=None
        if response is None
        else GatewayResponse(
            GatewayOutcome(response["outcome"]), response["reason"], response["gateway_reference"]
        ),
    )


def _authorization_json(authorization: SandboxAuthorization) -> dict[str, Any]:
    return {
        "token": authorization.token,
        "amount": _money_json(authorization.amount),
        "refunded": _money_json(authorization.refunded),
        "captured": _money_json(authorization.captured),
        "voided": authorization.voided,
    }


def _authorization(state: dict[str, Any]) -> SandboxAuthorization:
    return SandboxAuthorization(
        token=state["token"],
        amount=_money(state["amount"]),
        refunded=_money(state["refunded"]),
        captured=_money(state["captured"]),
        voided=state["voided"],
    )


class StoredSandbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def submit(self, request: GatewayRequest) -> GatewayResponse:
        keys = [request.idempotency_key, request.authorization_reference or ""]
        rows = (
            await self._session.scalars(
                select(SandboxMemory).where(SandboxMemory.key.in_(keys)).with_for_update()
            )
        ).all()
        records = {row.key: _record(row.state) for row in rows if row.kind == RECORD}
        authorizations = {
            row.key: _authorization(row.state) for row in rows if row.kind == AUTHORIZATION
        }
        sandbox = SandboxGateway(records, authorizations)
        response = sandbox.submit(request)
        for key, record in sandbox.idempotency_records.items():
            await self._remember(key, RECORD, _record_json(record))
        for key, authorization in sandbox.authorizations.items():
            await self._remember(key, AUTHORIZATION, _authorization_json(authorization))
        return response

    async def _remember(self, key: str, kind: str, state: dict[str, Any]) -> None:
        await self._session.execute(
            insert(SandboxMemory)
            .values(key=key, kind=kind, state=state)
            .on_conflict_do_update(index_elements=[SandboxMemory.key], set_={"state": state})
        )
