"""EU import of B2C goods from a non-EU seller: value, duty, import VAT and declaration type.

1. Values: the intrinsic value (goods only) decides the EUR 150 threshold; the customs
   value (goods + transport + insurance) is what duty is charged on. Both are converted to
   EUR at the month's customs rate.
2. Duty, at or below EUR 150: relief (Reg. 1186/2009 Art 23) except for alcohol, tobacco,
   perfumes and toilet waters, which pay the tariff; from 1 July 2026 an IOSS consignment
   pays EUR 3 per distinct 6-digit subheading instead (Reg. 2026/382). Above EUR 150: tariff
   rate x customs value, line by line; a code missing from the tariff table is held.
3. VAT: with a valid IOSS number at or below EUR 150, VAT was charged at checkout and the
   import is exempt; otherwise import VAT at the destination's standard rate on customs
   value + duty, collected from the buyer with the carrier's collection fee.
4. Declaration: H7 for low-value consignments without excise goods, prohibitions or
   restrictions, or duty-paying relief exclusions; H1 otherwise.

The declaration is lodged at Liège: its date is the day it is accepted (the tax point,
UCC Art 85), in Brussels time, whatever the order date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.customs.domain import sources
from services.customs.domain.model import Charges, Consignment, DeclarationType, Item, RateAuthority
from services.customs.domain.reference import TARIFF, ReferenceTables
from services.customs.domain.rules.conversion import Converter, converter_for
from services.customs.domain.rules.findings import Findings
from services.customs.domain.rules.lane_result import LaneResult
from services.customs.domain.rules.valuation import apportion
from services.customs.domain.tables.exchange_rates import ExchangeRates
from services.customs.domain.tables.low_value import LowValueRules
from services.customs.domain.tables.vat_rates import VatTable
from services.customs.domain.tables.vat_territories import Territory, Treatment
from shared.money import Money, round_money

BRUSSELS = ZoneInfo("Europe/Brussels")
IOSS_NUMBER = re.compile(r"^IM\d{10}$")
# Additional procedure code C07 (relief for negligible value) is dropped from e-commerce
# declarations when the flat duty starts; F48 (IOSS) and F49 (special arrangements) stay.
C07_LAST_DAY = date(2026, 6, 30)


@dataclass(frozen=True, slots=True)
class _Values:
    intrinsic: Money
    transport_and_insurance: Money
    line_customs_values: list[Decimal]  # EUR, unrounded, transport and insurance apportioned
    threshold: Decimal

    @property
    def customs_value(self) -> Money:
        return self.intrinsic + self.transport_and_insurance

    @property
    def low_value(self) -> bool:
        return self.intrinsic.amount <= self.threshold


def declaration_day(consignment: Consignment) -> date:
    """The day in Brussels the declaration is accepted at Liège: the tax point (UCC Art 85)."""
    return consignment.tax_point.astimezone(BRUSSELS).date()


def _values(
    consignment: Consignment, converter: Converter, threshold: Decimal, findings: Findings
) -> _Values:
    line_values = [item.line_value for item in consignment.items]
    shares = apportion(consignment.transport_and_insurance, line_values)
    values = _Values(
        intrinsic=converter.home_money(consignment.goods_total),
        transport_and_insurance=converter.home_money(consignment.transport_and_insurance),
        line_customs_values=[
            converter.to_home(value + share)
            for value, share in zip(line_values, shares, strict=True)
        ],
        threshold=threshold,
    )
    comparison = "≤" if values.low_value else ">"
    findings.fire(
        "EU-VALUE-INTRINSIC",
        f"intrinsic value {values.intrinsic} (goods only) {comparison} EUR {threshold}",
        sources.INTRINSIC_VALUE,
    )
    findings.fire(
        "EU-VALUE-CUSTOMS",
        f"customs value {values.customs_value} = goods {values.intrinsic} "
        f"+ transport and insurance {values.transport_and_insurance}",
        sources.UCC_CUSTOMS_VALUE,
    )
    return values


def _place_of_import(consignment: Consignment, destination: str, findings: Findings) -> str:
    """Where import VAT is due when it is not collected under IOSS (Directive 2006/112/EC
    Arts 60-61): the member state the goods are declared in, unless they travel on to the
    buyer's member state under transit and are declared there."""
    place = destination if consignment.transit_to_destination else consignment.declared_in
    how = (
        f"goods travel on to {destination} under transit (Art 61) and are declared there"
        if consignment.transit_to_destination
        else f"goods are declared for free circulation in {consignment.declared_in} (Art 60)"
    )
    findings.fire("EU-PLACE-OF-IMPORT", f"place of import {place}: {how}", sources.PLACE_OF_IMPORT)
    return place


