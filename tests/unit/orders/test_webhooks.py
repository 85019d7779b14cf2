"""Webhook signatures and targets, without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.orders.webhooks import is_public_address, new_secret, retry_delay, sign


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
