"""Monthly customs exchange rates and the rule that picks the publication each month uses.

EU (UCC Art 53(1)(a), Implementing Reg. (EU) 2015/2447 Art 146): the ECB reference rate
published on the penultimate Wednesday of a month applies for the whole following month
(ECB quotes foreign units per EUR).
China (GACC rules on duty collection): the CFETS/PBoC central parity of the third Wednesday
of the previous month applies for the month (CFETS quotes CNY per foreign unit). When that
Wednesday is not a trading day the next trading day's parity is used; the rule below gives
the nominal Wednesday.

The engine takes its rates from whatever `ExchangeRates` the service passes in, which in
production is loaded from the ECB and GACC publications. `SNAPSHOT` is a hand-entered
snapshot for the months below. Its values are indicative, not the fixing-date values:
- EU, July 2026 (fixing 17 June 2026): ECB reference rates of 16 June 2026 as published by
  the Banco de España (BOE, 17 June 2026).
- China, February 2026 (fixing 21 January 2026): CFETS central parities of 27 January 2026
  as reported by Xinhua.
A month or currency not in the table has no rate: the engine holds the consignment rather
than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol

from services.customs.domain.model import CustomsRate, Quotation, RateAuthority

_WEDNESDAY = 2


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


def fixing_date(authority: RateAuthority, month: date) -> date:
    """The publication date whose rate applies during `month`: a Wednesday of the month before."""
    previous = month.replace(day=1) - timedelta(days=1)
    wednesdays = _wednesdays(previous.year, previous.month)
    return wednesdays[-2] if authority is RateAuthority.EU else wednesdays[2]


def customs_rate(
    authority: RateAuthority, month: date, currency: str, rate: str, source: str
) -> CustomsRate:
    quotation = (
        Quotation.FOREIGN_PER_HOME if authority is RateAuthority.EU else Quotation.HOME_PER_FOREIGN
    )
    return CustomsRate(
        authority, month, currency, Decimal(rate), quotation, fixing_date(authority, month), source
    )


class ExchangeRateTable:
    def __init__(self, rates: Iterable[CustomsRate]) -> None:
        self._rates = {(rate.authority, rate.month, rate.currency): rate for rate in rates}

    def rate(self, authority: RateAuthority, currency: str, month: date) -> CustomsRate | None:
        return self._rates.get((authority, month.replace(day=1), currency))


_ECB_JULY_2026 = (
    "indicative: ECB reference rate of 16 June 2026 (BOE 17 June 2026), not the 17 June fixing"
)
_CFETS_FEBRUARY_2026 = (
    "indicative: CFETS central parity of 27 January 2026 (Xinhua), not the 21 January fixing"
)

_PUBLISHED = (
    customs_rate(RateAuthority.EU, date(2026, 7, 1), "USD", "1.1594", _ECB_JULY_2026),
    customs_rate(RateAuthority.EU, date(2026, 7, 1), "GBP", "0.86471", _ECB_JULY_2026),
    customs_rate(RateAuthority.EU, date(2026, 7, 1), "JPY", "185.94", _ECB_JULY_2026),
    customs_rate(RateAuthority.CN, date(2026, 2, 1), "EUR", "8.2755", _CFETS_FEBRUARY_2026),
    customs_rate(RateAuthority.CN, date(2026, 2, 1), "USD", "6.9858", _CFETS_FEBRUARY_2026),
    customs_rate(RateAuthority.CN, date(2026, 2, 1), "GBP", "9.5261", _CFETS_FEBRUARY_2026),
    customs_rate(RateAuthority.CN, date(2026, 2, 1), "HKD", "0.89592", _CFETS_FEBRUARY_2026),
    customs_rate(RateAuthority.CN, date(2026, 2, 1), "JPY", "0.045176", _CFETS_FEBRUARY_2026),
)
# The EU quotes CNY per EUR as well; derived from the same CFETS parity as China's EUR rate.
_EU_CNY = customs_rate(
    RateAuthority.EU,
    date(2026, 7, 1),
    "CNY",
    "8.2755",
    "indicative: inverse of " + _CFETS_FEBRUARY_2026,
)


def _carried_forward(rate: CustomsRate) -> tuple[CustomsRate, ...]:
    """The demo stack runs on today's date: every month of 2026 repeats the one published
    rate, labelled as such, so no order is held only because the snapshot is short."""
    return tuple(
        customs_rate(
            rate.authority,
            date(2026, month, 1),
            rate.currency,
            str(rate.rate),
            f"carried forward from {rate.month:%B %Y} ({rate.source})",
        )
        for month in range(1, 13)
        if month != rate.month.month
    )


SNAPSHOT = ExchangeRateTable(
    (*_PUBLISHED, _EU_CNY)
    + tuple(carried for rate in (*_PUBLISHED, _EU_CNY) for carried in _carried_forward(rate))
)
