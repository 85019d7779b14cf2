"""Domain errors of the fulfillment service; each message says what was refused and why."""

from __future__ import annotations


class FulfillmentDomainError(Exception):
    """Base of every rule the fulfillment domain refuses to break."""


class InvalidAirWaybill(FulfillmentDomainError):
    """Text that is not an air waybill number, or whose check digit is wrong."""


class InvalidUldId(FulfillmentDomainError):
    """Text that is not a unit load device identifier."""


class NoSuitableUld(FulfillmentDomainError):
    """No unit load device on offer can take a shipment."""


class ShipmentTooHeavy(NoSuitableUld):
    """A shipment heavier than the payload of every unit load device on offer."""


class NoEligibleDeparture(FulfillmentDomainError):
    """No leg serves the destination and accepts the goods: the shipment is held."""


class IllegalScan(FulfillmentDomainError):
    """A scan that makes no sense for the shipment's tracking status."""


class ScanOutOfOrder(FulfillmentDomainError):
    """A scan timed before the shipment's latest scan."""


class InvalidTimestamp(FulfillmentDomainError):
    """A moment without a timezone: the domain only reasons in aware UTC time."""


class CancellationRefused(FulfillmentDomainError):
    """A cancellation that comes too late: the goods left the hub or are going back."""
