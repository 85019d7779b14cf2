"""Third-country (conventional, erga omnes) import duty rates for common e-commerce goods.

Source: Combined Nomenclature 2026, Annex I to Council Reg. (EEC) No 2658/87 as replaced by
Commission Implementing Reg. (EU) 2025/1926 of 22 September 2025 (OJ L, 31.10.2025),
applicable 2026-01-01 to 2026-12-31, column "conventional rate of duty". Transcribed by
hand for the goods partners sell most; preferential rates, anti-dumping duties, quotas and
other TARIC measures are not carried. A code absent from this table is held for
classification when duty is due, never guessed.

A key is either an 8-digit CN code or a 6-digit HS subheading whose CN subdivisions all
share one rate. Lines with an agricultural component (EA, AD S/Z) or a specific duty keep
the ad valorem part in `percent` and describe the rest in `additional_component`: the
engine holds them for a full assessment instead of under-charging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

VALID_FROM = date(2026, 1, 1)
VALID_TO = date(2026, 12, 31)


@dataclass(frozen=True, slots=True)
class TariffLine:
    code: str
    percent: Decimal | None
    description: str
    additional_component: str | None = None

    @property
    def fraction(self) -> Decimal | None:
        return None if self.percent is None else self.percent / 100


def _line(
    code: str, percent: str | None, description: str, additional: str | None = None
) -> TariffLine:
    return TariffLine(code, None if percent is None else Decimal(percent), description, additional)


_AGRI = "+ agricultural component (EA) and additional duties on sugar/flour (AD S/Z, AD F/M)"

_LINES: tuple[TariffLine, ...] = (
    # ---- chapter 61: knitted apparel ------------------------------------------------------
    _line("610120", "12", "Men's overcoats, anoraks, knitted, of cotton"),
    _line("610130", "12", "Men's overcoats, anoraks, knitted, of man-made fibres"),
    _line("610220", "12", "Women's overcoats, anoraks, knitted, of cotton"),
    _line("610230", "12", "Women's overcoats, anoraks, knitted, of man-made fibres"),
    _line("610342", "12", "Men's trousers and shorts, knitted, of cotton"),
    _line("610343", "12", "Men's trousers and shorts, knitted, of synthetic fibres"),
    _line("610442", "12", "Dresses, knitted, of cotton"),
    _line("610443", "12", "Dresses, knitted, of synthetic fibres"),
    _line("610444", "12", "Dresses, knitted, of artificial fibres"),
    _line("610452", "12", "Skirts, knitted, of cotton"),
    _line("610453", "12", "Skirts, knitted, of synthetic fibres"),
    _line("610462", "12", "Women's trousers and shorts, knitted, of cotton"),
    _line("610463", "12", "Women's trousers and shorts, knitted, of synthetic fibres"),
    _line("610510", "12", "Men's shirts, knitted, of cotton"),
    _line("610520", "12", "Men's shirts, knitted, of man-made fibres"),
    _line("610610", "12", "Women's blouses and shirts, knitted, of cotton"),
    _line("610620", "12", "Women's blouses and shirts, knitted, of man-made fibres"),
    _line("610711", "12", "Men's underpants and briefs, knitted, of cotton"),
    _line("610712", "12", "Men's underpants and briefs, knitted, of man-made fibres"),
    _line("610821", "12", "Women's briefs and panties, knitted, of cotton"),
    _line("610822", "12", "Women's briefs and panties, knitted, of man-made fibres"),
    _line("610831", "12", "Nightdresses and pyjamas, knitted, of cotton"),
    _line("610910", "12", "T-shirts, singlets and other vests, knitted, of cotton"),
    _line("610990", "12", "T-shirts, singlets and other vests, knitted, of other textiles"),
    _line("611011", "10.5", "Jerseys and pullovers, knitted, of wool"),
    _line("61102010", "10.5", "Lightweight fine knit roll, polo or turtle neck jumpers, of cotton"),
    _line("61102091", "12", "Men's jerseys, pullovers, cardigans, knitted, of cotton"),
    _line("61102099", "12", "Women's jerseys, pullovers, cardigans, knitted, of cotton"),
    _line(
        "61103010",
        "10.5",
        "Lightweight fine knit roll, polo or turtle neck jumpers, of man-made fibres",
    ),
    _line("61103091", "12", "Men's jerseys, pullovers, cardigans, knitted, of man-made fibres"),
    _line("61103099", "12", "Women's jerseys, pullovers, cardigans, knitted, of man-made fibres"),
    _line("61112090", "12", "Babies' garments, knitted, of cotton (other than gloves)"),
    _line("61113090", "12", "Babies' garments, knitted, of synthetic fibres (other than gloves)"),
    _line("611211", "12", "Track suits, knitted, of cotton"),
    _line("611212", "12", "Track suits, knitted, of synthetic fibres"),
    _line("611231", "12", "Men's swimwear, knitted, of synthetic fibres"),
    _line("611241", "12", "Women's swimwear, knitted, of synthetic fibres"),
    _line("611420", "12", "Other garments, knitted, of cotton"),
    _line("611430", "12", "Other garments, knitted, of man-made fibres"),
    _line("611595", "12", "Socks and other hosiery, knitted, of cotton"),
    _line("611596", "12", "Socks and other hosiery, knitted, of synthetic fibres"),
    _line("611710", "12", "Shawls, scarves, veils, knitted"),
    # ---- chapter 62: woven apparel -------------------------------------------------------
    _line("620130", "12", "Men's overcoats, anoraks, not knitted, of cotton"),
    _line("620140", "12", "Men's overcoats, anoraks, not knitted, of man-made fibres"),
    _line("620230", "12", "Women's overcoats, anoraks, not knitted, of cotton"),
    _line("620240", "12", "Women's overcoats, anoraks, not knitted, of man-made fibres"),
    _line("620342", "12", "Men's trousers and shorts, not knitted, of cotton (jeans)"),
    _line("620343", "12", "Men's trousers and shorts, not knitted, of synthetic fibres"),
    _line("620442", "12", "Dresses, not knitted, of cotton"),
    _line("620443", "12", "Dresses, not knitted, of synthetic fibres"),
    _line("620444", "12", "Dresses, not knitted, of artificial fibres"),
    _line("620452", "12", "Skirts, not knitted, of cotton"),
    _line("620453", "12", "Skirts, not knitted, of synthetic fibres"),
    _line("620462", "12", "Women's trousers and shorts, not knitted, of cotton (jeans)"),
    _line("620463", "12", "Women's trousers and shorts, not knitted, of synthetic fibres"),
    _line("620520", "12", "Men's shirts, not knitted, of cotton"),
    _line("620530", "12", "Men's shirts, not knitted, of man-made fibres"),
    _line("620610", "12", "Women's blouses and shirts, not knitted, of silk"),
    _line("620630", "12", "Women's blouses and shirts, not knitted, of cotton"),
    _line("620640", "12", "Women's blouses and shirts, not knitted, of man-made fibres"),
    _line("620711", "12", "Men's underpants and briefs, not knitted, of cotton"),
    _line("620821", "12", "Nightdresses and pyjamas, not knitted, of cotton"),
    _line("620920", "10.5", "Babies' garments, not knitted, of cotton"),
    _line("620930", "12", "Babies' garments, not knitted, of synthetic fibres"),
    _line("621111", "12", "Men's swimwear, not knitted"),
    _line("621112", "12", "Women's swimwear, not knitted"),
    _line("621210", "6.5", "Brassières"),
    _line("621220", "6.5", "Girdles and panty-girdles"),
    _line("621290", "6.5", "Corsets, braces, suspenders"),
    _line("621410", "8", "Shawls, scarves, not knitted, of silk"),
    _line("621420", "8", "Shawls, scarves, not knitted, of wool"),
    _line("621430", "8", "Shawls, scarves, not knitted, of synthetic fibres"),
    _line("621440", "8", "Shawls, scarves, not knitted, of artificial fibres"),
    _line("621490", "8", "Shawls, scarves, not knitted, of other textiles"),
    _line("621510", "6.3", "Ties, bow ties and cravats, of silk"),
    _line("621520", "6.3", "Ties, bow ties and cravats, of man-made fibres"),
    _line("621600", "7.6", "Gloves, mittens and mitts, not knitted"),
    # ---- home textiles, headgear, umbrellas, wigs ----------------------------------------
    _line("630140", "12", "Blankets and travelling rugs of synthetic fibres"),
    _line("630231", "12", "Bed linen of cotton"),
    _line("630232", "12", "Bed linen of man-made fibres"),
    _line("630260", "12", "Toilet and kitchen linen, of terry towelling, of cotton"),
    _line("630291", "12", "Toilet and kitchen linen of cotton"),
    _line("650500", "2.7", "Hats and headgear, knitted or made up from textile"),
    _line("650691", "2.7", "Headgear of rubber or plastics"),
    _line("650699", "2.7", "Headgear of other materials"),
    _line("660191", "4.7", "Umbrellas with a telescopic shaft"),
    _line("660199", "4.7", "Other umbrellas and sun umbrellas"),
    _line("670290", "4.7", "Artificial flowers of other materials"),
    _line("670411", "2.2", "Complete wigs of synthetic textile materials"),
    _line("670420", "2.2", "Wigs, beards, eyebrows of human hair"),
    # ---- chapter 64: footwear ------------------------------------------------------------
    _line("640219", "16.9", "Sports footwear, outer soles and uppers of rubber or plastics"),
    _line("640220", "17", "Footwear with toe-post straps (flip-flops), rubber or plastics"),
    _line(
        "64029190", "16.8", "Footwear covering the ankle, rubber or plastics, no protective toe-cap"
    ),
    _line("64029991", "16.8", "Other footwear of rubber or plastics, insole < 24 cm"),
    _line("64029998", "17", "Other footwear of rubber or plastics, women's, insole >= 24 cm"),
    _line("640319", "8", "Sports footwear with leather uppers"),
    _line("640320", "8", "Footwear with leather soles and straps across the instep"),
    _line("640351", "8", "Footwear with leather soles, covering the ankle"),
    _line("640359", "8", "Other footwear with leather soles"),
    _line("640391", "8", "Footwear with leather uppers, covering the ankle"),
    _line("640399", "8", "Other footwear with leather uppers"),
    _line("640411", "16.9", "Sports footwear, trainers, textile uppers, rubber or plastic soles"),
    _line("640419", "17", "Other footwear with textile uppers and rubber or plastic soles"),
    _line("640420", "17", "Footwear with textile uppers and leather soles"),
    _line("640510", "3.5", "Other footwear with uppers of leather or composition leather"),
    _line("64052091", "4", "Slippers with textile uppers"),
    _line("64052099", "4", "Other footwear with textile uppers"),
    _line("64059090", "4", "Other footwear, other soles"),
    _line("640610", "3", "Uppers and parts thereof"),
    _line("640620", "3", "Outer soles and heels of rubber or plastics"),
    # ---- chapter 42: leather goods, bags -------------------------------------------------
    _line("420211", "3", "Trunks, suitcases, with outer surface of leather"),
    _line("42021211", "9.7", "Suitcases with outer surface of plastic sheeting"),
    _line("42021291", "3.7", "Suitcases with outer surface of textile materials"),
    _line("420221", "3", "Handbags with outer surface of leather"),
    _line("42022210", "9.7", "Handbags with outer surface of plastic sheeting"),
    _line("42022290", "3.7", "Handbags with outer surface of textile materials"),
    _line("420231", "3", "Wallets and purses with outer surface of leather"),
    _line("42023210", "9.7", "Wallets and purses with outer surface of plastic sheeting"),
    _line("42023290", "3.7", "Wallets and purses with outer surface of textile materials"),
    _line("42029211", "9.7", "Travel bags, toilet bags, rucksacks of plastic sheeting"),
    _line("42029291", "2.7", "Travel bags, toilet bags, rucksacks of textile materials"),
    _line("420310", "4", "Articles of apparel of leather"),
    _line("420321", "9", "Sports gloves of leather"),
    _line("42032990", "7", "Other gloves of leather"),
    _line("420330", "5", "Belts and bandoliers of leather"),
    _line("420340", "5", "Other clothing accessories of leather"),
    # ---- chapter 71: jewellery -----------------------------------------------------------
    _line("711311", "2.5", "Jewellery of silver"),
    _line("711319", "2.5", "Jewellery of other precious metal"),
    _line("711320", "4", "Jewellery of base metal clad with precious metal"),
    _line("711711", "4", "Cufflinks and studs of base metal"),
    _line("711719", "4", "Other imitation jewellery of base metal"),
    _line("711790", "4", "Imitation jewellery of other materials"),
    # ---- chapter 33/34: perfumes, cosmetics, soap ----------------------------------------
    _line("330300", "0", "Perfumes and toilet waters"),
    _line("330410", "0", "Lip make-up preparations"),
    _line("330420", "0", "Eye make-up preparations"),
    _line("330430", "0", "Manicure or pedicure preparations"),
    _line("330491", "0", "Powders, whether or not compressed"),
    _line("330499", "0", "Other beauty, make-up and skin-care preparations"),
    _line("330510", "0", "Shampoos"),
    _line("330520", "0", "Preparations for permanent waving or straightening"),
    _line("330530", "0", "Hair lacquers"),
    _line("330590", "0", "Other preparations for use on the hair"),
    _line("330610", "0", "Dentifrices"),
    _line("330620", "4", "Dental floss"),
    _line("330710", "6.5", "Pre-shave, shaving or after-shave preparations"),
    _line("330720", "6.5", "Personal deodorants and antiperspirants"),
    _line("330730", "6.5", "Perfumed bath salts and other bath preparations"),
    _line("340111", "0", "Soap and toilet products in bars, for toilet use"),
    _line("340130", "4", "Organic surface-active products for washing the skin, liquid"),
    _line("340600", "0", "Candles, tapers and the like"),
    # ---- food and drink ------------------------------------------------------------------
    _line("040900", "17.3", "Natural honey"),
    _line("090121", "7.5", "Coffee, roasted, not decaffeinated"),
    _line("090122", "9", "Coffee, roasted, decaffeinated"),
    _line("090210", "3.2", "Green tea in packings of 3 kg or less"),
    _line("090230", "0", "Black tea in packings of 3 kg or less"),
    _line("170490", "9", "Sugar confectionery without cocoa", _AGRI),
    _line("180631", "8.3", "Chocolate in blocks, slabs or bars, filled", _AGRI),
    _line("180632", "8.3", "Chocolate in blocks, slabs or bars, not filled", _AGRI),
    _line("180690", "8.3", "Other chocolate and food preparations containing cocoa", _AGRI),
    _line("190110", "7.6", "Infant formula put up for retail sale", _AGRI),
    _line("190531", "9", "Sweet biscuits", _AGRI),
    _line("210111", "9", "Extracts, essences and concentrates of coffee"),
    _line("210112", "11.5", "Preparations with a basis of coffee extracts"),
    _line("21069092", "12.8", "Food preparations (supplements) without milkfats, sucrose, starch"),
    _line("21069098", "9", "Other food preparations (supplements)", _AGRI),
    # Excise goods: listed so they are recognised; excise duty is assessed nationally.
    _line("220300", None, "Beer made from malt", "specific duty per hl + national excise duty"),
    _line(
        "220421",
        None,
        "Wine in containers of 2 l or less",
        "specific duty per hl + national excise duty",
    ),
    _line(
        "220810",
        None,
        "Spirits (whisky, vodka, etc.)",
        "specific duty per % vol/hl + national excise duty",
    ),
    _line("240220", "57.6", "Cigarettes containing tobacco", "+ national excise duty"),
    # ---- chapter 84/85: electronics and appliances (mostly ITA, duty free) ---------------
    _line("847130", "0", "Portable computers (laptops, tablets)"),
    _line("847141", "0", "Other computers with CPU and input/output unit"),
    _line("847149", "0", "Computers presented as systems"),
    _line("847150", "0", "Processing units"),
    _line("847160", "0", "Input or output units (keyboards, mice)"),
    _line("847170", "0", "Storage units"),
    _line("847330", "0", "Parts and accessories of computers"),
    _line("844332", "0", "Printers connectable to a computer"),
    _line("850760", "2.7", "Lithium-ion accumulators (power banks, batteries)"),
    _line("850650", "4.7", "Lithium primary cells and batteries"),
    _line("850610", "4.7", "Manganese dioxide primary cells and batteries"),
    _line(
        "85044030", "0", "Static converters for telecommunication and computer apparatus (chargers)"
    ),
    _line("850811", "2.2", "Vacuum cleaners, power not exceeding 1,500 W"),
    _line("850940", "2.2", "Food grinders, mixers, juice extractors"),
    _line("850980", "2.2", "Other electromechanical domestic appliances"),
    _line("851010", "2.2", "Shavers"),
    _line("851020", "2.2", "Hair clippers"),
    _line("851030", "2.2", "Hair-removing appliances"),
    _line("851631", "2.7", "Hair dryers"),
    _line("851632", "2.7", "Other hairdressing apparatus (straighteners, curlers)"),
    _line("851640", "2.7", "Electric smoothing irons"),
    _line("851650", "5", "Microwave ovens"),
    _line("851660", "2.7", "Other ovens, cookers, hot plates"),
    _line("851671", "2.7", "Coffee or tea makers"),
    _line("851672", "2.7", "Toasters"),
    _line("851679", "2.7", "Other electro-thermic domestic appliances (kettles)"),
    _line("851713", "0", "Smartphones"),
    _line("851714", "0", "Other telephones for cellular networks"),
    _line("851762", "0", "Machines for reception and transmission of data (smartwatches, routers)"),
    _line("851769", "0", "Other apparatus for transmission or reception"),
    _line("851830", "2", "Headphones and earphones"),
    _line("851821", "4.5", "Single loudspeakers, mounted in their enclosures"),
    _line("851822", "4.5", "Multiple loudspeakers, mounted in the same enclosure"),
    _line("852351", "0", "Solid-state non-volatile storage devices (memory cards, USB sticks)"),
    _line("852352", "0", "Smart cards"),
    _line("852872", "14", "Reception apparatus for television, colour"),
    _line(
        "85444290",
        "3.7",
        "Electric conductors with connectors, voltage not exceeding 80 V (cables)",
    ),
    _line("940511", "4.7", "Chandeliers and ceiling lights for LED light sources"),
    _line("940521", "4.7", "Electric table, desk, bedside lamps for LED light sources"),
    # ---- watches, optics, stationery ------------------------------------------------------
    _line("910211", "4.5", "Wrist-watches, electrically operated, mechanical display only"),
    _line("910212", "4.5", "Wrist-watches, electrically operated, opto-electronic display"),
    _line("910219", "4.5", "Other wrist-watches, electrically operated"),
    _line("910221", "4.5", "Wrist-watches with automatic winding"),
    _line("910229", "4.5", "Other wrist-watches, not electrically operated"),
    _line("900410", "2.9", "Sunglasses"),
    _line("900490", "2.9", "Other spectacles and goggles"),
    _line("900311", "2.2", "Frames for spectacles, of plastics"),
    _line("900319", "2.2", "Frames for spectacles, of other materials"),
    _line("900130", "2.9", "Contact lenses"),
    _line("482010", "0", "Registers, notebooks, diaries"),
    _line("490110", "0", "Printed books in single sheets"),
    _line("490199", "0", "Other printed books"),
    _line("490300", "0", "Children's picture, drawing or colouring books"),
    _line("960810", "3.2", "Ball-point pens"),
    # ---- toys, games, sports --------------------------------------------------------------
    _line(
        "95030010",
        "2.7",
        "Tricycles, scooters, pedal cars and similar wheeled toys; dolls' carriages",
    ),
    _line("95030021", "4.7", "Dolls"),
    _line("95030029", "4.7", "Parts and accessories of dolls"),
    _line("95030030", "4.7", "Electric trains and accessories"),
    _line("95030035", "4.7", "Reduced-size model assembly kits of plastics"),
    _line("95030039", "4.7", "Reduced-size model assembly kits of other materials"),
    _line("95030041", "4.7", "Stuffed toys representing animals"),
    _line("95030049", "4.7", "Other toys representing animals or non-human creatures"),
    _line("95030055", "4.7", "Toy musical instruments and apparatus"),
    _line("95030061", "4.7", "Puzzles of wood"),
    _line("95030069", "4.7", "Other puzzles"),
    _line("95030070", "4.7", "Other toys, put up in sets or outfits"),
    _line("95030075", "4.7", "Other toys and models, incorporating a motor, of plastics"),
    _line("95030079", "4.7", "Other toys and models, incorporating a motor, of other materials"),
    _line("95030081", "4.7", "Toy weapons"),
    _line("95030085", "4.7", "Die-cast miniature models of metal"),
    _line("95030095", "4.7", "Other toys of plastics"),
    _line("95030099", "4.7", "Other toys"),
    _line("950440", "2.9", "Playing cards"),
    _line("950450", "0", "Video game consoles and machines"),
    _line("950510", "2.7", "Articles for Christmas festivities"),
    _line("950590", "2.7", "Other festive, carnival or entertainment articles"),
    _line("950691", "2.7", "Articles and equipment for general physical exercise, gymnastics"),
    _line("950699", "2.7", "Other articles and equipment for sports and outdoor games"),
    # ---- household articles and miscellaneous ------------------------------------------
    _line("392410", "6.5", "Tableware and kitchenware of plastics"),
    _line("392490", "6.5", "Other household articles of plastics"),
    _line("39269097", "6.5", "Other articles of plastics (phone cases)"),
    _line("691110", "12", "Tableware and kitchenware of porcelain"),
    _line("732393", "3.2", "Table, kitchen or household articles of stainless steel"),
    _line("761510", "6", "Table, kitchen or household articles of aluminium"),
    _line("821192", "8.5", "Other knives having fixed blades"),
    _line("871200", "14", "Bicycles, not motorised"),
    _line("871160", "6", "Cycles with auxiliary electric motor"),
    _line("871500", "2.7", "Baby carriages and parts thereof"),
    _line("940360", "0", "Wooden furniture"),
    _line("940490", "3.7", "Quilts, cushions, pillows and similar furnishing"),
    _line("960321", "3.7", "Toothbrushes"),
    _line("961511", "2.7", "Combs, hair-slides of hard rubber or plastics"),
    _line("961590", "2.7", "Hairpins, curling pins and the like"),
    _line("961700", "6.7", "Vacuum flasks and other vacuum vessels"),
    _line("961310", "2.7", "Pocket lighters, gas fuelled, non-refillable"),
    _line("961320", "2.7", "Pocket lighters, gas fuelled, refillable"),
    _line("360410", "6.5", "Fireworks"),
)

TARIFF: dict[str, TariffLine] = {line.code: line for line in _LINES}


def tariff_line(hs_code: str) -> TariffLine | None:
    """The line for a 6-10 digit code: its 8-digit CN code first, then its 6-digit subheading."""
    return TARIFF.get(hs_code[:8]) or TARIFF.get(hs_code[:6])
