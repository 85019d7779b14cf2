"""Legal sources the rules cite, written once so every rule and table names them the same way.

Each constant is the citation that appears in `RuleFired.source` and in docs/customs.md.
"""

from __future__ import annotations

# ---- EU customs ------------------------------------------------------------------------

UCC_CUSTOMS_VALUE = (
    "Reg. (EU) No 952/2013 (Union Customs Code) Arts 70-71: transaction value plus "
    "transport and insurance costs to the place of entry"
)
UCC_CURRENCY_CONVERSION = (
    "Reg. (EU) No 952/2013 Art 53(1)(a); Implementing Reg. (EU) 2015/2447 Art 146: ECB rate "
    "published on the penultimate Wednesday of a month applies for the whole following month"
)
TAX_POINT = (
    "Reg. (EU) No 952/2013 (Union Customs Code) Art 85(1): duty is determined on the rules "
    "applicable when the customs debt is incurred, i.e. when the declaration is accepted "
    "(Art 77(2)); China: GACC duty-collection rules, tax rates and rates of exchange of the "
    "day the declaration is accepted"
)
INTRINSIC_VALUE = (
    "Delegated Reg. (EU) 2015/2446 Art 1(48): intrinsic value is the price of the goods, "
    "without transport and insurance shown separately"
)
LOW_VALUE_RELIEF = (
    "Council Reg. (EC) No 1186/2009 Arts 23-24: relief from import duty for consignments of "
    "intrinsic value not exceeding EUR 150; not for alcoholic products, perfumes and toilet "
    "waters, tobacco"
)
FLAT_LOW_VALUE_DUTY = (
    "Council Reg. (EU) 2026/382 of 11 February 2026 (OJ L, 18.2.2026) amending Reg. (EC) "
    "No 1186/2009; Delegated Reg. (EU) 2026/1022: EUR 3 per distinct tariff subheading in "
    "consignments not exceeding EUR 150 whose import is VAT-exempt under IOSS, "
    "1 July 2026 to 1 July 2028"
)
COMBINED_NOMENCLATURE_2026 = (
    "Commission Implementing Reg. (EU) 2025/1926 of 22 September 2025 amending Annex I to "
    "Reg. (EEC) No 2658/87 (Combined Nomenclature 2026), applicable from 1 January 2026"
)
H7_DECLARATION = (
    "Delegated Reg. (EU) 2015/2446 Art 143a and Annex B column H7: reduced data set only for "
    "low-value consignments not subject to prohibitions or restrictions and not excise goods"
)
EXCISE_GOODS = (
    "Council Directive (EU) 2020/262: excise duty on alcohol and tobacco is assessed by the "
    "member state of destination"
)

# ---- EU VAT ----------------------------------------------------------------------------

IOSS = (
    "Directive 2006/112/EC Art 143(1)(ca) and Arts 369l-369x: import VAT exemption when VAT "
    "was charged at checkout under IOSS (IM + 10 digits); consignments not exceeding EUR 150, "
    "not excise goods"
)
SPECIAL_ARRANGEMENTS = (
    "Directive 2006/112/EC Arts 369y-369zb: special arrangements, import VAT collected from "
    "the recipient at the standard rate of the member state of importation"
)
VAT_TERRITORIES = (
    "Directive 2006/112/EC Arts 6-7 (territories excluded from the VAT area; Monaco treated "
    "as France) and Reg. (EU) No 952/2013 Art 4 (customs territory), by postal code"
)
PLACE_OF_IMPORT = (
    "Directive 2006/112/EC Arts 60-61 (place of importation: the member state where the goods "
    "are when they enter the EU, or where they leave a transit procedure) and Art 369y (special "
    "arrangements: VAT of the member state of importation)"
)
IMPORT_VAT_BASE = (
    "Directive 2006/112/EC Arts 85-86: taxable amount on importation is the customs value "
    "plus duties"
)
IMPORT_VAT_STANDARD = (
    "Directive 2006/112/EC Arts 70-71 and 201: VAT chargeable on importation in the member "
    "state of destination"
)

