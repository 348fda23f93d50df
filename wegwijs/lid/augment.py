"""Chat-style noise for LID training (and for the report's noisy held-out sets).

Parents type fast on phones: typos, no diacritics ("cocugum okula gitmiyor"), Arabic
or Persian keyboards mixed up (ي/ی, ك/ک, Pashto ګ→گ), ZWNJ left out or typed as a
space, and Dutch words for Dutch institutions in the middle of their own language
("ኣብ gemeente Amersfoort እየ ዘለኹ", "ابني في school ما بدو"). These functions make
such variants of normalised training text (see :func:`wegwijs.lid.detector.normalise`).

Every function takes a :class:`random.Random`, so callers decide the seed and the
output is deterministic.
"""

from __future__ import annotations

import random
import unicodedata

from wegwijs.lid import SCRIPTS

#: Dutch words that chat in any language borrows: institutions, school and health
#: words, places, and chat fillers. Inserted into other languages' training text so
#: that a Dutch word does not make a Turkish, Somali or Tigrinya message Dutch.
DUTCH_CHAT_WORDS: tuple[str, ...] = tuple(
    """
    gemeente school basisschool huisarts consultatiebureau jeugdzorg kinderopvang
    peuterspeelzaal klantmanager sleutelpersoon afspraak brief juf meester leraar
    mentor toeslag toeslagen kinderbijslag zorgtoeslag bsn digid uwv ind coa azc
    vluchtelingenwerk ziekenhuis tandarts apotheek wijkteam opvang zorgverzekering
    belastingdienst inburgering taalcafé bibliotheek buurthuis ouderavond rapport
    cito schoolreisje zwemles sportclub voetbal fiets bus trein centrum ggd jgz cjg
    vve leerplicht leerplichtambtenaar schoolarts verpleegkundige logopedie
    fysiotherapie huisartsenpost spoedeisende hulp veilig thuis politie wegwijs
    amersfoort utrecht amsterdam rotterdam tilburg eindhoven zwolle groningen almere
    arnhem nijmegen breda leiden haarlem apeldoorn enschede den haag
    ok oke oké ja nee hoi hallo doei dank je sorry please thanks
    """.split()
)

#: Latin letters that ``NFD`` does not split into base + mark.
_LATIN_PLAIN = str.maketrans({"ı": "i", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d"})
#: Arabic-keyboard spellings of Persian/Pashto/Kurdish letters and the reverse.
_ARABIC_KEYBOARD = str.maketrans({"ی": "ي", "ک": "ك"})
_PERSIAN_KEYBOARD = str.maketrans({"ي": "ی", "ك": "ک", "ى": "ی"})
#: Pashto letters typed on a Persian keyboard.
_PASHTO_ON_PERSIAN = str.maketrans(
    {"ګ": "گ", "ې": "ی", "ۍ": "ی", "ښ": "ش", "ږ": "ژ", "ټ": "ت", "ډ": "د", "ړ": "ر", "ڼ": "ن", "ځ": "ز", "څ": "س"}
)
#: Sorani letters typed on a Persian keyboard.
_SORANI_ON_PERSIAN = str.maketrans({"ە": "ه", "ێ": "ی", "ۆ": "و", "ڵ": "ل", "ڕ": "ر"})
#: Arabic chat spelling: hamza seats dropped, taa marbuta and alif maqsura simplified.
_ARABIC_CHAT = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})

#: Neighbouring keys on a QWERTY keyboard (for Latin substitutions).
_QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _row in _QWERTY_ROWS:
    for _i, _ch in enumerate(_row):
        _NEIGHBOURS[_ch] = _row[max(0, _i - 1) : _i] + _row[_i + 1 : _i + 2]


def strip_marks(text: str) -> str:
    """Latin letters without diacritics ("çocuğum okula gitmiyor" → "cocugum okula gitmiyor").

    Only Latin letters change; Arabic, Ethiopic and Cyrillic text stays as it is
    (except Cyrillic й, ё, ї which keep their marks as separate letters on phones).
    """
    out = []
    for ch in text.translate(_LATIN_PLAIN):
        if "LATIN" in unicodedata.name(ch, ""):
            base = unicodedata.normalize("NFD", ch)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
        else:
            out.append(ch)
    return "".join(out)


