"""No log line carries SQL parameters, personal data or payment tokens: errors are provoked
on the real services (a database error whose statement holds a whole order, bad input,
unknown routes) and every line the services wrote meanwhile is scanned."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import TEST_PORTS
from tests.e2e.orders import order_body, place
from tests.infrastructure import devstack

pytestmark = pytest.mark.e2e

# The database refuses one partner reference, quoting the whole row in its error message, as
# a constraint's DETAIL or a trigger's message may.
REFUSE_ORDER = [
    """
    CREATE OR REPLACE FUNCTION refuse_poisoned_order() RETURNS trigger AS $$
    BEGIN
        IF NEW.partner_reference LIKE 'poisoned-%' THEN
            RAISE EXCEPTION 'refusing order %', NEW.details::text;
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER refuse_poisoned_order BEFORE INSERT ON orders
        FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_order()
    """,
]
ALLOW_ORDERS = [
    "DROP TRIGGER IF EXISTS refuse_poisoned_order ON orders",
    "DROP FUNCTION IF EXISTS refuse_poisoned_order()",
]


async def _run(databases, statements: list[str]) -> None:
    for statement in statements:
        await databases.execute("orders", statement)


def _log_files() -> dict[Path, int]:
    """Each test service's log, with its size now: what a test writes comes after it."""
    files = [devstack.LOGS / f"{service}-test.log" for service in TEST_PORTS]
    return {path: path.stat().st_size for path in files}


def _lines_since(offsets: dict[Path, int]) -> list[str]:
    lines: list[str] = []
    for path, offset in offsets.items():
        with path.open("rb") as log:
            log.seek(offset)
            lines.extend(log.read().decode(errors="replace").splitlines())
    return lines


def _buyer(marker: str) -> dict:
    return {
        "name": f"Zoë Privacy-{marker}",
        "email": f"zoe.{marker}@privacy.example",
        "address": {
            "line1": f"Quai de la Batte {marker}",
            "city": "Liège",
            "postal_code": "4020",
            "country": "BE",
        },
    }


async def test_no_log_line_carries_personal_data_tokens_or_sql_parameters(partner, databases):
    marker = uuid.uuid4().hex[:12]
    secrets = [
        f"Privacy-{marker}",
        f"zoe.{marker}@privacy.example",
        f"Batte {marker}",
        f"tok_secret_{marker}",
    ]
    offsets = _log_files()
    await _run(databases, REFUSE_ORDER)
    try:
        poisoned = order_body(
            partner_reference=f"poisoned-{marker}",
            buyer=_buyer(marker),
            payment={"token": f"tok_secret_{marker}"},
        )
        database_error = place(partner, poisoned)
        replayable = place(partner, poisoned, **{"Idempotency-Key": f"poisoned-{marker}"})
    finally:
        await _run(databases, ALLOW_ORDERS)
    bad_input = order_body(buyer=_buyer(marker), payment={"token": f"tok_secret_{marker}"})
    bad_input["buyer"]["name"] += "\u0000"
    bad_input["items"][0]["quantity"] = "2"
    refused = place(partner, bad_input)
    not_json = partner.post(
        "/v1/orders",
        content=json.dumps(bad_input).encode(),
        headers={"Content-Type": "text/plain"},
    )
    time.sleep(1)  # the services' log handlers write synchronously; leave a margin for the pipe

    assert database_error.status_code == 500
    assert replayable.status_code == 500
    assert database_error.headers["content-type"].startswith("application/problem+json")
    assert [refused.status_code, not_json.status_code] == [422, 415]
    lines = _lines_since(offsets)
    assert lines, "the services logged nothing"
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    leaks = [line for line in lines if any(secret in line for secret in secrets)]
    assert leaks == []
    assert not [line for line in lines if "[parameters:" in line or "INSERT INTO" in line]
    unhandled = [entry for entry in entries if entry["message"] == "unhandled error"]
    assert len(unhandled) == 2, "each 500 is logged once, by the problem handler"
    assert all(entry["exception_type"] for entry in unhandled)
    assert not [entry for entry in entries if "Exception in ASGI application" in entry["message"]]
