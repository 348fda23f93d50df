"""A cached view of all content for the action server."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from wegwijs.content.loader import LANGUAGES_DIR, load_all, load_registry
from wegwijs.content.schema import LanguagePack, Registry
from wegwijs.intake.extract import Words


@dataclass(frozen=True)
class ContentStore:
    """All languages and the registry, loaded once (the gemeenten live in the NLU extractor).

    Attributes:
        registry: ``languages/registry.yml``.
        packs: ``{code: LanguagePack}`` for every supported language.
    """

    registry: Registry
    packs: dict[str, LanguagePack]
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

    def words(self, lang: str | None = None) -> Words:
        """The merged intake word lists of ``lang``, Dutch and English (cached)."""
        key = lang or ""
        if key not in self._words:
            self._words[key] = Words.from_parsing([p.parsing for p in self._parsing_packs(lang)])
        return self._words[key]


def load_store(languages_dir: Path = LANGUAGES_DIR) -> ContentStore:
    """Load a fresh :class:`ContentStore`.

    Raises:
        wegwijs.content.schema.ContentError: invalid content.
    """
    return ContentStore(
        registry=load_registry(languages_dir),
        packs=load_all(languages_dir),
    )


@lru_cache(maxsize=1)
def content_store() -> ContentStore:
    """The process-wide store, loaded on first use (never at import)."""
    return load_store()
