"""What `make chaos` reconciles after each fault, across the four service databases.

Read as the cluster superuser on fresh connections each time (a check may follow a database
restart). An order of a scenario is one whose partner reference starts with the scenario's
prefix; `accepted` are those the API answered 201.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import devstack

from shared.messaging.kafka import SERVICES

# With the hub clock stopped a cleared order waits at SHIPPED; a held one waits for an officer.
WAITING = {"SHIPPED", "IN_TRANSIT", "CUSTOMS_HELD"}
SETTLED = devstack.FINAL_STATUSES | WAITING


@dataclass
class Reconciliation:
    accepted: int
    stored: int = 0
    lost: int = 0
    unsettled: int = 0
    duplicated: int = 0
    captured_uncleared: int = 0
    outbox_pending: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not (self.lost or self.unsettled or self.outbox_pending)

    @property
    def wrong(self) -> int:
        """Effects that must never happen however long one waits."""
        return self.duplicated + self.captured_uncleared


async def _fetch(database: str, sql: str, *args) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(devstack.postgres_admin_url(database), timeout=5)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def reconcile(suffix: str, prefix: str, accepted: set[str]) -> Reconciliation:
    """Where every order of the scenario stands, and what happened to it too often."""
    result = Reconciliation(accepted=len(accepted))
    orders = await _fetch(
        f"ehub_orders{suffix}",
        "SELECT id::text AS id, status FROM orders WHERE partner_reference LIKE $1",
        prefix.replace("_", r"\_") + "%",
    )
    status = {row["id"]: row["status"] for row in orders}
    ids = list(status)
    result.stored = len(ids)
    payments = {
        row["order_id"]: row
        for row in await _fetch(
            f"ehub_payments{suffix}",
            "SELECT p.order_id::text AS order_id, p.id::text AS payment_id,"
            " count(o.id) FILTER (WHERE o.kind = 'AUTHORIZATION') AS authorizations,"
            " count(o.id) FILTER (WHERE o.kind = 'CAPTURE') AS captures"
            " FROM payments p LEFT JOIN payment_operations o ON o.payment_id = p.id"
            " WHERE p.order_id = ANY($1::uuid[]) GROUP BY p.id",
            ids,
        )
    }
    # The sandbox processor's own memory: approved authorizations by payment, and the
    # authorizations it holds under their references.
    gateway = await _fetch(
        f"ehub_payments{suffix}",
        "SELECT split_part(r.key, ':', 2) AS payment_id, count(*) AS approved,"
        " count(a.key) AS held FROM sandbox_memory r LEFT JOIN sandbox_memory a"
        "   ON a.kind = 'authorization' AND a.key = r.state->'response'->>'gateway_reference'"
        " WHERE r.kind = 'idempotency_record' AND r.key LIKE 'payment:%:authorize:%'"
        "   AND r.state->'response'->>'outcome' = 'APPROVED'"
        " GROUP BY 1",
    )
    gateway_by_payment = {row["payment_id"]: row for row in gateway}
    declarations = {
        row["order_id"]: row["status"]
        for row in await _fetch(
            f"ehub_customs{suffix}",
            "SELECT order_id::text AS order_id, status FROM declarations"
            " WHERE order_id = ANY($1::uuid[])",
            ids,
        )
    }
    shipments = Counter(
        {
            row["order_id"]: row["shipments"]
            for row in await _fetch(
                f"ehub_fulfillment{suffix}",
                "SELECT order_id::text AS order_id, count(*) AS shipments FROM shipments"
                " WHERE order_id = ANY($1::uuid[]) GROUP BY order_id",
                ids,
            )
        }
    )
    result.lost = len(accepted - set(ids))
    for order_id in ids:
        payment = payments.get(order_id)
        if status[order_id] not in SETTLED:
            result.unsettled += 1
            continue
        if payment is None:
            continue
        memory = gateway_by_payment.get(payment["payment_id"])
        approved = memory["approved"] if memory else 0
        held = memory["held"] if memory else 0
        extra = (
            max(payment["authorizations"] - 1, 0)
            + max(payment["captures"] - 1, 0)
            + max(approved - 1, 0)
            + max(held - 1, 0)
            + max(shipments[order_id] - 1, 0)
        )
        if payment["authorizations"] != approved:
            result.problems.append(
                f"{order_id}: {payment['authorizations']} authorizations recorded,"
                f" {approved} approved by the gateway"
            )
            extra += 1
        result.duplicated += extra
        if payment["captures"] and declarations.get(order_id) != "CLEARED":
            result.captured_uncleared += 1
        if status[order_id] == "SHIPPED" and shipments[order_id] != 1:
            result.problems.append(f"{order_id}: SHIPPED with {shipments[order_id]} shipments")
            result.duplicated += 1
    for service in SERVICES:
        [row] = await _fetch(f"ehub_{service}{suffix}", "SELECT count(*) AS pending FROM outbox")
        result.outbox_pending += row["pending"]
    return result
