"""Dated exchange rates, and converting an amount once with a recorded rate.

Rates are kept as published: reference rates quoted as units of the quote
currency for one unit of the base (the ECB publishes 1 EUR = x USD). A pair the
table does not hold is derived from it: the inverse of a stored pair, or a cross
through a common base (USD to CNY = EUR/CNY divided by EUR/USD). The derived
rate keeps full Decimal precision and is applied in one multiplication; the
result is rounded half-up once, to the target currency's minor units. Every
conversion returns the `Rate` it used (pair, rate, source, date) so that the
caller can record it.

A rate applies from its publication date until the next one: on a day without a
publication (weekends, TARGET holidays) the latest earlier rate is used, but
never one older than the table's `max_age`, so a stale file fails loudly rather
than pricing with last month's rate.

The service reads the ECB's reference rates from its database, where an operator loads
the ECB's own file (`python -m services.payments.reference load ecb-rates [FILE]`); this
module only turns published rates into `Rate`s (`ecb_reference_rates`) and parses the
`date,base,quote,rate,source` form, of which `data/exchange_rates.csv` is a sample
(real ECB figures of four 2026 days, copied from the ECB file).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from services.payments.domain.errors import ExchangeRateUnavailable, MalformedRateData
from shared.money import SUPPORTED_CURRENCIES, Money, MoneyError, quantum, round_money

DEFAULT_MAX_RATE_AGE = timedelta(days=7)
ECB_REFERENCE_RATE = "ECB euro foreign exchange reference rate"
RATE_FIELDS = ("date", "base", "quote", "rate", "source")


@dataclass(frozen=True, slots=True)
class CurrencyPair:
    base: str
    quote: str

    def __post_init__(self) -> None:
        quantum(self.base)
        quantum(self.quote)

    def inverse(self) -> CurrencyPair:
        return CurrencyPair(self.quote, self.base)

    def __str__(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True, slots=True)
class Rate:
    """`rate` units of the quote currency buy one unit of the base currency."""

    pair: CurrencyPair
    rate: Decimal
    source: str
    date: date

    def __post_init__(self) -> None:
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(
                f"{self.pair} rate must be a positive finite Decimal, got {self.rate!r}"
            )
        if not self.source.strip():
            raise ValueError(f"{self.pair} rate of {self.date} needs a source")


@dataclass(frozen=True, slots=True)
class Conversion:
    original: Money
    converted: Money
    rate: Rate


def apply_rate(money: Money, rate: Rate) -> Money:
    """Convert with one multiplication and one half-up rounding to the target's minor units."""
    if money.currency != rate.pair.base:
        raise MoneyError(f"a {rate.pair} rate converts {rate.pair.base}, not {money.currency}")
    target = rate.pair.quote
    return Money(round_money(money.amount * rate.rate, target), target)


