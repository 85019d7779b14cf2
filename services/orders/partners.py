"""Partner API keys: only a SHA-256 hash is stored; the key is shown once, at creation.

Every request presents a key, so the key -> partner answer (with the partner's quota) is
remembered in process for `KEY_CACHE_SECONDS`: a key revoked (`api_keys.revoked_at` set) is
refused by every replica at most that long after the revocation commits (plus the time of a
request already in flight), and at once by the replica that revoked it. Unknown and revoked
keys are never remembered, so a new key works at once. Requests that miss the cache for one
key at the same moment (its entry just expired, hundreds in flight under load) share one
lookup rather than each sending its own.

A partner may hold several keys (`MAX_ACTIVE_KEYS`): rotation is create, switch, revoke,
with no moment without a working key. `last_used_at` is written by the upkeep job, at most
once per `LAST_USED_RESOLUTION` per key and replica, never by the request itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.orders.rate_limits import DEFAULT_QUOTA, Quota, RateLimiter
from services.orders.settings import OrdersSettings
from services.orders.tables import ApiKey, OrdersReplica, Partner
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

KEY_PREFIX = "ehub_sk_"
KEY_CACHE_SECONDS = 2.0
KEY_CACHE_ENTRIES = 10_000
MAX_ACTIVE_KEYS = 5
LAST_USED_RESOLUTION = 60.0
# Replicas beat every UPKEEP_SECONDS and count as live for REPLICA_LIVENESS after their last.
UPKEEP_SECONDS = 1.0
REPLICA_LIVENESS = timedelta(seconds=5)


class KeyLimitReached(Exception):
    pass


class LastActiveKey(Exception):
    pass


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_partner(session: AsyncSession, name: str) -> tuple[Partner, str]:
    """Create (or reuse) a partner by name and issue it a new API key."""
    partner = await partner_named(session, name)
    if partner is None:
        partner = Partner(id=uuid.uuid4(), name=name)
        session.add(partner)
        await session.flush()
    _, key = await issue_key(session, partner.id, enforce_limit=False)
    return partner, key


async def partner_named(session: AsyncSession, name: str) -> Partner | None:
    return await session.scalar(select(Partner).where(Partner.name == name))


async def issue_key(
    session: AsyncSession, partner_id: uuid.UUID, *, enforce_limit: bool = True
) -> tuple[ApiKey, str]:
    """A new key for the partner: (its row, the key itself, never stored)."""
    if enforce_limit:
        # The partner row is locked so that two concurrent creations count each other.
        await session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
        active = await session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.partner_id == partner_id, ApiKey.revoked_at.is_(None))
        )
        if active >= MAX_ACTIVE_KEYS:
            raise KeyLimitReached(f"a partner holds at most {MAX_ACTIVE_KEYS} active keys")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=uuid.uuid4(),
        partner_id=partner_id,
        key_hash=hash_key(key),
        prefix=key[:12],
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return row, key


async def list_keys(session: AsyncSession, partner_id: uuid.UUID) -> list[ApiKey]:
    return list(
        await session.scalars(
            select(ApiKey)
            .where(ApiKey.partner_id == partner_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


async def revoke_key(
    session: AsyncSession, partner_id: uuid.UUID, key_id: uuid.UUID, *, keep_one: bool = True
) -> ApiKey | None:
    """Revoke one of the partner's keys (None if it has no such key). With `keep_one`, the
    partner's last active key is refused (`LastActiveKey`): it would lock itself out."""
    await session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    key = await session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.partner_id == partner_id)
    )
    if key is None:
        return None
    if key.revoked_at is None:
        if keep_one:
            others = await session.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(
                    ApiKey.partner_id == partner_id,
                    ApiKey.revoked_at.is_(None),
                    ApiKey.id != key_id,
                )
            )
            if not others:
                raise LastActiveKey("the partner's last active key cannot be revoked")
        key.revoked_at = datetime.now(UTC)
        await session.flush()
    return key


@dataclass(frozen=True)
class KeyGrant:
    """What a valid key gives: whose it is, and the quota it spends."""

    key_id: uuid.UUID
    partner_id: uuid.UUID
    quota: Quota


