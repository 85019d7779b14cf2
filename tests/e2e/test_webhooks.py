"""Partners hear of every step through signed webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.e2e.orders import order_body, place, wait_for_status

pytestmark = pytest.mark.e2e


class Receiver:
    """A partner's webhook endpoint on loopback; it refuses the first delivery to test retries."""

    def __init__(self) -> None:
        self.deliveries: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.refused == 0:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.deliveries.put(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["webhook-signature"], f"v1,{expected}")


def test_partner_receives_a_signed_webhook_for_each_step_even_after_a_failure(
    other_partner, receiver
):
    registered = other_partner.put("/v1/webhook", json={"url": receiver.url})
    assert registered.status_code == 200, registered.text
    secret = registered.json()["secret"]
    order_id = place(other_partner, order_body()).json()["id"]
    wait_for_status(other_partner, order_id, {"SHIPPED"})

    expected = {
        "order.OrderPlaced",
        "order.PaymentAuthorized",
        "order.CustomsCleared",
        "order.PaymentCaptured",
        "order.ShipmentDispatched",
    }
    received: dict[str, dict] = {}
    deadline = time.monotonic() + 30
    while not expected <= set(received) and time.monotonic() < deadline:
        try:
            headers, body = receiver.deliveries.get(timeout=1)
        except queue.Empty:
            continue
        assert verify(secret, headers, body), "every delivery carries a valid signature"
        payload = json.loads(body)
        if payload["order_id"] == order_id:
            received[payload["type"]] = payload

    assert receiver.refused == 1, "the refused first delivery was retried"
    assert expected <= set(received)
    assert received["order.ShipmentDispatched"]["status"] == "SHIPPED"


def test_webhook_url_must_be_a_url(partner):
    response = partner.put("/v1/webhook", json={"url": "not a url"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/url"
