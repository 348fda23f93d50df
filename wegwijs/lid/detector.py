"""Detect the language of one chat message with the Wegwijs fastText model.

Usage::

    detector = LanguageDetector.load("models/lid/lid.bin")
    detector.detect("ወደይ ሓሚሙ እዩ")          # ("ti", 0.99)
    detector.detect("👍")                    # ("und", 0.0)

The same :func:`normalise` runs on training text (``wegwijs.lid.data``) and on
messages, so the model never sees digits, URLs, emoji or punctuation.
"""

from __future__ import annotations

import contextlib
import io
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import regex

from wegwijs.lid import UNDETERMINED

if TYPE_CHECKING:  # pragma: no cover
    import fasttext.FastText

LABEL_PREFIX = "__label__"

# URLs, e-mail addresses and @mentions carry no language.
_URL = regex.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+|@\w+", regex.I)
# Invisible format characters (bidi isolates/marks, ZWJ, BOM, Arabic letter mark),
# but not U+200C ZERO WIDTH NON-JOINER, which is part of Persian/Kurdish spelling.
_FORMAT = regex.compile(r"[\u00ad\u0640\u061c\u200b\u200d-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Everything that is not a letter, a combining mark, ZWNJ or an apostrophe.
_NON_LETTER = regex.compile(r"[^\p{L}\p{M}\u200c']+")
# Apostrophes only count inside a word (Somali "la'aan", French "l'école").
_LOOSE_APOSTROPHE = regex.compile(r"(?<!\p{L})'|'(?!\p{L})")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"})
_APOSTROPHE_VARIANTS = ("\u2019", "\u02bc", "\u2018", "`")

# --- Arabizi (Arabic chat written in Latin letters and digits: "kifak ibni 3ando 7arara").
# Digits stand for Arabic sounds: 2 ء, 3 ع, 5 خ, 6 ط, 7 ح, 8 ق, 9 ص. A word that mixes
# such a digit with letters ("3ando", "ma3ak", "2ana") is a strong sign; ordinals and
# units ("2e", "3rd", "4g", "mp3", "covid19") are excluded.
_ARABIZI_TOKEN = regex.compile(
    r"^(?=.*[a-z])(?=.*[235679])(?!\d+(?:e|de|ste|th|st|nd|rd|x|g|k|am|pm|km|kg|jr|yr|h|u|min)$)"
    r"(?![a-z]+\d+$)[a-z235679']{3,}$"
)
# Frequent Arabizi chat words (Levantine, Egyptian, Gulf, Iraqi). Words that are also
# common in Turkish, Somali, Dutch, English or French ("ana", "bas", "hal", "tamam",
# "sabah", "hadi", "mesh", "hek") are left out; a lexicon word alone never decides, see
# `_arabizi_score`.
_ARABIZI_WORDS = frozenset(
    """
    kifak kifik keefak kefak kifkon shu shou shoo shlonak shlonich shlon izzayak ezayak
    ezzayak ezayek izzayik inta enta inti enti intu entu habibi habibti 7abibi wallah
    wallahi walla yalla yallah mafi ma7 msh mish ibni ebni binti bnti 3ando 3andi
    3andak 3endi kteer ktir ktiir kter shukran shokran mar7aba marhaba ahlan inshallah
    insha2allah alhamdulillah hamdella hamdellah ya3ni ya3ne yaani leh lesh laish leish
    3awz 3ayez 3ayz badde baddi bade biddi bidi hayda hada hatha hadol lazem
    kaman kamaan kamen tayeb tayyeb mabsut mabsout ta3ban ta3bane ta3bana mareed
    mareeda awlad awladi wlad wladi ebno mudarse 7ayati 3omri
    3amil 3amel sho2 2ana 2enta 2inta ma3ak ma3ik ma3i fiyi feeni ba3ref ba3rf
    ma3lesh ma3lish m3lsh ahla masa2 kteer heik halla2 hala2 lissa lessa
    """.split()
)
# Cheap pre-check before the full Arabizi scoring: a digit touching a letter.
_DIGIT_LETTER = regex.compile(r"[a-z][235679]|[235679][a-z]", regex.I)
_LATIN_LETTER = regex.compile(r"[a-z]")
_OTHER_LETTER = regex.compile(r"[^\P{L}a-z]")


def normalise(text: str) -> str:
    """Reduce a message to the letters fastText learns from.

    NFKC, lower case, URLs/e-mail/@mentions removed, invisible format characters
    removed (U+200C ZWNJ kept), digits, punctuation, symbols and emoji turned into
    spaces, whitespace (including newlines) collapsed to one space.

    Args:
        text: any text, possibly multi-line.

    Returns:
        One line of lower-case words separated by single spaces; ``""`` when the text
        has no letters (empty, emoji, numbers only).
    """
    text = unicodedata.normalize("NFKC", text)
    for variant in _APOSTROPHE_VARIANTS:
        if variant in text:
            text = text.replace(variant, "'")
    if "@" in text or "://" in text or "www." in text:  # the regex is slow; skip it when it cannot match
        text = _URL.sub(" ", text)
    text = text.lower()
    text = _FORMAT.sub("", text)
    text = _NON_LETTER.sub(" ", text)
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


def _arabizi_score(text: str) -> float:
    """Share (0..1) of words that look like Arabizi; 0.0 unless the signal is clear.

    A message counts only when it is written in Latin letters, has at least one
    digit-letter word ("3ando", "7arara") or two lexicon words, and at least 30 % of
    its words are Arabizi (digit-letter words or lexicon words).
    """
    lowered = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    lowered = _URL.sub(" ", lowered)
    if _OTHER_LETTER.search(lowered) or not _LATIN_LETTER.search(lowered):
        return 0.0
    words = [w.strip("'") for w in regex.split(r"[^a-z0-9']+", lowered) if regex.search(r"[a-z]", w)]
    if not words:
        return 0.0
    digit_words = sum(1 for w in words if _ARABIZI_TOKEN.match(w))
    lexicon = sum(1 for w in words if w in _ARABIZI_WORDS)
    arabizi = sum(1 for w in words if w in _ARABIZI_WORDS or _ARABIZI_TOKEN.match(w))
    if digit_words == 0 and lexicon < 2:
        return 0.0
    share = arabizi / len(words)
    return share if share >= 0.3 else 0.0


class LanguageDetector:
    """A loaded fastText LID model with chat-text normalisation.

    Attributes:
        path: the model file it was loaded from.
        labels: language codes the model knows, e.g. ``["nl", "en", "ar", ...]``.
        arabizi: whether Latin-script Arabic ("kifak 3ando") is mapped to ``"ar"``.
    """

    def __init__(self, model: fasttext.FastText._FastText, path: Path, *, arabizi: bool = True) -> None:
        """Wraps an already loaded fastText model (use :meth:`load`)."""
        self._model = model
        self.path = path
        self.arabizi = arabizi
        self.labels: list[str] = [label[len(LABEL_PREFIX) :] for label in model.get_labels()]

    @classmethod
    def load(cls, path: str | Path, *, arabizi: bool = True) -> LanguageDetector:
        """Loads a model file written by ``wegwijs build-lid``.

        Args:
            path: the ``.bin`` file (plain or quantized fastText supervised model).
            arabizi: map Latin-script Arabic chat to ``"ar"`` (cheap heuristic).

        Returns:
            A ready detector.

        Raises:
            FileNotFoundError: the file does not exist (message names the path).
            ValueError: the file is not a fastText model.
        """
        import fasttext

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"fastText language-identification model not found: {path}. "
                "Build it with `wegwijs build-lid`."
            )
        # fasttext.load_model prints a deprecation notice on stderr; keep the CLI quiet.
        with contextlib.redirect_stderr(io.StringIO()):
            model = fasttext.load_model(str(path))
        return cls(model, path, arabizi=arabizi)

    def detect(self, text: str) -> tuple[str, float]:
        """The most likely language of ``text``.

        Args:
            text: one chat message (any length, may contain newlines, emoji, URLs).

        Returns:
            ``(code, confidence)``: a code from :attr:`labels` and fastText's softmax
            probability (0..1); ``("und", 0.0)`` for text without letters.
        """
        return self.detect_top(text, k=1)[0]

    def detect_top(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely languages, best first.

        Args:
            text: one chat message.
            k: how many languages to return (``-1``: all).

        Returns:
            ``[(code, probability), ...]`` with probabilities 0..1, best first;
            ``[("und", 0.0)]`` for text without letters.
        """
        clean = normalise(text)
        if not clean:
            return [(UNDETERMINED, 0.0)]
        labels, probs = self._model.predict(clean, k=k)
        result = [
            (label[len(LABEL_PREFIX) :], min(1.0, max(0.0, float(p)))) for label, p in zip(labels, probs)
        ]
        if self.arabizi and result[0][0] != "ar" and "ar" in self.labels and self._maybe_arabizi(text, clean):
            share = _arabizi_score(text)
            # Half the words Arabizi, or a third when fastText itself is unsure: one
            # "6jarige" in a clear Dutch sentence does not flip it.
            if share >= 0.5 or (share and result[0][1] < 0.8):
                # 0.6 for 30 % Arabizi words up to 0.9 for all words.
                confidence = round(0.6 + 0.3 * (share - 0.3) / 0.7, 4)
                rest = [(c, p) for c, p in result if c != "ar"]
                result = [("ar", confidence)] + (rest[: k - 1] if k > 0 else rest)
        return result

    @staticmethod
    def _maybe_arabizi(text: str, clean: str) -> bool:
        """Fast filter: only these texts are scored by `_arabizi_score`."""
        if _DIGIT_LETTER.search(text):
            return True
        return len(_ARABIZI_WORDS.intersection(clean.split())) >= 2

    def detect_many(self, texts: Iterable[str]) -> list[tuple[str, float]]:
        """:meth:`detect` for each text, in order."""
        return [self.detect(t) for t in texts]
