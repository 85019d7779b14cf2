"""Webhook signatures, targets, retries and disabling, without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from services.orders.tables import Order, Partner, WebhookDelivery
from services.orders.webhook_policy import (
    refusal,
    retry_delay,
    secrets_in_force,
    should_disable,
    signature_header,
    target_refusal,
)
from services.orders.webhooks import announce, new_secret

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_signature_follows_standard_webhooks():
    secret = new_secret()
    body = b'{"type":"order.OrderPlaced"}'

    signature = signature_header([secret], "msg_1", NOW, body)

    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"msg_1.{int(NOW.timestamp())}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(expected).decode()
    later = NOW + timedelta(seconds=1)
    assert signature_header([secret], "msg_1", later, body) != signature, "the timestamp is signed"


def test_during_a_rotation_both_secrets_sign_and_each_verifies_alone():
    old, new = new_secret(), new_secret()
    body = b'{"type":"order.OrderPlaced"}'
    timestamp = datetime.now(UTC)
    in_force = secrets_in_force(new, old, timestamp + timedelta(hours=1), timestamp)
    headers = {
        "webhook-id": "msg_2",
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(in_force, "msg_2", timestamp, body),
    }

    assert Webhook(old).verify(body, headers) == {"type": "order.OrderPlaced"}
    assert Webhook(new).verify(body, headers) == {"type": "order.OrderPlaced"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_the_replaced_secret_stops_signing_when_the_overlap_ends():
    old, new = new_secret(), new_secret()

    assert secrets_in_force(new, old, NOW, NOW) == [new]
    assert secrets_in_force(new, old, NOW + timedelta(seconds=1), NOW) == [new, old]
    assert secrets_in_force(new, None, None, NOW) == [new]


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
    ],
)
def test_public_addresses_receive_webhooks(address):
    assert refusal(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "255.255.255.255",
        "224.0.1.1",
        "240.0.0.1",
        "192.0.2.1",
        "192.88.99.1",
        "::1",
        "::",
        "fd00::1",
        "fe80::1%eth0",
        "fec0::1",
        "ff0e::1",
        "2001:db8::1",
        "100::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::7f00:1",  # IPv4-compatible
        "::ffff:0:7f00:1",  # IPv4-translated
        "64:ff9b::7f00:1",  # NAT64 of loopback
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::808:808",  # local-use NAT64
        "2002:7f00:1::",  # 6to4 of loopback
        "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "2001:0:7f00:1::1",  # Teredo, server 127.0.0.1
    ],
)
def test_every_form_of_a_non_public_address_is_refused(address):
    assert refusal(address) is not None


def test_a_host_with_one_private_address_among_public_ones_is_refused():
    assert target_refusal("partner.example", ["8.8.8.8", "64:ff9b::7f00:1"]) is not None
    assert target_refusal("partner.example", []) is not None
    assert target_refusal("partner.example", ["8.8.8.8", "2001:4860:4860::8888"]) is None


def test_retries_back_off_exponentially():
    first = timedelta(seconds=2)
    assert [retry_delay(n, first).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


def test_an_endpoint_is_disabled_only_after_failing_for_the_whole_period():
    period = timedelta(days=5)

    assert not should_disable(None, NOW, period)
    assert not should_disable(NOW - period + timedelta(seconds=1), NOW, period)
    assert should_disable(NOW - period, NOW, period)


class UnitOfWork:
    """Stands in for the unit of work: keeps the rows staged for insertion at commit."""

    def __init__(self) -> None:
        self.added: list[tuple[object, dict]] = []

    def insert_at_commit(self, table: object, row: dict) -> None:
        self.added.append((table, row))


def _order(endpoint_id: uuid.UUID | None) -> Order:
    partner = Partner(id=uuid.uuid4(), name="p", webhook_endpoint_id=endpoint_id)
    return Order(
        id=uuid.uuid4(),
        partner_id=partner.id,
        partner=partner,
        partner_reference="ref-1",
        status="SHIPPED",
    )


def test_a_step_is_announced_to_the_current_endpoint_without_reading_the_partner():
    endpoint_id = uuid.uuid4()
    uow, order = UnitOfWork(), _order(endpoint_id)

    announce(uow, order, "ShipmentDispatched", {"house_awb": "176-12345675"})

    [(table, delivery)] = uow.added
    assert table is WebhookDelivery.__table__
    assert (
        delivery["partner_id"],
        delivery["endpoint_id"],
        delivery["order_id"],
        delivery["attempts"],
    ) == (order.partner_id, endpoint_id, order.id, 0)
    assert delivery["created_at"] == delivery["next_attempt_at"]
    assert delivery["payload"] == {
        "type": "order.ShipmentDispatched",
        "order_id": str(order.id),
        "partner_reference": "ref-1",
        "status": "SHIPPED",
        "occurred_at": delivery["next_attempt_at"].isoformat(),
        "detail": {"house_awb": "176-12345675"},
    }


def test_nothing_is_announced_to_a_partner_without_a_webhook():
    uow = UnitOfWork()

    announce(uow, _order(None), "ShipmentDispatched", {})

    assert uow.added == []
