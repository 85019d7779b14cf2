"""The sandbox processor with its memory in the payments database.

A real processor remembers authorizations and idempotency keys on its side, whichever of
our replicas calls it and across our restarts. The sandbox gets the same: each call reads
what it needs from `sandbox_memory`, and what it learnt is written back in the caller's
transaction (a rolled-back call is one the processor never saw, and the retry with the
same idempotency key runs again).

The rows are read locked, once per transaction: a consumer batch reads the memory of every
key its handlers will send in one statement (`load_memory`), and a call whose keys were not
read reads them itself. What the calls learnt is written when the transaction commits, in
one statement for them all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import String, any_, bindparam, event, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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
from shared.db import per_transaction
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


Memory = tuple[str, dict[str, Any]]
"""What the sandbox remembers of one key: the kind of memory and its state."""

_WRITES_AT_COMMIT = "payments.sandbox_memory_written_at_commit"
WRITE_MEMORY = text(
    "INSERT INTO sandbox_memory (key, kind, state) "
    "SELECT * FROM unnest(CAST(:keys AS varchar[]), CAST(:kinds AS varchar[]), "
    "CAST(:states AS jsonb[])) "
    "ON CONFLICT (key) DO UPDATE SET state = excluded.state"
)


async def load_memory(session: AsyncSession, keys: Iterable[str]) -> None:
    """Read and lock what the sandbox remembers of these keys for this transaction."""
    known = _known(session)
    wanted = sorted(set(keys) - known.keys())
    if not wanted:
        return
    rows = await session.execute(
        select(SandboxMemory.key, SandboxMemory.kind, SandboxMemory.state)
        .where(SandboxMemory.key == any_(bindparam("keys", wanted, type_=ARRAY(String))))
        .order_by(SandboxMemory.key)
        .with_for_update()
    )
    known.update(dict.fromkeys(wanted))
    known.update({key: (kind, state) for key, kind, state in rows})


def _known(session: AsyncSession) -> dict[str, Memory | None]:
    """Key -> its memory as read or learnt in this transaction, None when there is none."""
    return per_transaction(session, "sandbox memory", dict)


def _learnt(session: AsyncSession) -> dict[str, Memory]:
    """What this transaction's calls taught the sandbox, written when it commits."""
    learnt = per_transaction(session, "sandbox memory learnt", dict)
    if _WRITES_AT_COMMIT not in session.info:
        session.info[_WRITES_AT_COMMIT] = True
        event.listen(session.sync_session, "before_commit", partial(_write, learnt))
    return learnt


def _write(learnt: dict[str, Memory], session: Session) -> None:
    """One statement for all that a batch's calls learnt."""
    if not learnt:
        return
    keys = sorted(learnt)
    session.connection().execute(
        WRITE_MEMORY,
        {
            "keys": keys,
            "kinds": [learnt[key][0] for key in keys],
            "states": [json.dumps(learnt[key][1]) for key in keys],
        },
    )
    learnt.clear()


class StoredSandbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._known = _known(session)
        self._learnt = _learnt(session)

    async def submit(self, request: GatewayRequest) -> GatewayResponse:
        keys = [request.idempotency_key]
        if request.authorization_reference:
            keys.append(request.authorization_reference)
        await load_memory(self._session, keys)
        memories = {key: memory for key in keys if (memory := self._known[key]) is not None}
        records = {key: _record(state) for key, (kind, state) in memories.items() if kind == RECORD}
        authorizations = {
            key: _authorization(state)
            for key, (kind, state) in memories.items()
            if kind == AUTHORIZATION
        }
        sandbox = SandboxGateway(records, authorizations)
        response = sandbox.submit(request)
        for key, record in sandbox.idempotency_records.items():
            self._remember(key, (RECORD, _record_json(record)))
        for key, authorization in sandbox.authorizations.items():
            self._remember(key, (AUTHORIZATION, _authorization_json(authorization)))
        return response

    def _remember(self, key: str, memory: Memory) -> None:
        if self._known.get(key) != memory:
            self._known[key] = memory
            self._learnt[key] = memory
