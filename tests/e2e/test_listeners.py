"""Operator routes and /metrics answer on the admin listener, never on the partner one."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_KEY, TEST_PORTS

pytestmark = pytest.mark.e2e

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
OPERATOR_READS = {
    "orders": "/v1/admin/dead-letters",
    "payments": f"/v1/payments?order_id={uuid.uuid4()}",
    "customs": "/v1/declarations",
    "fulfillment": "/v1/shipments",
}


@pytest.mark.parametrize("service", TEST_PORTS)
def test_health_and_readiness_answer_on_both_listeners(stack, service):
    for port in (stack.port(service), stack.admin_port(service)):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json()["status"] == "ready"


@pytest.mark.parametrize("service", TEST_PORTS)
def test_operator_routes_and_metrics_are_not_on_the_partner_listener(stack, service):
    partner_listener = f"http://127.0.0.1:{stack.port(service)}"
    for path in (OPERATOR_READS[service], "/v1/admin/dead-letters", "/metrics"):
        assert httpx.get(partner_listener + path, headers=OPERATOR).status_code == 404, path
    replay = httpx.post(
        f"{partner_listener}/v1/admin/dead-letters/replay", json={"ids": ["0:0"]}, headers=OPERATOR
    )
    assert replay.status_code == 404


@pytest.mark.parametrize("service", TEST_PORTS)
def test_operator_routes_and_metrics_answer_on_the_admin_listener(stack, service):
    admin_listener = f"http://127.0.0.1:{stack.admin_port(service)}"
    assert httpx.get(admin_listener + OPERATOR_READS[service]).status_code == 401
    assert httpx.get(admin_listener + OPERATOR_READS[service], headers=OPERATOR).status_code == 200
    metrics = httpx.get(f"{admin_listener}/metrics")
    assert metrics.status_code == 200
    assert "ehub_http_request_seconds" in metrics.text


def test_a_partner_key_opens_nothing_on_the_admin_listener(stack, partner):
    partner_key = {"Authorization": partner.headers["authorization"]}
    for service in TEST_PORTS:
        admin_listener = f"http://127.0.0.1:{stack.admin_port(service)}"
        for path in (OPERATOR_READS[service], "/v1/orders"):
            answer = httpx.get(admin_listener + path, headers=partner_key)
            assert answer.status_code in (401, 404), (service, path, answer.status_code)
    assert partner.get("/v1/orders").status_code == 200
