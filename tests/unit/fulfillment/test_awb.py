from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.fulfillment.domain.awb import (
    AirWaybillNumber,
    HouseAirWaybill,
    MasterAirWaybill,
    check_digit,
    format_awb,
    is_valid_awb,
    make_awb,
    parse_awb,
)
from services.fulfillment.domain.errors import InvalidAirWaybill

prefixes = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")
serials7 = st.integers(min_value=0, max_value=9_999_999).map(lambda n: f"{n:07d}")


def test_reference_example_is_valid() -> None:
    assert check_digit("1234567") == 5
    assert is_valid_awb("176-12345675")
    assert make_awb("176", "1234567") == AirWaybillNumber("176", "12345675")


@pytest.mark.parametrize("text", ["176-12345675", "176 12345675", "17612345675", " 176-12345675 "])
def test_accepted_spellings_format_canonically(text: str) -> None:
    assert format_awb(parse_awb(text)) == "176-12345675"
    assert str(parse_awb(text)) == "176-12345675"


@pytest.mark.parametrize(
    "text",
    [
        "176-12345674",
        "176-1234567",
        "17-612345675",
        "ABC-12345675",
        "",
        "176-12345675\n",
        "176--12345675",
    ],
)
def test_invalid_numbers_are_refused(text: str) -> None:
    assert not is_valid_awb(text)
    with pytest.raises(InvalidAirWaybill):
        parse_awb(text)


def test_wrong_check_digit_message_names_the_expected_digit() -> None:
    with pytest.raises(InvalidAirWaybill, match="should be 5"):
        parse_awb("176-12345670")


def test_non_ascii_digits_are_refused() -> None:
    assert not is_valid_awb("١٧٦-12345675")


@given(prefix=prefixes, serial7=serials7)
def test_made_numbers_are_valid_and_round_trip(prefix: str, serial7: str) -> None:
    number = make_awb(prefix, serial7)
    assert 0 <= int(number.serial[-1]) <= 6
    assert number.serial[-1] == str(int(serial7) % 7)
    assert is_valid_awb(str(number))
    assert parse_awb(str(number)) == number


@given(prefix=prefixes, serial7=serials7, wrong=st.integers(min_value=0, max_value=9))
def test_any_other_check_digit_is_invalid(prefix: str, serial7: str, wrong: int) -> None:
    valid = make_awb(prefix, serial7)
    text = f"{prefix}-{serial7}{wrong}"
    assert is_valid_awb(text) == (str(wrong) == valid.serial[-1])


def test_house_waybill_joins_its_master() -> None:
    master = MasterAirWaybill(parse_awb("176-12345675"))
    house = HouseAirWaybill("LGG000123")
    joined = house.consolidated_under(master)
    assert joined.master == master
    assert joined.consolidated_under(master) == joined
    assert master.airline_prefix == "176"


def test_house_waybill_cannot_change_master() -> None:
    house = HouseAirWaybill("LGG000123", MasterAirWaybill(parse_awb("176-12345675")))
    other = MasterAirWaybill(make_awb("020", "7654321"))
    with pytest.raises(InvalidAirWaybill, match="already under master"):
        house.consolidated_under(other)


@pytest.mark.parametrize("number", ["", "lgg1", "LGG-0001", "ABCDEFGHIJKLM"])
def test_house_numbers_are_up_to_twelve_capitals_or_digits(number: str) -> None:
    with pytest.raises(InvalidAirWaybill):
        HouseAirWaybill(number)
