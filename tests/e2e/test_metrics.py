"""Metrics of stuck work, scraped from the running services' admin listeners: the funnel and
stage latencies move once an order is delivered, the sampled gauges follow the databases and
the broker, and every query of the dashboards and rules names a metric the services export."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.events import Topics
from tests.e2e.orders import order_body, place, wait_for_status
from tests.e2e.test_fulfilment import scan, shipment_of
from tests.infrastructure import devstack
from tests.unit.observability.queries import dashboard_queries, metric_names, rule_expressions

SERVICES = ("orders", "payments", "customs", "fulfillment")
SUBSCRIPTIONS = {
    "orders": (Topics.PAYMENTS, Topics.CUSTOMS, Topics.FULFILLMENT),
    "payments": (Topics.ORDERS, Topics.CUSTOMS, Topics.FULFILLMENT),
    "customs": (Topics.ORDERS, Topics.PAYMENTS, Topics.FULFILLMENT),
    "fulfillment": (Topics.ORDERS, Topics.CUSTOMS, Topics.PAYMENTS),
}
# The sample names each metric type exposes beside its family name.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = list(text_string_to_metric_families(text))

    def value(self, name: str, **labels: str) -> float | None:
        for family in self.families:
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return sample.value
        return None

    def samples(self, name: str) -> list[Any]:
        return [s for family in self.families for s in family.samples if s.name == name]

    def exported_names(self) -> set[str]:
        return {
            family.name + suffix
            for family in self.families
            for suffix in SUFFIXES.get(family.type, ("",))
        }


@pytest.fixture
def hub(operator) -> Iterator[httpx.Client]:
    with operator("fulfillment", "agent.dubois") as client:
        yield client


def scrape(stack: devstack.Stack, service: str) -> Scrape:
    response = httpx.get(f"http://127.0.0.1:{stack.admin_port(service)}/metrics", timeout=10)
    response.raise_for_status()
    return Scrape(response.text)


def eventually(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


STAGES = ("placed_to_authorized", "authorized_to_cleared", "cleared_to_shipped")


def stage_counts(stack: devstack.Stack) -> dict[str, float]:
    orders = scrape(stack, "orders")
    counts = {
        stage: orders.value("ehub_order_stage_seconds_count", stage=stage) or 0 for stage in STAGES
    }
    counts["shipped_to_delivered"] = (
        orders.value("ehub_order_stage_seconds_count", stage="shipped_to_delivered") or 0
    )
    counts["placed"] = orders.value("ehub_orders_entered_status_total", status="PENDING") or 0
    counts["delivered"] = orders.value("ehub_orders_entered_status_total", status="DELIVERED") or 0
    counts["placed_to_delivered"] = (
        orders.value("ehub_order_placed_to_milestone_seconds_count", milestone="delivered") or 0
    )
    return counts


def test_a_delivered_order_moves_the_funnel_and_every_stage_histogram(stack, partner, hub):
    before = stage_counts(stack)
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    shipment = shipment_of(hub, order_id)
    for code in ("DEP", "ARR", "OFD", "DLV"):
        assert scan(hub, shipment["id"], code).status_code == 201
    wait_for_status(partner, order_id, {"DELIVERED"})

    after = stage_counts(stack)
    grown = {name for name in after if after[name] >= before[name] + 1}
    assert grown == set(after), f"did not move: {set(after) - grown}"
    orders = scrape(stack, "orders")
    # Seconds locally, never negative; the sum grew by this order's stages.
    stage_sum = orders.value("ehub_order_stage_seconds_sum", stage="placed_to_authorized")
    assert stage_sum is not None and stage_sum >= 0


def test_sampled_gauges_measure_outbox_and_lag_of_every_service(stack):
    def sampled(service: str) -> Scrape | None:
        metrics = scrape(stack, service)
        fresh = [
            metrics.value(
                "ehub_sampler_last_success_timestamp_seconds", service=service, probe=probe
            )
            for probe in ("outbox", "consumer_lag")
        ]
        return metrics if all(value and time.time() - value < 10 for value in fresh) else None

    for service in SERVICES:
        metrics = eventually(lambda service=service: sampled(service), f"{service} sampled")
        backlog = metrics.value("ehub_outbox_backlog_rows", service=service)
        assert backlog is not None and backlog >= 0
        assert metrics.value("ehub_outbox_oldest_age_seconds", service=service) is not None
        lagged = {
            (sample.labels["topic"], sample.labels["partition"])
            for sample in metrics.samples("ehub_consumer_lag_messages")
            if sample.labels["service"] == service
        }
        assert lagged == {
            (stack.topic_prefix + topic, str(partition))
            for topic in SUBSCRIPTIONS[service]
            for partition in range(6)
        }


async def test_an_order_past_its_status_objective_is_counted_stuck_then_not(
    stack, partner, databases
):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})

    def shipped_state() -> tuple[float, float]:
        orders = scrape(stack, "orders")
        return (
            orders.value("ehub_orders_stuck", status="SHIPPED") or 0,
            orders.value("ehub_orders_oldest_in_status_seconds", status="SHIPPED") or 0,
        )

    assert scrape(stack, "orders").value(
        "ehub_order_status_objective_seconds", status="SHIPPED"
    ) == (48 * 3600)
    # Three days in SHIPPED, past its 48 h objective: as if the departure never came.
    await databases.execute(
        "orders",
        "UPDATE orders SET status_changed_at = now() - interval '3 days' WHERE id = :id",
        id=uuid.UUID(order_id),
    )
    eventually(
        lambda: shipped_state()[0] >= 1 and shipped_state()[1] >= 3 * 86400 - 60,
        "the stuck order counted",
    )
    await databases.execute(
        "orders",
        "UPDATE orders SET status_changed_at = now() WHERE id = :id",
        id=uuid.UUID(order_id),
    )
    eventually(lambda: shipped_state()[1] < 86400, "the gauge following the order on")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_failing_webhooks_are_counted_per_partner(stack):
    name = f"metrics-webhooks-{uuid.uuid4().hex[:6]}"
    key = devstack.issue_partner_key(stack, name)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.port('orders')}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ) as client:
        url = f"http://127.0.0.1:{closed_port()}/hooks"
        assert client.put("/v1/webhook", json={"url": url}).status_code in (200, 201)
        place(client, order_body()).raise_for_status()

        def failing() -> bool:
            orders = scrape(stack, "orders")
            return (orders.value("ehub_webhook_deliveries_failing", partner=name) or 0) >= 1 and (
                orders.value("ehub_webhook_deliveries_pending", partner=name) or 0
            ) >= 1

        eventually(failing, "a refused delivery counted as failing")


def test_every_dashboard_and_rule_query_names_an_exported_metric(stack):
    exported = set().union(*(scrape(stack, service).exported_names() for service in SERVICES))
    read = {
        (where, name)
        for where, expr in [
            *((f"{dashboard}: {title}", expr) for dashboard, title, expr in dashboard_queries()),
            *(("rules", expr) for expr in rule_expressions()),
        ]
        for name in metric_names(expr)
    }
    assert len({name for _, name in read}) >= 25
    missing = sorted((where, name) for where, name in read if name not in exported)
    assert not missing, missing
