"""Reference files and the legal exchange-rate rules, on the shipped data (parsed, no I/O
beyond reading the shipped files once)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.customs.consignments import assessment_document, reference_data_used
from services.customs.domain import (
    ExchangeRateTable,
    RateAuthority,
    assess,
    monthly_customs_rates,
)
from services.customs.domain.reference import TableVersion, Versioned
from services.customs.reference.cache import coverage, ending_soon
from services.customs.reference.files import TABLES, build_tables, parse_table, shipped_loads
from shared.reference_files import (
    SHIPPED_ECB_FILE,
    ReferenceFileError,
    csv_text,
    parse_ecb_csv,
    read_file,
)
from tests.unit.customs.builders import TABLES as SHIPPED
from tests.unit.customs.builders import eu_parcel, item

ECB = parse_ecb_csv(csv_text(read_file(SHIPPED_ECB_FILE)))
ECB_DAILY = [(rate.day, rate.currency, rate.rate) for rate in ECB]
EU_MONTHLY = {
    (rate.month, rate.currency): rate
    for rate in monthly_customs_rates(RateAuthority.EU, ECB_DAILY, "ECB")
}


def test_the_shipped_ecb_file_is_the_ecbs_daily_history_to_30_october_2026() -> None:
    days = sorted({rate.day for rate in ECB})
    assert days[0] == date(1999, 1, 4) and days[-1] == date(2026, 10, 30)
    assert {"USD", "GBP", "JPY", "CNY"} <= {rate.currency for rate in ECB if rate.day == days[-1]}


def test_eu_customs_rate_is_the_ecb_rate_of_the_penultimate_wednesday_before() -> None:
    """UCC Art 53(1)(a), IA 2015/2447 Art 146(1): July 2026 uses the ECB rate of Wednesday
    17 June 2026 (USD 1.1591 in the ECB file), not the 16 June rate the old snapshot held."""
    july = EU_MONTHLY[(date(2026, 7, 1), "USD")]
    assert july.rate == Decimal("1.1591")
    assert july.fixing_date == july.published_on == date(2026, 6, 17)
    november = EU_MONTHLY[(date(2026, 11, 1), "USD")]
    assert november.published_on == date(2026, 10, 21)


def test_eu_rule_takes_the_last_publication_before_a_wednesday_without_one() -> None:
    """IA 2015/2447 Art 146(1): when the ECB published nothing on the penultimate Wednesday
    (18 March 2026 in this constructed file), the rate last published before it applies."""
    daily = [
        (date(2026, 2, 27), "USD", Decimal("1.10")),
        (date(2026, 3, 17), "USD", Decimal("1.17")),  # Tuesday before the penultimate Wednesday
        (date(2026, 3, 31), "USD", Decimal("1.31")),
    ]
    [april] = [r for r in monthly_customs_rates(RateAuthority.EU, daily, "t") if r.month.month == 4]
    assert april.fixing_date == date(2026, 3, 18)
    assert april.published_on == date(2026, 3, 17) and april.rate == Decimal("1.17")


def test_no_eu_rate_is_invented_past_the_data() -> None:
    """The file ends on 30 October 2026: December's rate (Wednesday 18 November) is missing."""
    assert (date(2026, 12, 1), "USD") not in EU_MONTHLY


def test_china_third_wednesday_then_fourth_under_order_124_then_next_trading_day() -> None:
    """GACC Order 124 (2005) Art 16: third Wednesday, or the fourth when it is a legal
    holiday; GACC Order 272 (from 2024-12-01) Art 13: the next interbank trading day."""
    daily = [
        (date(2024, 9, 25), "USD", Decimal("7.05")),  # fourth Wednesday of September 2024
        (date(2024, 9, 19), "USD", Decimal("7.09")),  # Thursday after (not used under 124)
        (date(2025, 1, 16), "USD", Decimal("7.19")),  # Thursday after the 15th (holiday)
        (date(2025, 1, 22), "USD", Decimal("7.22")),
        (date(2025, 2, 28), "USD", Decimal("7.30")),
    ]
    rates = {r.month: r for r in monthly_customs_rates(RateAuthority.CN, daily, "t")}
    assert rates[date(2024, 10, 1)].published_on == date(2024, 9, 25)
    assert rates[date(2025, 2, 1)].published_on == date(2025, 1, 16)


def test_a_bad_file_is_refused_naming_its_line() -> None:
    spec = TABLES["tariff"]
    text = (
        "cn_code,description,duty_percent,additional_component,valid_from,valid_to\n"
        "610910,T-shirts,12,,2027-01-01,2027-12-31\n"
        "61091,Too short,12,,2027-01-01,2027-12-31\n"
    )
    with pytest.raises(ReferenceFileError, match="tariff-2027.csv line 3: cn_code"):
        parse_table(spec, text, "tariff-2027.csv")
    with pytest.raises(ReferenceFileError, match="line 2: USD rate 'x'"):
        parse_ecb_csv("Date,USD,\n2026-01-02,x,\n", "ecb.csv")


def test_the_newest_load_covering_a_day_answers_and_a_gap_is_named() -> None:
    old = TableVersion("tariff", 1, "a", date(2026, 1, 1), date(2026, 12, 31))
    provisional = TableVersion("tariff", 2, "b", date(2027, 1, 1), date(2027, 12, 31), True)
    versioned = Versioned("tariff", ((provisional, "2027"), (old, "2026")))
    assert versioned.on(date(2026, 6, 1)) == (old, "2026")
    assert versioned.on(date(2027, 6, 1)) == (provisional, "2027")
    assert versioned.on(date(2028, 1, 1)) is None
    assert versioned.coverage_end(date(2026, 12, 2)) == date(2027, 12, 31)


