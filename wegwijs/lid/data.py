"""Labelled text for training and evaluating the language-identification model.

Sources (all read from the repository, nothing is downloaded):

1. FLORES-200 sentences, ``data/lid/flores200/<flores code>.txt`` (CC BY-SA 4.0, see
   ``data/lid/flores200/SOURCES.md``); line N is the same sentence in every file.
   20 % of the line numbers are held out (:func:`is_held_out` on ``"flores:<N>"``),
   so every language is evaluated on the same sentences.
2. The project's NLU examples, ``nlu_data/<lang>/*.yml`` (Rasa 3 format); 20 % held out
   by a hash of the example text.
3. The project's texts, ``languages/<lang>/*.yml`` (responses, tips, topics, safety
   keywords, ...); training only.
4. Optional CLDR strings from ``babel``: language, territory, month and day names as
   written in each locale; training only.

Training text is augmented so that chat-length messages are covered: clean windows
of 1-6 words of each FLORES sentence, NLU example and text, and noisy 2-6 word windows
(:mod:`wegwijs.lid.augment`: typos, no diacritics, Arabic/Persian keyboard variants,
ZWNJ dropped, Dutch words inserted as in "ኣብ gemeente Amersfoort እየ ዘለኹ").
Examples are judged by the script of their words (:func:`is_informative`); Latin-script
examples that are really Dutch or English ("verwijder mijn gegevens" under ``en``) are
left out of training and evaluation (:func:`is_borrowed`). Held-out NLU examples that
also occur as training text are not evaluated.

Any ``nlu_data/<lang>/`` or ``languages/<lang>/`` folder is used, also for languages
FLORES does not cover; those get their own label.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import regex
import yaml

from wegwijs.lid import FLORES_CODES, REPO_ROOT, SCRIPTS, augment
from wegwijs.lid.detector import LABEL_PREFIX, normalise, script_words

#: Share of sentences held out for evaluation (percent).
HELD_OUT_PERCENT = 20
#: Window lengths (words) added per training sentence; repeats = more windows of that size.
WINDOW_SIZES: tuple[int, ...] = (1, 1, 2, 2, 3, 3, 4, 5, 6)
#: Seed for window positions (each sentence also mixes in its own hash).
WINDOW_SEED = 2024
#: Sizes (words) of the noisy windows made per training text (see :class:`Augmentation`).
NOISY_SIZES: tuple[int, ...] = (2, 3, 4, 5, 6)
#: Seed for noisy training windows; the report's noisy held-out text uses another.
NOISE_SEED = 4711

FLORES_DIR = Path("data") / "lid" / "flores200"
NLU_DIR = Path("nlu_data")
LANGUAGES_DIR = Path("languages")

#: Command words every language's NLU data also holds in English/Dutch (design.md);
#: an example made only of these (or of Dutch institution names) says nothing about
#: the language it is filed under, so it is not used for LID.
SHARED_WORDS = frozenset(
    """
    menu start human mens person language taal stop bye delete verwijder skip overslaan
    no yes ok okay oke oké gemeente school consultatiebureau huisarts huisartsenpost klantmanager sleutelpersoon
    cjg jgz ggd vve kinderopvang peuterspeelzaal veilig thuis whatsapp wegwijs
    vluchtelingenwerk zelfmoordpreventie jeugdzorg
    """.split()
)

#: Keys whose values are not text a parent reads in that language.
_SKIP_KEYS = frozenset(
    {"payload", "code", "direction", "spacy_lang", "review", "review_note", "english_name",
     "dutch_name", "condition", "type", "name_en", "name_nl", "id", "version"}
)
#: ``languages/<lang>/`` files whose keys (not values) are words of the language.
_KEY_WORDS = frozenset({"number_words"})

_SCRIPT_RE = {
    "Latn": regex.compile(r"\p{Latin}"),
    "Arab": regex.compile(r"\p{Arabic}"),
    "Ethi": regex.compile(r"\p{Ethiopic}"),
    "Cyrl": regex.compile(r"\p{Cyrillic}"),
}
_LETTER = regex.compile(r"\p{L}")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
# Rasa entity annotation: [text](entity) or [text]{"entity": ...}
_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

#: babel locale per language code (Dari: fa_AF, Kurmanji: ku).
CLDR_LOCALES: dict[str, str] = {
    "nl": "nl", "en": "en", "ar": "ar", "ti": "ti", "am": "am", "fa": "fa", "prs": "fa_AF",
    "tr": "tr", "so": "so", "ps": "ps", "ckb": "ckb", "kmr": "ku", "fr": "fr", "uk": "uk",
    "ru": "ru",
}


@dataclass(frozen=True)
class Example:
    """One labelled text.

    Attributes:
        text: the text as found (not normalised).
        label: language code, e.g. ``"ti"``.
        source: where it came from: ``flores``, ``nlu``, ``content``, ``cldr``, with a
            ``+window`` suffix for augmentation windows.
    """

    text: str
    label: str
    source: str


@dataclass
class Dataset:
    """Everything the trainer and the report need.

    Attributes:
        train: training examples, windows included.
        held_out_flores: 20 % of FLORES sentences (same line numbers in every language).
        held_out_nlu: 20 % of the project's NLU examples (chat-like, often short).
        dropped: how many examples were left out and why (reason → count).
    """

    train: list[Example] = field(default_factory=list)
    held_out_flores: list[Example] = field(default_factory=list)
    held_out_nlu: list[Example] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    def labels(self) -> list[str]:
        """Sorted labels present in the training data."""
        return sorted({e.label for e in self.train})

    def counts(self) -> dict[str, int]:
        """Training examples per label."""
        return dict(sorted(Counter(e.label for e in self.train).items()))


def stable_hash(key: str) -> int:
    """A 64-bit hash of ``key`` that is the same on every machine and Python run."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big")


