"""PostgreSQL blips (issue 9 defect 6) on the real cluster: a fast restart answers no 500 (a
stale pooled connection is replaced transparently), an outage answers 503 with Retry-After,
and the pipeline converges within 15 s of the database's return after a 25 s outage."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.orders import order_body, place, wait_for_status
from tests.e2e.test_resilience import charged_once, wait_until_ready
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e

CONCURRENT = 24
OUTAGE_SECONDS = 25
CONVERGENCE_LIMIT_SECONDS = 15


def burst(partner: httpx.Client, order_ids: list[str]) -> list[int]:
    """Status codes of CONCURRENT reads and placements at once: together they check out
    more pooled connections than one request would."""

    def one(number: int) -> int:
        if number % 2:
            return place(partner, order_body()).status_code
        return partner.get(f"/v1/orders/{order_ids[number % len(order_ids)]}").status_code

    with ThreadPoolExecutor(CONCURRENT) as pool:
        return list(pool.map(one, range(CONCURRENT)))


def test_a_fast_restart_answers_no_500_on_stale_pooled_connections(partner, stack):
    order_ids = [place(partner, order_body()).json()["id"] for _ in range(3)]
    assert set(burst(partner, order_ids)) <= {200, 201}, "the pool holds several connections"

    devstack.restart_postgres()

    statuses = burst(partner, order_ids)
    assert 500 not in statuses
    assert set(statuses) <= {200, 201}, statuses
    wait_until_ready(stack)


def test_while_the_database_is_down_the_api_answers_503_with_retry_after(partner, stack):
    order_id = place(partner, order_body()).json()["id"]
    devstack.stop_postgres()
    try:
        read = partner.get(f"/v1/orders/{order_id}")
        placed = place(partner, order_body())
    finally:
        devstack.start_postgres()
    for response in (read, placed):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert int(response.headers["retry-after"]) > 0
        assert response.json()["type"].endswith("/database-unavailable")
    wait_until_ready(stack)


async def test_after_a_25_s_outage_the_pipeline_converges_within_15_s(partner, stack, databases):
    # Payments is paused while the orders are placed, so they are mid-pipeline when the
    # database goes: every loop of every service meets the outage.
    payments = int((devstack.RUN / f"{stack.process_name('payments')}.pid").read_text())
    os.killpg(payments, signal.SIGSTOP)
    try:
        order_ids = [place(partner, order_body()).json()["id"] for _ in range(8)]
        devstack.stop_postgres()
    finally:
        os.killpg(payments, signal.SIGCONT)
    try:
        time.sleep(OUTAGE_SECONDS)
    finally:
        devstack.start_postgres()
    returned = time.monotonic()

    for order_id in order_ids:
        remaining = CONVERGENCE_LIMIT_SECONDS - (time.monotonic() - returned)
        wait_for_status(partner, order_id, {"SHIPPED"}, timeout=max(remaining, 0.1))
    assert time.monotonic() - returned <= CONVERGENCE_LIMIT_SECONDS
    for order_id in order_ids:
        assert await charged_once(databases, order_id)
    wait_until_ready(stack)
