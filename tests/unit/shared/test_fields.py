"""The edge's field types: control characters, canonical decimal strings, strict quantities,
ISO countries, ASCII HS codes, and the order's bounds (no I/O)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.events import OrderDetails
from shared.fields import (
    COUNTRIES,
    CountryCode,
    Email,
    HsCode,
    Line,
    MoneyString,
    Paragraph,
    PositiveMoneyString,
    Quantity,
    Timestamp,
    explain,
)

DEMO = json.loads((Path(__file__).parents[3] / "scripts" / "demo_order.json").read_text())


def _errors(adapter: TypeAdapter, value: object) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        adapter.validate_python(value)
    return raised.value.errors()


@pytest.mark.parametrize(
    "text", ["a\x00b", "\x1b[31m", "tab\there", "line\nbreak", "\x7f", "\x85", "\ud800"]
)
def test_a_line_refuses_every_control_character_and_lone_surrogates(text):
    (error,) = _errors(TypeAdapter(Line), text)

    assert explain(error) in (
        "must not contain control characters",
        "must be Unicode text (a lone surrogate is none)",
    )


@pytest.mark.parametrize("text", ["Silk scarf,\tprinted", "two\nlines", "crlf\r\n"])
def test_a_paragraph_keeps_tabs_and_line_breaks(text):
    assert TypeAdapter(Paragraph).validate_python(text) == text


@pytest.mark.parametrize("text", ["nul\x00", "esc\x1b", "\x9b", "vt\x0b"])
def test_a_paragraph_refuses_other_control_characters(text):
    (error,) = _errors(TypeAdapter(Paragraph), text)

    assert explain(error) == "must not contain control characters (but tab and newline)"


@pytest.mark.parametrize(
    "address", ["jan\x00@example.be", "jan @example.be", "jan@example", "@x.be"]
)
def test_an_email_address_has_no_spaces_or_control_characters(address):
    (error,) = _errors(TypeAdapter(Email), address)

    assert explain(error).startswith("must be an e-mail address")


def test_ordinary_unicode_text_is_accepted():
    assert TypeAdapter(Line).validate_python("Amélie Dubois — Liège 杭州") == (
        "Amélie Dubois — Liège 杭州"
    )


def test_text_constraints_compose_with_field_limits_and_show_in_the_schema():
    class Model(BaseModel):
        name: Line = Field(min_length=1, max_length=5)

    schema = Model.model_json_schema()["properties"]["name"]

    assert schema["maxLength"] == 5 and schema["pattern"].startswith("^[^")
    with pytest.raises(ValidationError):
        Model(name="toolong")


@pytest.mark.parametrize("text", ["0", "24.90", "24.9", "1000", "0.0001", "999999999.9999"])
def test_canonical_decimal_strings_are_money(text):
    assert TypeAdapter(MoneyString).validate_json(json.dumps(text)) == Decimal(text)


@pytest.mark.parametrize(
    "value",
    [
        "1e3",
        " 24.90",
        "24.90 ",
        "024.90",
        "-1.00",
        "+1",
        "1.",
        ".5",
        "1.00000",
        "1,00",
        "1000000000",
        "NaN",
        "Infinity",
        "\uff12\uff14",
        24.9,
        24,
        True,
        None,
    ],
)
def test_anything_else_is_not_money(value):
    (error,) = _errors(TypeAdapter(MoneyString), value)

    assert error["type"] == "decimal_string"
    assert '"24.90"' in error["msg"]


def test_a_json_number_is_not_money():
    with pytest.raises(ValidationError):
        TypeAdapter(MoneyString).validate_json("24.9")


def test_a_decimal_passed_in_python_follows_the_same_rule():
    adapter = TypeAdapter(MoneyString)

    assert adapter.validate_python(Decimal("24.90")) == Decimal("24.90")
    with pytest.raises(ValidationError):
        adapter.validate_python(Decimal("1.00001"))
    with pytest.raises(ValidationError):
        adapter.validate_python(Decimal("NaN"))


def test_money_serialises_as_the_same_string():
    assert TypeAdapter(MoneyString).dump_json(Decimal("24.90")) == b'"24.90"'


def test_positive_money_refuses_zero():
    (error,) = _errors(TypeAdapter(PositiveMoneyString), "0.00")

    assert error["type"] == "decimal_string" and "positive" in error["msg"]


@pytest.mark.parametrize("text", ["0", "0.0", "0.0000", "00.1", "0.00001"])
def test_positive_money_refuses_every_zero_in_its_schema_pattern_too(text):
    pattern = TypeAdapter(PositiveMoneyString).json_schema()["pattern"]

    assert not re.search(pattern, text)
    assert _errors(TypeAdapter(PositiveMoneyString), text)


@pytest.mark.parametrize("text", ["0.0001", "0.1", "0.0120", "1", "10.5", "999999999.9999"])
def test_positive_money_the_pattern_admits_is_accepted(text):
    pattern = TypeAdapter(PositiveMoneyString).json_schema()["pattern"]

    assert re.search(pattern, text)
    assert TypeAdapter(PositiveMoneyString).validate_json(f'"{text}"') == Decimal(text)


@pytest.mark.parametrize(
    "value", ["0", "0.5", 0, 1764633600, "2026-12-02T08:00:00", "2026-12-02 08:00:00Z", ""]
)
def test_a_timestamp_is_rfc_3339_text_with_an_offset_never_a_number(value):
    (error,) = _errors(TypeAdapter(Timestamp), value)

    assert "RFC 3339" in error["msg"]


def test_a_timestamp_in_json_is_never_a_number():
    with pytest.raises(ValidationError):
        TypeAdapter(Timestamp).validate_json("0")


@pytest.mark.parametrize(
    "text", ["2026-12-02T08:00:00Z", "2026-12-02t08:00:00.123456z", "2026-12-02T09:00:00+01:00"]
)
def test_a_timestamp_takes_what_the_date_time_format_describes(text):
    assert TypeAdapter(Timestamp).json_schema() == {"type": "string", "format": "date-time"}
    assert TypeAdapter(Timestamp).validate_python(text) == datetime(2026, 12, 2, 8, tzinfo=UTC) + (
        timedelta(microseconds=123456) if "." in text else timedelta()
    )


@pytest.mark.parametrize("value", ["2", True, False, 2.0, 0, 10_001, None])
def test_a_quantity_is_a_json_integer_in_range(value):
    assert _errors(TypeAdapter(Quantity), value)


def test_a_quantity_of_one_to_ten_thousand_is_accepted():
    assert TypeAdapter(Quantity).validate_json("10000") == 10_000


@pytest.mark.parametrize("code", ["XX", "EU", "UK", "be", "BEL", ""])
def test_countries_come_from_the_iso_list(code):
    assert _errors(TypeAdapter(CountryCode), code)


def test_a_country_is_listed_where_it_is_accepted_and_a_pattern_where_it_travels():
    adapter = TypeAdapter(CountryCode)

    accepted = adapter.json_schema(mode="validation")
    travels = adapter.json_schema(mode="serialization")

    assert accepted["enum"] == sorted(COUNTRIES) and "pattern" not in accepted
    assert travels["pattern"] == "^[A-Z]{2}$" and "enum" not in travels


def test_the_iso_list_has_every_assigned_code_and_no_others():
    assert {"BE", "CN", "DE", "GB", "US", "SS", "CW"} <= COUNTRIES
    assert len(COUNTRIES) == 249
    assert TypeAdapter(CountryCode).json_schema(mode="serialization")["pattern"] == "^[A-Z]{2}$"


@pytest.mark.parametrize(
    "code", ["\uff16\uff12\uff11\uff14\uff11\uff10", "٦٢١٤١٠", "62141", "62141a"]
)
def test_hs_codes_are_six_to_ten_ascii_digits(code):
    assert _errors(TypeAdapter(HsCode), code)


def test_an_ascii_hs_code_is_accepted():
    assert TypeAdapter(HsCode).validate_python("6214100000") == "6214100000"


def _order(**item_changes) -> dict:
    body = copy.deepcopy(DEMO)
    body["items"][0].update(item_changes)
    return body


def test_the_demo_order_is_valid_and_round_trips_through_json():
    order = OrderDetails.model_validate(DEMO)

    assert OrderDetails.model_validate(order.model_dump(mode="json")) == order
    assert order.order_total == Decimal("57.10")


def test_an_order_whose_goods_pass_the_bound_names_the_items():
    with pytest.raises(ValidationError) as raised:
        OrderDetails.model_validate(_order(unit_price="999999999.9999", quantity=10))

    assert [error["loc"] for error in raised.value.errors()] == [("items",)]


def test_an_order_whose_total_passes_the_bound_names_the_whole_order():
    body = _order(unit_price="999999999.0000", quantity=1)
    body["shipping_cost"] = "1.0000"

    with pytest.raises(ValidationError) as raised:
        OrderDetails.model_validate(body)

    assert [error["loc"] for error in raised.value.errors()] == [()]


def test_an_order_too_heavy_for_its_parcel_record_names_the_items():
    with pytest.raises(ValidationError) as raised:
        OrderDetails.model_validate(_order(weight_kg="9999.999", quantity=10_000))

    assert raised.value.errors()[0]["type"] == "order_too_heavy"


def test_the_largest_order_still_fits_numeric_18_4_with_duties_on_top():
    order = OrderDetails.model_validate(_order(unit_price="99999999.9999", quantity=9))

    assert order.order_total < Decimal("1e9")
    # duties of up to nine times the goods still fit 14 significant digits (Numeric(18, 4))
    assert len((order.order_total * 10).quantize(Decimal("0.0001")).as_tuple().digits) <= 14
