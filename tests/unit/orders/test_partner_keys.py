"""The API key -> partner cache: no database round trip per request, revocation within seconds."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

from services.orders.partners import (
    KEY_CACHE_SECONDS,
    LAST_USED_RESOLUTION,
    PartnerKeys,
    hash_key,
)
from services.orders.rate_limits import DEFAULT_QUOTA, Quota


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ApiKeysTable:
    """Stands in for the engine and its connection: answers the key lookup from a dict of
    unrevoked keys."""

    def __init__(self, partners: dict[str, uuid.UUID], quota: tuple[int, int] | None = None):
        self.partners = partners
        self.quota = quota or (None, None)
        self.key_ids = {key: uuid.uuid4() for key in partners}
        self.lookups = 0
        # While set, a lookup waits for `answering` (as a busy database keeps it waiting).
        self.answering: asyncio.Event | None = None
        self.failures = 0

    def connect(self) -> ApiKeysTable:
        return self

    async def __aenter__(self) -> ApiKeysTable:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pass

    async def execution_options(self, **options: object) -> ApiKeysTable:
        return self

    async def execute(self, statement, parameters):
        self.lookups += 1
        if self.answering is not None:
            await self.answering.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("the database went away")
        return self.Result(self._row(parameters["key_hash"]))

    def _row(self, key_hash: str) -> SimpleNamespace | None:
        for key, partner_id in self.partners.items():
            if hash_key(key) == key_hash:
                key_id = self.key_ids.setdefault(key, uuid.uuid4())
                rate, burst = self.quota
                return SimpleNamespace(
                    id=key_id,
                    partner_id=partner_id,
                    rate_limit_per_second=rate,
                    rate_limit_burst=burst,
                )
        return None

    class Result:
        def __init__(self, row: SimpleNamespace | None) -> None:
            self._row = row

        def first(self) -> SimpleNamespace | None:
            return self._row


async def test_a_known_key_is_looked_up_once_within_the_ttl():
    partner_id = uuid.uuid4()
    table, clock = ApiKeysTable({"ehub_sk_a": partner_id}), Clock()
    keys = PartnerKeys(clock=clock)

    answers = []
    for _ in range(5):
        answers.append(await keys.partner_id(table, "ehub_sk_a"))
        clock.now += KEY_CACHE_SECONDS / 10

    assert answers == [partner_id] * 5
    assert table.lookups == 1


async def test_requests_that_miss_together_share_one_lookup():
    partner_id = uuid.uuid4()
    table = ApiKeysTable({"ehub_sk_a": partner_id})
    table.answering = asyncio.Event()
    keys = PartnerKeys(clock=Clock())

    requests = [asyncio.create_task(keys.partner_id(table, "ehub_sk_a")) for _ in range(50)]
    await asyncio.sleep(0)
    table.answering.set()

    assert await asyncio.gather(*requests) == [partner_id] * 50
    assert table.lookups == 1


async def test_when_the_shared_lookup_fails_the_others_ask_for_themselves():
    partner_id = uuid.uuid4()
    table = ApiKeysTable({"ehub_sk_a": partner_id})
    table.answering, table.failures = asyncio.Event(), 1
    keys = PartnerKeys(clock=Clock())

    first = asyncio.create_task(keys.partner_id(table, "ehub_sk_a"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(keys.partner_id(table, "ehub_sk_a")) for _ in range(3)]
    await asyncio.sleep(0)
    table.answering.set()

    outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
    assert isinstance(outcomes[0], ConnectionResetError)
    assert outcomes[1:] == [partner_id] * 3
    assert table.lookups == 2, "one failed lookup, then one shared by the three that waited"


async def test_a_revoked_key_is_refused_once_the_ttl_has_passed():
    partner_id = uuid.uuid4()
    table, clock = ApiKeysTable({"ehub_sk_a": partner_id}), Clock()
    keys = PartnerKeys(clock=clock)
    assert await keys.partner_id(table, "ehub_sk_a") == partner_id

    del table.partners["ehub_sk_a"]
    clock.now += KEY_CACHE_SECONDS

    assert await keys.partner_id(table, "ehub_sk_a") is None
    assert await keys.partner_id(table, "ehub_sk_a") is None
    assert table.lookups == 3, "a refused key is looked up again every time"


async def test_a_new_key_works_at_once_after_being_refused():
    table, clock = ApiKeysTable({}), Clock()
    keys = PartnerKeys(clock=clock)
    assert await keys.partner_id(table, "ehub_sk_new") is None

    partner_id = uuid.uuid4()
    table.partners["ehub_sk_new"] = partner_id

    assert await keys.partner_id(table, "ehub_sk_new") == partner_id


async def test_the_key_looked_up_longest_ago_is_forgotten_first():
    partners = {f"ehub_sk_{n}": uuid.uuid4() for n in range(3)}
    table = ApiKeysTable(partners)
    keys = PartnerKeys(max_entries=2, clock=Clock())
    await keys.partner_id(table, "ehub_sk_0")
    await keys.partner_id(table, "ehub_sk_1")
    await keys.partner_id(table, "ehub_sk_0")
    await keys.partner_id(table, "ehub_sk_2")
    assert table.lookups == 3

    await keys.partner_id(table, "ehub_sk_0")
    assert table.lookups == 3, "recently used: still remembered"
    await keys.partner_id(table, "ehub_sk_1")
    assert table.lookups == 4, "used longest ago: forgotten"


async def test_a_key_revoked_here_is_refused_at_once():
    partner_id = uuid.uuid4()
    table, clock = ApiKeysTable({"ehub_sk_a": partner_id}), Clock()
    keys = PartnerKeys(clock=clock)
    grant = await keys.grant(table, "ehub_sk_a")

    del table.partners["ehub_sk_a"]
    keys.forget(grant.key_id)

    assert await keys.partner_id(table, "ehub_sk_a") is None


async def test_a_key_grants_its_partners_quota_or_the_default():
    own = ApiKeysTable({"ehub_sk_a": uuid.uuid4()}, quota=(5, 10))
    other = ApiKeysTable({"ehub_sk_b": uuid.uuid4()})
    keys = PartnerKeys(clock=Clock())

    assert (await keys.grant(own, "ehub_sk_a")).quota == Quota(5, 10)
    assert (await keys.grant(other, "ehub_sk_b")).quota == DEFAULT_QUOTA


async def test_a_keys_last_use_is_noted_at_most_once_per_resolution():
    table, clock = ApiKeysTable({"ehub_sk_a": uuid.uuid4()}), Clock()
    keys = PartnerKeys(clock=clock)
    grant = await keys.grant(table, "ehub_sk_a")
    assert set(keys.used) == {grant.key_id}
    keys.used.clear()  # the upkeep job wrote it

    clock.now += LAST_USED_RESOLUTION / 2
    await keys.grant(table, "ehub_sk_a")
    assert keys.used == {}, "used again within the minute: nothing more to write"

    clock.now += LAST_USED_RESOLUTION / 2
    await keys.grant(table, "ehub_sk_a")
    assert set(keys.used) == {grant.key_id}
