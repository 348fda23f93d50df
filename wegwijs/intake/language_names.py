"""A typed language name chooses the conversation language ("العربية", "Tigrinya", "dari").

Names come from every ``languages/<lang>/meta.yml`` (own, English, Dutch name) and
``language_aliases`` in ``languages/registry.yml``; ``language_choice_blockers`` there
turn "someone who speaks Tigrinya" into a request for a person instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wegwijs.text import normalise

#: Words besides the name a choosing message may have ("in", "please", "graag").
MAX_OTHER_WORDS = 2
#: The end of a first sentence: a full stop, "!" or "?" (Latin, Arabic, Ge'ez), or a line break.
_SENTENCE_END = re.compile(r"[.!?؟።\n]\s*")


@dataclass
class LanguageNames:
    """Normalised language names → code, for supported languages only."""

    names: dict[str, str] = field(default_factory=dict)
    blockers: set[str] = field(default_factory=set)
    supported: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, languages_dir: Path) -> LanguageNames:
        """Reads the registry and every supported language's meta.yml.

        Raises:
            FileNotFoundError: ``registry.yml`` is missing.
        """
        registry = yaml.safe_load((languages_dir / "registry.yml").read_text(encoding="utf-8")) or {}
        out = cls(blockers={normalise(w) for w in registry.get("language_choice_blockers") or []},
                  supported=list(registry.get("supported") or []))
        for code in registry.get("supported") or []:
            meta_path = languages_dir / code / "meta.yml"
            meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
            for name in [code, meta.get("name"), meta.get("english_name"), meta.get("dutch_name"),
                         *(registry.get("language_aliases", {}).get(code) or [])]:
                if name and normalise(str(name)):
                    out.names.setdefault(normalise(str(name)), code)
        return out

    def leading_choice(self, text: str) -> str | None:
        """The code of the language the first sentence of ``text`` names when that is all
        the sentence says and more follows ("farsi lotfan. ok ghabool, zakhire konid":
        Persian please, then the answer to the next question); else None."""
        first = _SENTENCE_END.split(text.strip(), 1)
        if len(first) == 2 and first[1].strip():
            return self.choice(first[0])
        return None

    def choice(self, text: str) -> str | None:
        """The code of the language ``text`` names, when that is all it says; else None."""
        words = normalise(text).split()
        if not words or len(words) > 5 or any(w in self.blockers for w in words):
            return None
        best: tuple[int, str, int] | None = None
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                code = self.names.get(" ".join(words[i:i + size]))
                if code and (best is None or size > best[0]):
                    best = (size, code, i)
        if best is None or len(words) - best[0] > MAX_OTHER_WORDS:
            return None
        # "2 languages" or digits are no choice; neither is a code alone inside a sentence
        if best[0] == 1 and len(words[best[2]]) <= 3 and len(words) > 1:
            return None
        return best[1]