# ---- EU prohibitions and restrictions, sanctions ---------------------------------------

WEAPONS = "Directive (EU) 2021/555 and Reg. (EU) No 258/2012: firearms and ammunition"
NARCOTICS = (
    "UN Single Convention on Narcotic Drugs 1961 and national criminal law: narcotics "
    "may not be imported or exported"
)
IPR_ENFORCEMENT = "Reg. (EU) No 608/2013: customs enforcement of intellectual property rights"
CITES = "Council Reg. (EC) No 338/97 (CITES): trade in specimens of wild fauna and flora"
MEDICINES = "Directive 2001/83/EC Arts 40 and 85c: import of medicinal products"
ANIMAL_PRODUCTS = (
    "Reg. (EU) 2017/625 and Delegated Reg. (EU) 2019/2122: products of animal origin enter "
    "through a border control post"
)
PLANT_HEALTH = "Reg. (EU) 2016/2031 Arts 72-73: plants and seeds need a phytosanitary certificate"
SANCTIONS = (
    "Council Reg. (EU) No 269/2014 Art 2 and Annex I (EU consolidated financial sanctions "
    "list): no funds or economic resources may be made available to listed persons"
)

# ---- China cross-border e-commerce retail import ---------------------------------------

CBEC_TAX_POLICY = (
    "MOF/GACC/SAT 财关税〔2016〕18号: CBEC retail imports taxed on the actual transaction "
    "price incl. freight and insurance; tariff 0 and VAT/consumption tax at 70 % within limits"
)
CBEC_LIMITS = (
    "MOF/GACC/SAT 财关税〔2018〕49号 (from 1 January 2019): CNY 5,000 per transaction, "
    "CNY 26,000 per person per calendar year; a single indivisible item above CNY 5,000 "
    "pays full general-trade tax"
)
CBEC_POSITIVE_LIST = (
    "MOF, NDRC, MIIT, MEE, MARA, MOFCOM, GACC, NFGA Announcement 2022 No. 7: CBEC retail "
    "import positive list, 2022 edition, from 1 March 2022"
)
CBEC_SUPERVISION = (
    "GACC Announcement 2018 No. 194: order, payment and logistics documents transmitted and "
    "matched; buyer identity (name, ID number) verified; the payer is the order placer"
)
CHINA_VAT = (
    "MOF/SAT/GACC Announcement 2019 No. 39 (VAT 13 % and 9 % from 1 April 2019), rates kept "
    "by the VAT Law of the PRC from 1 January 2026"
)
CHINA_CONSUMPTION_TAX = (
    "MOF/SAT 财税〔2016〕103号: high-end cosmetics 15 % (at or above CNY 10 per ml or g, or "
    "CNY 15 per piece); consumption tax schedule: other alcoholic beverages 10 %"
)
CHINA_CURRENCY_CONVERSION = (
    "GACC rules on the collection of duties on imports and exports: the monthly rate is the "
    "CFETS/PBoC central parity of the third Wednesday of the previous month"
)

# ---- air transport ---------------------------------------------------------------------

LITHIUM_BATTERIES = (
    "IATA Dangerous Goods Regulations 67th ed. (2026) / ICAO Technical Instructions: "
    "UN3480 (PI 965, Cargo Aircraft Only, state of charge at most 30 %), UN3481 (PI 966/967), "
    "UN3090 (PI 968), UN3091 (PI 969/970)"
)
FORBIDDEN_IN_AIR_ECOMMERCE = (
    "IATA DGR 67th ed. (2026) classification; hub acceptance policy: explosives (fireworks), "
    "matches, lighters and flammable gas refills are not accepted in e-commerce air consignments"
)

# ---- the hub's own lane policy ---------------------------------------------------------

HUB_LANES = (
    "Liège eHub lane policy: EU import of B2C goods from non-EU sellers, and EU-to-China "
    "CBEC direct purchase (customs supervision mode 9610)"
)
