"""Map a typed answer to a button value: "امرأة" → ``woman``, "bel me" → ``phone``.

A parent may type instead of pressing a button. The button titles of every language
(``languages/<lang>/responses.yml``) are the first list of words we know for each value;
``parsing.yml``'s optional ``answer_words`` adds synonyms ("لوحدي" → individual).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Iterable

from wegwijs.content.bidi import strip_isolates
from wegwijs.content.schema import LanguagePack

_PAYLOAD = re.compile(r"^/\w+(\{.*\})$")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", strip_isolates(text)).lower()
    text = re.sub(r"[\u064B-\u065F\u0670\u0640]", "", text)
    text = re.sub(r"[إأآٱ]", "ا", text).replace("ة", "ه").replace("ى", "ي")
    return " ".join(re.findall(r"[\w\u1200-\u137F]+", text))


def norm_title(text: str) -> str:
    """A button title or typed answer normalised for :func:`match_answer`."""
    return _norm(text)


def answer_words(packs: Iterable[LanguagePack], slot: str) -> dict[str, set[str]]:
    """``{value: {normalised words}}`` for ``slot`` from button titles and ``answer_words``."""
    words: dict[str, set[str]] = {}
    for pack in packs:
        for resp in pack.responses.values():
            for b in resp.buttons:
                m = _PAYLOAD.match(b.payload)
                if not m:
                    continue
                try:
                    entities = json.loads(m.group(1))
                except ValueError:
                    continue
                if slot in entities:
                    words.setdefault(str(entities[slot]), set()).add(_norm(b.title))
        for value, extra in pack.parsing.answer_words.get(slot, {}).items():
            words.setdefault(value, set()).update(_norm(w) for w in extra)
    return words


def match_answer(text: str, words: dict[str, set[str]]) -> str | None:
    """The value whose word occurs in ``text`` (whole words; longest word wins), else None."""
    norm = f" {_norm(text)} "
    best: tuple[int, str] | None = None
    for value, ws in words.items():
        for w in ws:
            if w and f" {w} " in norm and (best is None or len(w) > best[0]):
                best = (len(w), value)
    return best[1] if best else None
