"""China cross-border e-commerce (CBEC) retail import: limits, tax share and a positive-list
excerpt with the statutory VAT and consumption tax of each line.

Sources:
- Limits and tax: MOF/GACC/SAT 财关税〔2016〕18号 (in force 8 April 2016) and 财关税〔2018〕49号
  (in force 1 January 2019): CNY 5,000 per transaction, CNY 26,000 per person per calendar
  year; within the limits tariff 0 % and import VAT and consumption tax at 70 % of the
  statutory amount, on the actual transaction price including freight and insurance.
- Positive list: 《跨境电子商务零售进口商品清单（2022年版）》, MOF, NDRC, MIIT, MEE, MARA, MOFCOM,
  GACC and NFGA Announcement 2022 No. 7, in force 1 March 2022 (1,476 eight-digit lines).
  This is an excerpt of goods EU sellers ship through the hub. Codes are China's tariff
  codes (税则号列), which may differ from EU CN codes after the sixth digit. Lines marked
  "seen" were checked against a stored copy of the list annex (the 2018 annex, kept in the
  2022 edition); the others are transcribed and must be checked against the annex before
  production use.
- VAT: 13 % standard, 9 % for agricultural products and edible vegetable oils
  (MOF/SAT/GACC Announcement 2019 No. 39; same rates under the VAT Law from 1 January 2026).
- Consumption tax: high-end cosmetics 15 % when the price is at least CNY 10 per ml or g, or
  CNY 15 per piece (财税〔2016〕103号, from 1 October 2016); wine ("other alcoholic
  beverages") 10 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

TRANSACTION_LIMIT_CNY = Decimal("5000")
ANNUAL_LIMIT_CNY = Decimal("26000")
TAX_SHARE_WITHIN_LIMITS = Decimal("0.7")
POSITIVE_LIST_VALID_FROM = date(2022, 3, 1)

HIGH_END_COSMETICS_CNY_PER_ML_OR_G = Decimal("10")
HIGH_END_COSMETICS_CNY_PER_PIECE = Decimal("15")


@dataclass(frozen=True, slots=True)
class PositiveListLine:
    code: str
    description: str
    vat_percent: Decimal
    consumption_tax_percent: Decimal
    # The consumption tax applies only to high-end cosmetics (price per ml, g or piece).
    consumption_tax_high_end_only: bool = False
    # False where the GACC quarantine list bars direct-purchase parcels (bonded 1210 only).
    direct_purchase_allowed: bool = True


def _line(
    code: str, description: str, vat: str, consumption_tax: str = "0", **flags: bool
) -> PositiveListLine:
    return PositiveListLine(code, description, Decimal(vat), Decimal(consumption_tax), **flags)


_HIGH_END = {"consumption_tax_high_end_only": True}

_LINES: tuple[PositiveListLine, ...] = (
    _line("04090000", "天然蜂蜜 natural honey (seen)", "9"),
    _line(
        "04100010",
        "燕窝 edible bird's nest (seen; barred from parcels and direct purchase)",
        "9",
        direct_purchase_allowed=False,
    ),
    _line("08023200", "鲜或干的去壳核桃 shelled walnuts (seen)", "9"),
    _line("08025200", "去壳阿月浑子果 shelled pistachios (seen)", "9"),
    _line("09012100", "未浸除咖啡碱的已焙炒咖啡 roasted coffee, not decaffeinated (seen)", "13"),
    _line("15092000", "特级初榨油橄榄油 extra virgin olive oil", "9"),
    _line("18063100", "夹心巧克力 filled chocolate in blocks or bars", "13"),
    _line("18063200", "不夹心巧克力 chocolate in blocks or bars, not filled", "13"),
    _line("18069000", "其他巧克力及含可可食品 other chocolate and cocoa preparations", "13"),
    _line("19011010", "婴幼儿配方奶粉 infant formula for retail sale", "13"),
    _line("19053100", "甜饼干 sweet biscuits", "13"),
    _line("21069090", "其他食品 other food preparations (supplements)", "13"),
    _line("22042100", "小包装葡萄酒 wine in containers of 2 l or less", "13", "10"),
    _line("33030000", "香水及花露水 perfumes and toilet waters", "13", "15", **_HIGH_END),
    _line("33041000", "唇用化妆品 lip make-up", "13", "15", **_HIGH_END),
    _line("33042000", "眼用化妆品 eye make-up", "13", "15", **_HIGH_END),
    _line("33043000", "指(趾)甲化妆品 manicure preparations", "13", "15", **_HIGH_END),
    _line("33049100", "粉 powders", "13", "15", **_HIGH_END),
    _line(
        "33049900",
        "其他美容品或化妆品及护肤品 skin-care and other beauty preparations",
        "13",
        "15",
        **_HIGH_END,
    ),
    _line("33051000", "洗发剂 shampoo", "13"),
    _line("34011100", "盥洗用皂 toilet soap", "13"),
    _line("42022100", "皮革面手提包 handbags with leather outer surface", "13"),
    _line("61091000", "棉制针织T恤衫 cotton knitted T-shirts", "13"),
    _line("64039900", "皮革面其他鞋靴 other footwear with leather uppers", "13"),
    _line("90041000", "太阳镜 sunglasses", "13"),
)

POSITIVE_LIST: dict[str, PositiveListLine] = {line.code: line for line in _LINES}


def positive_list_line(hs_code: str) -> PositiveListLine | None:
    """The positive-list line of an 8-10 digit Chinese tariff code; None if not listed."""
    return POSITIVE_LIST.get(hs_code[:8])
