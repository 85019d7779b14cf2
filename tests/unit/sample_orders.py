"""The one order unit tests build on: silk scarves from a Chinese IOSS seller to Liège."""

from __future__ import annotations

import copy
from typing import Any

DEMO_ORDER = {
    "partner_reference": "demo-0001",
    "buyer": {
        "name": "Amélie Dubois",
        "email": "amelie.dubois@example.be",
        "address": {
            "line1": "Rue Léopold 12",
            "city": "Liège",
            "postal_code": "4000",
            "country": "BE",
        },
    },
    "seller": {"name": "Hangzhou Silk Works Co.", "country": "CN", "ioss_number": "IM1560000123"},
    "items": [
        {
            "sku": "SILK-SCARF-01",
            "description": "Silk scarf, printed, 90x90 cm",
            "hs_code": "621410",
            "quantity": 2,
            "unit_price": "24.90",
            "weight_kg": "0.080",
            "origin_country": "CN",
        }
    ],
    "currency": "EUR",
    "shipping_cost": "6.50",
    "insurance_cost": "0.80",
    "payment": {"token": "tok_visa"},
}


def demo_order(**changes: Any) -> dict[str, Any]:
    """A fresh copy of `DEMO_ORDER` with top-level `changes` (e.g. a payment token)."""
    return {**copy.deepcopy(DEMO_ORDER), **changes}
