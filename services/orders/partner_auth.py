"""Who is calling: the partner of the request's API key (`Authorization: Bearer <key>`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header

from services.orders.partners import PartnerKeys
from shared.problems import ProblemError
from shared.service import UnitOfWorkDep

partner_keys = PartnerKeys()


async def current_partner_id(
    uow: UnitOfWorkDep,
    authorization: Annotated[str | None, Header(description="Bearer <partner API key>")] = None,
) -> uuid.UUID:
    scheme, _, key = (authorization or "").partition(" ")
    partner_id = (
        await partner_keys.partner_id(uow.session, key)
        if scheme.lower() == "bearer" and key
        else None
    )
    if partner_id is None:
        raise ProblemError(
            401,
            "unauthorized",
            "A valid partner API key is required: Authorization: Bearer <api key>",
        )
    return partner_id


PartnerIdDep = Annotated[uuid.UUID, Depends(current_partner_id)]