def _uses_ioss(
    consignment: Consignment, low_value: bool, has_excise: bool, findings: Findings
) -> bool:
    number = consignment.seller.ioss_number
    if number is None:
        return False
    if not IOSS_NUMBER.match(number):
        findings.hold(
            "EU-IOSS-MALFORMED",
            f"IOSS number {number!r} is not IM + 10 digits: VAT may already have been charged at "
            "checkout, so import VAT is not charged until the seller confirms",
            sources.IOSS,
        )
        return False
    if not low_value:
        findings.fire(
            "EU-IOSS-ABOVE-150",
            f"IOSS {number} does not cover consignments above EUR 150",
            sources.IOSS,
        )
        return False
    if has_excise:
        findings.fire("EU-IOSS-EXCISE", f"IOSS {number} does not cover excise goods", sources.IOSS)
        return False
    findings.fire(
        "EU-IOSS", f"IOSS {number}: VAT charged at checkout, import VAT exempt", sources.IOSS
    )
    return True


def _tariff_duty(
    lines: list[tuple[Item, Decimal]], day: date, tables: ReferenceTables, findings: Findings
) -> Money | None:
    """Sum of rate x customs value over `lines`, rounded once; None if any line cannot be rated."""
    if not lines:
        return Money.zero("EUR").rounded()
    tariff = findings.use(
        tables.tariff, day, "EU-TARIFF-OUT-OF-DATE", sources.COMBINED_NOMENCLATURE_2026
    )
    if tariff is None:
        return None
    duty, complete = Decimal(0), True
    for item, customs_value in lines:
        line = tariff.line(item.hs_code, day)
        if line is None:
            findings.hold(
                "EU-TARIFF-UNKNOWN",
                f"{item.sku}: tariff code {item.hs_code} is not in the tariff table: "
                "held for classification",
                sources.COMBINED_NOMENCLATURE_2026,
            )
            complete = False
        elif line.fraction is None or line.additional_component is not None:
            findings.hold(
                "EU-TARIFF-COMPOSITE",
                f"{item.sku}: {line.code} {line.description} carries {line.additional_component}: "
                "held for a full duty assessment",
                sources.COMBINED_NOMENCLATURE_2026,
            )
            complete = False
        else:
            duty += line.fraction * customs_value
            findings.fire(
                "EU-TARIFF",
                f"{item.sku}: {line.code} {line.description}: {line.percent} % of customs value "
                f"{round_money(customs_value, 'EUR')} EUR",
                sources.COMBINED_NOMENCLATURE_2026,
            )
    return Money(round_money(duty, "EUR"), "EUR") if complete else None


