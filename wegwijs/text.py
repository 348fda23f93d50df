"""One text normaliser for every component that reads a parent's words.

Used by the safety nets, the entity extractor, the language-name matcher and the
tokenizer (for the features the intent and urgent classifiers see), so the same
message looks the same to all of them (issue 7: "one normaliser for every component").

What :func:`normalise` does, in order:

1. NFKC, case fold.
2. Combining marks removed: Latin accents, Arabic harakat/tashkeel and the
   superscript alef, hamza/madda marks (``أ إ آ ؤ ئ`` become bare letters).
3. Arabic-script letter variants unified: ``ى ی ے → ي``, ``ة ۀ ە → ه``, ``ک → ك``,
   ``ٱ → ا``, ``ڪ → ك``; Turkish dotless ``ı → i``.
4. Digits of every script (Arabic-Indic, Persian, Devanagari, ...) → ASCII; Ethiopic
   numerals (፲፪ = 12) → ASCII numbers.
5. Ge'ez: the wordspace ``፡`` and other Ethiopic punctuation become spaces; letters that
   sound alike and are spelt either way by parents are unified (``ኣ ዓ ዐ → አ`` series,
   ``ሐ ኀ → ሀ`` series, ``ሠ → ሰ`` series, ``ፀ → ጸ`` series) — one orthography for matching.
6. Tatweel, zero-width characters, bidi isolates and marks, soft hyphens removed.
7. Everything that is not a letter or digit becomes a space; spaces collapsed.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic-script (and Turkish) letter variants, applied after the marks are removed.
_UNIFY = str.maketrans(
    {
        "\u0671": "\u0627",  # ٱ alef wasla → ا
        "\u0649": "\u064a",  # ى alef maksura → ي
        "\u06cc": "\u064a",  # ی Farsi yeh → ي
        "\u06d2": "\u064a",  # ے yeh barree → ي
        "\u0629": "\u0647",  # ة taa marbuta → ه
        "\u06c0": "\u0647",  # ۀ heh with yeh → ه
        "\u06d5": "\u0647",  # ە ae (Sorani) → ه
        "\u06c1": "\u0647",  # ہ heh goal → ه
        "\u06a9": "\u0643",  # ک keheh → ك
        "\u06aa": "\u0643",  # ڪ swash kaf → ك
        "\u0131": "i",  # Turkish dotless ı → i (İ becomes i through NFD + mark removal)
    }
)
# Tatweel, zero-width characters, bidi isolates/marks, BOM, soft hyphen: removed.
_INVISIBLE = re.compile("[\u0640\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_ARABIC_LETTER = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_ETHIOPIC_LETTER = re.compile("[\u1200-\u137f]")

_ETHIOPIC_ONES = {chr(0x1369 + i): i + 1 for i in range(9)}  # ፩..፱ = 1..9
_ETHIOPIC_TENS = {chr(0x1372 + i): (i + 1) * 10 for i in range(9)}  # ፲..፺ = 10..90

# Ge'ez homophones: (source row start, target row start); a row is 8 code points
# (7 vowel orders + the labiovelar/extra form). Parents spell these either way.
_GEEZ_ROWS = [
    (0x12A0, 0x12A0),  # አ row (glottal)     ← itself (kept for clarity)
    (0x12D0, 0x12A0),  # ዐ row (pharyngeal)  → አ row
    (0x1210, 0x1200),  # ሐ row               → ሀ row
    (0x1280, 0x1200),  # ኀ row               → ሀ row
    (0x1220, 0x1230),  # ሠ row               → ሰ row
    (0x1340, 0x1338),  # ፀ row               → ጸ row
]
_GEEZ = {}
for _src, _dst in _GEEZ_ROWS:
    for _i in range(7):
        if _src != _dst:
            _GEEZ[chr(_src + _i)] = chr(_dst + _i)
# Tigrinya writes the glottal a as ኣ (U+12A3, 4th order), Amharic as አ (U+12A0, 1st order).
_GEEZ["\u12a3"] = "\u12a0"
_GEEZ["\u12d3"] = "\u12a0"  # ዓ → አ
_GEEZ["\u12d0"] = "\u12a0"  # ዐ → አ
_GEEZ_TABLE = str.maketrans(_GEEZ)


def digits_to_ascii(text: str) -> str:
    """Unicode decimal digits of any script (``٣``, ``۷``) → ASCII; Ethiopic numerals → numbers.

    >>> digits_to_ascii("٤ و ١١")
    '4 و 11'
    """

    def ethiopic(match: re.Match[str]) -> str:
        total = sum(_ETHIOPIC_TENS.get(c, 0) + _ETHIOPIC_ONES.get(c, 0) for c in match.group(0))
        return f" {total} "

    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)
    return re.sub(r"[\u1369-\u137C]+", ethiopic, text)


def normalise(text: str) -> str:
    """Normalises a message (or a keyword, name or pattern) for matching and features.

    Args:
        text: any text.

    Returns:
        The normalised text: lower case, no marks, unified letter variants, ASCII digits,
        words separated by single spaces ("" for text without letters or digits).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = digits_to_ascii(text)
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch) and unicodedata.category(ch) != "Mn")
    text = unicodedata.normalize("NFC", text).translate(_UNIFY).translate(_GEEZ_TABLE)
    text = _INVISIBLE.sub("", text)
    text = "".join(ch if ch.isalnum() else " " for ch in text)
    return " ".join(text.split())


def is_arabic_script(text: str) -> bool:
    """Whether ``text`` contains Arabic-script letters."""
    return bool(_ARABIC_LETTER.search(text))


def is_ethiopic_script(text: str) -> bool:
    """Whether ``text`` contains Ge'ez (Ethiopic) letters."""
    return bool(_ETHIOPIC_LETTER.search(text))
