"""Air waybill numbers: a 3-digit airline prefix and an 8-digit serial, e.g. 176-12345675.

The last digit of the serial is a check digit: the first seven digits taken as
a number, modulo 7 (so always 0 to 6). 1234567 mod 7 = 5, hence 176-12345675.

The airline issues the master air waybill (MAWB) for a consolidation; the hub,
as forwarder, issues a house air waybill (HAWB) per shipment. House numbers are
the forwarder's own: not prefixed and without a check digit, up to 12 letters
or digits as the Cargo-IMP house manifest (FHL) carries them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from services.fulfillment.domain.errors import InvalidAirWaybill

_AWB_PATTERN = re.compile(r" *([0-9]{3})[- ]?([0-9]{8}) *")
_HOUSE_PATTERN = re.compile(r"[A-Z0-9]{1,12}")


def check_digit(serial7: str) -> int:
    if not re.fullmatch(r"[0-9]{7}", serial7):
        raise InvalidAirWaybill(
            f"an air waybill serial is 7 digits before its check digit, got {serial7!r}"
        )
    return int(serial7) % 7


@dataclass(frozen=True, slots=True)
class AirWaybillNumber:
    prefix: str
    serial: str  # all 8 digits: the 7-digit serial followed by its check digit

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{3}", self.prefix):
            raise InvalidAirWaybill(f"an airline prefix is 3 digits, got {self.prefix!r}")
        if not re.fullmatch(r"[0-9]{8}", self.serial):
            raise InvalidAirWaybill(f"an air waybill serial is 8 digits, got {self.serial!r}")
        expected = check_digit(self.serial[:7])
        if int(self.serial[7]) != expected:
            raise InvalidAirWaybill(
                f"{self.prefix}-{self.serial}: check digit {self.serial[7]} should be {expected}"
            )

    def __str__(self) -> str:
        return format_awb(self)


def make_awb(prefix: str, serial7: str) -> AirWaybillNumber:
    return AirWaybillNumber(prefix, f"{serial7}{check_digit(serial7)}")


def parse_awb(text: str) -> AirWaybillNumber:
    """Accepts `176-12345675`, `176 12345675` or `17612345675`."""
    match = _AWB_PATTERN.fullmatch(text)
    if match is None:
        raise InvalidAirWaybill(f"{text!r} is not 3 prefix digits and 8 serial digits")
    return AirWaybillNumber(match.group(1), match.group(2))


def is_valid_awb(text: str) -> bool:
    try:
        parse_awb(text)
    except InvalidAirWaybill:
        return False
    return True


def format_awb(number: AirWaybillNumber) -> str:
    return f"{number.prefix}-{number.serial}"


@dataclass(frozen=True, slots=True)
class MasterAirWaybill:
    """The airline's contract of carriage for a whole consolidation."""

    number: AirWaybillNumber

    @property
    def airline_prefix(self) -> str:
        return self.number.prefix


@dataclass(frozen=True, slots=True)
class HouseAirWaybill:
    """The hub's waybill for one shipment; it joins a master when consolidated."""

    number: str
    master: MasterAirWaybill | None = None

    def __post_init__(self) -> None:
        if not _HOUSE_PATTERN.fullmatch(self.number):
            raise InvalidAirWaybill(
                f"a house waybill number is 1 to 12 capital letters or digits, got {self.number!r}"
            )

    def consolidated_under(self, master: MasterAirWaybill) -> HouseAirWaybill:
        if self.master is not None and self.master != master:
            raise InvalidAirWaybill(
                f"house {self.number} is already under master {self.master.number}"
            )
        return replace(self, master=master)