def _duty(
    consignment: Consignment,
    values: _Values,
    flat_duty: bool,
    day: date,
    low_value: LowValueRules,
    tables: ReferenceTables,
    findings: Findings,
) -> tuple[Money | None, bool]:
    """The duty, and whether some goods paid tariff duty inside a low-value consignment."""
    lines = [
        (item, customs_value)
        for item, customs_value in zip(consignment.items, values.line_customs_values, strict=True)
        if low_value.excise_category(item.hs_code) is None
    ]
    flat = low_value.flat_duty_per_subheading
    if flat_duty:
        subheadings = sorted({item.subheading for item in consignment.items})
        duty = flat.amount_eur * len(subheadings)
        findings.fire(
            "EU-DUTY-FLAT",
            f"EUR {flat.amount_eur} x {len(subheadings)} distinct tariff "
            f"subheading(s) ({', '.join(subheadings)}) = EUR {duty}",
            sources.FLAT_LOW_VALUE_DUTY,
        )
        return Money(duty, "EUR").rounded(), False
    if not (values.low_value and low_value.relief_applies_on(day)):
        if values.low_value:
            findings.fire(
                "EU-DUTY-RELIEF-ENDED",
                f"the EUR 150 relief no longer applies on {day}",
                sources.FLAT_LOW_VALUE_DUTY,
            )
        else:
            findings.fire(
                "EU-DUTY-TARIFF",
                "above EUR 150: duty = tariff rate x customs value, per line",
                sources.LOW_VALUE_RELIEF,
            )
        return _tariff_duty(lines, day, tables, findings), False
    if flat.applies_on(day):
        findings.fire(
            "EU-DUTY-FLAT-NOT-IOSS",
            "the EUR 3 flat duty covers IOSS consignments only; this one keeps the EUR 150 relief",
            sources.FLAT_LOW_VALUE_DUTY,
        )
    excluded = [
        (item, value)
        for item, value in lines
        if low_value.relief_exclusion(item.hs_code) is not None
    ]
    relieved = [item.sku for item, _ in lines if low_value.relief_exclusion(item.hs_code) is None]
    if relieved:
        findings.fire(
            "EU-DUTY-RELIEF",
            f"no duty on {', '.join(relieved)}: "
            f"consignment intrinsic value {values.intrinsic} ≤ EUR {values.threshold}",
            sources.LOW_VALUE_RELIEF,
        )
    for item, _ in excluded:
        findings.fire(
            "EU-DUTY-RELIEF-EXCLUDED",
            f"{item.sku}: {low_value.relief_exclusion(item.hs_code)} are excluded from the relief: "
            "duty per tariff",
            sources.LOW_VALUE_RELIEF,
        )
    return _tariff_duty(excluded, day, tables, findings), bool(excluded)


def _vat(
    values: _Values,
    duty: Money | None,
    uses_ioss: bool,
    has_excise: bool,
    day: date,
    destination: str,
    vat_table: VatTable | None,
    findings: Findings,
) -> Money | None:
    if uses_ioss:
        return Money.zero("EUR").rounded()
    if vat_table is None:
        return None
    rate = vat_table.standard_rate(destination, day)
    if rate is None:
        findings.hold(
            "EU-VAT-RATE-MISSING",
            f"no standard VAT rate of {destination} on {day}",
            sources.IMPORT_VAT_STANDARD,
        )
        return None
    if duty is None:
        return None
    base = values.customs_value + duty
    vat = Money(round_money(base.amount * rate.fraction, "EUR"), "EUR")
    findings.fire(
        "EU-VAT-IMPORT",
        f"import VAT {rate.percent} % ({destination}; {rate.source}) "
        f"on customs value {values.customs_value} + duty {duty} = {base}: {vat}",
        sources.IMPORT_VAT_BASE,
    )
    if values.low_value and not has_excise:
        findings.fire(
            "EU-VAT-SPECIAL-ARRANGEMENTS",
            "no IOSS: the carrier collects import VAT from the buyer at the standard rate",
            sources.SPECIAL_ARRANGEMENTS,
        )
    else:
        findings.fire(
            "EU-VAT-STANDARD",
            "import VAT collected from the buyer on delivery",
            sources.IMPORT_VAT_STANDARD,
        )
    return vat


def _declaration_type(
    values: _Values,
    has_excise: bool,
    restricted: bool,
    tariff_duty_in_low_value: bool,
    day: date,
    low_value: LowValueRules,
    findings: Findings,
) -> DeclarationType:
    obstacles = [
        reason
        for reason, present in (
            (f"intrinsic value above EUR {values.threshold}", not values.low_value),
            ("the EUR 150 relief has ended", not low_value.relief_applies_on(day)),
            ("excise goods", has_excise),
            ("goods under prohibitions or restrictions", restricted),
            ("goods excluded from the relief pay tariff duty", tariff_duty_in_low_value),
        )
        if present
    ]
    if obstacles:
        findings.fire(
            "EU-DECLARATION-H1",
            f"full declaration H1: {'; '.join(obstacles)}",
            sources.H7_DECLARATION,
        )
        return DeclarationType.H1
    findings.fire(
        "EU-DECLARATION-H7",
        "reduced data set H7 for a low-value consignment",
        sources.H7_DECLARATION,
    )
    return DeclarationType.H7


