"""Text normalisation shared by name screening and goods-description keyword matching.

Names arrive in any script and spelling: "Sergei Lavrov", "LAVROV, Sergey", "Сергей Лавров".
Normalising folds case, transliterates Cyrillic, drops accents and punctuation, so that
comparisons see words rather than spellings.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Russian and Ukrainian Cyrillic, romanised close to BGN/PCGN so that the listed Latin
# spellings and the transliterated Cyrillic spellings land on the same words.
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "є": "ye",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "і": "i",
    "ї": "yi",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}
_TRANSLITERATION = str.maketrans(_CYRILLIC)


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Casefolded, Latin-script words separated by single spaces; other scripts are kept."""
    folded = text.casefold().translate(_TRANSLITERATION)
    decomposed = unicodedata.normalize("NFKD", folded)
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":  # combining accents left by the decomposition
            continue
        kept.append(char if category[0] in "LN" else " ")
    return " ".join("".join(kept).split())


@lru_cache(maxsize=16384)
def words(text: str) -> tuple[str, ...]:
    """The normalised words of `text`; the screening keywords are split for every item of
    every consignment, so the split is remembered along with the normalisation."""
    return tuple(normalise(text).split())


def contains_phrase(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether `phrase` occurs in `haystack` as consecutive whole words."""
    width = len(phrase)
    if width == 1:
        return phrase[0] in haystack
    return any(
        haystack[start : start + width] == phrase for start in range(len(haystack) - width + 1)
    )