class ExchangeRateTable:
    def __init__(self, rates: Iterable[Rate], max_age: timedelta = DEFAULT_MAX_RATE_AGE) -> None:
        if max_age < timedelta(0):
            raise ValueError(f"max rate age cannot be negative, got {max_age}")
        self.max_age = max_age
        by_pair: dict[CurrencyPair, dict[date, Rate]] = {}
        for rate in rates:
            published = by_pair.setdefault(rate.pair, {})
            earlier = published.get(rate.date)
            if earlier is not None and earlier.rate != rate.rate:
                raise MalformedRateData(
                    f"two different {rate.pair} rates for {rate.date}: "
                    f"{earlier.rate} and {rate.rate}"
                )
            published[rate.date] = rate
        self._rates: dict[CurrencyPair, list[Rate]] = {
            pair: [published[day] for day in sorted(published)]
            for pair, published in by_pair.items()
        }
        self._dates: dict[CurrencyPair, list[date]] = {
            pair: [rate.date for rate in history] for pair, history in self._rates.items()
        }

    def rate(self, from_currency: str, to_currency: str, on_date: date) -> Rate:
        pair = CurrencyPair(from_currency, to_currency)
        if from_currency == to_currency:
            return Rate(pair, Decimal(1), "identity", on_date)
        derived = (
            self._latest(pair, on_date)
            or self._inverted(pair, on_date)
            or self._crossed(pair, on_date)
        )
        if derived is None:
            raise ExchangeRateUnavailable(
                f"no {pair} rate on {on_date.isoformat()} or within "
                f"{self.max_age.days} days before it, directly, inverted or crossed"
            )
        return derived

    def convert(self, money: Money, to_currency: str, on_date: date) -> Conversion:
        rate = self.rate(money.currency, to_currency, on_date)
        return Conversion(money, apply_rate(money, rate), rate)

    def _latest(self, pair: CurrencyPair, on_date: date) -> Rate | None:
        dates = self._dates.get(pair)
        if not dates:
            return None
        position = bisect.bisect_right(dates, on_date)
        if position == 0:
            return None
        rate = self._rates[pair][position - 1]
        return rate if on_date - rate.date <= self.max_age else None

    def _inverted(self, pair: CurrencyPair, on_date: date) -> Rate | None:
        stored = self._latest(pair.inverse(), on_date)
        if stored is None:
            return None
        return Rate(
            pair, 1 / stored.rate, f"{stored.source}; inverse of {stored.pair}", stored.date
        )

    def _crossed(self, pair: CurrencyPair, on_date: date) -> Rate | None:
        for common_base in sorted({stored.base for stored in self._rates}):
            to_source = self._latest(CurrencyPair(common_base, pair.base), on_date)
            to_target = self._latest(CurrencyPair(common_base, pair.quote), on_date)
            if to_source is None or to_target is None:
                continue
            return Rate(
                pair,
                to_target.rate / to_source.rate,
                f"{to_target.source}; cross {to_target.pair} / {to_source.pair}",
                min(to_source.date, to_target.date),
            )
        return None


# ---- published rates ------------------------------------------------------------------


def ecb_reference_rates(published: Iterable[tuple[date, str, Decimal]]) -> list[Rate]:
    """ECB publications `(day, currency, units per EUR)` as EUR/currency rates."""
    return [
        Rate(CurrencyPair("EUR", currency), rate, ECB_REFERENCE_RATE, day)
        for day, currency, rate in published
        if currency in SUPPORTED_CURRENCIES
    ]


# ---- parsing rate files ---------------------------------------------------------------


def parse_rates_csv(text: str) -> list[Rate]:
    """Rows of `date,base,quote,rate,source`; lines starting with `#` are notes."""
    data_lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(data_lines)))
    missing = set(RATE_FIELDS) - set(reader.fieldnames or ())
    if missing:
        raise MalformedRateData(f"rate CSV lacks columns {sorted(missing)}")
    return [_rate_from_row(row, f"row {number}") for number, row in enumerate(reader, start=1)]


def parse_rates_json(text: str) -> list[Rate]:
    """A JSON list of objects with the fields `date`, `base`, `quote`, `rate`, `source`."""
    try:
        rows = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as error:
        raise MalformedRateData(f"rate JSON is not valid JSON: {error}") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise MalformedRateData("rate JSON must be a list of objects")
    return [_rate_from_row(row, f"item {number}") for number, row in enumerate(rows, start=1)]


def _rate_from_row(row: Mapping[str, object], where: str) -> Rate:
    missing = [name for name in RATE_FIELDS if row.get(name) in (None, "")]
    if missing:
        raise MalformedRateData(f"{where}: missing {', '.join(missing)}")
    try:
        return Rate(
            pair=CurrencyPair(str(row["base"]).strip(), str(row["quote"]).strip()),
            rate=Decimal(str(row["rate"]).strip()),
            source=str(row["source"]).strip(),
            date=date.fromisoformat(str(row["date"]).strip()),
        )
    except (InvalidOperation, ValueError) as error:
        raise MalformedRateData(f"{where}: {error}") from None
