"""The partner API's promises: idempotency, clear errors, isolation between partners."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from services.orders.partners import KEY_CACHE_SECONDS, UPKEEP_SECONDS
from tests.e2e.conftest import ServiceDatabases, partner_client
from tests.e2e.orders import order_body, place
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e


def test_same_idempotency_key_twice_yields_one_order(partner):
    body = order_body()
    first = place(partner, body, **{"Idempotency-Key": body["partner_reference"]})
    second = place(partner, body, **{"Idempotency-Key": body["partner_reference"]})

    assert first.status_code == 201
    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    listed = partner.get("/v1/orders", params={"limit": 100}).json()["items"]
    assert [o["id"] for o in listed if o["partner_reference"] == body["partner_reference"]] == [
        first.json()["id"]
    ]


def test_same_idempotency_key_with_another_body_is_refused(partner):
    body = order_body()
    place(partner, body, **{"Idempotency-Key": body["partner_reference"]})
    changed = dict(body, shipping_cost="99.00")

    response = place(partner, changed, **{"Idempotency-Key": body["partner_reference"]})

    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency-key-reused")


def test_bad_body_is_a_problem_document_naming_each_field_and_stores_nothing(partner):
    body = order_body()
    body["items"][0]["unit_price"] = "twelve"
    body["buyer"]["address"]["country"] = "Belgium"
    before = partner.get("/v1/orders", params={"limit": 100}).json()["items"]

    response = place(partner, body)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"/items/0/unit_price", "/buyer/address/country"}
    after = partner.get("/v1/orders", params={"limit": 100}).json()["items"]
    assert len(after) == len(before)


def test_malformed_json_is_a_422_not_a_500(partner):
    response = partner.post(
        "/v1/orders", content=b"{", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"]


def test_missing_or_wrong_api_key_is_401(partner):
    response = partner.get("/v1/orders", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_partner_b_cannot_read_partner_a_order(partner, other_partner):
    order_id = place(partner, order_body()).json()["id"]

    assert partner.get(f"/v1/orders/{order_id}").status_code == 200
    response = other_partner.get(f"/v1/orders/{order_id}")
    assert response.status_code == 404
    assert order_id not in [o["id"] for o in other_partner.get("/v1/orders").json()["items"]]


def test_orders_are_listed_newest_first_in_pages(partner):
    ids = [place(partner, order_body()).json()["id"] for _ in range(3)]

    first = partner.get("/v1/orders", params={"limit": 2}).json()
    second = partner.get("/v1/orders", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [o["id"] for o in first["items"]] == ids[::-1][:2]
    assert second["items"][0]["id"] == ids[0]


def test_concurrent_retries_with_one_idempotency_key_place_one_order(partner):
    body = order_body()
    headers = {"Idempotency-Key": body["partner_reference"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: place(partner, body, **headers), range(8)))

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    assert len(replayed) == 7, "every request but the first answers with the first's order"


def test_a_placed_order_is_answered_as_it_is_then_read_at_its_location(partner):
    response = place(partner, order_body())

    assert response.status_code == 201
    order = response.json()
    assert response.headers["Location"] == f"/v1/orders/{order['id']}"
    assert [entry["event_type"] for entry in order["timeline"]] == ["OrderPlaced"]
    assert order["totals"] == {
        "goods": "49.80",
        "shipping": "6.50",
        "insurance": "0.80",
        "total": "57.10",
        "currency": "EUR",
    }
    read = partner.get(response.headers["Location"]).json()
    assert {key: read[key] for key in ("id", "created_at", "totals")} == {
        key: order[key] for key in ("id", "created_at", "totals")
    }
    assert read["timeline"][0] == order["timeline"][0]


async def test_a_revoked_key_is_refused_within_seconds(stack, databases):
    with partner_client(stack, "revoked") as client:
        assert client.get("/v1/orders").status_code == 200
        key = client.headers["Authorization"].removeprefix("Bearer ")
        await databases.execute(
            "orders",
            "UPDATE api_keys SET revoked_at = now() WHERE key_hash = :key_hash",
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
        )
        revoked_at = time.monotonic()

        while client.get("/v1/orders").status_code == 200:
            assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 2, "revoked key still works"
            time.sleep(0.1)

        assert client.post("/v1/orders", json=order_body()).status_code == 401


# ---- rate limits and key lifecycle, across two processes of orders ---------------------

SECOND_REPLICA = "orders-test-2"


def orders_cli(stack, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "services.orders.cli", *arguments],
        env=stack.service_env("orders"),
        cwd=devstack.ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@dataclass
class NamedPartner:
    name: str
    key: str

    def client(self, port: int, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=10,
        )


@pytest.fixture
def named_partner(stack) -> NamedPartner:
    name = f"lifecycle-{uuid.uuid4().hex[:6]}"
    return NamedPartner(name, devstack.issue_partner_key(stack, name))


@pytest.fixture(scope="module")
def one_replica(stack) -> None:
    """Only the stack's orders process counts: a second one an interrupted run left is gone."""
    devstack.stop_pid(devstack.RUN / f"{SECOND_REPLICA}.pid", SECOND_REPLICA)
    deadline = time.monotonic() + 15
    while asyncio.run(live_replicas()) > 1:
        assert time.monotonic() < deadline, "another orders process still beats"
        time.sleep(0.2)
    time.sleep(2 * UPKEEP_SECONDS)


