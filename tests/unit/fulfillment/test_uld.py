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
    ULD_TYPES,
    BuildingUnit,
    ShipmentLoad,
    UldId,
    UldType,
    UnitChoice,
    choose_unit,
    hub_uld_id,
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


def test_hub_uld_ids_come_from_its_pool_with_five_digit_serials() -> None:
    assert str(hub_uld_id(AKE, 42)) == "AKE 00042 EH"
    assert str(hub_uld_id(PMC, 123_456)) == "PMC 23456 EH"
    assert ULD_TYPES["DKE"] is DKE


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


# ---- building up a departure's units one booking at a time ---------------------------


def unit(
    serial: int, kg: str, destination: str = "HGH", *, dangerous: bool = False
) -> BuildingUnit:
    return BuildingUnit(hub_uld_id(AKE, serial), AKE, destination, dangerous, Decimal(kg))


def test_a_shipment_joins_the_first_unit_with_room_for_it() -> None:
    building = [unit(1, "1490"), unit(2, "100"), unit(3, "0")]
    assert choose_unit(load("s", "HGH", "10"), building) == UnitChoice(AKE, building[1].uld_id)
    assert choose_unit(load("s", "HGH", "8"), building) == UnitChoice(AKE, building[0].uld_id)


def test_a_unit_is_filled_up_to_its_payload_exactly() -> None:
    building = [unit(1, "1400")]
    assert choose_unit(load("s", "HGH", "98"), building).uld_id == building[0].uld_id
    assert choose_unit(load("s", "HGH", "98.001"), building).uld_id is None


def test_general_cargo_and_dangerous_goods_never_share_a_unit() -> None:
    general, dangerous = unit(1, "0"), unit(2, "0", dangerous=True)
    assert choose_unit(load("cells", "HGH", "1", "UN3090"), [general, dangerous]).uld_id == (
        dangerous.uld_id
    )
    assert choose_unit(load("scarf", "HGH", "1"), [dangerous, general]).uld_id == general.uld_id


def test_a_unit_takes_only_its_destination() -> None:
    assert choose_unit(load("s", "BUD", "1"), [unit(1, "0", "HGH")]).uld_id is None


def test_without_a_unit_with_room_a_new_one_is_sized_for_the_shipment() -> None:
    assert choose_unit(load("s", "HGH", "2"), []) == UnitChoice(AKE, None)
    assert choose_unit(load("s", "HGH", "2000"), [unit(1, "0")]) == UnitChoice(PMC, None)


def test_dangerous_goods_open_a_certified_unit() -> None:
    choice = choose_unit(load("cells", "HGH", "2", "UN3090"), [], uld_types=(DKE, AKE))
    assert choice == UnitChoice(AKE, None)
    with pytest.raises(NoSuitableUld):
        choose_unit(load("cells", "HGH", "2", "UN3090"), [], uld_types=(DKE,))


def test_a_shipment_no_unit_can_carry_is_refused() -> None:
    with pytest.raises(ShipmentTooHeavy):
        choose_unit(load("anvil", "HGH", "7000"), [])