def test_shipped_tables_cover_to_the_end_of_2026_and_warn_within_30_days() -> None:
    fx = ExchangeRateTable(EU_MONTHLY.values())
    ends = coverage(SHIPPED, fx, date(2026, 12, 2))
    assert ends["tariff"] == date(2026, 12, 31)
    assert ends["ecb-rates"] == date(2026, 11, 30)
    assert ends["vat-rates"] is None
    notes = ending_soon(ends, date(2026, 12, 2))
    assert "reference table tariff ends on 2026-12-31 (within 30 days)" in notes
    assert "reference table cfets-rates is not loaded" in notes
    assert not any("vat-rates" in note for note in notes)


def test_every_shipped_file_parses_into_a_version() -> None:
    loads = shipped_loads()
    assert [version.table for version, _ in loads] == list(TABLES)
    assert build_tables(loads).tariff.on(date(2026, 3, 1)) is not None


def test_a_usd_order_in_december_2026_is_held_naming_the_rate_table_and_month() -> None:
    """No ECB publication of 18 November 2026 is loaded: HELD, reference-data-missing."""
    fx = ExchangeRateTable(EU_MONTHLY.values())
    held = assess(
        eu_parcel(currency="USD", day=date(2026, 12, 2)), Decimal(0), fx=fx, tables=SHIPPED
    )
    assert held.outcome.value == "HELD"
    [reason] = held.reasons
    assert reason.startswith("reference-data-missing: table ecb-rates: no EU customs exchange")
    assert "USD in 2026-12" in reason and "2026-11-18" in reason
    cleared = assess(
        eu_parcel(currency="USD", day=date(2026, 11, 2)), Decimal(0), fx=fx, tables=SHIPPED
    )
    assert cleared.outcome.value == "CLEARED"
    [rate] = cleared.exchange_rates
    assert (rate.published_on, rate.authority.value) == (date(2026, 10, 21), "EU")


def test_the_declaration_records_the_table_versions_and_the_rate_it_used() -> None:
    fx = ExchangeRateTable(EU_MONTHLY.values())
    assessment = assess(
        eu_parcel(currency="USD", day=date(2026, 11, 2)), Decimal(0), fx=fx, tables=SHIPPED
    )
    used = reference_data_used(assessment_document(assessment))
    assert used is not None and used["provisional"] is False
    # Under EUR 150 with the relief, no tariff line is looked up, so no tariff version is used.
    assert {table["table"] for table in used["tables"]} == {
        "vat-rates",
        "vat-territories",
        "low-value",
        "denied-parties",
        "restricted-goods",
        "dangerous-goods",
    }
    [rate] = used["exchange_rates"]
    assert (rate["authority"], rate["currency"], rate["published_on"]) == (
        "EU",
        "USD",
        "2026-10-21",
    )


def test_the_alert_rule_watches_the_coverage_gauge_the_cache_publishes() -> None:
    import yaml  # noqa: PLC0415

    from shared.metrics import REFERENCE_COVERAGE_END  # noqa: PLC0415

    rules = yaml.safe_load(
        (Path(__file__).parents[3] / "deploy/observability/alerts/reference-data.yaml").read_text()
    )
    [group] = rules["groups"]
    soon = next(rule for rule in group["rules"] if rule["alert"] == "ReferenceDataEndsWithin30Days")
    assert REFERENCE_COVERAGE_END._name in soon["expr"] and "30 * 86400" in soon["expr"]


def _extended_into_2027(versioned: Versioned, load_id: int) -> Versioned:
    """What `extend TABLE --through 2027-12-31` stores: the rows, their end moved on."""
    [(version, _)] = versioned.versions
    spec = TABLES[versioned.name]
    rows = [
        {
            **row,
            "valid_to": date(2027, 12, 31)
            if row.get("valid_to") == version.covers_to
            else row.get("valid_to"),
        }
        for row in next(rows for v, rows in shipped_loads() if v.table == versioned.name)
    ]
    extension = TableVersion(
        versioned.name, load_id, "ext", date(2027, 1, 1), date(2027, 12, 31), provisional=True
    )
    return Versioned(versioned.name, ((extension, spec.build(rows)), *versioned.versions))


def test_a_provisional_extension_of_the_2026_tariff_clears_in_2027_and_says_so() -> None:
    """Year-end procedure (docs/customs.md): without the official CN 2027, an operator
    declares CN 2026 valid into 2027; every declaration using it names the extension."""
    tables = dataclasses.replace(
        SHIPPED,
        tariff=_extended_into_2027(SHIPPED.tariff, 10),
        dangerous_goods=_extended_into_2027(SHIPPED.dangerous_goods, 11),
    )
    parcel = eu_parcel(item("610910", "200.00"), day=date(2027, 2, 1))
    assert (
        assess(parcel, Decimal(0), fx=ExchangeRateTable(()), tables=SHIPPED).outcome.value == "HELD"
    )

    assessment = assess(parcel, Decimal(0), fx=ExchangeRateTable(()), tables=tables)

    assert assessment.outcome.value == "CLEARED"
    assert assessment.charges.duty.amount == Decimal("25.20")  # 12 % of 210.00, as in 2026
    assert "REFERENCE-PROVISIONAL" in [rule.rule_id for rule in assessment.rules_fired]
    assert assessment.declaration_data["tariff"].startswith("provisional: tariff PROVISIONAL")
    used = reference_data_used(assessment_document(assessment))
    assert used["provisional"] is True