def is_held_out(key: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """Whether the item identified by ``key`` belongs to the held-out split."""
    return stable_hash(key) % 100 < percent


def script_share(text: str, script: str) -> float:
    """Share (0..1) of the letters of ``text`` that belong to ``script`` (ISO 15924)."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    pattern = _SCRIPT_RE.get(script)
    if pattern is None:
        return 1.0
    return sum(1 for ch in letters if pattern.match(ch)) / len(letters)


def is_informative(text: str, label: str) -> bool:
    """Whether ``text`` can teach the model something about ``label``.

    False when it has no letters, consists only of :data:`SHARED_WORDS` (English/Dutch
    command words, Dutch institution names), or — for a language with a known script —
    fewer than half of its words are written in that script ("menu" filed under ``ar``).
    Words, not letters, are counted: "ኣብ gemeente Amersfoort እየ ዘለኹ" is Tigrinya with
    two Dutch words, although most of its letters are Latin.
    """
    clean = normalise(text)
    if not clean:
        return False
    words = clean.split()
    if all(word in SHARED_WORDS for word in words):
        return False
    script = SCRIPTS.get(label)
    if script is None:
        return True
    counts = script_words(clean)
    return counts.get(script, 0) * 2 >= sum(counts.values())


#: Languages whose words turn up in every other Latin-script language's chat.
BORROWED_FROM: tuple[str, ...] = ("nl", "en")


def flores_vocabularies(flores: Iterable[Example]) -> dict[str, set[str]]:
    """Words of each language's FLORES training sentences (normalised)."""
    vocab: dict[str, set[str]] = defaultdict(set)
    for e in flores:
        vocab[e.label].update(normalise(e.text).split())
    return vocab


def is_borrowed(text: str, label: str, vocab: dict[str, set[str]]) -> bool:
    """Whether a Latin-script text filed under ``label`` is really Dutch or English.

    The project's data holds Dutch and English command words and phrases in every
    language ("verwijder mijn gegevens" under ``en``, "dank je" under ``so``). Such a
    text is left out when none of its words is found only in ``label``'s FLORES
    training text and more than half of them are found only in Dutch or English
    FLORES text. Languages with another script are never affected.

    Args:
        text: the example text.
        label: its language code.
        vocab: :func:`flores_vocabularies` of the FLORES training sentences.
    """
    if SCRIPTS.get(label) != "Latn" or not vocab.get(label):
        return False
    others = [vocab[o] for o in BORROWED_FROM if o != label and o in vocab]
    words = normalise(text).split()
    own = sum(1 for w in words if w in vocab[label] and not any(w in o for o in others))
    foreign = sum(1 for w in words if w not in vocab[label] and any(w in o for o in others))
    return own == 0 and foreign * 2 > len(words)


# --------------------------------------------------------------------------- sources


def read_flores(root: Path = REPO_ROOT) -> tuple[list[Example], list[Example]]:
    """FLORES-200 sentences split into (train, held out).

    Args:
        root: repository root holding ``data/lid/flores200/``.

    Returns:
        Two lists of :class:`Example` with source ``"flores"``.

    Raises:
        FileNotFoundError: the FLORES folder or one of its 15 files is missing.
    """
    folder = root / FLORES_DIR
    train: list[Example] = []
    held: list[Example] = []
    for stem, code in FLORES_CODES.items():
        path = folder / f"{stem}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"FLORES-200 file missing: {path} (see {folder / 'SOURCES.md'})")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            line = line.strip()
            if not line:
                continue
            example = Example(line, code, "flores")
            (held if is_held_out(f"flores:{number}") else train).append(example)
    return train, held


def _language_folders(folder: Path) -> Iterator[tuple[str, Path]]:
    if not folder.is_dir():
        return
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.name.startswith((".", "_")):
            yield sub.name, sub


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        # Other people are still writing these files; a broken file is skipped here and
        # reported by the content checks, not by the LID build.
        return None


def _nlu_texts(document: Any) -> Iterator[str]:
    """Example texts of a Rasa 3 NLU document (intents only; entity markup removed)."""
    if not isinstance(document, dict):
        return
    for item in document.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples")
        if isinstance(examples, str):
            lines = examples.splitlines()
        elif isinstance(examples, list):  # the structured form: [{text: ...}, ...]
            lines = [e.get("text", "") if isinstance(e, dict) else str(e) for e in examples]
        else:
            continue
        for line in lines:
            line = line.strip()
            if line.startswith("- "):
                line = line[2:]
            line = _ENTITY.sub(r"\1", line).strip()
            if line:
                yield line


def read_nlu(root: Path = REPO_ROOT) -> tuple[list[Example], list[Example]]:
    """NLU examples of every ``nlu_data/<lang>/*.yml``, split into (train, held out).

    Args:
        root: repository root.

    Returns:
        Two lists of :class:`Example` with source ``"nlu"``; empty when the folder
        does not exist yet.
    """
    train: list[Example] = []
    held: list[Example] = []
    for lang, folder in _language_folders(root / NLU_DIR):
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            for text in _nlu_texts(_load_yaml(path)):
                example = Example(text, lang, "nlu")
                (held if is_held_out(f"nlu:{lang}:{normalise(text)}") else train).append(example)
    return train, held


def _strings(node: Any, key: str | None = None) -> Iterator[str]:
    if key in _SKIP_KEYS:
        return
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, value in node.items():
            if key in _KEY_WORDS and isinstance(k, str):
                yield k
            yield from _strings(value, str(k))
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)


