"""Webhook signatures and targets, without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import pytest

from services.orders.tables import Order, Partner, WebhookDelivery
from services.orders.webhooks import (
    announce,
    is_public_address,
    new_secret,
    retry_delay,
    sign,
)


def test_signature_follows_standard_webhooks():
    secret = new_secret()
    body = b'{"type":"order.OrderPlaced"}'

    signature = sign(secret, "msg_1", 1764300000, body)

    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_1.1764300000." + body, hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(expected).decode()
    assert sign(secret, "msg_1", 1764300001, body) != signature, "the timestamp is signed"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fd00::1", False),
        ("0.0.0.0", False),
    ],
)
def test_only_public_addresses_receive_webhooks(address, public):
    assert is_public_address(address) is public


def test_retries_back_off_exponentially():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]


class Session:
    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


def _order(webhook_url: str | None) -> Order:
    partner = Partner(id=uuid.uuid4(), name="p", webhook_url=webhook_url)
    return Order(
        id=uuid.uuid4(),
        partner_id=partner.id,
        partner=partner,
        partner_reference="ref-1",
        status="SHIPPED",
    )


def test_a_step_is_announced_from_the_loaded_partner_without_reading_it():
    session, order = Session(), _order("https://partner.example/hooks")

    announce(session, order, "ShipmentDispatched", {"house_awb": "176-12345675"})

    [delivery] = session.added
    assert isinstance(delivery, WebhookDelivery)
    assert (delivery.partner_id, delivery.order_id, delivery.attempts) == (
        order.partner_id,
        order.id,
        0,
    )
    assert delivery.payload == {
        "type": "order.ShipmentDispatched",
        "order_id": str(order.id),
        "partner_reference": "ref-1",
        "status": "SHIPPED",
        "occurred_at": delivery.next_attempt_at.isoformat(),
        "detail": {"house_awb": "176-12345675"},
    }


def test_nothing_is_announced_to_a_partner_without_a_webhook():
    session = Session()

    announce(session, _order(None), "ShipmentDispatched", {})

    assert session.added == []
