"""Event contracts and the CloudEvents envelope, without a broker."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, Envelope, OrderDetails, OrderPlaced, UnknownEventType
from tests.unit.sample_orders import DEMO_ORDER


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id=uuid.uuid4(),
        partner_id=uuid.uuid4(),
        placed_at="2026-07-01T10:00:00+02:00",
        order=DEMO_ORDER,
    )


def test_envelope_carries_cloudevents_attributes_and_round_trips():
    event = placed()
    envelope = Envelope.wrap(event, "/liege-ehub/orders")

    wire = json.loads(envelope.to_bytes())

    assert wire["specversion"] == "1.0"
    assert wire["type"] == "be.liege-ehub.OrderPlaced"
    assert wire["subject"] == str(event.order_id)
    assert wire["datacontenttype"] == "application/json"
    assert wire["schemaversion"] == 1
    assert Envelope.from_bytes(envelope.to_bytes()).event() == event


def test_money_travels_as_decimal_strings_never_floats():
    wire = json.loads(Envelope.wrap(placed(), "/x").to_bytes())

    assert wire["data"]["order"]["items"][0]["unit_price"] == "24.90"
    assert placed().order.order_total == Decimal("57.10")


def test_times_are_normalised_to_utc_and_naive_times_refused():
    assert placed().placed_at.utcoffset().total_seconds() == 0
    with pytest.raises(ValidationError):
        OrderPlaced(
            order_id=uuid.uuid4(),
            partner_id=uuid.uuid4(),
            placed_at="2026-07-01T10:00:00",
            order=DEMO_ORDER,
        )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("currency",), "XYZ"),
        (("items", 0, "hs_code"), "12AB"),
        (("items", 0, "unit_price"), "-1"),
        (("items", 0, "quantity"), 0),
        (("buyer", "address", "country"), "Belgium"),
        (("seller", "ioss_number"), "IM123"),
    ],
)
def test_order_details_refuse_bad_input(path, value):
    body = json.loads(json.dumps(DEMO_ORDER))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(ValidationError) as error:
        OrderDetails.model_validate(body)

    assert tuple(error.value.errors()[0]["loc"][: len(path)]) == path


def test_unknown_event_type_and_newer_schema_are_told_apart_from_bad_data():
    envelope = Envelope.wrap(placed(), "/x")
    with pytest.raises(UnknownEventType):
        envelope.model_copy(update={"type": "be.liege-ehub.Nope"}).event()
    with pytest.raises(UnknownEventType):
        envelope.model_copy(update={"schemaversion": 99}).event()


def test_every_event_type_is_registered_under_its_prefixed_name():
    assert all(name == cls.type_name() for name, cls in EVENT_TYPES.items())