def read_content(root: Path = REPO_ROOT) -> list[Example]:
    """Texts of every ``languages/<lang>/*.yml`` (training only).

    Placeholders (``{name}``), button payloads and metadata fields (code, direction,
    English/Dutch names) are left out.

    Args:
        root: repository root.

    Returns:
        :class:`Example` list with source ``"content"``.
    """
    examples: list[Example] = []
    for lang, folder in _language_folders(root / LANGUAGES_DIR):
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
            for text in _strings(_load_yaml(path)):
                text = _PLACEHOLDER.sub(" ", text).strip()
                if text and not text.startswith("/"):
                    examples.append(Example(text, lang, "content"))
    return examples


def read_cldr(labels: Iterable[str]) -> list[Example]:
    """Language, territory, month and day names from CLDR (``babel``) per language.

    Dari (``fa_AF``) inherits almost everything from Persian; only its own strings are
    used. Strings written identically in several locales ("Canada") are dropped later
    as ambiguous.

    Args:
        labels: language codes to collect for (codes without a CLDR locale are skipped).

    Returns:
        :class:`Example` list with source ``"cldr"``.
    """
    from babel import Locale

    def strings(locale_id: str) -> set[str]:
        locale = Locale.parse(locale_id)
        found = set(locale.languages.values()) | set(locale.territories.values())
        for width in ("wide", "abbreviated"):
            found |= set(locale.months["format"][width].values())
            found |= set(locale.days["format"][width].values())
        return {s for s in found if s}

    examples: list[Example] = []
    persian = strings("fa")
    for label in labels:
        locale_id = CLDR_LOCALES.get(label)
        if locale_id is None:
            continue
        texts = strings(locale_id)
        if label == "prs":
            texts -= persian
        examples.extend(Example(t, label, "cldr") for t in sorted(texts))
    return examples


