"""Read intake answers from a parent's free text, in any supported language.

Pure functions, no I/O: the words they need come in as arguments (from
``languages/<lang>/parsing.yml`` and ``municipalities/registry.yml``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

#: Youngest and oldest age (years) we accept as a child's age (0 = a baby).
MIN_AGE, MAX_AGE = 0, 17

_ETHIOPIC_ONES = {chr(0x1369 + i): i + 1 for i in range(9)}  # ፩..፱ = 1..9
_ETHIOPIC_TENS = {chr(0x1372 + i): (i + 1) * 10 for i in range(9)}  # ፲..፺ = 10..90
_ARABIC_CLITICS = ("و", "ف", "ب", "ل")
_TOKEN = re.compile(r"[\w\u1200-\u137F]+", re.UNICODE)


@dataclass(frozen=True)
class AgesAnswer:
    """What an answer to "how old are your children?" said.

    Attributes:
        ages: children's ages in whole years (0 for babies under one), in the
            order given.
        pregnant: the parent said they (or their partner) are expecting.
    """

    ages: list[int] = field(default_factory=list)
    pregnant: bool = False

    @property
    def understood(self) -> bool:
        """True when the answer gave at least one age or a pregnancy."""
        return bool(self.ages) or self.pregnant


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    # Arabic: drop diacritics and tatweel, unify alef forms and taa marbuta.
    text = re.sub(r"[\u064B-\u065F\u0670\u0640]", "", text)
    text = re.sub(r"[إأآٱ]", "ا", text).replace("ة", "ه").replace("ى", "ي")
    return text


def _digits_to_ascii(text: str) -> str:
    """Arabic-Indic, Persian and other Unicode decimal digits → ASCII digits."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def _ethiopic_numbers(text: str) -> str:
    """Replace Ethiopic numerals (፲፪ = 12) by ASCII digits surrounded by spaces."""

    def value(run: str) -> str:
        total = sum(_ETHIOPIC_TENS.get(c, 0) + _ETHIOPIC_ONES.get(c, 0) for c in run)
        return f" {total} "

    return re.sub(r"[\u1369-\u137C]+", lambda m: value(m.group(0)), text)


def _word_number(token: str, number_words: dict[str, int]) -> int | None:
    if token in number_words:
        return number_words[token]
    if token[:1] in _ARABIC_CLITICS and token[1:] in number_words:
        return number_words[token[1:]]
    return None


def parse_ages(
    text: str,
    number_words: dict[str, int],
    months_words: Iterable[str] = (),
    pregnancy_words: Iterable[str] = (),
    connectors: Iterable[str] = (),
) -> AgesAnswer:
    """Find children's ages (and a pregnancy) in ``text``.

    Understands digits in any Unicode script (``٣``, ``۷``), Ethiopic numerals
    (``፲፪``), number words, "8 months" (→ 0 years) and a leading count of
    children ("2 kids, 3 and 7" → ``[3, 7]``).

    Args:
        text: the parent's message.
        number_words: lower-case word → number (from every language's parsing.yml).
        months_words: words for "month(s)"; a number right before one is a baby's age.
        pregnancy_words: words that mean "pregnant".
        connectors: words that join a unit to ten in a teen ("laba iyo toban" = 12).

    Returns:
        An :class:`AgesAnswer`; ``understood`` is False when nothing was found.
    """
    norm = _normalise(_ethiopic_numbers(_digits_to_ascii(text)))
    months = {_normalise(w) for w in months_words}
    norm_words = {_normalise(k): v for k, v in number_words.items()}
    pregnant = any(_normalise(w) in norm for w in pregnancy_words if w.strip())
    joiners = {_normalise(w) for w in connectors}
    tokens = [t for i, t in enumerate(_TOKEN.findall(norm)) if t not in joiners]
    numbers: list[int] = []
    prev_word_number: int | None = None  # number word right before this token
    for i, tok in enumerate(tokens):
        is_word = not tok.isdigit()
        n: int | None = _word_number(tok, norm_words) if is_word else (int(tok) if len(tok) <= 3 else None)
        if n is None:
            prev_word_number = None
            continue
        if is_word and prev_word_number is not None and numbers and 10 in (prev_word_number, n) \
                and min(prev_word_number, n) < 10 and prev_word_number != n:
            # two-word teens: "ዓሰርተ ክልተ" (10 2) and "ثلاثة عشر" (3 10) mean 12 and 13
            numbers[-1] = prev_word_number + n
            prev_word_number = None
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt in months or (nxt[:1] in _ARABIC_CLITICS and nxt[1:] in months):
            n = 0
        numbers.append(n)
        prev_word_number = n if is_word else None
    ages = [n for n in numbers if MIN_AGE <= n <= MAX_AGE]
    if len(ages) >= 2 and ages[0] == len(ages) - 1:
        ages = ages[1:]  # "2 kinderen: 3 en 7" — the first number counts the children
    return AgesAnswer(ages=ages, pregnant=pregnant)


def age_groups_for(ages: Iterable[int], groups: dict[str, tuple[int, int]]) -> list[str]:
    """Age-group ids (``"0-4"``) the given ages fall in, in the registry's order."""
    ages = list(ages)
    return [gid for gid, (lo, hi) in groups.items() if any(lo <= a < hi for a in ages)]


@dataclass(frozen=True)
class Municipalities:
    """The gemeenten Wegwijs recognises (``municipalities/registry.yml``)."""

    names: list[str]
    aliases: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> "Municipalities":
        """Read the registry file.

        Raises:
            FileNotFoundError: no such file.
        """
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls(names=list(data.get("gemeenten", [])), aliases=dict(data.get("aliases", {})))

    def find(self, text: str) -> str | None:
        """The official name of a gemeente mentioned in ``text``, else None."""
        norm = " " + _normalise(text).replace("’", "'") + " "
        candidates = [(n, n) for n in self.names] + list(self.aliases.items())
        # longest first, so "Den Bosch" wins over a shorter name inside it
        for alias, official in sorted(candidates, key=lambda kv: -len(kv[0])):
            a = _normalise(alias)
            if re.search(r"(?<![\w])" + re.escape(a) + r"(?![\w])", norm):
                return official
        return None
