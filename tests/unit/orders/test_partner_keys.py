"""The API key -> partner cache: no database round trip per request, revocation within seconds."""

from __future__ import annotations

import uuid

from services.orders.partners import KEY_CACHE_SECONDS, PartnerKeys, hash_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ApiKeysTable:
    """Stands in for the session: answers the key lookup from a dict of unrevoked keys."""

    def __init__(self, partners: dict[str, uuid.UUID]) -> None:
        self.partners = partners
        self.lookups = 0

    async def scalar(self, statement):
        self.lookups += 1
        # The key hash is the lookup's only parameter (`revoked_at IS NULL` has none).
        [key_hash] = statement.compile().params.values()
        for key, partner_id in self.partners.items():
            if hash_key(key) == key_hash:
                return partner_id
        return None


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