# --------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class Augmentation:
    """How much chat-like text is made from each training text.

    Attributes:
        window_sizes: one clean window per entry, of that many words (skipped when the
            text is not longer than the window).
        noisy_sizes: one noisy window per entry (:func:`wegwijs.lid.augment.chat_noise`:
            keyboard/diacritic variants, typos, Dutch words); a text not longer than the
            window is used whole.
        dutch: chance that a noisy window gets Dutch words inserted.
    """

    window_sizes: tuple[int, ...] = WINDOW_SIZES
    noisy_sizes: tuple[int, ...] = NOISY_SIZES
    dutch: float = 0.35


def windows(example: Example, sizes: tuple[int, ...] = WINDOW_SIZES) -> list[Example]:
    """Short word windows of one sentence, for chat-length training text.

    Positions are drawn from a generator seeded by the sentence's own hash, so the
    output does not depend on the order sentences are processed in.

    Args:
        example: a training sentence.
        sizes: one window per entry, of that many words (skipped when the sentence
            is not longer than the window).

    Returns:
        Examples with source ``"<source>+window"``.
    """
    words = normalise(example.text).split()
    rng = random.Random(WINDOW_SEED ^ stable_hash(example.text))
    out: list[Example] = []
    for size in sizes:
        if len(words) <= size:
            continue
        start = rng.randrange(0, len(words) - size + 1)
        out.append(Example(" ".join(words[start : start + size]), example.label, f"{example.source}+window"))
    return out


def noisy_windows(
    example: Example, sizes: tuple[int, ...] = NOISY_SIZES, *, dutch: float = 0.35, seed: int = NOISE_SEED
) -> list[Example]:
    """Chat-like windows: typos, keyboard variants, no diacritics, Dutch words.

    Each window is informative on its own (:func:`is_informative`) before the noise
    is added; Dutch words never outnumber the language's own words.

    Args:
        example: a training (or held-out) text.
        sizes: one window per entry; a text not longer than the size is used whole.
        dutch: chance of Dutch words in a window (see :func:`~wegwijs.lid.augment.chat_noise`).
        seed: mixed with the text's hash (the report uses another seed than training).

    Returns:
        Examples with source ``"<source>+noisy"``.
    """
    words = normalise(example.text).split()
    if not words:
        return []
    rng = random.Random(seed ^ stable_hash(f"{example.label}:{example.text}"))
    out: list[Example] = []
    seen: set[str] = set()
    for size in sizes:
        if len(words) > size:
            start = rng.randrange(0, len(words) - size + 1)
            window = " ".join(words[start : start + size])
        else:
            window = " ".join(words)
        if not is_informative(window, example.label):
            continue
        text = augment.chat_noise(window, example.label, rng, dutch=dutch)
        if text not in seen:
            seen.add(text)
            out.append(Example(text, example.label, f"{example.source}+noisy"))
    return out


