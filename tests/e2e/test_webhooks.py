"""Partners hear of every step through signed webhooks, each partner isolated from the others."""

from __future__ import annotations

import json
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.e2e.conftest import partner_client
from tests.e2e.orders import order_body, place, wait_for_status

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Received:
    at: float  # time.time() on arrival
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """A partner's webhook endpoint on loopback; `answer(number)` gives the status for the
    number-th request (from 1) and `delay` how long it thinks first. `arrivals` holds the
    `webhook-id` of every request as it arrives, before it is answered."""

    def __init__(self, answer: Callable[[int], int] = lambda _: 204, delay: float = 0) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.requests = 0
        self.arrivals: list[str] = []
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["content-length"]))
                with lock:
                    receiver.requests += 1
                    number = receiver.requests
                    receiver.arrivals.append(self.headers["webhook-id"])
                if delay:
                    time.sleep(delay)
                status = answer(number)
                if 200 <= status < 300:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.put(Received(time.time(), self.path, headers, body))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.redirect_to = ""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def drain(self, until: Callable[[list[Received]], bool], timeout: float) -> list[Received]:
        """What arrived, once `until` holds of it (or the timeout passed)."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while not until(got) and time.monotonic() < deadline:
            try:
                got.append(self.received.get(timeout=0.2))
            except queue.Empty:
                continue
        return got

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(**options) -> Receiver:
        started.append(Receiver(**options))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


@pytest.fixture
def new_partner(stack) -> Iterator[Callable[[str], httpx.Client]]:
    clients: list[httpx.Client] = []

    def make(name: str) -> httpx.Client:
        clients.append(partner_client(stack, name))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def register(client: httpx.Client, url: str, **options) -> str:
    response = client.put("/v1/webhook", json={"url": url, **options})
    assert response.status_code == 200, response.text
    return response.json()["secret"]


def verified(secret: str, received: Received) -> dict:
    """The body, once the `standardwebhooks` verifier accepted its signature with `secret`."""
    return Webhook(secret).verify(received.body, received.headers)


def of_order(order_id: str) -> Callable[[list[Received]], bool]:
    return lambda got: any(r.payload["order_id"] == order_id for r in got)


def test_partner_receives_a_signed_webhook_for_each_step_even_after_a_failure(
    new_partner, receivers
):
    partner = new_partner("signed")
    receiver = receivers(answer=lambda number: 503 if number == 1 else 204)
    secret = register(partner, receiver.url)
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})

    expected = {
        "order.OrderPlaced",
        "order.PaymentAuthorized",
        "order.CustomsCleared",
        "order.PaymentCaptured",
        "order.ShipmentDispatched",
    }
    got = receiver.drain(lambda got: expected <= {r.payload["type"] for r in got}, 30)

    received = {verified(secret, r)["type"]: r.payload for r in got}
    assert receiver.requests > len(got), "the refused first delivery was retried"
    assert expected <= set(received)
    assert received["order.ShipmentDispatched"]["status"] == "SHIPPED"


def test_a_sleeping_receiver_never_delays_another_partner(new_partner, receivers):
    fast_partner, slow_partner = new_partner("isolated-fast"), new_partner("isolated-slow")
    fast, slow = receivers(), receivers(delay=4.5)
    register(fast_partner, fast.url)
    register(slow_partner, slow.url)

    fast_orders: set[str] = set()
    for _ in range(20):
        for _ in range(2):  # the slow partner places twice as many orders
            assert place(slow_partner, order_body()).status_code == 201
        fast_orders.add(place(fast_partner, order_body()).json()["id"])

    def placed(got: list[Received]) -> bool:
        announced = {r.payload["order_id"] for r in got if r.payload["type"] == "order.OrderPlaced"}
        return fast_orders <= announced

    got = fast.drain(placed, 30)
    got += fast.drain(lambda _: False, 3)  # the steps after placement, for as long again

    latencies = sorted(
        r.at - datetime.fromisoformat(r.payload["occurred_at"]).timestamp() for r in got
    )
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"\nfast partner: {len(got)} webhooks, p50 {statistics.median(latencies):.3f} s, "
        f"p99 {p99:.3f} s, max {latencies[-1]:.3f} s; sleeping partner's receiver "
        f"answered {slow.requests} requests meanwhile"
    )
    assert placed(got), "every order of the fast partner was announced"
    assert p99 <= 2.0
    assert slow.requests >= 1, "the slow partner was being delivered to all along"


def test_the_delivery_log_shows_every_attempt(new_partner, receivers):
    partner = new_partner("logged")
    receiver = receivers(answer=lambda number: 503 if number == 1 else 204)
    register(partner, receiver.url)
    order_id = place(partner, order_body()).json()["id"]
    receiver.drain(of_order(order_id), 15)

    # The receiver refuses its first request, whichever of the order's deliveries it was:
    # several go out at once (a few in flight per endpoint).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = partner.get("/v1/webhook/deliveries", params={"order_id": order_id}).json()
        retried = [d for d in page["items"] if len(d["attempts"]) > 1]
        if retried and retried[0]["status"] == "delivered":
            break
        time.sleep(0.2)

    [first] = retried
    assert first["status"] == "delivered"
    refused, accepted = first["attempts"]
    assert (refused["status_code"], refused["error"]) == (503, "HTTP 503")
    assert refused["next_retry_at"] is not None
    assert datetime.fromisoformat(refused["next_retry_at"]) > datetime.fromisoformat(
        refused["attempted_at"]
    )
    assert (accepted["status_code"], accepted["error"], accepted["next_retry_at"]) == (
        204,
        None,
        None,
    )
    assert all(
        attempt["latency_ms"] >= 0 and attempt["url"] == receiver.url
        for attempt in (refused, accepted)
    )
    assert partner.get(f"/v1/webhook/deliveries/{first['id']}").json() == first
    other = new_partner("logged-other")
    assert other.get(f"/v1/webhook/deliveries/{first['id']}").status_code == 404


def test_one_delivery_or_a_time_range_is_sent_again_on_request(new_partner, receivers):
    partner = new_partner("redelivered")
    receiver = receivers()
    secret = register(partner, receiver.url)
    started = datetime.now(UTC)
    order_id = place(partner, order_body()).json()["id"]
    [first] = [
        r for r in receiver.drain(of_order(order_id), 15) if r.payload["order_id"] == order_id
    ]
    delivery_id = first.headers["webhook-id"]

    response = partner.post(f"/v1/webhook/deliveries/{delivery_id}/redeliver")
    assert response.status_code == 202, response.text
    again = receiver.drain(lambda got: any(r.headers["webhook-id"] == delivery_id for r in got), 10)
    assert [
        verified(secret, r)["order_id"] for r in again if r.headers["webhook-id"] == delivery_id
    ] == [order_id]

    wait_for_status(partner, order_id, {"SHIPPED"})
    time.sleep(1)  # the pipeline's own steps for the order are announced and acknowledged
    receiver.drain(lambda _: False, 1)
    logged = partner.get("/v1/webhook/deliveries", params={"order_id": order_id}).json()["items"]
    ranged = partner.post(
        "/v1/webhook/redeliveries",
        json={"since": started.isoformat(), "until": datetime.now(UTC).isoformat(), "status": None},
    )
    assert ranged.status_code == 202, ranged.text
    count = ranged.json()["requeued"]
    assert count == len(logged) >= 5
    resent = receiver.drain(lambda got: len(got) >= count, 10)
    assert sorted(r.headers["webhook-id"] for r in resent) == sorted(d["id"] for d in logged)
    backwards = partner.post(
        "/v1/webhook/redeliveries",
        json={"since": datetime.now(UTC).isoformat(), "until": started.isoformat()},
    )
    assert (backwards.status_code, backwards.json()) == (202, {"requeued": 0}), "an empty range"


def test_a_delivery_asked_for_again_while_in_flight_is_sent_again(new_partner, receivers):
    partner = new_partner("redelivered-in-flight")
    released = threading.Event()

    def first_answer_waits(number: int) -> int:
        if number == 1:
            released.wait(10)
        return 204

    receiver = receivers(answer=first_answer_waits)
    register(partner, receiver.url)
    place(partner, order_body())
    deadline = time.monotonic() + 10
    while not receiver.arrivals and time.monotonic() < deadline:
        time.sleep(0.05)
    [in_flight, *_] = receiver.arrivals

    response = partner.post(f"/v1/webhook/deliveries/{in_flight}/redeliver")
    assert response.status_code == 202, response.text
    released.set()
    got = receiver.drain(
        lambda got: sum(r.headers["webhook-id"] == in_flight for r in got) >= 2, 15
    )
    assert sum(r.headers["webhook-id"] == in_flight for r in got) == 2, (
        "the answer to the first request did not mark the requested one delivered"
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        delivery = partner.get(f"/v1/webhook/deliveries/{in_flight}").json()
        if delivery["status"] == "delivered":
            break
        time.sleep(0.1)
    assert (delivery["status"], len(delivery["attempts"])) == ("delivered", 2)


def test_deliveries_stay_bound_to_their_url_and_secret_unless_retargeted(new_partner, receivers):
    partner = new_partner("retargeted")
    down = receivers(answer=lambda _: 503)
    old_secret = register(partner, down.url)
    order_id = place(partner, order_body()).json()["id"]
    time.sleep(1)  # its OrderPlaced is refused by the old URL, and waits for a retry

    kept_url = receivers()
    new_secret = register(partner, kept_url.url)
    later_order = place(partner, order_body()).json()["id"]
    got = kept_url.drain(of_order(later_order), 10)

    def placed_first(got: list[Received]) -> bool:
        return any(
            r.payload["order_id"] == order_id and r.payload["type"] == "order.OrderPlaced"
            for r in got
        )

    assert not placed_first(got), "a URL change does not move a waiting delivery"
    log = partner.get("/v1/webhook/deliveries", params={"order_id": order_id}).json()["items"]
    assert {d["url"] for d in log if d["type"] == "order.OrderPlaced"} == {down.url}

    moved_to = receivers()
    moved_secret = register(partner, moved_to.url, retarget_pending=True)
    moved = moved_to.drain(placed_first, 20)
    assert placed_first(moved), "retarget_pending moved the waiting delivery"
    first = next(r for r in moved if r.payload["type"] == "order.OrderPlaced")
    assert verified(moved_secret, first)["order_id"] == order_id
    for stale in (old_secret, new_secret):
        with pytest.raises(WebhookVerificationError):
            verified(stale, first)


def test_both_secrets_sign_during_a_rotation_then_only_the_new_one(new_partner, receivers):
    partner = new_partner("rotated")
    receiver = receivers()
    old = register(partner, receiver.url)

    rotated = partner.post("/v1/webhook/secret", json={"overlap_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_expires_at"]
    order_id = place(partner, order_body()).json()["id"]
    [during] = [
        r for r in receiver.drain(of_order(order_id), 10) if r.payload["order_id"] == order_id
    ][:1]
    assert verified(old, during)["order_id"] == order_id
    assert verified(new, during)["order_id"] == order_id

    newest = partner.post("/v1/webhook/secret", json={"overlap_seconds": 0}).json()["secret"]
    time.sleep(1)
    receiver.drain(lambda _: False, 1)
    later = place(partner, order_body()).json()["id"]
    [after] = [r for r in receiver.drain(of_order(later), 10) if r.payload["order_id"] == later][:1]
    assert verified(newest, after)["order_id"] == later
    with pytest.raises(WebhookVerificationError):
        verified(new, after)


async def test_an_endpoint_failing_for_the_whole_period_is_disabled_with_a_notice(
    new_partner, receivers, databases
):
    partner = new_partner("disabled")
    failing = threading.Event()
    failing.set()
    receiver = receivers(answer=lambda _: 500 if failing.is_set() else 204)
    register(partner, receiver.url)
    place(partner, order_body())
    deadline = time.monotonic() + 10
    while partner.get("/v1/webhook").json()["failing_since"] is None:
        assert time.monotonic() < deadline, "the failures were never recorded"
        time.sleep(0.2)
    # Five days of failures, the default period, have passed as far as the endpoint knows.
    await databases.execute(
        "orders",
        "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' "
        "WHERE url = :url",
        url=receiver.url,
    )

    deadline = time.monotonic() + 15
    while (webhook := partner.get("/v1/webhook").json())["enabled"]:
        assert time.monotonic() < deadline, "the endpoint was never disabled"
        time.sleep(0.2)
    assert webhook["disabled_at"] and receiver.url in webhook["notice"]
    requests_when_disabled = receiver.requests
    waiting = place(partner, order_body()).json()["id"]
    time.sleep(2)
    assert receiver.requests == requests_when_disabled, "nothing is sent to a disabled endpoint"

    failing.clear()
    enabled = partner.post("/v1/webhook/enable")
    assert enabled.json()["enabled"] and enabled.json()["notice"] is None
    assert of_order(waiting)(receiver.drain(of_order(waiting), 15)), (
        "the deliveries that waited go out once the endpoint is enabled"
    )


def test_redirects_are_not_followed(new_partner, receivers):
    partner = new_partner("redirected")
    elsewhere = receivers()
    redirecting = receivers(answer=lambda _: 307)
    redirecting.redirect_to = elsewhere.url
    register(partner, redirecting.url)
    order_id = place(partner, order_body()).json()["id"]

    deadline = time.monotonic() + 10
    attempts: list[dict] = []
    while not attempts and time.monotonic() < deadline:
        items = partner.get("/v1/webhook/deliveries", params={"order_id": order_id}).json()["items"]
        attempts = [a for d in items for a in d["attempts"]]
        time.sleep(0.2)

    assert attempts and attempts[0]["status_code"] == 307 and attempts[0]["error"] == "HTTP 307"
    assert elsewhere.requests == 0


def test_webhook_url_must_be_a_url(partner):
    response = partner.put("/v1/webhook", json={"url": "not a url"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/url"
