"""Money as Decimal with an ISO 4217 currency; never a float.

Rounding is half-up to the currency's minor units, done once where an amount is
finalised (a tax, a capture), never on intermediate figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units for the currencies the hub trades in.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CNY": 2,
    "HKD": 2,
    "CHF": 2,
    "PLN": 2,
    "HUF": 2,
    "CZK": 2,
    "SEK": 2,
    "DKK": 2,
    "RON": 2,
    "BGN": 2,
    "JPY": 0,
    "KRW": 0,
}

SUPPORTED_CURRENCIES = frozenset(MINOR_UNITS)


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def quantum(currency: str) -> Decimal:
    try:
        return Decimal(1).scaleb(-MINOR_UNITS[currency])
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor units."""
    if isinstance(amount, float):
        raise MoneyError("money is never a float")
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, float) or not isinstance(self.amount, Decimal):
            raise MoneyError("money amount must be a Decimal")
        try:
            finite = self.amount.is_finite()
        except InvalidOperation:
            finite = False
        if not finite:
            raise MoneyError("money amount must be finite")
        quantum(self.currency)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(Decimal(amount), currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int | Decimal) -> Money:
        if isinstance(factor, float):
            raise MoneyError("money is never multiplied by a float")
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