def _drop_ambiguous(examples: list[Example], dropped: Counter) -> list[Example]:
    """Removes texts found under more than one label, and repeats within one label."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for e in examples:
        labels_of[normalise(e.text)].add(e.label)
    seen: set[tuple[str, str]] = set()
    kept: list[Example] = []
    for e in examples:
        key = normalise(e.text)
        if len(labels_of[key]) > 1:
            dropped[f"{e.source}: same text in several languages"] += 1
        elif (key, e.label) in seen:
            dropped[f"{e.source}: duplicate"] += 1
        else:
            seen.add((key, e.label))
            kept.append(e)
    return kept


def build_dataset(
    root: Path = REPO_ROOT, *, include_cldr: bool = True, augmentation: Augmentation | None = None
) -> Dataset:
    """Builds training and held-out data from every source.

    Training text: FLORES training sentences, the project's NLU training examples and
    texts (``languages/``), CLDR names, plus for each FLORES sentence, NLU example and
    text clean windows and noisy windows (:class:`Augmentation`).

    Args:
        root: repository root (``data/lid/flores200``, ``nlu_data``, ``languages``).
        include_cldr: add CLDR names from ``babel`` to the training text.
        augmentation: window and noise settings (default :class:`Augmentation`).

    Returns:
        A :class:`Dataset`; the same inputs always give the same lists in the same order.

    Raises:
        FileNotFoundError: FLORES files are missing.
    """
    aug = augmentation or Augmentation()
    data = Dataset()
    flores_train, data.held_out_flores = read_flores(root)
    nlu_train, nlu_held = read_nlu(root)
    content = read_content(root)

    vocab = flores_vocabularies(flores_train)
    project: list[Example] = []
    for e in [*nlu_train, *content]:
        if not is_informative(e.text, e.label):
            data.dropped[f"{e.source}: not informative"] += 1
        elif is_borrowed(e.text, e.label, vocab):
            data.dropped[f"{e.source}: Dutch or English"] += 1
        else:
            project.append(e)
    labels = sorted({e.label for e in [*flores_train, *project]})
    cldr = read_cldr(labels) if include_cldr else []
    # Ambiguity is judged over the short sources together ("school" in nl and en data).
    short = _drop_ambiguous([*project, *cldr], data.dropped)

    # A held-out NLU example that is also a training text (same words, other intent or
    # file) would not be held out at all.
    seen = {(normalise(e.text), e.label) for e in short}
    data.held_out_nlu = [
        e
        for e in nlu_held
        if is_informative(e.text, e.label)
        and not is_borrowed(e.text, e.label, vocab)
        and (normalise(e.text), e.label) not in seen
    ]
    train: list[Example] = [*flores_train, *short]
    for e in [*flores_train, *short]:
        if e.source == "cldr":
            continue
        for w in windows(e, aug.window_sizes):
            if is_informative(w.text, w.label):
                train.append(w)
            else:
                data.dropped[f"{w.source}: not informative"] += 1
        train.extend(noisy_windows(e, aug.noisy_sizes, dutch=aug.dutch))
    data.train = train
    return data


def build_datasets(root: Path = REPO_ROOT) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and held-out FLORES data as ``(label, text)`` pairs (used by ``scripts/bench.py``).

    Returns:
        ``(train, held_out_flores)``, built by :func:`build_dataset`.
    """
    data = build_dataset(root)
    return [(e.label, e.text) for e in data.train], [(e.label, e.text) for e in data.held_out_flores]


def fasttext_line(example: Example) -> str:
    """One training line: ``__label__<code> <normalised text>``."""
    return f"{LABEL_PREFIX}{example.label} {normalise(example.text)}"


def write_fasttext_file(examples: Iterable[Example], path: Path) -> int:
    """Writes examples in fastText's supervised format, skipping empty texts.

    Args:
        examples: labelled examples.
        path: output file (UTF-8, one example per line).

    Returns:
        Number of lines written.
    """
    lines = [fasttext_line(e) for e in examples if normalise(e.text)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)
