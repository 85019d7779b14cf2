"""Partner API v1, keys: list them (never the key itself), create another, revoke one.

Rotation without downtime: create a second key, move the clients to it, revoke the first.
A revoked key is refused at once by the replica that revoked it and within
`KEY_CACHE_SECONDS` by every other.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from services.orders.partner_auth import PartnerIdDep, PartnerRoute, partner_keys
from services.orders.partners import (
    MAX_ACTIVE_KEYS,
    KeyLimitReached,
    LastActiveKey,
    issue_key,
    list_keys,
    revoke_key,
)
from services.orders.tables import ApiKey
from shared.problems import ProblemError
from shared.service import UnitOfWorkDep

router = APIRouter(tags=["keys"], route_class=PartnerRoute)


class KeyOut(BaseModel):
    id: uuid.UUID
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="Within about a minute: written at most once a minute per key"
    )
    revoked_at: datetime | None


class NewKey(KeyOut):
    key: str = Field(description="Shown once, now: only a hash of it is kept")


def _key_out(key: ApiKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get("/keys", response_model=list[KeyOut], summary="Your API keys, oldest first")
async def get_keys(partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> list[KeyOut]:
    return [_key_out(key) for key in await list_keys(uow.session, partner_id)]


@router.post(
    "/keys",
    status_code=201,
    response_model=NewKey,
    summary=f"Create another API key (at most {MAX_ACTIVE_KEYS} active at once)",
)
async def create_key(partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> NewKey:
    try:
        key, secret = await issue_key(uow.session, partner_id)
    except KeyLimitReached as refusal:
        raise ProblemError(409, "key-limit-reached", str(refusal)) from None
    await uow.commit()
    return NewKey(**_key_out(key).model_dump(), key=secret)


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    summary="Revoke a key: refused everywhere within seconds; your last active key stays",
)
async def delete_key(key_id: uuid.UUID, partner_id: PartnerIdDep, uow: UnitOfWorkDep) -> Response:
    try:
        key = await revoke_key(uow.session, partner_id, key_id)
    except LastActiveKey as refusal:
        raise ProblemError(409, "last-active-key", f"{refusal}: create another first") from None
    if key is None:
        raise ProblemError(404, "key-not-found", f"No key {key_id} for this partner")
    await uow.commit()
    partner_keys.forget(key_id)
    return Response(status_code=204)