@pytest.fixture(scope="module")
def second_replica(stack) -> Iterator[int]:
    """A second orders process on the same database: the port of its partner API, once
    both processes count each other as live."""
    pid_file = devstack.RUN / f"{SECOND_REPLICA}.pid"
    devstack.stop_pid(pid_file, SECOND_REPLICA)
    port = stack.port("orders") + 10
    devstack.spawn_service(stack, "orders", SECOND_REPLICA, port)
    try:
        devstack.wait_for(lambda: devstack.service_ready(port), SECOND_REPLICA, 90)
        # Both have beaten since the second started, and read the count at their next beat.
        deadline = time.monotonic() + 15
        while asyncio.run(live_replicas()) < 2:
            assert time.monotonic() < deadline, "the replicas never saw each other"
            time.sleep(0.2)
        time.sleep(2 * UPKEEP_SECONDS)
        yield port
    finally:
        devstack.stop_pid(pid_file, SECOND_REPLICA)


async def live_replicas() -> int:
    databases = ServiceDatabases()
    try:
        return await databases.scalar(
            "orders",
            "SELECT count(*) FROM orders_replicas WHERE seen_at > now() - interval '5 seconds'",
        )
    finally:
        await databases.close()


def test_over_its_quota_a_key_is_answered_429_with_when_to_retry(stack, named_partner, one_replica):
    orders_cli(stack, "set-rate-limit", named_partner.name, "--per-second", "2", "--burst", "3")

    with named_partner.client(stack.port("orders")) as client:
        responses = [client.get("/v1/orders", params={"limit": 1}) for _ in range(8)]

    statuses = [response.status_code for response in responses]
    assert statuses[:2] == [200, 200], statuses
    refused = [response for response in responses if response.status_code == 429]
    assert refused, statuses
    problem = refused[0]
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["type"].endswith("/rate-limited")
    assert int(problem.headers["Retry-After"]) >= 1
    assert problem.headers["RateLimit-Policy"].startswith('"partner";q=')
    assert problem.headers["RateLimit"].startswith('"partner";r=0;')
    assert "RateLimit" in responses[0].headers and "RateLimit-Policy" in responses[0].headers


