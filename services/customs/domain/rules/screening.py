"""Screening of parties against denied-party lists and of goods against prohibitions.

Names are compared after normalisation (case, accents, punctuation, Cyrillic script, word
order and legal-form words such as "LLC" do not matter). The same words as a listed name
or alias reject the consignment. A near match, by spelling (difflib similarity) or by
containing every word of a listed name in another spelling or as initials, holds it for a compliance
officer: a possible match is never let through silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from services.customs.domain import sources
from services.customs.domain.model import Consignment, Lane
from services.customs.domain.rules.findings import Findings
from services.customs.domain.tables.denied_parties import DeniedParty, DeniedPartyList
from services.customs.domain.tables.restricted_goods import RestrictedGoodsList, ScreeningAction
from services.customs.domain.text import contains_phrase, words

# Similarity of the whole name (words sorted) from which a name is a near match.
NAME_SIMILARITY_THRESHOLD = 0.85
# Similarity from which two single words are taken as spellings of the same word
# ("Sergei"/"Sergey", "Abramov"/"Abramovich").
WORD_SIMILARITY_THRESHOLD = 0.8

# Legal-form words carry no identity: "Internet Research Agency LLC" is the listed agency.
_LEGAL_FORMS = frozenset(
    {"ag", "ao", "bv", "co", "company", "corp", "gmbh", "inc", "jsc", "limited", "llc"}
    | {"ltd", "oao", "ooo", "pao", "pjsc", "plc", "sa", "sarl", "srl", "zao"}
)


@dataclass(frozen=True, slots=True)
class NameMatch:
    party: DeniedParty
    matched_name: str
    exact: bool
    similarity: float  # of the whole names, words sorted
    basis: str


@dataclass(frozen=True, slots=True)
class _Name:
    """A name as screening compares it, worked out once per spelling."""

    words: tuple[str, ...]  # sorted, legal forms left out
    joined: str
    coverable: bool  # two words or more, one of them more than an initial


@lru_cache(maxsize=16384)
def _name(name: str) -> _Name:
    kept = tuple(sorted(word for word in words(name) if word not in _LEGAL_FORMS))
    coverable = len(kept) >= 2 and any(len(word) > 1 for word in kept)
    return _Name(kept, " ".join(kept), coverable)


@lru_cache(maxsize=8192)
def _similar(a: str, b: str, threshold: float) -> bool:
    # 2 x shorter / total length bounds ratio() from above: most pairs stop there, cheaply.
    if 2 * min(len(a), len(b)) < threshold * (len(a) + len(b)):
        return False
    matcher = SequenceMatcher(None, a, b)
    return matcher.quick_ratio() >= threshold and matcher.ratio() >= threshold


def _same_word(word: str, other: str) -> bool:
    """A spelling of the same word, or an initial of it ("v" for "vladimir")."""
    if len(word) == 1:
        return other.startswith(word)
    return _similar(word, other, WORD_SIMILARITY_THRESHOLD)


def _covers(longer: _Name, shorter: _Name) -> bool:
    """Every word of `shorter` (two or more, one of them more than an initial) is a spelling
    or an initial of some word of `longer`: "Putin, V." and "V. V. Putin" are covered by
    "Vladimir Vladimirovich Putin"."""
    if not shorter.coverable:
        return False
    for word in shorter.words:
        for other in longer.words:
            if _same_word(word, other):
                break
        else:
            return False
    return True


def match_denied_party(name: str, parties: DeniedPartyList) -> NameMatch | None:
    """The closest denied party for `name`: exact, near, or None when nothing is close."""
    candidate = _name(name)
    if not candidate.words:
        return None
    best: NameMatch | None = None
    for party, listed_name in parties.names:
        listed = _name(listed_name)
        if candidate.words == listed.words:
            return NameMatch(party, listed_name, exact=True, similarity=1.0, basis="same words")
        spelling = min(len(candidate.words), len(listed.words)) >= 2 and _similar(
            candidate.joined, listed.joined, NAME_SIMILARITY_THRESHOLD
        )
        if not (spelling or _covers(listed, candidate) or _covers(candidate, listed)):
            continue
        similarity = SequenceMatcher(None, candidate.joined, listed.joined).ratio()
        basis = (
            f"spelling similarity {similarity:.2f}"
            if spelling
            else f"every word of the shorter name matches (whole-name similarity {similarity:.2f})"
        )
        if best is None or similarity > best.similarity:
            best = NameMatch(party, listed_name, exact=False, similarity=similarity, basis=basis)
    return best


def screen_parties(
    consignment: Consignment, denied_parties: DeniedPartyList, findings: Findings
) -> None:
    parties = [("buyer", consignment.buyer.name), ("seller", consignment.seller.name)]
    if consignment.payer_name:
        parties.append(("payer", consignment.payer_name))
    for role, name in parties:
        match = match_denied_party(name, denied_parties)
        if match is None:
            continue
        listing = (
            f"{match.party.entry_id}, listed {match.party.listed_on} under {match.party.regime}"
        )
        if match.exact:
            findings.reject(
                "SCREEN-DENIED-PARTY",
                f"{role} {name!r} is the denied party {match.matched_name!r} ({listing})",
                sources.SANCTIONS,
            )
        else:
            findings.hold(
                "SCREEN-DENIED-PARTY-NEAR",
                f"{role} {name!r} is close to the denied party {match.matched_name!r} "
                f"({match.basis}; {listing}): held for compliance review",
                sources.SANCTIONS,
            )
    roles = ", ".join(role for role, _ in parties)
    findings.fire(
        "SCREEN-PARTIES", f"{roles} screened against the denied-party list", sources.SANCTIONS
    )


def screen_goods(
    consignment: Consignment, lane: Lane, restricted_goods: RestrictedGoodsList, findings: Findings
) -> bool:
    """Apply prohibitions and restrictions; True when any item is under one (no H7 then)."""
    restricted = False
    for item in consignment.items:
        description = words(item.description)
        for entry in restricted_goods:
            if lane not in entry.lanes:
                continue
            by_code = any(item.hs_code.startswith(prefix) for prefix in entry.hs_prefixes)
            by_word = any(
                contains_phrase(description, words(keyword)) for keyword in entry.keywords
            )
            if not (by_code or by_word):
                continue
            restricted = True
            reason = f"{item.sku} ({item.description!r}, {item.hs_code}): {entry.label}"
            if entry.action is ScreeningAction.REJECT:
                findings.reject(entry.rule_id, f"{reason}: prohibited", entry.source)
            else:
                findings.hold(entry.rule_id, f"{reason}: licence or check required", entry.source)
    return restricted
