"""The language-independent safety net: danger keywords of every language.

Pure code (no Rasa): used by the NLU component ``bot.components.safety`` and reusable
by the action server. Keywords come from ``languages/<lang>/safety.yml``::

    categories:
      self_harm:
        keywords: ["kill myself", "suicide"]
        misspellings: ["sucide"]
    not_urgent: ["suicide prevention"]          # cancels the keyword it overlaps
    not_urgent_context: ["on the news", "😂"]   # cancels every keyword of the message

Matching (docs/design.md, "safety.yml"): text and keywords pass through the same
:func:`normalise` (lower case, NFKC, Arabic diacritics removed and alef/yaa/taa marbuta
unified, Latin accents stripped, punctuation to spaces). A keyword matches when it
occurs as a substring that starts at a word start — or anywhere when the keyword is
in Arabic script, where clitics attach to words ("وانتحر"). Every language's keywords
are checked, whatever language the message was detected as.

Usage::

    matcher = KeywordMatcher.from_dir(Path("languages"))
    match = matcher.match("I want to kill myself", prefer_lang="en")
    match.as_dict()   # {"category": "self_harm", "keyword": "kill myself", "lang": "en"}
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from wegwijs.text import is_arabic_script, normalise  # noqa: F401  (re-exported: one normaliser)

logger = logging.getLogger(__name__)

#: Name of the keyword file in each language folder.
SAFETY_FILE = "safety.yml"
#: Top-level list of ``safety.yml`` whose phrases silence every keyword of a message.
CONTEXT_FIELD = "not_urgent_context"
#: Top-level list of ``safety.yml``: signs that home may not be safe, no emergency
#: ("my husband is angry all the time"): a gentle question whether everyone is safe, once.
HOME_CHECK_FIELD = "home_check"

@dataclass(frozen=True)
class Keyword:
    """One keyword or misspelling of one category in one language.

    Attributes:
        text: as written in ``safety.yml``.
        normalised: after :func:`normalise`.
        category: e.g. ``"self_harm"``.
        lang: language folder it came from, e.g. ``"ar"``.
        anywhere: match anywhere (Arabic script) instead of at word starts.
    """

    text: str
    normalised: str
    category: str
    lang: str
    anywhere: bool

    @classmethod
    def make(cls, text: str, category: str, lang: str) -> Keyword:
        """Builds a keyword, normalising it and choosing the matching rule by script."""
        normalised = normalise(text)
        return cls(text, normalised, category, lang, is_arabic_script(normalised))

    def occurrences(self, normalised_text: str) -> list[tuple[int, int]]:
        """``(start, end)`` spans where this keyword occurs in an already normalised text."""
        needle = self.normalised
        spans: list[tuple[int, int]] = []
        start = normalised_text.find(needle)
        while start >= 0:
            if self.anywhere or start == 0 or not normalised_text[start - 1].isalnum():
                spans.append((start, start + len(needle)))
            start = normalised_text.find(needle, start + 1)
        return spans

    def found_in(self, normalised_text: str, vetoed: Sequence[tuple[int, int]] = ()) -> bool:
        """Whether this keyword occurs in an already normalised text, outside ``vetoed`` spans."""
        return any(
            not any(s < ve and vs < e for vs, ve in vetoed) for s, e in self.occurrences(normalised_text)
        )


@dataclass(frozen=True)
class SafetyMatch:
    """A keyword that fired.

    Attributes:
        category: danger category (``violence_at_home``, ``child_abuse``, ``self_harm``,
            ``medical_emergency``, ``child_missing``).
        keyword: the keyword as written in ``safety.yml``.
        lang: the language whose list it came from.
    """

    category: str
    keyword: str
    lang: str

    def as_dict(self) -> dict[str, str]:
        """``{"category": ..., "keyword": ..., "lang": ...}`` (the NLU ``safety`` field)."""
        return {"category": self.category, "keyword": self.keyword, "lang": self.lang}


class KeywordMatcher:
    """Finds danger keywords of all languages in a message.

    Attributes:
        keywords: every keyword, in file order (language folders sorted by name).
    """

    def __init__(
        self, keywords: Iterable[Keyword], not_urgent: Iterable[Keyword] = (), context: Iterable[Keyword] = (),
        home_check: Iterable[Keyword] = (),
    ) -> None:
        """Builds a matcher; keywords that normalise to ``""`` are ignored.

        Args:
            keywords: danger keywords.
            not_urgent: phrases (``safety.yml`` top-level ``not_urgent``) that cancel a
                keyword occurrence they overlap, e.g. "kwijt te raken" in "bang mijn kind
                kwijt te raken" (fear of youth care, not a missing child).
            context: phrases (``safety.yml`` top-level ``not_urgent_context``) that cancel
                every keyword of a message they occur anywhere in: the keyword is there,
                but the message is about something else — a resolved past event ("now he
                is fine"), news or a film, a school project, a joke ("haha", "😂"). Only
                the keyword net is silenced: the learned net still reads the message. A
                phrase without letters or digits (an emoji) is looked for in the raw text.
            home_check: phrases (``safety.yml`` top-level ``home_check``) that are no
                emergency but a sign that home may not be safe ("my husband is angry all
                the time", "I am afraid of him"): :meth:`home_check_match`.
        """
        self.keywords: list[Keyword] = [k for k in keywords if k.normalised]
        self.home_check: list[Keyword] = [k for k in home_check if k.normalised]
        self.not_urgent: list[Keyword] = [k for k in not_urgent if k.normalised]
        context = list(context)
        self.context: list[Keyword] = [k for k in context if k.normalised]
        self.context_symbols: list[str] = [k.text for k in context if not k.normalised and k.text.strip()]

    def _vetoed(self, normalised: str) -> list[tuple[int, int]]:
        return [span for k in self.not_urgent for span in k.occurrences(normalised)]

    def context_veto(self, text: str, normalised: str | None = None) -> Keyword | str | None:
        """The ``not_urgent_context`` phrase found in ``text`` (which silences its keywords), or None."""
        normalised = normalise(text) if normalised is None else normalised
        for phrase in self.context:
            if phrase.occurrences(normalised):
                return phrase
        for symbol in self.context_symbols:
            if symbol in text:
                return symbol
        return None

    def home_check_match(self, text: str) -> Keyword | None:
        """The first ``home_check`` phrase found in ``text`` (same matching rules as the
        keywords), or None; None too when a ``not_urgent_context`` phrase (a film, a joke)
        is in the message."""
        normalised = normalise(text)
        if not normalised or self.context_veto(text, normalised) is not None:
            return None
        return next((k for k in self.home_check if k.found_in(normalised)), None)

    @classmethod
    def from_mapping(cls, per_language: Mapping[str, Mapping[str, Any]]) -> KeywordMatcher:
        """Builds a matcher from parsed ``safety.yml`` documents.

        Args:
            per_language: language code → the YAML document (``{"categories": {...}}``)
                or directly its ``categories`` mapping.

        Returns:
            A matcher over all ``keywords`` and ``misspellings`` of all categories.

        Raises:
            ValueError: a category entry is not a mapping or a term is not a string.
        """
        keywords: list[Keyword] = []
        not_urgent: list[Keyword] = []
        context: list[Keyword] = []
        home_check: list[Keyword] = []
        for lang in sorted(per_language):
            document = per_language[lang] or {}
            if isinstance(document, Mapping):
                for field, into in (("not_urgent", not_urgent), (CONTEXT_FIELD, context), (HOME_CHECK_FIELD, home_check)):
                    for term in document.get(field) or []:
                        if not isinstance(term, str):
                            raise ValueError(f"{lang}: {field}: {term!r} is not a string")
                        into.append(Keyword.make(term, field, lang))
            categories = document.get("categories", document) if isinstance(document, Mapping) else None
            if not isinstance(categories, Mapping):
                raise ValueError(f"{lang}: safety keywords must be a mapping of categories")
            for category, entry in categories.items():
                if entry is None or category in ("not_urgent", CONTEXT_FIELD, HOME_CHECK_FIELD):
                    continue
                if not isinstance(entry, Mapping):
                    raise ValueError(f"{lang}: safety category {category!r} must have keywords/misspellings lists")
                for field in ("keywords", "misspellings"):
                    for term in entry.get(field) or []:
                        if not isinstance(term, str):
                            raise ValueError(f"{lang}: {category}.{field}: {term!r} is not a string")
                        keywords.append(Keyword.make(term, str(category), lang))
        return cls(keywords, not_urgent, context, home_check)

    @classmethod
    def from_dir(cls, languages_dir: Path) -> KeywordMatcher:
        """Loads every ``<languages_dir>/<lang>/safety.yml``.

        Raises:
            FileNotFoundError: ``languages_dir`` does not exist.
            ValueError: a file is not valid YAML or not in the expected shape (the
                message names the file).
        """
        documents: dict[str, Any] = {}
        for path in safety_files(languages_dir):
            try:
                documents[path.parent.name] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as error:
                raise ValueError(f"{path}: not valid YAML: {error}") from error
        try:
            return cls.from_mapping(documents)
        except ValueError as error:
            raise ValueError(f"{languages_dir}/*/{SAFETY_FILE}: {error}") from error

    def languages(self) -> list[str]:
        """Languages that contributed keywords, sorted."""
        return sorted({k.lang for k in self.keywords})

    def match_all(self, text: str) -> list[SafetyMatch]:
        """Every keyword found in ``text`` (one per keyword), in keyword order."""
        normalised = normalise(text)
        if not normalised or self.context_veto(text, normalised) is not None:
            return []
        vetoed = self._vetoed(normalised)
        return [SafetyMatch(k.category, k.text, k.lang) for k in self.keywords if k.found_in(normalised, vetoed)]

    def match(self, text: str, prefer_lang: str | None = None) -> SafetyMatch | None:
        """The best keyword found in ``text``, or None.

        With several matches: keywords of ``prefer_lang`` (the detected language) first,
        then the longest keyword, then file order.

        Args:
            text: the parent's message.
            prefer_lang: language detected for the message, if any.

        Returns:
            A :class:`SafetyMatch` or None.
        """
        normalised = normalise(text)
        if not normalised or self.context_veto(text, normalised) is not None:
            return None
        best: tuple[tuple[int, int, int], Keyword] | None = None
        vetoed = self._vetoed(normalised)
        for index, keyword in enumerate(self.keywords):
            if not keyword.found_in(normalised, vetoed):
                continue
            rank = (0 if keyword.lang == prefer_lang else 1, -len(keyword.normalised), index)
            if best is None or rank < best[0]:
                best = (rank, keyword)
        if best is None:
            return None
        keyword = best[1]
        return SafetyMatch(keyword.category, keyword.text, keyword.lang)


def safety_files(languages_dir: Path) -> list[Path]:
    """``<languages_dir>/<lang>/safety.yml`` files, sorted by language.

    Raises:
        FileNotFoundError: ``languages_dir`` is not a directory.
    """
    languages_dir = Path(languages_dir)
    if not languages_dir.is_dir():
        raise FileNotFoundError(f"languages folder not found: {languages_dir}")
    return sorted(p for p in languages_dir.glob(f"*/{SAFETY_FILE}") if p.is_file())


def files_fingerprint(languages_dir: Path) -> str:
    """sha256 over the names and bytes of all ``safety.yml`` files (changes when any does).

    Raises:
        FileNotFoundError: ``languages_dir`` is not a directory.
    """
    digest = hashlib.sha256()
    for path in safety_files(languages_dir):
        digest.update(path.parent.name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
