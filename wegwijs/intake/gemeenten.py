"""Find the gemeente a parent names, in any script, with typos and prefixes.

Data: ``municipalities/gemeenten/<province>.yml`` (every gemeente of the CBS list, the woonplaatsen
parents name that belong to one, and spellings in Latin, Arabic and Ge'ez script; see the
file's header for its source). Matching:

1. the message is normalised (:func:`wegwijs.text.normalise`), so hamza, tashkeel,
   ی/ي, ک/ك and Ge'ez homophones do not matter;
2. every run of 1-4 words is looked up among all names (exact);
3. a word in Arabic script may carry a clitic prefix (بـ "in", لـ "to", و "and", فـ,
   كـ, and Persian بـ / Pashto پهـ): it is tried without it; a Ge'ez word may start with
   በ / ብ / ካብ / ከ / ለ / ን (in, from, to): tried without it;
4. Latin runs of at least 6 letters right after a place cue ("in", "wonen"...), or in an
   answer of at most 3 words, are matched fuzzily against gemeente names and spellings
   (rapidfuzz ``fuzz.ratio`` ≥ 88) so "in Amsterdm" and "Zwole" are found;
5. names marked ``ambiguous`` (ordinary words: "Best", "Goes", "Epe") count only with a
   cue word before them ("in", "gemeente", "wonen"...) or when they are the whole message.

Pure code; the YAML is read once by :meth:`GemeenteMatcher.load` (names) and
:func:`place_cues` (the cue words, from every `languages/<lang>/parsing.yml`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wegwijs.text import is_arabic_script, is_ethiopic_script, normalise

#: Minimal rapidfuzz ratio (0-100) for a fuzzy Latin match.
FUZZY_CUTOFF = 88
#: Shortest Latin word run (letters) that may be matched fuzzily.
FUZZY_MIN_LEN = 6
#: Arabic and Ge'ez script: the same, after a place cue only. A Ge'ez letter is a
#: syllable, so one wrong letter costs more: "ዴን ቦሽ" for "ዴን ቦስ" is 83.
FUZZY_CUTOFF_SCRIPT = {"arabic": 86, "ethiopic": 80}
FUZZY_MIN_LEN_SCRIPT = {"arabic": 5, "ethiopic": 4}
#: Locative prefixes that are themselves a place cue ("بشيفننغن" = in Scheveningen).
_LOCATIVE_PREFIXES = {"arabic": ("ب", "في", "وب", "په"), "ethiopic": ("በ", "ብ", "ኣብ", "ናብ")}

def ethiopic_skeleton(text: str) -> str:
    """Ge'ez text with every syllable in its first (ä) order: only the consonants count.

    A Ge'ez letter is consonant + vowel, in rows of 8 code points from U+1200 (the
    vowel is the position in the row; irregular rows such as ቐ/ቘ may differ in their
    last forms, which is harmless here), so "ስኒክ" and "ስኔክ" (Sneek) both give "ስነክ".
    Spaces are kept; other characters pass unchanged.
    """
    out = []
    for ch in text:
        cp = ord(ch)
        out.append(chr(cp - (cp - 0x1200) % 8) if 0x1200 <= cp <= 0x137F and ch.isalpha() else ch)
    return "".join(out)


_ARABIC_PREFIXES = ("وب", "فب", "ب", "ل", "و", "ف", "ك", "په")
_ETHIOPIC_PREFIXES = ("ካብ", "በ", "ብ", "ከ", "ለ", "ን", "ናብ")
#: Where the place cues come from: every ``languages/<lang>/parsing.yml`` (``place_cues``,
#: ``place_post_cues``), merged, so a cue of one language counts in a message of another.
LANGUAGES_DIR = Path(__file__).resolve().parents[2] / "languages"


@functools.lru_cache(maxsize=4)
def place_cues(languages_dir: Path = LANGUAGES_DIR) -> tuple[frozenset[str], frozenset[str]]:
    """``(words before a place, words after a place)``, normalised, over every language.

    Raises:
        FileNotFoundError: no ``parsing.yml`` under ``languages_dir``.
    """
    files = sorted(Path(languages_dir).glob("*/parsing.yml"))
    if not files:
        raise FileNotFoundError(f"no parsing.yml under {languages_dir}")
    before: set[str] = set()
    after: set[str] = set()
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        before.update(n for n in (normalise(str(w)) for w in data.get("place_cues") or []) if n)
        after.update(n for n in (normalise(str(w)) for w in data.get("place_post_cues") or []) if n)
    return frozenset(before), frozenset(after)


@dataclass(frozen=True)
class GemeenteMatch:
    """A gemeente found in a message.

    Attributes:
        gemeente: the official CBS name ("Zaanstad", "'s-Gravenhage").
        said: the words of the message that named it, as normalised ("زاندام").
        via: ``"name"``, ``"woonplaats"``, ``"spelling"`` or ``"fuzzy"``.
    """

    gemeente: str
    said: str
    via: str


@dataclass
class GemeenteMatcher:
    """Looks up gemeenten in messages (see the module docstring for the rules)."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)  # normalised → (gemeente, via)
    ambiguous: set[str] = field(default_factory=set)  # normalised names that need a cue
    official: list[str] = field(default_factory=list)
    _latin: list[str] = field(default_factory=list)
    _script: dict[str, list[str]] = field(default_factory=dict)  # "arabic"|"ethiopic" → names for fuzzy matching
    _skeletons: dict[str, str] = field(default_factory=dict)  # Ge'ez consonant skeleton → name
    cues: frozenset[str] = field(default_factory=lambda: place_cues()[0])  # words before a place ("in")
    post_cues: frozenset[str] = field(default_factory=lambda: place_cues()[1])  # postpositions ("ውስጥ")

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> GemeenteMatcher:
        """Builds a matcher from a parsed ``gemeenten.yml`` (or the older ``registry.yml``).

        Raises:
            ValueError: a gemeente entry has no name. (A spelling claimed by two gemeenten
                goes to the one whose official name it is, else to the first entry.)
        """
        m = cls()
        entries = data.get("gemeenten") or []
        for entry in entries:
            if isinstance(entry, str):  # old registry format: plain names + aliases
                entry = {"name": entry}
            name = entry.get("name")
            if not name:
                raise ValueError(f"gemeente without a name: {entry!r}")
            m.official.append(name)
            m._add(name, name, "name", ambiguous=bool(entry.get("ambiguous")))
            spellings = entry.get("spellings") or {}
            for script_list in spellings.values():
                for s in script_list or []:
                    m._add(str(s), name, "spelling", ambiguous=bool(entry.get("ambiguous")))
            for place in entry.get("woonplaatsen") or []:
                m._add(str(place), name, "woonplaats")
            for place_spellings in (entry.get("woonplaats_spellings") or {}).values():
                for script_list in (place_spellings or {}).values():
                    for s in script_list or []:
                        m._add(str(s), name, "woonplaats")
        for alias, official in (data.get("aliases") or {}).items():
            m._add(str(alias), str(official), "spelling")
        m._latin = [n for n, (_, via) in m.names.items() if n.isascii() and len(n.replace(" ", "")) >= FUZZY_MIN_LEN
                    and n not in m.ambiguous and via != "woonplaats"]
        m._script = {
            script: [n for n in m.names if test(n) and len(n.replace(" ", "")) >= FUZZY_MIN_LEN_SCRIPT[script]
                     and n not in m.ambiguous]
            for script, test in (("arabic", is_arabic_script), ("ethiopic", is_ethiopic_script))
        }
        # only used after a place cue, so names that need a cue (ambiguous) count too; a
        # skeleton shared by two gemeenten is left out
        by_skeleton: dict[str, set[str]] = {}
        for n, (gemeente, _) in m.names.items():
            if is_ethiopic_script(n) and len(n.replace(" ", "")) >= 3:
                key = ethiopic_skeleton(n)
                by_skeleton.setdefault(key, set()).add(gemeente)
                m._skeletons.setdefault(key, n)
        m._skeletons = {k: n for k, n in m._skeletons.items() if len(by_skeleton[k]) == 1}
        return m

    @classmethod
    def load(cls, path: Path) -> GemeenteMatcher:
        """Reads a gemeente file, or every ``*.yml`` of a folder (one file per province).

        Raises:
            FileNotFoundError: no such file or folder.
        """
        path = Path(path)
        files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
        if not files:
            raise FileNotFoundError(f"no gemeente files in {path}")
        merged: dict[str, Any] = {"gemeenten": [], "aliases": {}}
        for file in files:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            merged["gemeenten"] += list(data.get("gemeenten") or [])
            merged["aliases"].update(data.get("aliases") or {})
        return cls.from_mapping(merged)

    def _add(self, text: str, gemeente: str, via: str, *, ambiguous: bool = False) -> None:
        key = normalise(text.replace("'s-", "s ").replace("’", "'"))
        variants = {key, normalise(text)}
        for k in variants:
            if not k:
                continue
            if k in self.names and self.names[k][0] != gemeente:
                # the same word names two places (e.g. a woonplaats and another gemeente):
                # the gemeente's own name wins, otherwise the first entry
                if via != "name":
                    continue
            self.names[k] = (gemeente, via)
            if ambiguous or len(k) <= 3:
                self.ambiguous.add(k)

    def _candidates(self, word: str) -> list[str]:
        out = [word]
        if is_arabic_script(word):
            out += [word[len(p):] for p in _ARABIC_PREFIXES if word.startswith(p) and len(word) - len(p) >= 2]
            if word.startswith("ال"):
                out.append(word[2:])
        elif is_ethiopic_script(word):
            out += [word[len(p):] for p in _ETHIOPIC_PREFIXES if word.startswith(p) and len(word) - len(p) >= 2]
        return out

    def find(self, text: str, *, whole_message_ok: bool = True,
             negations: frozenset[str] | set[str] = frozenset()) -> GemeenteMatch | None:
        """The gemeente named in ``text``, else None (the longest run of words wins).

        Args:
            text: the parent's message, as typed.
            whole_message_ok: accept an ambiguous name when it is the whole message
                (the answer to "which gemeente?").
            negations: normalised negation words ("niet", "not", "نه"): when the message
                names two gemeenten and one of them has a negation in the two words before
                it ("niet Rotterdam maar Schiedam", "not Rotterdam, Schiedam"), the other wins.
        """
        words = normalise(text.replace("'s-", "s ").replace("’", "'")).split()
        if not words:
            return None
        found = self._exact(words, whole_message_ok)
        if not found:
            return self._fuzzy(words)
        named = {m.gemeente for _, _, m in found}
        if negations and len(named) > 1:
            def negated(at: int) -> bool:
                # the two words before the name, not reaching back over another name
                lo = max([at - 2, 0] + [j + size for j, size, _ in found if j + size <= at])
                return any(w in negations for w in words[lo:at])

            kept = [h for h in found if not negated(h[0])]
            if kept and len({m.gemeente for _, _, m in kept}) < len(named):
                found = kept
        return found[0][2]

    def _exact(self, words: list[str], whole_message_ok: bool) -> list[tuple[int, int, GemeenteMatch]]:
        """Every exact name in ``words``: ``(word index, run length, match)``, best first
        (longer runs of words, then longer names)."""
        hits: list[tuple[int, int, int, GemeenteMatch]] = []
        for size in (4, 3, 2, 1):
            for i in range(0, len(words) - size + 1):
                run = words[i:i + size]
                heads = self._candidates(run[0]) if size >= 1 else [run[0]]
                for head in heads:
                    key = " ".join([head, *run[1:]])
                    hit = self.names.get(key)
                    if not hit:
                        continue
                    if key in self.ambiguous:
                        cue = (i > 0 and words[i - 1] in self.cues) or (
                            i + size < len(words) and words[i + size] in self.post_cues)
                        whole = whole_message_ok and len(words) == size
                        if not (cue or whole or head != run[0]):
                            continue
                    hits.append((size, len(key), i, GemeenteMatch(hit[0], key, hit[1])))
        hits.sort(key=lambda h: (-h[0], -h[1], h[2]))
        return [(i, size, m) for size, _, i, m in hits]

    def _fuzzy(self, words: list[str]) -> GemeenteMatch | None:
        from rapidfuzz import fuzz, process

        for size in (3, 2, 1):
            for i in range(0, len(words) - size + 1):
                # a typo is only guessed after a place cue ("in Utrect") or in a short answer
                # ("Zwole"): "worden" in a sentence is not Woerden
                if not (len(words) <= 3 or (i > 0 and words[i - 1] in self.cues)):
                    continue
                run = " ".join(words[i:i + size])
                if not run.isascii() or len(run.replace(" ", "")) < FUZZY_MIN_LEN:
                    continue
                hit = process.extractOne(run, self._latin, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
                if hit:
                    gemeente, _ = self.names[hit[0]]
                    return GemeenteMatch(gemeente, run, "fuzzy")
        return self._fuzzy_script(words)

    def _fuzzy_script(self, words: list[str]) -> GemeenteMatch | None:
        """A misspelt name in Arabic or Ge'ez script, only right after a place cue or with a
        locative prefix on it ("ساكنين بشيفننغن", "በዴን ቦሽ"); longer runs first."""
        from rapidfuzz import fuzz, process

        for size in (2, 1):
            for i in range(0, len(words) - size + 1):
                first = words[i]
                script = "arabic" if is_arabic_script(first) else "ethiopic" if is_ethiopic_script(first) else None
                if script is None:
                    continue
                heads = [first[len(p):] for p in _LOCATIVE_PREFIXES[script] if first.startswith(p) and len(first) - len(p) >= 2]
                if i > 0 and words[i - 1] in self.cues:
                    heads.append(first)
                for head in heads:
                    run = " ".join([head, *words[i + 1:i + size]])
                    known = self._skeletons.get(ethiopic_skeleton(run)) if script == "ethiopic" else None
                    if known and head == first and known[0] == run[0]:
                        # "ኣብ ስኒክ" for "ስኔክ" (Sneek): the same consonants, another vowel; only
                        # after a place word and with the same first letter ("ብሰንኪ" = because of)
                        gemeente, _ = self.names[known]
                        return GemeenteMatch(gemeente, run, "fuzzy")
                    if len(run.replace(" ", "")) < FUZZY_MIN_LEN_SCRIPT[script]:
                        continue
                    hit = process.extractOne(run, self._script[script], scorer=fuzz.ratio,
                                             score_cutoff=FUZZY_CUTOFF_SCRIPT[script])
                    if hit:
                        gemeente, _ = self.names[hit[0]]
                        return GemeenteMatch(gemeente, run, "fuzzy")
        return None
