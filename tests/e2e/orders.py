"""Order bodies and polling shared by the end-to-end tests."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

DEMO_ORDER = json.loads((Path(__file__).parents[2] / "scripts" / "demo_order.json").read_text())
FINAL_STATUSES = {"SHIPPED", "DELIVERED", "PAYMENT_DECLINED", "CUSTOMS_REJECTED", "CANCELLED"}


def order_body(**changes: Any) -> dict[str, Any]:
    """The demo order (Chinese seller, Belgian buyer, IOSS) with a fresh reference."""
    body = copy.deepcopy(DEMO_ORDER)
    body["partner_reference"] = f"e2e-{uuid.uuid4().hex[:10]}"
    body.update(changes)
    return body


def place(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post("/v1/orders", json=body, headers=headers)


def wait_for_status(
    client: httpx.Client, order_id: str, wanted: set[str], timeout: float = 45
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = client.get(f"/v1/orders/{order_id}").raise_for_status().json()
        if order["status"] in wanted:
            return order
        time.sleep(0.1)
    raise AssertionError(f"order {order_id} stayed {order.get('status')}, wanted {wanted}: {order}")


def timeline_types(order: dict[str, Any]) -> list[str]:
    return [entry["event_type"] for entry in order["timeline"]]


def wait_for_event(
    client: httpx.Client, order_id: str, event_type: str, timeout: float = 20
) -> dict[str, Any]:
    """The order once `event_type` is on its timeline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        order = client.get(f"/v1/orders/{order_id}").raise_for_status().json()
        if event_type in timeline_types(order):
            return order
        time.sleep(0.1)
    raise AssertionError(f"{event_type} never reached the timeline of {order_id}")
