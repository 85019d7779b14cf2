"""`make bench`: throughput and latency of the whole saga on the running `make up` stack.

Places a bounded number of orders through the partner API on loopback with a fixed
concurrency, waits for each to reach SHIPPED, and prints: HTTP latency of POST /v1/orders,
latency from placement to ShipmentDispatched (p50/p95/p99/max, by the services' clocks),
orders per second, and the resident memory of each service process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import devstack  # noqa: E402

DONE = {"SHIPPED", "IN_TRANSIT", "DELIVERED"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_order(client: httpx.AsyncClient, body: dict) -> tuple[float, float, float]:
    """POST latency, and when the order was placed and shipped by the services' own clocks.

    The saga's latency is read from the order's timeline rather than by polling hard, so
    the benchmark's own reads do not slow down what it measures.
    """
    body = dict(body, partner_reference=f"bench-{uuid.uuid4().hex[:10]}")
    started = time.perf_counter()
    response = await client.post("/v1/orders", json=body)
    response.raise_for_status()
    posted = time.perf_counter() - started
    order_id = response.json()["id"]
    deadline = started + 120
    while time.perf_counter() < deadline:
        await asyncio.sleep(1.0)
        order = (await client.get(f"/v1/orders/{order_id}")).json()
        if order["status"] in DONE:
            shipped = next(
                entry["occurred_at"]
                for entry in order["timeline"]
                if entry["event_type"] == "ShipmentDispatched"
            )
            return (
                posted,
                datetime.fromisoformat(order["created_at"]).timestamp(),
                datetime.fromisoformat(shipped).timestamp(),
            )
        if order["status"] not in {"PENDING", "PAYMENT_AUTHORIZED", "CUSTOMS_CLEARED"}:
            raise RuntimeError(f"order {order_id} ended {order['status']}")
    raise TimeoutError(f"order {order_id} not shipped within 120 s")


async def run(orders: int, concurrency: int) -> None:
    key = (devstack.DATA / "dev-partner-key").read_text().strip()
    body = json.loads((ROOT / "scripts" / "demo_order.json").read_text())
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{devstack.SERVICES['orders']}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as client:
        await one_order(client, body)  # warm-up: connections, caches

        async def bounded() -> tuple[float, float, float]:
            async with limit:
                return await one_order(client, body)

        results = await asyncio.gather(*(bounded() for _ in range(orders)))
    posts = [post * 1000 for post, _, _ in results]
    flows = [(shipped - placed) * 1000 for _, placed, shipped in results]
    span = max(shipped for _, _, shipped in results) - min(placed for _, placed, _ in results)
    print(f"orders: {orders}, at most {concurrency} in flight")
    print(f"throughput: {orders / span:.1f} orders/s from first placed to last shipped")
    for name, values in (("POST /v1/orders", posts), ("placed -> SHIPPED", flows)):
        print(
            f"{name:<17} p50 {statistics.median(values):7.1f} ms   "
            f"p95 {percentile(values, 0.95):7.1f} ms   p99 {percentile(values, 0.99):7.1f} ms   "
            f"max {max(values):7.1f} ms"
        )
    for service in devstack.SERVICES:
        pid = int((devstack.RUN / f"{service}.pid").read_text())
        print(f"memory {service:<12} {resident_mb(pid):6.1f} MB resident")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    arguments = parser.parse_args()
    if not all(devstack.service_ready(port) for port in devstack.SERVICES.values()):
        raise SystemExit("the stack is not running: run `make up` first")
    asyncio.run(run(min(arguments.orders, 5000), min(arguments.concurrency, 200)))


if __name__ == "__main__":
    main()
