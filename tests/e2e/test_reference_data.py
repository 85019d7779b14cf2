"""Customs and payments on loaded reference data (issue 8), through the running services.

The test stack loads the shipped files (devstack `load_reference_data`): the ECB history to
30 October 2026, the 2026 tariff and the other tables.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.e2e.orders import order_body, place, wait_for_status
from tests.e2e.test_saga import chocolate_to_shanghai, payment_of


def test_a_cleared_declaration_shows_the_reference_versions_it_used(partner, operator):
    order_id = place(partner, order_body()).json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})

    with operator("customs", "officer.janssens") as customs:
        detail = customs.get(f"/v1/declarations/{order_id}").json()

    used = detail["reference_data"]
    tables = {table["table"]: table for table in used["tables"]}
    assert {"vat-rates", "low-value", "denied-parties", "dangerous-goods"} <= set(tables)
    assert all(len(table["sha256"]) == 64 for table in tables.values())
    assert used["provisional"] is False
    rules = [rule["rule_id"] for rule in detail["assessment"]["rules_fired"]]
    assert "TAX-POINT" in rules


def test_readiness_warns_of_tables_ending_within_30_days_and_the_gauge_is_served(stack):
    ready = httpx.get(f"http://127.0.0.1:{stack.port('customs')}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    warnings = ready.json()["warnings"]
    assert "reference table cfets-rates is not loaded" in warnings
    # The shipped ECB file ends on 30 October 2026: its last customs month is November.
    assert any(w.startswith("reference table ecb-rates ends on 2026-11-30") for w in warnings)
    metrics = httpx.get(f"http://127.0.0.1:{stack.admin_port('customs')}/metrics", timeout=5)
    assert 'ehub_reference_coverage_end_timestamp_seconds{service="customs",table="tariff"}' in (
        metrics.text
    )


def test_a_waybill_naming_another_order_holds_the_cbec_declaration(partner, operator):
    """GACC Announcement 2018 No. 194, issue 8 defect 3: the logistics document comes from the
    partner's carrier, the payment document from the payments service: a mismatch holds."""
    body = chocolate_to_shanghai(f"E{uuid.uuid4().int % 10**8:08d}")
    body["logistics_document"] = {"waybill": "176-12345675", "order_reference": "NOT-THIS-ONE"}
    order_id = place(partner, body).json()["id"]

    order = wait_for_status(partner, order_id, {"CUSTOMS_HELD", "SHIPPED", "CUSTOMS_REJECTED"})

    assert order["status"] == "CUSTOMS_HELD", order["timeline"]
    held = next(e for e in order["timeline"] if e["event_type"] == "CustomsHeld")
    assert any("NOT-THIS-ONE" in reason for reason in held["detail"]["reasons"]), held


def test_payments_reports_cny_in_eur_at_the_loaded_ecb_rate(partner, operator):
    order_id = place(partner, chocolate_to_shanghai(f"E{uuid.uuid4().int % 10**8:08d}")).json()[
        "id"
    ]
    wait_for_status(partner, order_id, {"SHIPPED"})

    payment = payment_of(operator, order_id)

    rate = payment["exchange_rate"]
    assert rate is not None, payment
    assert rate["source"].startswith("ECB euro foreign exchange reference rate")
    assert rate["rate_date"] <= "2026-10-30"
    assert Decimal(payment["amount_eur"]) > 0