def _declaration_data(
    consignment: Consignment,
    values: _Values,
    declaration_type: DeclarationType,
    uses_ioss: bool,
    day: date,
    findings: Findings,
) -> dict[str, str]:
    codes = [
        item.subheading if declaration_type is DeclarationType.H7 else item.hs_code
        for item in consignment.items
    ]
    data = {
        "declaration type": declaration_type.value,
        "16 03 country of destination": consignment.buyer.country,
        "18 09 commodity codes": ", ".join(codes),
        "14 14 intrinsic value": str(values.intrinsic),
        "14 15 transport and insurance costs": str(values.transport_and_insurance),
        "customs value": str(values.customs_value),
    }
    if uses_ioss:
        data["13 16 additional fiscal reference"] = f"{consignment.seller.ioss_number} (FR5)"
    if values.low_value:
        fiscal_code = "F48" if uses_ioss else "F49"
        data["11 10 additional procedure"] = (
            f"C07 {fiscal_code}" if day <= C07_LAST_DAY else fiscal_code
        )
    tariff = findings.versions_used.get(TARIFF)
    if tariff is not None and tariff.provisional:
        data["tariff"] = f"provisional: {tariff.describe()}"
    return data


def assess_eu_import(
    consignment: Consignment,
    findings: Findings,
    *,
    fx: ExchangeRates,
    tables: ReferenceTables,
    collection_fee: Money,
    restricted_goods: bool,
    territory: Territory | None = None,
) -> LaneResult:
    day = declaration_day(consignment)
    outside_vat_area = territory is not None and territory.treatment is Treatment.OUTSIDE_VAT_AREA
    if outside_vat_area:
        findings.hold(
            "EU-VAT-TERRITORY",
            f"the buyer's postal code {consignment.buyer.postal_code} is in {territory.name}, "
            f"inside the EU customs territory but outside the EU VAT area ({territory.source}): "
            "no EU import VAT and no IOSS; the territory's own import taxes apply: held for a "
            "declaration to the territory",
            sources.VAT_TERRITORIES,
        )
    destination = (
        territory.vat_country
        if territory is not None and territory.treatment is Treatment.VAT_AS
        else consignment.buyer.country
    )
    place_of_import = _place_of_import(consignment, destination, findings)
    low_value = findings.use(
        tables.low_value, day, "EU-LOW-VALUE-MISSING", sources.LOW_VALUE_RELIEF
    )
    vat_table = findings.use(
        tables.vat_rates, day, "EU-VAT-RATE-MISSING", sources.IMPORT_VAT_STANDARD
    )
    converter = converter_for(RateAuthority.EU, consignment.currency, day, fx, findings)
    if converter is None or low_value is None:
        return LaneResult()
    values = _values(consignment, converter, low_value.threshold_eur, findings)

    excise = [
        (item, low_value.excise_category(item.hs_code))
        for item in consignment.items
        if low_value.excise_category(item.hs_code)
    ]
    for item, category in excise:
        findings.hold(
            "EU-EXCISE",
            f"{item.sku}: {category} is an excise good: excise duty is assessed by "
            f"{consignment.buyer.country}: held for a full declaration (H1)",
            sources.EXCISE_GOODS,
        )
    has_excise = bool(excise)
    uses_ioss = not outside_vat_area and _uses_ioss(
        consignment, values.low_value, has_excise, findings
    )
    flat_duty = (
        uses_ioss
        and low_value.relief_applies_on(day)
        and low_value.flat_duty_per_subheading.applies_on(day)
    )

    duty, tariff_duty_in_low_value = _duty(
        consignment, values, flat_duty, day, low_value, tables, findings
    )
    vat = (
        None
        if outside_vat_area
        else _vat(values, duty, uses_ioss, has_excise, day, place_of_import, vat_table, findings)
    )
    declaration_type = _declaration_type(
        values, has_excise, restricted_goods, tariff_duty_in_low_value, day, low_value, findings
    )

    charges = None
    if duty is not None and vat is not None:
        fee = (Money.zero("EUR") if uses_ioss else collection_fee).rounded()
        if fee.amount:
            findings.fire(
                "EU-FEE-COLLECTION", f"carrier collection fee {fee}", sources.SPECIAL_ARRANGEMENTS
            )
        charges = Charges(duty=duty, vat=vat, other_taxes=Money.zero("EUR").rounded(), fees=fee)
    return LaneResult(
        declaration_type=declaration_type,
        charges=charges,
        collected_at_checkout=uses_ioss,
        declaration_data=_declaration_data(
            consignment, values, declaration_type, uses_ioss, day, findings
        )
        | {"place of import (import VAT)": destination if uses_ioss else place_of_import},
        converter=converter,
    )
