"""Partner API keys: only a SHA-256 hash is stored; the key is shown once, at creation.

Every request presents a key, so the key -> partner answer is remembered in process for
`KEY_CACHE_SECONDS`: a key revoked (`api_keys.revoked_at` set) is refused by every replica at
most that long after the revocation commits (plus the time of a request already in flight).
Unknown and revoked keys are never remembered, so a new key works at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.tables import ApiKey, Partner

KEY_PREFIX = "ehub_sk_"
KEY_CACHE_SECONDS = 2.0
KEY_CACHE_ENTRIES = 10_000


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


class PartnerKeys:
    """Which partner an API key belongs to, remembered for `ttl` seconds per key.

    At most `max_entries` keys are remembered; beyond that the one looked up longest ago
    is forgotten first.
    """

    def __init__(
        self,
        ttl: float = KEY_CACHE_SECONDS,
        max_entries: int = KEY_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._partners: dict[str, tuple[uuid.UUID, float]] = {}

    async def partner_id(self, session: AsyncSession, key: str) -> uuid.UUID | None:
        """The partner of an unrevoked `key`, or None."""
        key_hash = hash_key(key)
        now = self._clock()
        remembered = self._partners.pop(key_hash, None)
        if remembered is not None and remembered[1] > now:
            self._partners[key_hash] = remembered
            return remembered[0]
        partner_id = await session.scalar(
            select(ApiKey.partner_id).where(
                ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
            )
        )
        if partner_id is not None:
            if len(self._partners) >= self._max_entries:
                del self._partners[next(iter(self._partners))]
            self._partners[key_hash] = (partner_id, now + self._ttl)
        return partner_id
