"""Partner API keys: only a SHA-256 hash is stored; the key is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.tables import ApiKey, Partner

KEY_PREFIX = "ehub_sk_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_partner(session: AsyncSession, name: str) -> tuple[Partner, str]:
    """Create (or reuse) a partner by name and issue it a new API key."""
    partner = await session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        partner = Partner(id=uuid.uuid4(), name=name)
        session.add(partner)
        await session.flush()
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(partner_id=partner.id, key_hash=hash_key(key), prefix=key[:12]))
    await session.flush()
    return partner, key


async def partner_for_key(session: AsyncSession, key: str) -> Partner | None:
    return await session.scalar(
        select(Partner)
        .join(ApiKey, ApiKey.partner_id == Partner.id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    )
