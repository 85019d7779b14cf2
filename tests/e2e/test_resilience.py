"""Nothing is lost and nothing happens twice when a service, the broker or the database restarts."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.e2e.orders import order_body, place, wait_for_status
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e


async def charged_once(databases, order_id: str) -> bool:
    authorizations = await databases.scalar(
        "payments",
        "SELECT count(*) FROM payment_operations o JOIN payments p ON p.id = o.payment_id "
        "WHERE p.order_id = :order_id AND o.kind IN ('AUTHORIZATION', 'CAPTURE') "
        "GROUP BY p.id HAVING count(*) FILTER (WHERE o.kind = 'CAPTURE') = 1 "
        "AND count(*) FILTER (WHERE o.kind = 'AUTHORIZATION') = 1",
        order_id=order_id,
    )
    return authorizations == 2


def readiness(port: int) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)


def wait_until_ready(stack: devstack.Stack, timeout: float = 90) -> None:
    for service in devstack.SERVICES:
        port = stack.port(service)
        devstack.wait_for(lambda port=port: devstack.service_ready(port), service, timeout)


async def test_a_crashed_service_loses_no_order_and_charges_each_once(partner, stack, databases):
    pid = int((devstack.RUN / f"{stack.process_name('payments')}.pid").read_text())
    os.killpg(pid, signal.SIGKILL)
    devstack.wait_for(lambda: devstack.exited(pid), "payments to die", 10)

    order_ids = [place(partner, order_body()).json()["id"] for _ in range(3)]
    time.sleep(1)
    assert {partner.get(f"/v1/orders/{o}").json()["status"] for o in order_ids} == {"PENDING"}
    devstack.start_services(stack)

    for order_id in order_ids:
        wait_for_status(partner, order_id, {"SHIPPED"}, timeout=60)
        assert await charged_once(databases, order_id)


async def test_orders_placed_while_the_broker_is_down_are_delivered_after_it_returns(
    partner, stack, databases
):
    devstack.stop_pid(devstack.RUN / "kafka.pid", "Kafka")
    try:
        orders_port = stack.port("orders")
        devstack.wait_for(
            lambda: readiness(orders_port).json()["checks"]["broker"] is False,
            "readiness to report the broker",
            20,
        )
        degraded = readiness(orders_port)
        assert degraded.status_code == 200, "a broker outage degrades, it does not unready"
        assert degraded.json()["status"] == "degraded"
        response = place(partner, order_body())
        assert response.status_code == 201, "the outbox accepts orders without the broker"
        order_id = response.json()["id"]
    finally:
        devstack.start_kafka()
    wait_until_ready(stack)

    wait_for_status(partner, order_id, {"SHIPPED"}, timeout=90)
    assert await charged_once(databases, order_id)


async def test_a_database_restart_loses_nothing(partner, stack, databases):
    order_ids = [place(partner, order_body()).json()["id"] for _ in range(3)]
    devstack.stop_postgres()
    devstack.start_postgres()
    wait_until_ready(stack)

    order_ids.append(place(partner, order_body()).json()["id"])
    for order_id in order_ids:
        wait_for_status(partner, order_id, {"SHIPPED"}, timeout=90)
        assert await charged_once(databases, order_id)
