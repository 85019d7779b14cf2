from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.fulfillment.domain.errors import InvalidUldId, NoSuitableUld, ShipmentTooHeavy
from services.fulfillment.domain.uld import (
    AKE,
    DKE,
    PMC,
    ShipmentLoad,
    UldId,
    UldType,
    plan_consolidation,
)


def load(shipment_id: str, destination: str, kg: str, *un: str) -> ShipmentLoad:
    return ShipmentLoad(shipment_id, destination, Decimal(kg), frozenset(un))


# ---- ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AKE 12345 DL", UldId("AKE", "12345", "DL")),
        ("AKE12345DL", UldId("AKE", "12345", "DL")),
        ("pmc 1234 r7", UldId("PMC", "1234", "R7")),
    ],
)
def test_uld_ids_parse_and_format(text: str, expected: UldId) -> None:
    assert UldId.parse(text) == expected
    assert UldId.parse(str(expected)) == expected


def test_uld_id_formats_with_spaces() -> None:
    assert str(UldId("AKE", "12345", "DL")) == "AKE 12345 DL"


@pytest.mark.parametrize(
    "text", ["AK 12345 DL", "AKE 123 DL", "AKE 123456 DL", "AKE 12345 D", "1KE 12345 DL"]
)
def test_malformed_uld_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidUldId):
        UldId.parse(text)


def test_uld_type_limits() -> None:
    assert AKE.max_gross_weight_kg == Decimal("1588")
    assert PMC.max_gross_weight_kg == Decimal("6804")
    assert AKE.payload_kg == Decimal("1498")
    assert not DKE.dangerous_goods_certified
    with pytest.raises(ValueError, match="tare"):
        UldType("XKE", "broken", Decimal("10"), Decimal("10"))


# ---- planning -------------------------------------------------------------------------


def test_small_loads_go_into_the_smallest_uld_that_carries_them() -> None:
    plan = plan_consolidation([load("a", "MAD", "400"), load("b", "MAD", "300")])
    assert len(plan) == 1
    assert plan[0].uld_type is AKE
    assert plan[0].gross_weight_kg == Decimal("790")


def test_heavy_groups_use_pallets_first_fit_decreasing() -> None:
    plan = plan_consolidation(
        [load(f"s{i}", "HGH", "1000") for i in range(8)], uld_types=(PMC, AKE)
    )
    assert [unit.uld_type for unit in plan] == [PMC, PMC]
    assert [len(unit.shipments) for unit in plan] == [6, 2]
    assert all(unit.gross_weight_kg <= unit.uld_type.max_gross_weight_kg for unit in plan)


def test_loads_are_ordered_by_destination_and_never_mixed() -> None:
    plan = plan_consolidation(
        [
            load("w", "WAW", "10"),
            load("b", "BUD", "10"),
            load("h", "HGH", "10"),
            load("b2", "BUD", "5"),
        ]
    )
    assert [unit.destination for unit in plan] == ["BUD", "HGH", "WAW"]
    assert {s.shipment_id for s in plan[0].shipments} == {"b", "b2"}


def test_dangerous_goods_get_their_own_flagged_load() -> None:
    plan = plan_consolidation(
        [
            load("plain", "HGH", "50"),
            load("power-bank", "HGH", "20", "UN3480"),
            load("phone", "HGH", "5", "3481"),
        ]
    )
    general, dangerous = plan
    assert [s.shipment_id for s in general.shipments] == ["plain"]
    assert general.dangerous_goods == frozenset()
    assert {s.shipment_id for s in dangerous.shipments} == {"power-bank", "phone"}
    assert dangerous.dangerous_goods == {"UN3480", "UN3481"}


def test_dangerous_goods_never_go_into_uncertified_containers() -> None:
    plan = plan_consolidation(
        [load("plain", "HGH", "50"), load("cells", "HGH", "20", "UN3090")], uld_types=(DKE, AKE)
    )
    assert [unit.uld_type for unit in plan] == [DKE, AKE]
    with pytest.raises(NoSuitableUld, match="certified"):
        plan_consolidation([load("cells", "HGH", "20", "UN3090")], uld_types=(DKE,))


def test_shipment_heavier_than_any_uld_is_an_error() -> None:
    with pytest.raises(ShipmentTooHeavy, match="carries 1498 kg"):
        plan_consolidation([load("anvil", "MAD", "1500")], uld_types=(AKE,))


def test_each_shipment_is_planned_once() -> None:
    with pytest.raises(ValueError, match="only once"):
        plan_consolidation([load("a", "MAD", "1"), load("a", "BUD", "1")])


def test_weights_are_positive_decimals() -> None:
    with pytest.raises(ValueError, match="positive Decimal"):
        load("a", "MAD", "0")
    with pytest.raises(ValueError, match="positive Decimal"):
        ShipmentLoad("a", "MAD", 1.5)  # type: ignore[arg-type]


shipments = st.lists(
    st.builds(
        lambda number, destination, grams, dangerous: ShipmentLoad(
            f"s{number}", destination, Decimal(grams) / 1000, dangerous
        ),
        number=st.integers(min_value=0, max_value=10**6),
        destination=st.sampled_from(["HGH", "MAD", "BUD"]),
        grams=st.integers(min_value=1, max_value=1_600_000),
        dangerous=st.frozensets(st.sampled_from(["UN3480", "UN3481"]), max_size=2),
    ),
    max_size=30,
    unique_by=lambda shipment: shipment.shipment_id,
)
uld_choices = st.sampled_from([(PMC, AKE), (AKE,), (AKE, DKE), (PMC,)])


@settings(max_examples=75, deadline=None)
@given(pending=shipments, offered=uld_choices)
def test_plan_places_every_shipment_once_within_limits(
    pending: list[ShipmentLoad], offered: tuple[UldType, ...]
) -> None:
    largest_payload = max(uld_type.payload_kg for uld_type in offered)
    if any(shipment.weight_kg > largest_payload for shipment in pending):
        with pytest.raises(ShipmentTooHeavy):
            plan_consolidation(pending, offered)
        return
    plan = plan_consolidation(pending, offered)
    placed = Counter(s.shipment_id for unit in plan for s in unit.shipments)
    assert placed == Counter(s.shipment_id for s in pending)
    for unit in plan:
        assert unit.shipments
        assert unit.uld_type in offered
        assert unit.gross_weight_kg <= unit.uld_type.max_gross_weight_kg
        assert {s.destination for s in unit.shipments} == {unit.destination}
        carries_dangerous = {bool(s.dangerous_goods) for s in unit.shipments}
        assert len(carries_dangerous) == 1
        if unit.dangerous_goods:
            assert unit.uld_type.dangerous_goods_certified
    destinations = [unit.destination for unit in plan]
    assert destinations == sorted(destinations)
