"""A cached view of all content for the action server."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from wegwijs.content.loader import LANGUAGES_DIR, REPO_ROOT, load_all, load_registry
from wegwijs.content.schema import LanguagePack, Registry
from wegwijs.intake.extract import Words
from wegwijs.intake.parsing import Municipalities

MUNICIPALITIES_FILE = REPO_ROOT / "municipalities" / "registry.yml"


@dataclass(frozen=True)
class ContentStore:
    """All languages, the registry and the gemeente list, loaded once.

    Attributes:
        registry: ``languages/registry.yml``.
        packs: ``{code: LanguagePack}`` for every supported language.
        municipalities: recognised gemeenten.
    """

    registry: Registry
    packs: dict[str, LanguagePack]
    municipalities: Municipalities
    _words: dict = field(default_factory=dict, compare=False, repr=False)

    def pack(self, code: str | None) -> LanguagePack:
        """The pack for ``code``, or the reference language's when unknown."""
        return self.packs.get(code or "", self.packs[self.registry.reference])

    def _parsing_packs(self, lang: str | None) -> list[LanguagePack]:
        """The conversation language, then Dutch and English (words parents mix in).

        Not every language: "نه" is "nine" in Persian but "no" in Dari, "een" is "a" in Dutch.
        """
        codes = [c for c in dict.fromkeys([lang or "", "nl", "en"]) if c in self.packs]
        return [self.packs[c] for c in codes]

    def number_words(self, lang: str | None = None) -> dict[str, int]:
        """Number words of ``lang``, Dutch and English (the conversation language wins)."""
        words: dict[str, int] = {}
        for p in reversed(self._parsing_packs(lang)):
            words.update({k.lower(): v for k, v in p.parsing.number_words.items()})
        return words

    def months_words(self, lang: str | None = None) -> list[str]:
        """Words for "month(s)" in ``lang``, Dutch and English."""
        return [w for p in self._parsing_packs(lang) for w in p.parsing.months_words]

    def number_connectors(self, lang: str | None = None) -> list[str]:
        """Words joining a unit and ten ("iyo" in Somali) in ``lang``, Dutch and English."""
        return [w for p in self._parsing_packs(lang) for w in p.parsing.number_connectors]

    def words(self, lang: str | None = None) -> Words:
        """The merged intake word lists of ``lang``, Dutch and English (cached)."""
        key = lang or ""
        if key not in self._words:
            self._words[key] = Words.from_parsing([p.parsing for p in self._parsing_packs(lang)])
        return self._words[key]

    def pregnancy_words(self, lang: str | None = None) -> list[str]:
        """Words for "pregnant" in ``lang``, Dutch and English."""
        return [w for p in self._parsing_packs(lang) for w in p.parsing.pregnancy_words]


def load_store(languages_dir: Path = LANGUAGES_DIR, municipalities_file: Path = MUNICIPALITIES_FILE) -> ContentStore:
    """Load a fresh :class:`ContentStore`.

    Raises:
        wegwijs.content.schema.ContentError: invalid content.
    """
    return ContentStore(
        registry=load_registry(languages_dir),
        packs=load_all(languages_dir),
        municipalities=Municipalities.load(municipalities_file),
    )


@lru_cache(maxsize=1)
def content_store() -> ContentStore:
    """The process-wide store, loaded on first use (never at import)."""
    return load_store()