def test_two_replicas_together_hold_a_partner_to_its_quota(stack, named_partner, second_replica):
    rate, burst, seconds = 10, 10, 3.0
    orders_cli(
        stack,
        "set-rate-limit",
        named_partner.name,
        "--per-second",
        str(rate),
        "--burst",
        str(burst),
    )
    ports = [stack.port("orders"), second_replica]
    clients = [named_partner.client(port) for port in ports]
    deadline = time.monotonic() + seconds

    def hammer(client: httpx.Client) -> list[int]:
        statuses = []
        while time.monotonic() < deadline:
            statuses.append(client.get("/v1/orders", params={"limit": 1}).status_code)
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(hammer, clients * 2))
    elapsed = time.monotonic() - started
    for client in clients:
        client.close()

    statuses = [status for result in results for status in result]
    allowed = statuses.count(200)
    ceiling = burst + rate * elapsed
    print(
        f"\n{len(statuses)} requests in {elapsed:.1f} s over 2 replicas: {allowed} allowed "
        f"(quota allows {ceiling:.0f}; two unshared buckets would allow {2 * ceiling:.0f})"
    )
    assert set(statuses) == {200, 429}
    assert allowed <= ceiling + 2, "the replicas together let more through than the quota"
    assert allowed >= 0.6 * ceiling, "the quota is not starved"
    assert all(200 in result for result in results), "each replica serves its share"


def test_a_partner_lists_creates_and_revokes_keys_and_rotates_without_downtime(
    stack, named_partner, second_replica
):
    first = named_partner.client(stack.port("orders"))
    listed = first.get("/v1/keys").json()
    [original] = listed
    assert original["prefix"] == named_partner.key[:12]
    assert set(original) == {"id", "prefix", "created_at", "last_used_at", "revoked_at"}
    assert named_partner.key not in json.dumps(listed), "the key itself is never shown"

    created = first.post("/v1/keys")
    assert created.status_code == 201, created.text
    new_key = created.json()["key"]
    on_second = named_partner.client(second_replica, new_key)
    assert on_second.get("/v1/orders").status_code == 200, "a new key works at once, anywhere"

    revoked = on_second.delete(f"/v1/keys/{original['id']}")
    assert revoked.status_code == 204
    revoked_at = time.monotonic()
    old_on_second = named_partner.client(second_replica)
    assert old_on_second.get("/v1/orders").status_code == 401, "refused at once where revoked"
    while first.get("/v1/orders").status_code == 200:
        assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 1, "revoked key still works"
        time.sleep(0.1)
    assert on_second.get("/v1/orders").status_code == 200, "the new key kept working throughout"

    keys = {key["id"]: key for key in on_second.get("/v1/keys").json()}
    assert keys[original["id"]]["revoked_at"] is not None
    last = on_second.delete(f"/v1/keys/{created.json()['id']}")
    assert last.status_code == 409, "the last active key is kept"
    deadline = time.monotonic() + 5
    while on_second.get("/v1/keys").json()[1]["last_used_at"] is None:
        assert time.monotonic() < deadline, "last use never recorded"
        time.sleep(0.3)
    for client in (first, on_second, old_on_second):
        client.close()


def test_operators_list_create_and_revoke_keys_by_cli(stack, named_partner):
    issued = orders_cli(stack, "create-key", named_partner.name)
    listing = orders_cli(stack, "list-keys", named_partner.name).splitlines()
    assert len(listing) == 2 and all("active" in line for line in listing)
    assert issued not in "\n".join(listing) and named_partner.key not in "\n".join(listing)
    original_id = next(
        line.split("\t")[0] for line in listing if named_partner.key[:12] in line.split("\t")
    )

    with named_partner.client(stack.port("orders")) as client:
        assert client.get("/v1/orders").status_code == 200
        orders_cli(stack, "revoke-key", named_partner.name, original_id)
        revoked_at = time.monotonic()
        while client.get("/v1/orders").status_code == 200:
            assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 2, "revoked key still works"
            time.sleep(0.1)
    with named_partner.client(stack.port("orders"), issued) as client:
        assert client.get("/v1/orders").status_code == 200
    assert "revoked" in orders_cli(stack, "list-keys", named_partner.name).splitlines()[0]
