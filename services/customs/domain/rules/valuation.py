"""Spreading consignment-level costs over its lines, for per-line duty and tax rates."""

from __future__ import annotations

from decimal import Decimal


def apportion(amount: Decimal, line_values: list[Decimal]) -> list[Decimal]:
    """Split `amount` over lines in proportion to their values, unrounded (evenly if all zero)."""
    total = sum(line_values, Decimal(0))
    if total == 0:
        return [amount / len(line_values) for _ in line_values]
    return [amount * value / total for value in line_values]
