"""What orders measures of the saga: statuses, stuck orders, stage latencies, webhooks.

Stage latencies are observed once per order, when the handler records a status change, and
only once the batch's transaction commits. Statuses and webhooks are sampled
(`shared.sampler`) with one aggregate statement each on the in-flight rows: the partial
index `ix_orders_in_flight` holds only orders in a non-final status, and pending webhook
deliveries have `ix_webhook_deliveries_due`; final orders and delivered webhooks, which
grow without bound, are never counted (the funnel counts status entries instead).
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.domain import OrderStatus
from services.orders.settings import OrdersSettings
from services.orders.tables import IN_FLIGHT_SQL, IN_FLIGHT_STATUSES, Order
from shared.metrics import at_commit
from shared.sampler import Probe, SampleContext

# The milestones a stage runs between, and the milestone an order in each status last passed.
MILESTONES = {
    OrderStatus.PENDING: "placed",
    OrderStatus.PAYMENT_AUTHORIZED: "authorized",
    OrderStatus.CUSTOMS_CLEARED: "cleared",
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.DELIVERED: "delivered",
}
LAST_MILESTONE = {
    OrderStatus.PENDING: "placed",
    OrderStatus.PAYMENT_AUTHORIZED: "authorized",
    OrderStatus.CUSTOMS_HELD: "authorized",
    OrderStatus.CUSTOMS_CLEARED: "cleared",
    OrderStatus.SHIPPED: "shipped",
    OrderStatus.IN_TRANSIT: "shipped",
}
# From milliseconds (a local authorization) to days (a held declaration, a flight and a van).
STAGE_BUCKETS = (
    *(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800),
    *(3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400),
)

ORDERS_ENTERED_STATUS = Counter(
    "ehub_orders_entered_status",
    "Orders that reached a status (PENDING when placed), counted at commit: the saga funnel",
    ["status"],
)
ORDER_STAGE_SECONDS = Histogram(
    "ehub_order_stage_seconds",
    "Time between two milestones of one order (placed, authorized, cleared, shipped, "
    "delivered), by the times of the events; stage e.g. placed_to_authorized",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
ORDER_SINCE_PLACED_SECONDS = Histogram(
    "ehub_order_placed_to_milestone_seconds",
    "Time from an order's placement to a milestone (authorized, cleared, shipped, delivered)",
    ["milestone"],
    buckets=STAGE_BUCKETS,
)
ORDERS_IN_STATUS = Gauge(
    "ehub_orders_in_status", "Orders now in a non-final status (sampled)", ["status"]
)
ORDERS_STUCK = Gauge(
    "ehub_orders_stuck",
    "Orders in a non-final status for longer than that status's objective "
    "(settings.status_objectives; sampled)",
    ["status"],
)
ORDERS_OLDEST_IN_STATUS = Gauge(
    "ehub_orders_oldest_in_status_seconds",
    "How long the order longest in a non-final status has been in it (0: none; sampled)",
    ["status"],
)
STATUS_OBJECTIVE = Gauge(
    "ehub_order_status_objective_seconds",
    "How long an order may stay in a non-final status before it counts as stuck (settings)",
    ["status"],
)
WEBHOOKS_PENDING = Gauge(
    "ehub_webhook_deliveries_pending",
    "Webhook deliveries of a partner neither acknowledged nor given up (sampled)",
    ["partner"],
)
WEBHOOKS_FAILING = Gauge(
    "ehub_webhook_deliveries_failing",
    "Pending webhook deliveries of a partner whose attempts so far all failed (sampled)",
    ["partner"],
)
WEBHOOKS_OLDEST_PENDING = Gauge(
    "ehub_webhook_oldest_pending_age_seconds",
    "Age of a partner's oldest pending webhook delivery (sampled)",
    ["partner"],
)

# The WHERE repeats the partial index's predicate literally, so every plan can use it.
STATUS_STATE = text(
    "SELECT orders.status, count(*) AS orders, "
    "count(*) FILTER (WHERE coalesce(status_changed_at, created_at) "
    "< clock_timestamp() - make_interval(secs => objective.seconds)) AS stuck, "
    "extract(epoch FROM clock_timestamp() - min(coalesce(status_changed_at, created_at))) "
    "AS oldest "
    "FROM orders JOIN unnest(CAST(:statuses AS varchar[]), CAST(:seconds AS float8[])) "
    "AS objective(status, seconds) ON objective.status = orders.status "
    f"WHERE orders.status IN ({IN_FLIGHT_SQL}) GROUP BY orders.status"
)
WEBHOOK_STATE = text(
    "SELECT partners.name AS partner, count(*) AS pending, "
    "count(*) FILTER (WHERE deliveries.attempts > 0) AS failing, "
    "extract(epoch FROM clock_timestamp() - min(deliveries.created_at)) AS oldest "
    "FROM webhook_deliveries deliveries JOIN partners ON partners.id = deliveries.partner_id "
    "WHERE deliveries.delivered_at IS NULL AND deliveries.failed_at IS NULL "
    "GROUP BY partners.name"
)


def status_changed(
    session: AsyncSession, order: Order, previous: OrderStatus, at: datetime
) -> None:
    """Note that `order` just left `previous` for its current status at `at` (the event's
    time); the counters and histograms move when the transaction commits."""
    status = OrderStatus(order.status)
    order.status_changed_at = at
    observations = [lambda: ORDERS_ENTERED_STATUS.labels(status.value).inc()]
    milestone = MILESTONES.get(status)
    if milestone is not None:
        stage = f"{LAST_MILESTONE[previous]}_to_{milestone}"
        since_milestone = _seconds(at, order.milestone_at or order.created_at)
        since_placed = _seconds(at, order.created_at)
        order.milestone_at = at
        observations += [
            lambda: ORDER_STAGE_SECONDS.labels(stage).observe(since_milestone),
            lambda: ORDER_SINCE_PLACED_SECONDS.labels(milestone).observe(since_placed),
        ]
    for observation in observations:
        at_commit(session, observation)


def _seconds(later: datetime, earlier: datetime) -> float:
    return max((later - earlier).total_seconds(), 0.0)


def probes(settings: OrdersSettings) -> list[Probe]:
    objectives = {
        status: settings.status_objectives[status].total_seconds() for status in IN_FLIGHT_STATUSES
    }
    for status, seconds in objectives.items():
        STATUS_OBJECTIVE.labels(status.value).set(seconds)
    partners_seen: set[str] = set()

    async def measure_statuses(context: SampleContext) -> None:
        async with context.engine.connect() as connection:
            rows = {
                row.status: row
                for row in await connection.execute(
                    STATUS_STATE,
                    {
                        "statuses": [status.value for status in objectives],
                        "seconds": list(objectives.values()),
                    },
                )
            }
        for status in IN_FLIGHT_STATUSES:
            row = rows.get(status.value)
            ORDERS_IN_STATUS.labels(status.value).set(row.orders if row else 0)
            ORDERS_STUCK.labels(status.value).set(row.stuck if row else 0)
            ORDERS_OLDEST_IN_STATUS.labels(status.value).set(float(row.oldest) if row else 0.0)

    async def measure_webhooks(context: SampleContext) -> None:
        async with context.engine.connect() as connection:
            rows = {row.partner: row for row in await connection.execute(WEBHOOK_STATE)}
        # A partner whose deliveries all went out reads 0, not its last backlog.
        partners_seen.update(rows)
        for partner in partners_seen:
            row = rows.get(partner)
            WEBHOOKS_PENDING.labels(partner).set(row.pending if row else 0)
            WEBHOOKS_FAILING.labels(partner).set(row.failing if row else 0)
            WEBHOOKS_OLDEST_PENDING.labels(partner).set(float(row.oldest) if row else 0.0)

    return [Probe("order_statuses", measure_statuses), Probe("webhooks", measure_webhooks)]
