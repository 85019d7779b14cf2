"""Bad input answers a problem at the edge (413, 415, 422 naming the field), never a 500,
and stores nothing: control characters, overflowing amounts, coerced types, non-canonical
money, non-ASCII digits, unknown countries, oversized bodies and non-JSON bodies."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.e2e.orders import order_body, place, wait_for_status

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def _order_count(partner) -> int:
    return len(partner.get("/v1/orders", params={"limit": 100}).raise_for_status().json()["items"])


def _assert_refused(response, status: int, pointers: set[str] | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == status
    if pointers is not None:
        assert {error["pointer"] for error in problem["errors"]} == pointers, problem
    return problem


def _with(path: tuple, value) -> dict:
    body = order_body()
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


CONTROL_CHARACTERS = [
    (("partner_reference",), "ref-\u0000-1", "/partner_reference"),
    (("buyer", "name"), "Jan\u0000Peeters", "/buyer/name"),
    (("buyer", "email"), "jan\u0000@example.be", "/buyer/email"),
    (("buyer", "address", "line1"), "Rue\u0085Haute 1", "/buyer/address/line1"),
    (("buyer", "address", "city"), "Li\u001bge", "/buyer/address/city"),
    (("seller", "name"), "Silk\u007fWorks", "/seller/name"),
    (("items", 0, "sku"), "SKU\ud800", "/items/0/sku"),
    (("items", 0, "description"), "Silk scarf\u0000", "/items/0/description"),
    (("payment", "token"), "tok_\u0000visa", "/payment/token"),
]


@pytest.mark.parametrize(("path", "value", "pointer"), CONTROL_CHARACTERS)
def test_control_characters_in_an_order_are_a_422_naming_the_field(partner, path, value, pointer):
    before = _order_count(partner)

    response = _post_escaped(partner, _with(path, value))

    _assert_refused(response, 422, {pointer})
    assert _order_count(partner) == before


def _post_escaped(partner, body: dict):
    """The body as JSON with every non-ASCII character escaped (`\\u0000`, `\\ud800`), as any
    client may send it: a lone surrogate has no UTF-8 form of its own."""
    return partner.post(
        "/v1/orders",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def test_ordinary_whitespace_is_kept_where_free_text_allows_it(partner):
    body = _with(("items", 0, "description"), "Silk scarf,\tprinted\n90x90 cm")

    assert place(partner, body).status_code == 201


def test_a_control_character_in_a_cancel_reason_is_a_422(partner):
    order_id = place(partner, order_body()).raise_for_status().json()["id"]

    response = partner.post(f"/v1/orders/{order_id}/cancel", json={"reason": "changed\u0000mind"})

    _assert_refused(response, 422, {"/reason"})
    assert partner.get(f"/v1/orders/{order_id}").json()["cancellation_requested_at"] is None


def test_a_control_character_in_a_refund_reason_is_a_422_and_refunds_nothing(partner, operator):
    order_id = place(partner, order_body()).raise_for_status().json()["id"]
    wait_for_status(partner, order_id, {"SHIPPED"})
    with operator("payments", "finance.maes") as payments:
        payment = payments.get("/v1/payments", params={"order_id": order_id}).json()[0]

        response = payments.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": "1.00", "reason": "goodwill\u0000"},
        )
        after = payments.get(f"/v1/payments/{payment['id']}").json()

    _assert_refused(response, 422, {"/reason"})
    assert Decimal(after["refunded_amount"]) == 0


def test_an_order_total_beyond_numeric_18_4_is_a_422_not_a_500(partner):
    before = _order_count(partner)
    body = order_body()
    body["items"][0].update(unit_price="9999999999.9999", quantity=10_000)

    response = place(partner, body)

    problem = _assert_refused(response, 422)
    assert {error["pointer"] for error in problem["errors"]} <= {"/items/0/unit_price", "/items"}
    assert _order_count(partner) == before


@pytest.mark.parametrize(
    ("path", "value", "pointer"),
    [
        (("items", 0, "quantity"), "2", "/items/0/quantity"),
        (("items", 0, "quantity"), True, "/items/0/quantity"),
        (("items", 0, "quantity"), 2.0, "/items/0/quantity"),
        (("items", 0, "quantity"), 10_001, "/items/0/quantity"),
        (("items", 0, "unit_price"), "1e3", "/items/0/unit_price"),
        (("items", 0, "unit_price"), " 24.90", "/items/0/unit_price"),
        (("items", 0, "unit_price"), 24.9, "/items/0/unit_price"),
        (("items", 0, "unit_price"), "024.90", "/items/0/unit_price"),
        (("items", 0, "unit_price"), "-1.00", "/items/0/unit_price"),
        (("items", 0, "unit_price"), "99999999999", "/items/0/unit_price"),
        (("shipping_cost",), "6.50000", "/shipping_cost"),
        (("items", 0, "weight_kg"), 0.08, "/items/0/weight_kg"),
        (("items", 0, "hs_code"), "\uff16\uff12\uff11\uff14\uff11\uff10", "/items/0/hs_code"),
        (("buyer", "address", "country"), "XX", "/buyer/address/country"),
        (("items", 0, "origin_country"), "ZZ", "/items/0/origin_country"),
        (("seller", "country"), "EU", "/seller/country"),
    ],
)
def test_coerced_or_non_canonical_values_are_a_422_naming_the_field(partner, path, value, pointer):
    before = _order_count(partner)

    response = place(partner, _with(path, value))

    _assert_refused(response, 422, {pointer})
    assert _order_count(partner) == before


def test_a_body_beyond_the_size_limit_is_a_413_problem(partner):
    before = _order_count(partner)
    padded = b" " * (10 * 1024 * 1024) + partner_body_bytes()

    response = partner.post(
        "/v1/orders", content=padded, headers={"Content-Type": "application/json"}
    )

    _assert_refused(response, 413)
    assert _order_count(partner) == before


def test_a_chunked_body_beyond_the_size_limit_is_a_413_problem(partner):
    def chunks():
        for _ in range(40):
            yield b" " * (256 * 1024)
        yield partner_body_bytes()

    response = partner.post(
        "/v1/orders", content=chunks(), headers={"Content-Type": "application/json"}
    )

    _assert_refused(response, 413)


def partner_body_bytes() -> bytes:
    return json.dumps(order_body()).encode()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_that_is_not_json_is_a_415(partner, content_type):
    before = _order_count(partner)

    response = partner.post(
        "/v1/orders", content=partner_body_bytes(), headers={"Content-Type": content_type}
    )

    _assert_refused(response, 415)
    assert _order_count(partner) == before


def test_a_body_without_a_content_type_is_a_415(partner):
    response = partner.post("/v1/orders", content=partner_body_bytes())

    _assert_refused(response, 415)


def test_json_with_a_charset_is_accepted(partner):
    response = partner.post(
        "/v1/orders",
        content=partner_body_bytes(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 201, response.text


def test_the_openapi_document_states_the_bounds(partner):
    document = partner.get("/openapi.json").raise_for_status().json()
    schemas = document["components"]["schemas"]
    body = document["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]
    item = schemas["OrderItem"]["properties"]
    details = schemas[body["schema"]["$ref"].rsplit("/", 1)[1]]

    assert item["quantity"]["type"] == "integer"
    assert (item["quantity"]["minimum"], item["quantity"]["maximum"]) == (1, 10_000)
    assert item["unit_price"]["type"] == "string"
    assert item["unit_price"]["pattern"].startswith("^")
    assert item["hs_code"]["pattern"] == "^[0-9]{6,10}$"
    assert "pattern" in schemas["Buyer"]["properties"]["name"]
    assert "ISO 3166-1" in schemas["Address"]["properties"]["country"]["description"]
    assert "999999999.9999" in details["description"]
