"""Detect the language of one chat message with the Wegwijs fastText model.

Usage::

    detector = LanguageDetector.load("models/lid/lid.bin")
    detector.detect("ወደይ ሓሚሙ እዩ")          # ("ti", 0.99)
    detector.detect("👍")                    # ("und", 0.0)

The same :func:`normalise` runs on training text (``wegwijs.lid.data``) and on
messages, so the model never sees digits, URLs, emoji or punctuation.

Three cheap rules run around fastText (each measured by ``wegwijs lid-report``):

1. **Script first.** The words of a message are sorted by writing system. When at least
   a third of them are in one non-Latin script, only languages written in that script
   can win ("ኣብ gemeente Amersfoort እየ ዘለኹ" → ti, never nl); a Latin-only message can
   only get a Latin-script language. Probabilities are renormalised over those
   candidates.
2. **Arabizi.** Arabic chat in Latin letters and digits ("kifak, ibni 3ando 7arara",
   "ana mesh fahem") is mapped to ``ar`` (see :func:`arabizi_score`).
3. **Dari or Persian.** The two are one language to fastText at chat length. When one
   of them wins, marker words decide between them: Dari استم/استی, مکتب, داکتر,
   شفاخانه, میخایم, ره ... against Iranian هستم/هستی, مدرسه, دکتر, بیمارستان, میخوام,
   رو ... (see :func:`dari_persian_markers`). Without markers fastText's choice stays.
"""

from __future__ import annotations

import contextlib
import functools
import io
import unicodedata
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import regex

from wegwijs.lid import SCRIPTS, UNDETERMINED

if TYPE_CHECKING:  # pragma: no cover
    import fasttext.FastText

LABEL_PREFIX = "__label__"

