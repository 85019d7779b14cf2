"""One order, one trace: from `POST /v1/orders` to the hub clock's DELIVERED scan, across the
four services, read back from the Zipkin that `make up` runs (started here for the test).

The stack is one of its own (databases `_traces`, ports 18101-18104), because its services
export every span and its hub clock runs a week in seconds, which the shared e2e stack's
tests (the clock stopped, tracing off) must not see.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.orders import order_body, place, wait_for_status
from tests.infrastructure import devstack, start_infrastructure

pytestmark = pytest.mark.e2e

PORTS = {"orders": 18101, "payments": 18102, "customs": 18103, "fulfillment": 18104}
NAME_SUFFIX = "-traces"
ZIPKIN_PORT = 19411
ZIPKIN = f"zipkin{NAME_SUFFIX}"
SERVICES = set(PORTS)
CLOCK_SCANS = ["scan dep", "scan arr", "scan tfd", "scan dlv"]

Span = dict[str, Any]


@pytest.fixture(scope="module")
def traced_stack() -> Iterator[devstack.Stack]:
    devstack.stop_services(NAME_SUFFIX)
    # The JVM starts while the databases are recreated and the services start.
    devstack.start_zipkin(ZIPKIN_PORT, ZIPKIN)
    try:
        stack = start_infrastructure("_traces")
        stack.ports = PORTS
        stack.name_suffix = NAME_SUFFIX
        stack.extra_env = devstack.zipkin_tracing_env(ZIPKIN_PORT) | {
            "OTEL_TRACES_SAMPLER_RATIO": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            # A week of hub time in about six seconds: booked to DELIVERED within the test.
            "HUB_CLOCK_FACTOR": "100000",
        }
        devstack.start_services(stack)
        devstack.wait_for_zipkin(ZIPKIN_PORT)
        yield stack
    finally:
        devstack.stop_services(NAME_SUFFIX)
        devstack.stop_pid(devstack.RUN / f"{ZIPKIN}.pid", ZIPKIN)


@pytest.fixture(scope="module")
def partner(traced_stack: devstack.Stack) -> Iterator[httpx.Client]:
    key = devstack.issue_partner_key(traced_stack, "traced-partner")
    with httpx.Client(
        base_url=f"http://127.0.0.1:{PORTS['orders']}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ) as client:
        yield client


def whole_trace(order_id: str, timeout: float = 20) -> list[list[Span]]:
    """The order's traces once the DELIVERED scan's span is in and nothing more arrives
    for a second (spans are exported in batches every 200 ms)."""
    deadline = time.monotonic() + timeout
    seen, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        traces = devstack.order_traces(ZIPKIN_PORT, order_id)
        count = sum(len(spans) for spans in traces)
        if count != seen:
            seen, stable_since = count, time.monotonic()
        delivered = any(span.get("name") == "scan dlv" for spans in traces for span in spans)
        if delivered and time.monotonic() - stable_since >= 1.0:
            return traces
        time.sleep(0.25)
    raise AssertionError(f"the trace of {order_id} never reached its DELIVERED scan: {traces}")


def service_of(span: Span) -> str:
    return span["localEndpoint"]["serviceName"]


def ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain = []
    while "parentId" in span:
        span = by_id[span["parentId"]]
        chain.append(span)
    return chain


def test_one_order_is_one_trace_from_placement_to_delivery(partner, traced_stack):
    started = time.monotonic()
    order_id = place(partner, order_body()).raise_for_status().json()["id"]
    wait_for_status(partner, order_id, {"DELIVERED"})
    delivered_after = time.monotonic() - started

    traces = whole_trace(order_id)

    assert len(traces) == 1, [trace[0]["traceId"] for trace in traces]
    [spans] = traces
    by_id = {span["id"]: span for span in spans}
    assert {service_of(span) for span in spans} == SERVICES
    [root] = [span for span in spans if "parentId" not in span]
    assert (root["name"], root["kind"], service_of(root)) == ("post /v1/orders", "SERVER", "orders")
    assert all(span["parentId"] in by_id for span in spans if span is not root), "broken parent"

    # The relay hop: every event leaves in a send span ended at the broker's acknowledgement
    # (it knows partition and offset), and every service's process span is a child of one.
    sends = [span for span in spans if span.get("kind") == "PRODUCER"]
    processes = [span for span in spans if span.get("kind") == "CONSUMER"]
    assert {service_of(span) for span in sends} == SERVICES
    assert {service_of(span) for span in processes} == SERVICES
    for send in sends:
        tags = send["tags"]
        assert send["name"] == f"send {tags['messaging.destination.name']}"
        assert tags["messaging.operation.type"] == tags["messaging.operation.name"] == "send"
        assert tags["messaging.kafka.offset"].isdigit()
        assert tags["messaging.destination.partition.id"].isdigit()
        assert tags["messaging.client.id"] == f"{service_of(send)}-producer"
        assert tags["server.address"] == "127.0.0.1"
        assert tags["messaging.kafka.message.key"] == order_id
    for process in processes:
        tags = process["tags"]
        assert by_id[process["parentId"]].get("kind") == "PRODUCER"
        assert process["name"] == f"process {tags['messaging.destination.name']}"
        assert tags["messaging.operation.type"] == "process"
        assert tags["messaging.consumer.group.name"].endswith(service_of(process))
        assert tags["messaging.kafka.offset"].isdigit()

    # The hub clock's scans, DEP to DLV, each in the trace and each announced from it: the
    # DELIVERED tracking event reaches orders as a child of the DLV scan.
    scans = sorted(
        (span for span in spans if span["name"].startswith("scan ")),
        key=lambda span: span["timestamp"],
    )
    assert [span["name"] for span in scans][-4:] == CLOCK_SCANS
    for scan in scans[-4:]:
        assert service_of(scan) == "fulfillment"
        assert scan["tags"]["ehub.scan.recorded_by"] == "hub clock"
        assert scan["tags"]["ehub.order_id"] == order_id
        assert ancestors(scan, by_id)[-1] is root
    delivered_scan = scans[-1]
    announced = [
        span
        for span in processes
        if service_of(span) == "orders" and delivered_scan in ancestors(span, by_id)
    ]
    assert announced, "the DELIVERED event never reached orders in the order's trace"

    per_service = Counter(service_of(span) for span in spans)
    print(
        f"\norder {order_id}: DELIVERED after {delivered_after:.1f} s; one trace "
        f"{root['traceId']} of {len(spans)} spans ({dict(sorted(per_service.items()))}): "
        f"{len(sends)} sends, {len(processes)} processes, {len(scans)} scans; "
        f"names {dict(Counter(span['name'] for span in spans).most_common())}"
    )


def test_idle_polling_starts_no_trace(partner, traced_stack):
    """The relay, webhook, payment-expiry and hub-clock loops poll every half second; a poll
    that finds nothing records nothing, and a bare statement never roots a trace."""
    time.sleep(2)  # Some idle polls of every loop, after what the other test did.
    for service in SERVICES:
        query = {"serviceName": service, "limit": 10_000, "lookback": 3_600_000}
        traces = httpx.get(
            f"http://127.0.0.1:{ZIPKIN_PORT}/api/v2/traces", params=query, timeout=10
        ).json()
        roots = [span for spans in traces for span in spans if "parentId" not in span]
        bare = [root for root in roots if root.get("kind") == "CLIENT"]
        assert bare == [], f"{service}: traces rooted at a statement: {bare[:3]}"
        assert {root.get("kind") for root in roots} <= {"SERVER", "CONSUMER"}, roots
