"""The hub's side of an order: operators' scans, the hub clock, holds and cancellations."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_KEY
from tests.e2e.orders import order_body, place, wait_for_status
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
CLOCK_REPLICA_PORT = 18014
# A week of hub time in a few seconds: the demo journey waits at most 65 hub hours.
CLOCK_REPLICA_FACTOR = "100000"
POWER_BANK = {
    "sku": "PB-10K",
    "description": "Power bank 10000 mAh",
    "hs_code": "850760",
    "quantity": 1,
    "unit_price": "15.00",
    "weight_kg": "0.250",
    "origin_country": "CN",
}


@pytest.fixture
def hub(operator) -> Iterator[httpx.Client]:
    with operator("fulfillment", "agent.dubois") as client:
        yield client


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def shipped_order(partner: httpx.Client, **changes: Any) -> str:
    order_id = place(partner, order_body(**changes)).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    return order_id


def shipment_of(hub: httpx.Client, order_id: str) -> dict[str, Any]:
    found = hub.get("/v1/shipments", params={"order_id": order_id}).raise_for_status().json()
    assert len(found) == 1, found
    return hub.get(f"/v1/shipments/{found[0]['id']}").raise_for_status().json()


def timeline(partner: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    return partner.get(f"/v1/orders/{order_id}").raise_for_status().json()["timeline"]


def tracked_statuses(partner: httpx.Client, order_id: str) -> list[str]:
    return [
        entry["detail"]["status"]
        for entry in timeline(partner, order_id)
        if entry["event_type"] == "ShipmentTracked"
    ]


def scan(hub: httpx.Client, shipment_id: str, code: str, **fields: Any) -> httpx.Response:
    return hub.post(f"/v1/shipments/{shipment_id}/scans", json={"code": code, **fields})


def test_operator_scans_take_a_shipment_to_delivered(partner, hub):
    order_id = shipped_order(partner)
    shipment = shipment_of(hub, order_id)
    assert shipment["status"] == "CONSOLIDATED"
    assert shipment["leg"]["leg_id"] == "LGG-BRU-RFS"
    assert shipment["house_awb"].startswith("LGG")
    assert shipment["uld_id"].startswith("AKE ") and shipment["uld_id"].endswith(" EH")

    for code in ("DEP", "ARR", "OFD", "DLV"):
        response = scan(hub, shipment["id"], code, location="Liège" if code == "DEP" else None)
        assert response.status_code == 201, response.text

    delivered = hub.get(f"/v1/shipments/{shipment['id']}").json()
    assert delivered["status"] == "DELIVERED"
    history = [(entry["scan_code"], entry["status"]) for entry in delivered["history"]]
    assert history[-6:] == [
        ("BKD", "BOOKED"),
        ("BUP", "CONSOLIDATED"),
        ("DEP", "DEPARTED"),
        ("ARR", "ARRIVED"),
        ("OFD", "OUT_FOR_DELIVERY"),
        ("DLV", "DELIVERED"),
    ]
    assert delivered["history"][-4]["location"] == "Liège"
    assert delivered["history"][-3]["location"] == "BRU"
    assert delivered["history"][-1]["recorded_by"] == "agent.dubois"
    expected = ["CONSOLIDATED", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"]
    eventually(lambda: tracked_statuses(partner, order_id) == expected, "the timeline's tracking")
    tracked = [e for e in timeline(partner, order_id) if e["event_type"] == "ShipmentTracked"]
    assert {entry["source_service"] for entry in tracked} == {"fulfillment"}
    assert tracked[1]["detail"]["scan_code"] == "DEP"


def test_a_scan_that_makes_no_sense_is_refused_and_changes_nothing(partner, hub):
    shipment = shipment_of(hub, shipped_order(partner))
    url = f"/v1/shipments/{shipment['id']}/scans"
    last_at = datetime.fromisoformat(shipment["history"][-1]["at"])
    earlier = (last_at - timedelta(minutes=5)).isoformat()
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    refusals = [
        ({"code": "DLV"}, 409, "illegal-scan", "not departed yet"),
        ({"code": "RCS"}, 409, "illegal-scan", "already CONSOLIDATED"),
        ({"code": "DEP", "at": earlier}, 409, "scan-out-of-order", "earlier than the last"),
        ({"code": "XYZ"}, 422, "validation-error", "/code"),
        ({"code": "DEP", "at": "2026-03-02T08:00:00"}, 422, "validation-error", "/at"),
        ({"code": "DEP", "at": in_an_hour}, 409, "scan-in-the-future", "/at"),
        ({"code": "DEP", "colour": "red"}, 422, "validation-error", "/colour"),
    ]
    for body, status, slug, said in refusals:
        response = hub.post(url, json=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert response.json()["type"].endswith(slug)
        assert said in response.text

    missing = scan(hub, str(uuid.uuid4()), "DEP")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("shipment-not-found")
    assert hub.get(f"/v1/shipments/{uuid.uuid4()}").status_code == 404

    assert hub.get(f"/v1/shipments/{shipment['id']}").json() == shipment


def test_a_discrepancy_is_final(partner, hub):
    order_id = shipped_order(partner)
    shipment = shipment_of(hub, order_id)
    assert scan(hub, shipment["id"], "DEP").status_code == 201

    response = scan(hub, shipment["id"], "DIS", reason="parcel crushed in the truck")
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "EXCEPTION"
    assert response.json()["status_before_exception"] == "DEPARTED"
    later = scan(hub, shipment["id"], "ARR")
    assert later.status_code == 409
    assert "a discrepancy is final" in later.json()["detail"]

    exception = eventually(
        lambda: next(
            (e for e in timeline(partner, order_id) if e["event_type"] == "ShipmentException"),
            None,
        ),
        "ShipmentException in the timeline",
    )
    assert exception["detail"]["reason"] == "parcel crushed in the truck"


def test_scans_take_the_operator_key(partner, stack, hub):
    shipment_id = shipment_of(hub, shipped_order(partner))["id"]
    url = f"http://127.0.0.1:{stack.admin_port('fulfillment')}/v1/shipments/{shipment_id}/scans"
    partner_key = partner.headers["authorization"]
    for headers in ({}, {"Authorization": partner_key}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(url, json={"code": "DEP"}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    reads = httpx.get(f"http://127.0.0.1:{stack.admin_port('fulfillment')}/v1/shipments")
    assert reads.status_code == 401
    assert hub.get(f"/v1/shipments/{shipment_id}").json()["status"] == "CONSOLIDATED"


def test_shipments_are_listed_by_status(partner, hub):
    order_id = shipped_order(partner)
    listed = hub.get("/v1/shipments", params={"status": "CONSOLIDATED", "limit": 200}).json()
    assert order_id in {shipment["order_id"] for shipment in listed}
    assert len(hub.get("/v1/shipments", params={"limit": 1}).json()) == 1
    assert hub.get("/v1/shipments", params={"status": "LOST"}).status_code == 422


def test_goods_no_leg_accepts_are_held_at_the_hub_not_dispatched(partner, hub):
    buyer = order_body()["buyer"]
    buyer["address"] = {**buyer["address"], "city": "Warszawa", "postal_code": "00-001"}
    buyer["address"]["country"] = "PL"
    order_id = place(partner, order_body(buyer=buyer, items=[POWER_BANK])).json()["id"]

    def held() -> dict[str, Any] | None:
        found = hub.get("/v1/shipments", params={"order_id": order_id}).json()
        return found[0] if found and found[0]["hold_reason"] else None

    shipment = eventually(held, "the hold")
    assert shipment["status"] == "RECEIVED_AT_HUB"
    assert "UN3480" in shipment["hold_reason"]
    eventually(
        lambda: "PaymentCaptured" in {e["event_type"] for e in timeline(partner, order_id)},
        "PaymentCaptured in the timeline",
    )
    assert "ShipmentDispatched" not in {e["event_type"] for e in timeline(partner, order_id)}


def test_an_order_cancelled_before_departure_cancels_its_shipment(partner, hub):
    order_id = shipped_order(partner)
    cancel = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "buyer changed mind"})
    assert cancel.status_code == 202, cancel.text

    answer = eventually(
        lambda: next(
            (e for e in timeline(partner, order_id) if e["event_type"] == "FulfilmentCancelled"),
            None,
        ),
        "FulfilmentCancelled in the timeline",
    )
    shipment = shipment_of(hub, order_id)
    assert answer["detail"]["shipment_id"] == shipment["id"]
    assert shipment["status"] == "CANCELLED"
    assert scan(hub, shipment["id"], "DEP").status_code == 409


def test_a_departed_shipment_cannot_be_cancelled(partner, hub):
    order_id = shipped_order(partner)
    shipment = shipment_of(hub, order_id)
    assert scan(hub, shipment["id"], "DEP").status_code == 201

    cancel = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "too late now"})
    if cancel.status_code == 202:  # orders had not yet heard of the departure: the hub refuses
        eventually(
            lambda: (
                "FulfilmentCancellationRefused"
                in {e["event_type"] for e in timeline(partner, order_id)}
            ),
            "FulfilmentCancellationRefused in the timeline",
        )
    else:
        assert cancel.status_code == 409, cancel.text
    assert shipment_of(hub, order_id)["status"] == "DEPARTED"


@pytest.fixture
def clock_replica(stack, tmp_path: Path) -> Iterator[httpx.Client]:
    """A second fulfilment replica whose hub clock runs a week in seconds."""
    env = stack.service_env("fulfillment") | {"HUB_CLOCK_FACTOR": CLOCK_REPLICA_FACTOR}
    log = (tmp_path / "fulfillment-clock.log").open("w")
    replica = subprocess.Popen(
        devstack.service_command("fulfillment", CLOCK_REPLICA_PORT),
        env=env,
        cwd=devstack.ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: devstack.service_ready(CLOCK_REPLICA_PORT), "the replica", 60)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{devstack.admin_port(CLOCK_REPLICA_PORT)}",
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            timeout=10,
        ) as client:
            yield client
    finally:
        replica.terminate()
        try:
            replica.wait(timeout=20)
        except subprocess.TimeoutExpired:
            replica.kill()
            replica.wait()
        log.close()


def test_the_hub_clock_delivers_a_booked_shipment_by_itself(partner, hub, clock_replica):
    # The clock may take the shipment past SHIPPED before the first poll sees it booked.
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED", "IN_TRANSIT", "DELIVERED"})
    shipment_id = shipment_of(hub, order_id)["id"]

    def delivered() -> dict[str, Any] | None:
        shipment = clock_replica.get(f"/v1/shipments/{shipment_id}").json()
        return shipment if shipment["status"] == "DELIVERED" else None

    shipment = eventually(delivered, "delivery by the hub clock")
    codes = [entry["scan_code"] for entry in shipment["history"]]
    assert codes[-4:] == ["DEP", "ARR", "TFD", "DLV"]
    moments = [datetime.fromisoformat(entry["at"]) for entry in shipment["history"]]
    assert moments == sorted(moments)
    assert moments[-1] <= datetime.now(UTC)
    expected = ["CONSOLIDATED", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"]
    eventually(lambda: tracked_statuses(partner, order_id) == expected, "the timeline's tracking")