# URLs, e-mail addresses and @mentions carry no language.
_URL = regex.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+|@\w+", regex.I)
# Invisible format characters (bidi isolates/marks, ZWJ, BOM, Arabic letter mark),
# but not U+200C ZERO WIDTH NON-JOINER, which is part of Persian/Kurdish spelling.
# Arabic short-vowel marks (harakat U+064B-U+0652) are dropped too: chat rarely has
# them and they say nothing about the language.
_FORMAT = regex.compile(r"[\u00ad\u0640\u061c\u064b-\u0652\u200b\u200d-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# Everything that is not a letter, a combining mark, ZWNJ or an apostrophe.
_NON_LETTER = regex.compile(r"[^\p{L}\p{M}\u200c']+")
# Apostrophes only count inside a word (Somali "la'aan", French "l'école").
_LOOSE_APOSTROPHE = regex.compile(r"(?<!\p{L})'|'(?!\p{L})")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'", "`": "'"})
_APOSTROPHE_VARIANTS = ("\u2019", "\u02bc", "\u2018", "`")
# "İ".lower() is "i" + U+0307 COMBINING DOT ABOVE: Turkish capitals would otherwise
# give words that never occur in lower-case training text.
_DOT_ABOVE = "i\u0307"

# --- Scripts -----------------------------------------------------------------------
_SCRIPT_PATTERNS: tuple[tuple[str, regex.Pattern[str]], ...] = (
    ("Latn", regex.compile(r"\p{Latin}")),
    ("Arab", regex.compile(r"\p{Arabic}")),
    ("Ethi", regex.compile(r"\p{Ethiopic}")),
    ("Cyrl", regex.compile(r"\p{Cyrillic}")),
)
_ANY_LETTER = regex.compile(r"\p{L}")
#: A message is restricted to one non-Latin script's languages when at least this share
#: of its words are in that script ("ابني في school ما بدو": 4 of 5; "ik woon in
#: Amersfoort, mijn naam is محمد": 1 of 8, stays Dutch).
NON_LATIN_WORD_SHARE = 1 / 3
#: Prior weight per language for messages of at most :data:`PRIOR_MAX_WORDS` words
#: (default 1.0), applied before renormalising. One or two words carry too little
#: signal: "de" is Dutch and French, "in" Dutch and English; among chat messages to
#: Wegwijs the known-but-unsupported French, Kurmanji and Sorani are rarer than the
#: languages it chats in. Longer messages are not weighted (on 3-6 word text the same
#: weights cost French and Kurmanji 2-3 points, ``wegwijs lid-report``).
PRIORS: dict[str, float] = {"fr": 0.5, "kmr": 0.5, "ckb": 0.5}
PRIOR_MAX_WORDS = 2

# --- Arabizi (Arabic chat written in Latin letters and digits: "kifak ibni 3ando 7arara").
# Digits stand for Arabic sounds: 2 ء, 3 ع, 5 خ, 6 ط, 7 ح, 8 ق, 9 ص. A word that mixes
# such a digit with letters ("3ando", "ma3ak", "2ana") is a strong sign; ordinals and
# units ("2e", "3rd", "4g", "mp3", "covid19") and English text-speak ("2day",
# "2morrow") are excluded.
_ARABIZI_TOKEN = regex.compile(
    r"^(?=.*[a-z])(?=.*[235679])(?!\d+(?:e|de|ste|th|st|nd|rd|x|g|k|am|pm|km|kg|jr|yr|h|u|min|jaar|jarige)$)"
    r"(?!2(?:day|morrow|moro|morow|nite|night|gether|u|go)$)"
    r"(?![a-z]+\d+$)[a-z235679']{3,}$"
)
# Frequent Arabizi chat words (Levantine, Egyptian, Gulf, Iraqi, Maghrebi) that are not
# words of Dutch, English, Turkish, Somali, French or Kurmanji. Somali "inta", "leh",
# "hada" and Turkish "hala", "tamam" are deliberately absent.
_ARABIZI_WORDS = frozenset(
    """
    kifak kifik keefak kefak kifkon kifkom shu shou shoo shlonak shlonich shlonkum shlon
    izzayak ezayak ezzayak ezayek izzayik izayak izzay ezay enta entu habibi habibti
    wallah wallahi wallahy mafi mafeesh mafish msh mish mesh2 ibni ebni ibnii bnti benti
    binti bintii kteer ktir ktiir kter ketir keteer shukran shokran shukrun marhaba
    mar7aba ahlan inshallah inchallah insha2allah inshalla enshallah alhamdulillah
    hamdella hamdellah hamdulillah el7amdulillah ya3ni yaani yaane laish leish lesh
    3awz 3ayez 3ayz 3ayza 3awza badde baddi biddi bidde hayda haida hadi2 hatha hadol
    lazem lazim kaman kamaan kamen tayeb tayyeb tayib mabsut mabsout mabsoot ta3ban
    ta3bane ta3bana ta3baan mareed mareeda mareedh mareeth awlad awladi wlad wladi ebno
    ibno mudarse madrase madrasa madraseh madrasi madrastu 7ayati 3omri fahem fahma fahim
    fahmeen fahmin mafhoum bte7ki bti7ki btehki bitkallem betkallem bitkalam atkalam
    akalem bahki ba7ki 2oul 2ool a2ol a2oul eih eish esh2 leeh leih lei ma3lesh ma3lish
    m3lsh maalesh ma3alesh 3anjad bjad mazboot mazbout mumken momken mumkin momkin
    yimkin ymkin ana2 ente enti inti intu hiya huwe huwa howa hiye hye ihna e7na ne7na
    ni7na nehna hon hona hina henak honik hunak wen wein fein fen feen emta imta imteen
    leesh lish kifach kifash kifesh zawji zawgi jozi goozi mrati marati mirati ommi ummi
    umi abouy abuya baba2 3amti 3ammi 5alti 5ali jiddo teta sitti walad wlad banat
    so5neh skhoneh sukhuneh 7arara harara wja3 waja3 oja3 tabib doktor2 mustashfa
    moustashfa mostashfa saydaliye bta3 beta3 bta3i beta3i betaa3 bta3t 3ala3 3al 3an2
    3ashan 3alashan ashan 3shan alashan 3ashaan la2 la2a aywa aiwa aywah ayoa na3am
    naam2 akeed 2akid tab3an tab3n tabaan mashi mashy mashe khalas 5alas 5alass
    halla2 hala2 halla hallaq lissa lessa lesa ba3d ba3den ba3dein bukra bokra bukrah
    mbare7 embare7 mbari7 imbari7 lyom elyom elyoum ennaharda naharda
    sho2 2ana 2enta 2inta ma3ak ma3ik ma3i ma3kon fiyi feeni ba3ref ba3rf ba3raf
    ahla masa2 heik hek2 kamel keef kefik kefak ahlain ahleen marhaban
    shlonkom shlonach ani2 aku maku hwaya hwaye kulish kullish zain zein
    biddak bidak bedak baddak 3indi 3ande 3endi 3andi 3ando 3anda 3andak 3andik bidi
    ma3 sa7 ra7 leil lail layl souria suria sooria surya masr lubnan sakne sakna sakin
    saken sakeen sakna sakneen
    """.split()
)
# Short words that are Arabizi in an Arabizi message but also common elsewhere
# (Turkish "ana", Dutch "ma", Somali "ma", English "ya"); they only count when the
# message already has a digit-letter word or a word of :data:`_ARABIZI_WORDS`.
_ARABIZI_WEAK = frozenset(
    """
    ana ani ma mesh mush mosh msh bas el il al l w wa we ya yaa fi fe fih fee min men mn
    3a ala ala 3ala bi b be bel bil fil fel ha hal hek heek kif keef shi eh ay aw la
    lal lel ol mama baba ibn bint ukhti akhi a5i o5ti akhoy ahl yom yum nhar el2 tamam
    salam salaam alaikum alaykum aleikum 3alaykom 3alaikum kheir khair kher 5eir 5er
    mushkile mushkila mushkileh moshkela mushkle biakol byakol bi2kol bya3ref
    hek heik kida keda kedah akid sah sa7 mish2 ahh ya3 ent ente inta
    """.split()
)
# Cheap pre-check before the full Arabizi scoring: a digit touching a letter.
_DIGIT_LETTER = regex.compile(r"[a-z][235679]|[235679][a-z]", regex.I)
_LATIN_LETTER = regex.compile(r"[a-z]")
_OTHER_LETTER = regex.compile(r"[^\P{L}a-z]")

# --- Dari (prs) or Iranian Persian (fa). Chat forms, compared without ZWNJ.
#: Words that mark Dari (Afghan Persian): copula است- forms, Afghan vocabulary
#: (مکتب school, داکتر doctor, شفاخانه hospital, معلومات information, موتر car,
#: طفل child, اولاد children), Kabuli colloquial (میخایم, میفامم, میتانم, ره, مره,
#: قد/کتی "with", گپ, لت, کو/نکو, نی "no", بلی "yes"). Chosen from the project's
#: fa/prs data: words found in both (خیلی, مرسی, باشه, هستند, حالی) are left out.
DARI_MARKERS = frozenset(
    """
    استم استی استین استیم استن اس مکتب مکتبها مکتبی مکاتب مکتبش مکتبم داکتر داکترها
    داکتره داکترش داکتران شفاخانه شفاخانهها شفاخانهای معلومات معلوماتم معلوماته موتر
    موترم تلیفون نمبر نمبره نمبرم طفل طفلم طفلها طفلک اطفال اولاد اولادم اولادها
    بچیم بچیش میخایم نمیخایم میخاین میخایی میخاهم میفامم نمیفامم میفامی بفامم بفامه
    فامیدم نفامیدم میتانم نمیتانم میتانین میتانی بتانم ره مره تره اوره ایره قد کتی کتیم
    کتیش گپ لت کو نکو نکنین بتی بتین بتیم نی بلی ناجور کدم کدین کدی کده کدیم نکدم
    خوده ازی اینجه اونجه چطو صنف شاگرد شاگردان لیسه پوهنتون ولسوالی بیادر سمه
    """.split()
)
#: Words that mark Iranian Persian: هست- copula forms (colloquial persons only),
#: Iranian vocabulary (مدرسه, دکتر, بیمارستان, اطلاعات, کلاس, کودک) and Tehrani
#: colloquial (میخوام, میدونم, میتونم, رو, یه, آره, چیکار).
PERSIAN_MARKERS = frozenset(
    """
    هستم هستی هستین هستیم مدرسه مدرسهها مدرسهی مدرسش مدرسم مدرسهاش دکتر دکترش دکترها
    بیمارستان بیمارستانها اطلاعات اطلاعاتم داروخانه میخوام نمیخوام میخواین میخوای
    میدونم نمیدونم میدونی میدونین بدونم میتونم نمیتونم میتونین میتونی بتونم رو یه
    آره اره چیکار اینجوری اونجوری کتک بچههام بهم بهش ازش اینو اونو کلاس دانشآموز
    دانشگاه مهدکودک کودک کودکم کودکان بابام مامانم
    """.split()
)


def normalise(text: str) -> str:
    """Reduce a message to the letters fastText learns from.

    NFKC, lower case (Turkish "İ" to "i"), URLs/e-mail/@mentions removed, invisible
    format characters and Arabic short-vowel marks removed (U+200C ZWNJ kept), digits,
    punctuation, symbols and emoji turned into spaces, whitespace (including newlines)
    collapsed to one space.

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
    if _DOT_ABOVE in text:
        text = text.replace(_DOT_ABOVE, "i")
    text = _FORMAT.sub("", text)
    text = _NON_LETTER.sub(" ", text)
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=65536)
def word_script(word: str) -> str | None:
    """The ISO 15924 script most letters of ``word`` are in (``Latn``, ``Arab``,
    ``Ethi``, ``Cyrl``), ``"other"`` for any other script, None without letters."""
    counts: Counter[str] = Counter()
    for ch in word:
        if not _ANY_LETTER.match(ch):
            continue
        for name, pattern in _SCRIPT_PATTERNS:
            if pattern.match(ch):
                counts[name] += 1
                break
        else:
            counts["other"] += 1
    if not counts:
        return None
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


def script_words(text: str) -> Counter[str]:
    """Number of words per script (see :func:`word_script`) of a normalised text."""
    counts: Counter[str] = Counter()
    for word in text.split():
        script = word_script(word)
        if script is not None:
            counts[script] += 1
    return counts


def dominant_script(text: str) -> str | None:
    """The script a message is written in, for choosing candidate languages.

    A non-Latin script wins as soon as at least :data:`NON_LATIN_WORD_SHARE` of the
    words are in it (Dutch words in Tigrinya or Arabic chat do not make it Latin);
    otherwise ``Latn`` when there are Latin words.

    Args:
        text: a normalised message (see :func:`normalise`).

    Returns:
        ``"Latn"``, ``"Arab"``, ``"Ethi"``, ``"Cyrl"``, ``"other"`` or None (no letters).
    """
    counts = script_words(text)
    total = sum(counts.values())
    if not total:
        return None
    non_latin = [(n, script) for script, n in counts.items() if script != "Latn"]
    if non_latin:
        n, script = max(non_latin)
        if n >= NON_LATIN_WORD_SHARE * total:
            return script
    return "Latn" if counts.get("Latn") else max(non_latin)[1]


def arabizi_score(text: str) -> float:
    """Share (0..1) of words that look like Arabizi; 0.0 unless the signal is clear.

    A message counts only when it is written in Latin letters, has a digit-letter word
    ("3ando", "7arara"), two Arabizi lexicon words, one lexicon word and one short
    Arabizi word ("ana mesh fahem") or is one lexicon word ("kifak"), and at least 30 %
    of its words are Arabizi.
    """
    lowered = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    lowered = _URL.sub(" ", lowered)
    if _OTHER_LETTER.search(lowered) or not _LATIN_LETTER.search(lowered):
        return 0.0
    words = [w.strip("'") for w in regex.split(r"[^a-z0-9']+", lowered) if regex.search(r"[a-z]", w)]
    if not words:
        return 0.0
    digit_words = sum(1 for w in words if _ARABIZI_TOKEN.match(w))
    strong = sum(1 for w in words if w in _ARABIZI_WORDS and not _ARABIZI_TOKEN.match(w))
    weak = sum(1 for w in words if w in _ARABIZI_WEAK and w not in _ARABIZI_WORDS and not _ARABIZI_TOKEN.match(w))
    # One lexicon word is enough only when it is the whole message ("kifak").
    if digit_words == 0 and strong < 2 and not (strong >= 1 and (weak >= 1 or len(words) == 1)):
        return 0.0
    share = (digit_words + strong + weak) / len(words)
    return share if share >= 0.3 else 0.0


# Kept for callers of the old private name.
_arabizi_score = arabizi_score


def dari_persian_markers(text: str) -> tuple[int, int]:
    """``(dari, persian)``: how many words of a normalised text are Dari or Iranian markers.

    ZWNJ is ignored ("می‌خوام" = "میخوام"), Arabic ي/ك count as Persian ی/ک.
    """
    plain = text.replace("\u200c", "").replace("ي", "ی").replace("ك", "ک")
    dari = persian = 0
    for word in plain.split():
        if word in DARI_MARKERS:
            dari += 1
        elif word in PERSIAN_MARKERS:
            persian += 1
    return dari, persian


class LanguageDetector:
    """A loaded fastText LID model with chat-text normalisation.

    Attributes:
        path: the model file it was loaded from.
        labels: language codes the model knows, e.g. ``["nl", "en", "ar", ...]``.
        arabizi: whether Latin-script Arabic ("kifak 3ando") is mapped to ``"ar"``.
        by_script: whether candidates are restricted to the message's script (rule 1).
        dari_markers: whether Dari/Persian marker words decide between ``prs`` and ``fa``.
        priors: weight per language for 1-2 word messages (see :data:`PRIORS`).
    """

    def __init__(
        self,
        model: fasttext.FastText._FastText,
        path: Path,
        *,
        arabizi: bool = True,
        by_script: bool = True,
        dari_markers: bool = True,
        priors: dict[str, float] | None = None,
    ) -> None:
        """Wraps an already loaded fastText model (use :meth:`load`)."""
        self._model = model
        self.priors = dict(PRIORS if priors is None else priors)
        self.path = path
        self.arabizi = arabizi
        self.by_script = by_script
        self.dari_markers = dari_markers
        self.labels: list[str] = [label[len(LABEL_PREFIX) :] for label in model.get_labels()]
        self._by_script: dict[str, frozenset[str]] = {}
        for label in self.labels:
            script = SCRIPTS.get(label)
            if script is not None:
                self._by_script[script] = self._by_script.get(script, frozenset()) | {label}
        self._unscripted = frozenset(label for label in self.labels if label not in SCRIPTS)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        arabizi: bool = True,
        by_script: bool = True,
        dari_markers: bool = True,
        priors: dict[str, float] | None = None,
    ) -> LanguageDetector:
        """Loads a model file written by ``wegwijs build-lid``.

        Args:
            path: the ``.bin`` file (plain or quantized fastText supervised model).
            arabizi: map Latin-script Arabic chat to ``"ar"`` (cheap heuristic).
            by_script: restrict candidates to the languages of the message's script.
            dari_markers: let Dari/Persian marker words choose between ``prs`` and ``fa``.
            priors: weight per language for 1-2 word messages (default :data:`PRIORS`;
                ``{}``: none).

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
        return cls(model, path, arabizi=arabizi, by_script=by_script, dari_markers=dari_markers, priors=priors)

    def detect(self, text: str) -> tuple[str, float]:
        """The most likely language of ``text``.

        Args:
            text: one chat message (any length, may contain newlines, emoji, URLs).

        Returns:
            ``(code, confidence)``: a code from :attr:`labels` and its probability
            (0..1); ``("und", 0.0)`` for text without letters.
        """
        return self.detect_top(text, k=1)[0]

    def candidates(self, clean: str) -> frozenset[str] | None:
        """Labels allowed for a normalised text by its script; None: all labels."""
        if not self.by_script:
            return None
        script = dominant_script(clean)
        allowed = self._by_script.get(script or "", frozenset())
        if not allowed:
            return None  # a script the model has no language for: let fastText choose
        return allowed | self._unscripted

    def detect_top(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely languages, best first.

        Args:
            text: one chat message.
            k: how many languages to return (``-1``: all candidates).

        Returns:
            ``[(code, probability), ...]`` with probabilities 0..1, best first;
            ``[("und", 0.0)]`` for text without letters. Languages of another script
            than the message's (rule 1) are left out.
        """
        clean = normalise(text)
        if not clean:
            return [(UNDETERMINED, 0.0)]
        labels, probs = self._model.predict(clean, k=-1)
        scores = [(label[len(LABEL_PREFIX) :], max(0.0, float(p))) for label, p in zip(labels, probs)]
        allowed = self.candidates(clean)
        if allowed is not None:
            kept = [(c, p) for c, p in scores if c in allowed]
            if kept and sum(p for _, p in kept) > 0:
                scores = kept
        if self.priors and clean.count(" ") < PRIOR_MAX_WORDS:
            scores = [(c, p * self.priors.get(c, 1.0)) for c, p in scores]
        total = sum(p for _, p in scores)
        if total > 0:
            scores = [(c, p / total) for c, p in scores]
        scores = [(c, min(1.0, p)) for c, p in scores]
        scores.sort(key=lambda item: -item[1])

        if self.dari_markers and scores[0][0] in ("fa", "prs") and {"fa", "prs"} <= set(self.labels):
            scores = self._dari_or_persian(clean, scores)
        if self.arabizi and scores[0][0] != "ar" and "ar" in self.labels and self._maybe_arabizi(text, clean):
            share = arabizi_score(text)
            # Half the words Arabizi, or a third when fastText itself is unsure: one
            # "6jarige" in a clear Dutch sentence does not flip it.
            if share >= 0.5 or (share and scores[0][1] < 0.8):
                # 0.6 for 30 % Arabizi words up to 0.9 for all words.
                confidence = round(0.6 + 0.3 * (share - 0.3) / 0.7, 4)
                scores = [("ar", confidence)] + [(c, p) for c, p in scores if c != "ar"]
        return scores if k is None or k < 0 else scores[:k]

    @staticmethod
    def _dari_or_persian(clean: str, scores: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Rule 3: marker words choose between ``prs`` and ``fa``; confidence is their sum."""
        dari, persian = dari_persian_markers(clean)
        if dari == persian:
            return scores
        winner, loser = ("prs", "fa") if dari > persian else ("fa", "prs")
        prob = dict(scores)
        merged = min(1.0, prob.get("fa", 0.0) + prob.get("prs", 0.0))
        rest = [(c, p) for c, p in scores if c not in ("fa", "prs")]
        return [(winner, merged), (loser, 0.0), *rest]

    @staticmethod
    def _maybe_arabizi(text: str, clean: str) -> bool:
        """Fast filter: only these texts are scored by :func:`arabizi_score`."""
        if _DIGIT_LETTER.search(text):
            return True
        words = clean.split()
        strong = len(_ARABIZI_WORDS.intersection(words))
        return strong >= 2 or (strong >= 1 and (len(words) == 1 or bool(_ARABIZI_WEAK.intersection(words))))

    def detect_many(self, texts: Iterable[str]) -> list[tuple[str, float]]:
        """:meth:`detect` for each text, in order."""
        return [self.detect(t) for t in texts]