_LOOKUP = (
    select(ApiKey.id, ApiKey.partner_id, Partner.rate_limit_per_second, Partner.rate_limit_burst)
    .join(Partner, Partner.id == ApiKey.partner_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


class PartnerKeys:
    """Which partner an API key belongs to, remembered for `ttl` seconds per key; the
    process's rate limiter and the keys' last use, for the upkeep job to write.

    At most `max_entries` keys are remembered; beyond that the one looked up longest ago
    is forgotten first.
    """

    def __init__(
        self,
        ttl: float = KEY_CACHE_SECONDS,
        max_entries: int = KEY_CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        default_quota: Quota | None = None,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._grants: dict[str, tuple[KeyGrant, float]] = {}
        self._lookups: dict[str, asyncio.Future[KeyGrant | None]] = {}
        self.default_quota = default_quota or DEFAULT_QUOTA
        self.limiter = RateLimiter(clock)
        self._used_written: dict[uuid.UUID, float] = {}
        self.used: dict[uuid.UUID, datetime] = {}

    async def grant(self, database: AsyncEngine, key: str) -> KeyGrant | None:
        """What an unrevoked `key` grants, or None. A lookup reads on a connection of its
        own, outside the request's unit of work."""
        key_hash = hash_key(key)
        now = self._clock()
        grant = self._remembered(key_hash, now) or await self._shared_lookup(database, key_hash)
        if grant is None:
            return None
        if (
            now - self._used_written.get(grant.key_id, -LAST_USED_RESOLUTION)
            >= LAST_USED_RESOLUTION
        ):
            self._used_written[grant.key_id] = now
            self.used[grant.key_id] = datetime.now(UTC)
        return grant

    def _remembered(self, key_hash: str, now: float) -> KeyGrant | None:
        """The cached grant of `key_hash` if still fresh, made the most recently used."""
        remembered = self._grants.pop(key_hash, None)
        if remembered is None or remembered[1] <= now:
            return None
        self._grants[key_hash] = remembered
        return remembered[0]

    async def _shared_lookup(self, database: AsyncEngine, key_hash: str) -> KeyGrant | None:
        """The database's answer for `key_hash`, from the lookup in flight for it if there is
        one (when that one fails, this request asks for itself), remembered if a grant."""
        while (in_flight := self._lookups.get(key_hash)) is not None:
            await asyncio.wait([in_flight])
            if not in_flight.cancelled():
                return in_flight.result()
            # Another waiter's own lookup may have answered meanwhile.
            remembered = self._remembered(key_hash, self._clock())
            if remembered is not None:
                return remembered
        answer: asyncio.Future[KeyGrant | None] = asyncio.get_running_loop().create_future()
        self._lookups[key_hash] = answer
        try:
            grant = await self._lookup(database, key_hash)
        except BaseException:
            answer.cancel()
            raise
        finally:
            if self._lookups.get(key_hash) is answer:
                del self._lookups[key_hash]
        answer.set_result(grant)
        if grant is not None:
            if len(self._grants) >= self._max_entries:
                del self._grants[next(iter(self._grants))]
            self._grants[key_hash] = (grant, self._clock() + self._ttl)
        return grant

    async def _lookup(self, database: AsyncEngine, key_hash: str) -> KeyGrant | None:
        async with database.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            row = (await connection.execute(_LOOKUP, {"key_hash": key_hash})).first()
        if row is None:
            return None
        return KeyGrant(
            row.id,
            row.partner_id,
            Quota(
                row.rate_limit_per_second or self.default_quota.rate,
                row.rate_limit_burst or self.default_quota.burst,
            ),
        )

    async def partner_id(self, database: AsyncEngine, key: str) -> uuid.UUID | None:
        """The partner of an unrevoked `key`, or None."""
        grant = await self.grant(database, key)
        return None if grant is None else grant.partner_id

    def forget(self, key_id: uuid.UUID) -> None:
        """Refuse a key revoked here at once, not after the cache's ttl."""
        self._grants = {h: entry for h, entry in self._grants.items() if entry[0].key_id != key_id}


def partner_upkeep_job(keys: PartnerKeys, settings: OrdersSettings):
    """Every `UPKEEP_SECONDS`: this replica's heartbeat and the count of live replicas (for
    the rate limiter's shares), and the keys' last use."""

    async def partner_upkeep(runtime: ServiceRuntime) -> None:
        keys.default_quota = Quota(settings.partner_rate_per_second, settings.partner_rate_burst)
        replica_id = uuid.uuid4()
        try:
            while True:
                await _beat(runtime, keys, replica_id)
                await asyncio.sleep(UPKEEP_SECONDS)
        finally:
            async with runtime.units_of_work() as uow:
                await uow.session.execute(
                    delete(OrdersReplica).where(OrdersReplica.id == replica_id)
                )
                await uow.commit()

    return partner_upkeep


async def _beat(runtime: ServiceRuntime, keys: PartnerKeys, replica_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    used, keys.used = keys.used, {}
    async with runtime.units_of_work() as uow:
        session = uow.session
        await session.execute(
            insert(OrdersReplica)
            .values(id=replica_id, seen_at=now)
            .on_conflict_do_update(index_elements=[OrdersReplica.id], set_={"seen_at": now})
        )
        await session.execute(
            delete(OrdersReplica).where(OrdersReplica.seen_at < now - 10 * REPLICA_LIVENESS)
        )
        live = await session.scalar(
            select(func.count())
            .select_from(OrdersReplica)
            .where(OrdersReplica.seen_at >= now - REPLICA_LIVENESS)
        )
        if used:
            await session.execute(
                update(ApiKey), [{"id": key_id, "last_used_at": at} for key_id, at in used.items()]
            )
        await uow.commit()
    keys.limiter.replicas = max(1, live or 1)