def keyboard_variant(text: str, label: str, rng: random.Random) -> str:
    """The same text as typed on another keyboard or with chat spelling.

    Arabic: hamza seats dropped, ة→ه, ى→ي. Persian/Dari/Pashto/Sorani: Arabic-keyboard
    ي/ك sometimes, ZWNJ dropped or typed as a space; Pashto-specific letters as on a
    Persian keyboard (ګ→گ ...); Sorani ە→ه. Latin languages: diacritics dropped
    (Turkish ş/ğ/ı, French é, Kurmanji ê/î/û). Russian ё→е.
    """
    script = SCRIPTS.get(label)
    if script == "Latn":
        return strip_marks(text)
    if label == "ar":
        return text.translate(_ARABIC_CHAT)
    if script == "Arab":
        if label == "ps" and rng.random() < 0.7:
            text = text.translate(_PASHTO_ON_PERSIAN)
        if label == "ckb" and rng.random() < 0.5:
            text = text.translate(_SORANI_ON_PERSIAN)
        roll = rng.random()
        if roll < 0.4:
            text = text.replace("\u200c", "")
        elif roll < 0.7:
            text = text.replace("\u200c", " ")
        if rng.random() < 0.15:
            text = text.translate(_ARABIC_KEYBOARD)
        return text
    if label == "ru":
        return text.replace("ё", "е")
    return text


def _ethiopic_other_order(ch: str, rng: random.Random) -> str:
    """Another vowel order of the same Ge'ez consonant (ሰ → ሱ, ሲ, ሳ ...), a common slip."""
    code = ord(ch)
    if not 0x1200 <= code <= 0x137F:
        return ch
    base = code - (code - 0x1200) % 8
    for _ in range(4):
        candidate = chr(base + rng.randrange(7))
        if candidate != ch and unicodedata.name(candidate, ""):
            return candidate
    return ch


def typo(word: str, rng: random.Random) -> str:
    """One typing slip in ``word``: a letter dropped, doubled, swapped or mistyped."""
    if len(word) < 3:
        return word
    i = rng.randrange(len(word))
    kind = rng.random()
    if kind < 0.3 and len(word) > 3:
        return word[:i] + word[i + 1 :]  # dropped
    if kind < 0.5:
        return word[:i] + word[i] + word[i:]  # doubled
    if kind < 0.75 and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # swapped
    ch = word[i]
    if ch in _NEIGHBOURS and _NEIGHBOURS[ch]:
        return word[:i] + rng.choice(_NEIGHBOURS[ch]) + word[i + 1 :]
    if 0x1200 <= ord(ch) <= 0x137F:
        return word[:i] + _ethiopic_other_order(ch, rng) + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def typos(text: str, rng: random.Random, rate: float = 0.2) -> str:
    """:func:`typo` in about ``rate`` of the words (at least one for 3+ words)."""
    words = text.split()
    if not words:
        return text
    hits = [i for i in range(len(words)) if rng.random() < rate]
    if not hits and len(words) >= 3:
        hits = [rng.randrange(len(words))]
    for i in hits:
        words[i] = typo(words[i], rng)
    return " ".join(words)


def insert_dutch(text: str, rng: random.Random, count: int = 1) -> str:
    """``count`` words of :data:`DUTCH_CHAT_WORDS` put between the words of ``text``."""
    words = text.split()
    for _ in range(count):
        words.insert(rng.randrange(len(words) + 1), rng.choice(DUTCH_CHAT_WORDS))
    return " ".join(words)


def chat_noise(text: str, label: str, rng: random.Random, *, dutch: float = 0.35) -> str:
    """A chat-like variant of a normalised text: keyboard/diacritics, typos, Dutch words.

    Args:
        text: normalised text (lower case, single spaces).
        label: its language code.
        rng: random source.
        dutch: chance of inserting Dutch words (never for ``nl`` itself).

    Returns:
        The changed text (may equal ``text`` for very short input).
    """
    if rng.random() < 0.5:
        text = keyboard_variant(text, label, rng)
    if rng.random() < 0.6:
        text = typos(text, rng)
    words = len(text.split())
    if label != "nl" and words >= 2 and rng.random() < dutch:
        non_latin = SCRIPTS.get(label, "Latn") != "Latn"
        most = max(1, words // 2) if non_latin else max(1, words // 3)
        text = insert_dutch(text, rng, rng.randint(1, min(most, 3 if non_latin else 2)))
    return text
