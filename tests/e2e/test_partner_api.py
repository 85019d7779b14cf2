"""The partner API's promises: idempotency, clear errors, isolation between partners."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.orders.partners import KEY_CACHE_SECONDS
from tests.e2e.conftest import partner_client
from tests.e2e.orders import order_body, place

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

    assert response.status_code == 422
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
