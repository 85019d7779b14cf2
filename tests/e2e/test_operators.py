"""Operators act under their own credentials: audits name them, roles bound them, OIDC works."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.conftest import OPERATOR_CREDENTIALS, OPERATOR_KEYS, oidc_token
from tests.e2e.orders import order_body, place, wait_for_status
from tests.e2e.test_saga import held_order
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e

ADMIN, OFFICER, HUB, FINANCE = "e2e.admin", "officer.janssens", "agent.dubois", "finance.maes"
READS = {
    "customs": "/v1/declarations",
    "payments": f"/v1/payments?order_id={uuid.uuid4()}",
    "fulfillment": "/v1/shipments",
}
# Who may read each service's operator routes (besides the administrator) and the dead letters.
ALLOWED = {"customs": OFFICER, "payments": FINANCE, "fulfillment": HUB}


def as_operator(stack, service: str, credential: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{stack.admin_port(service)}",
        headers={"Authorization": f"Bearer {credential}"},
        timeout=10,
    )


def operators_cli(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "shared.operators", "--file", str(OPERATOR_CREDENTIALS), *arguments],
        cwd=devstack.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def eventually_status(client: httpx.Client, path: str, wanted: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (status := client.get(path).status_code) != wanted:
        assert time.monotonic() < deadline, f"{path} answered {status}, wanted {wanted}"
        time.sleep(0.2)


def test_the_audit_names_the_credentials_operator_never_the_header(partner, operator):
    order_id = held_order(partner)
    with operator("customs", OFFICER) as customs:
        released = customs.post(
            f"/v1/declarations/{order_id}/release",
            json={"reason": "date of birth checked"},
            headers={"X-Operator-Id": "officer.peeters"},
        )
        assert released.status_code == 200, released.text
        decisions = customs.get(f"/v1/declarations/{order_id}").json()["decisions"]
    assert decisions[-1]["decided_by"] == OFFICER


@pytest.mark.parametrize("service", READS)
def test_each_role_reaches_its_own_services_routes_only(stack, service):
    for name, credential in OPERATOR_KEYS.items():
        if name == "officer.peeters":
            continue
        with as_operator(stack, service, credential) as client:
            expected = 200 if name in (ADMIN, ALLOWED[service]) else 403
            answer = client.get(READS[service])
            assert answer.status_code == expected, (name, answer.text)
            if expected == 403:
                assert answer.json()["type"].endswith("/forbidden")


def test_operators_may_not_decide_outside_their_role(stack):
    nowhere = uuid.uuid4()
    with as_operator(stack, "customs", OPERATOR_KEYS[HUB]) as customs:
        release = customs.post(f"/v1/declarations/{nowhere}/release", json={"reason": "fine"})
    with as_operator(stack, "payments", OPERATOR_KEYS[OFFICER]) as payments:
        refund = payments.post(
            f"/v1/payments/{nowhere}/refunds", json={"amount": "1.00", "reason": "goodwill"}
        )
    with as_operator(stack, "fulfillment", OPERATOR_KEYS[FINANCE]) as fulfilment:
        scan = fulfilment.post(f"/v1/shipments/{nowhere}/scans", json={"code": "DEP"})
    assert [release.status_code, refund.status_code, scan.status_code] == [403, 403, 403]


@pytest.mark.parametrize("service", ["orders", "payments", "customs", "fulfillment"])
def test_dead_letters_are_for_administrators(stack, service):
    for name in (OFFICER, HUB, FINANCE):
        with as_operator(stack, service, OPERATOR_KEYS[name]) as client:
            assert client.get("/v1/admin/dead-letters").status_code == 403, name
    with as_operator(stack, service, OPERATOR_KEYS[ADMIN]) as client:
        assert client.get("/v1/admin/dead-letters").status_code == 200


def test_a_key_issued_by_the_cli_works_until_it_is_revoked(stack):
    key = operators_cli("create", "agent.lambert", "--role", "hub-operator")
    listed = operators_cli("list")
    assert "agent.lambert" in listed and key not in listed
    assert key not in OPERATOR_CREDENTIALS.read_text(), "only the key's hash is stored"
    with as_operator(stack, "fulfillment", key) as hub:
        eventually_status(hub, "/v1/shipments", 200)
        [line] = [line for line in operators_cli("list").splitlines() if "agent.lambert" in line]
        operators_cli("revoke", line.split()[0])
        eventually_status(hub, "/v1/shipments", 401, timeout=5)


def test_an_oidc_token_is_an_operator_credential(partner, stack):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    token = oidc_token("agent.lambert@hub.example", ["hub-operator"])
    with as_operator(stack, "fulfillment", token) as hub:
        [shipment] = hub.get("/v1/shipments", params={"order_id": order_id}).json()
        scanned = hub.post(f"/v1/shipments/{shipment['id']}/scans", json={"code": "DEP"})
        assert scanned.status_code == 201, scanned.text
    assert scanned.json()["history"][-1]["recorded_by"] == "agent.lambert@hub.example"
    with as_operator(stack, "customs", token) as customs:
        assert customs.get("/v1/declarations").status_code == 403


@pytest.mark.parametrize(
    "token",
    [
        lambda: oidc_token("agent.lambert", ["hub-operator"], lifetime=-120),
        lambda: oidc_token("agent.lambert", ["hub-operator"], aud="another-api"),
        lambda: oidc_token("agent.lambert", ["hub-operator"], iss="https://evil.invalid"),
        lambda: oidc_token(
            "agent.lambert",
            ["hub-operator"],
            signing_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ),
    ],
    ids=["expired", "audience", "issuer", "forged"],
)
def test_an_oidc_token_not_issued_for_the_hub_is_refused(stack, token):
    with as_operator(stack, "fulfillment", token()) as hub:
        refused = hub.get("/v1/shipments")
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"].endswith("/unauthorized")
