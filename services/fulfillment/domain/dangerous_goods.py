"""UN numbers of the dangerous goods the hub handles most: lithium batteries.

IATA Dangerous Goods Regulations, as summarised in carriers' acceptance tables
(e.g. Air France KLM Cargo, "Lithium batteries"): batteries shipped alone are
cargo aircraft only (UN3480, PI965; UN3090, PI968); batteries packed with or
contained in equipment may fly on passenger aircraft (UN3481, PI966/967;
UN3091, PI969/970).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

UN3480_LITHIUM_ION_BATTERIES = "UN3480"
UN3481_LITHIUM_ION_IN_EQUIPMENT = "UN3481"
UN3090_LITHIUM_METAL_BATTERIES = "UN3090"
UN3091_LITHIUM_METAL_IN_EQUIPMENT = "UN3091"

LITHIUM_BATTERIES = frozenset(
    {
        UN3480_LITHIUM_ION_BATTERIES,
        UN3481_LITHIUM_ION_IN_EQUIPMENT,
        UN3090_LITHIUM_METAL_BATTERIES,
        UN3091_LITHIUM_METAL_IN_EQUIPMENT,
    }
)
CARGO_AIRCRAFT_ONLY = frozenset({UN3480_LITHIUM_ION_BATTERIES, UN3090_LITHIUM_METAL_BATTERIES})
PASSENGER_AIRCRAFT_ALLOWED = LITHIUM_BATTERIES - CARGO_AIRCRAFT_ONLY

_UN_NUMBER = re.compile(r"(?:UN)? ?([0-9]{4})")


def un_numbers(values: Iterable[str]) -> frozenset[str]:
    """Normalise `UN3480`, `un 3480` or `3480` to `UN3480`; refuse anything else."""
    normalised = set()
    for value in values:
        match = _UN_NUMBER.fullmatch(value.strip().upper())
        if match is None:
            raise ValueError(f"{value!r} is not a UN number (UN followed by 4 digits)")
        normalised.add(f"UN{match.group(1)}")
    return frozenset(normalised)
