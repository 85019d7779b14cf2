"""Monthly customs exchange rates, and the legal rules that derive them from daily publications.

EU (Reg. (EU) No 952/2013 Art 53(1)(a); Implementing Reg. (EU) 2015/2447 Art 146(1)): the
rate applying during a month is the ECB reference rate published on the penultimate
Wednesday of the previous month; where no rate was published that day, the rate last
published before it (ECB quotes foreign units per EUR).
China (GACC): the rate applying during a month is the central parity of the third
Wednesday of the previous month (CFETS quotes CNY per foreign unit).
- Until 30 November 2024, GACC Order No. 124 (2005) Art 16: when that Wednesday is a legal
  holiday, the fourth Wednesday's rate.
- From 1 December 2024, GACC Order No. 272 (2024) Art 13: when that Wednesday is not an
  interbank foreign-exchange trading day, the parity of the next trading day.
A day without a publication in the loaded data is taken as a non-publication day (holiday).

A month whose publication day lies after the last loaded publication has no rate: the
engine holds the consignment rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from services.customs.domain.model import CustomsRate, Quotation, RateAuthority

_WEDNESDAY = 2
CN_ORDER_272_FROM = date(2024, 12, 1)
# How far the EU rule looks back, and China's forward, for a publication: a week covers
# every TARGET and Chinese holiday period.
_SEARCH_DAYS = 10


class ExchangeRates(Protocol):
    def rate(self, authority: RateAuthority, currency: str, month: date) -> CustomsRate | None:
        """The rate applying during `month` (its first day) to convert `currency`."""
        ...


def _wednesdays(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    day = first + timedelta(days=(_WEDNESDAY - first.weekday()) % 7)
    found = []
    while day.month == month:
        found.append(day)
        day += timedelta(days=7)
    return found


def _previous_month(month: date) -> date:
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def fixing_date(authority: RateAuthority, month: date) -> date:
    """The nominal publication date whose rate applies during `month`: a Wednesday of the
    month before (penultimate for the EU, third for China)."""
    previous = _previous_month(month)
    wednesdays = _wednesdays(previous.year, previous.month)
    return wednesdays[-2] if authority is RateAuthority.EU else wednesdays[2]


def _quotation(authority: RateAuthority) -> Quotation:
    return (
        Quotation.FOREIGN_PER_HOME if authority is RateAuthority.EU else Quotation.HOME_PER_FOREIGN
    )


def customs_rate(
    authority: RateAuthority, month: date, currency: str, rate: str, source: str
) -> CustomsRate:
    """A rate as published for `month`, taken on its nominal fixing date."""
    return CustomsRate(
        authority,
        month,
        currency,
        Decimal(rate),
        _quotation(authority),
        fixing_date(authority, month),
        source,
    )


class ExchangeRateTable:
    def __init__(self, rates: Iterable[CustomsRate]) -> None:
        self._rates = {(rate.authority, rate.month, rate.currency): rate for rate in rates}

    def rate(self, authority: RateAuthority, currency: str, month: date) -> CustomsRate | None:
        return self._rates.get((authority, month.replace(day=1), currency))

    def last_month(self, authority: RateAuthority) -> date | None:
        months = [month for (owner, month, _) in self._rates if owner is authority]
        return max(months) if months else None


def _publication_used(
    authority: RateAuthority, month: date, published: dict[date, dict[str, Decimal]], last: date
) -> date | None:
    nominal = fixing_date(authority, month)
    if nominal > last:
        return None
    if nominal in published:
        return nominal
    if authority is RateAuthority.EU:
        earlier = [nominal - timedelta(days=back) for back in range(1, _SEARCH_DAYS)]
        return next((day for day in earlier if day in published), None)
    if nominal < CN_ORDER_272_FROM:
        fourth = nominal + timedelta(days=7)
        return fourth if fourth in published else None
    later = [nominal + timedelta(days=ahead) for ahead in range(1, _SEARCH_DAYS)]
    found = next((day for day in later if day in published), None)
    return found if found is not None and found <= last else None


def monthly_customs_rates(
    authority: RateAuthority,
    daily: Iterable[tuple[date, str, Decimal]],
    source: str,
    load_id: int | None = None,
) -> list[CustomsRate]:
    """Every month's customs rate the daily publications `(day, currency, rate)` decide.

    The first month is the one after the first publication; the last is the last one whose
    publication day is in the data. A currency not quoted on the day used has no rate.
    """
    published: dict[date, dict[str, Decimal]] = {}
    for day, currency, rate in daily:
        published.setdefault(day, {})[currency] = rate
    if not published:
        return []
    first, last = min(published), max(published)
    month = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
    rates: list[CustomsRate] = []
    while fixing_date(authority, month) <= last:
        used = _publication_used(authority, month, published, last)
        for currency, rate in sorted(published[used].items()) if used else ():
            rates.append(
                CustomsRate(
                    authority,
                    month,
                    currency,
                    rate,
                    _quotation(authority),
                    fixing_date(authority, month),
                    f"{source}, published {used}",
                    used,
                    load_id,
                )
            )
        month = (month + timedelta(days=32)).replace(day=1)
    return rates
