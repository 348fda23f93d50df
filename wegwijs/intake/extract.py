"""Every intake fact a message holds, whatever question is open (issue 6).

One function, :func:`extract`, reads a parent's message and returns what it says about
the children's ages, a pregnancy, the gemeente, and how and when the parent wants to be
contacted, by whom, a woman or a man, alone or in a group, with an interpreter. The NLU
component ``bot.components.entities.IntakeEntityExtractor`` turns the result into
entities, and global slot mappings (``bot/domain.yml``) fill the slots from them, so a
fact given "too early" is kept and never asked for again.

The words come from ``languages/<lang>/parsing.yml`` (the detected language plus Dutch
and English, which parents mix in) and ``municipalities/gemeenten.yml``; nothing here is
language specific. Conservative by design: a fact is only reported when the message
clearly says it ("after 5" is a time, not a child of 5; "7 months pregnant" is a
pregnancy, not a child of 7). Bare numbers ("4 and 11") are reported as ``numbers`` and
only become ages when the ages question is open (a conditional slot mapping).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from wegwijs.intake.gemeenten import GemeenteMatcher
from wegwijs.text import is_arabic_script, normalise

#: Oldest age (years) taken as a child's age.
MAX_CHILD_AGE = 17
#: Twins add a child only while the message gives fewer ages than this (a list of ten is not twins).
MAX_TWIN_AGES = 8
#: Weekday keys of ``parsing.yml`` ``day_words`` in week order, and their Dutch names (the summary's words).
DAYS_NL = ("ma", "di", "wo", "do", "vr", "za", "zo")
DAY_NAMES_NL = {"ma": "maandag", "di": "dinsdag", "wo": "woensdag", "do": "donderdag", "vr": "vrijdag",
                "za": "zaterdag", "zo": "zondag"}
#: Dutch names of the parts of the day and other time words.
TIME_NL = {
    "morning": "ochtend", "afternoon": "middag", "evening": "avond", "weekend": "weekend",
    "weekdays": "doordeweeks", "anytime": "hele dag",
}


@dataclass
class Words:
    """The words :func:`extract` needs, merged over the languages it reads.

    Every word is stored normalised (:func:`wegwijs.text.normalise`). Built from
    ``parsing.yml`` documents by :meth:`from_parsing`.
    """

    number_words: dict[str, int] = field(default_factory=dict)
    months_words: set[str] = field(default_factory=set)
    weeks_words: set[str] = field(default_factory=set)
    duration_words: set[str] = field(default_factory=set)
    article_words: set[str] = field(default_factory=set)
    age_words: set[str] = field(default_factory=set)
    pregnancy_words: set[str] = field(default_factory=set)
    connectors: set[str] = field(default_factory=set)
    hour_words: set[str] = field(default_factory=set)
    clock_words: set[str] = field(default_factory=set)
    after_words: set[str] = field(default_factory=set)
    before_words: set[str] = field(default_factory=set)
    time_words: dict[str, set[str]] = field(default_factory=dict)  # morning/afternoon/... → words
    day_words: dict[str, set[str]] = field(default_factory=dict)  # ma/di/... → words
    answers: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # slot → value → words
    preference_cues: set[str] = field(default_factory=set)
    negation_words: set[str] = field(default_factory=set)
    rather_than_words: set[str] = field(default_factory=set)
    count_words: set[str] = field(default_factory=set)
    negated_after_words: set[str] = field(default_factory=set)
    refuse_storage_words: set[str] = field(default_factory=set)
    twin_words: set[str] = field(default_factory=set)
    contact_caution_words: set[str] = field(default_factory=set)
    delete_request_words: set[str] = field(default_factory=set)
    duration_lead_words: set[str] = field(default_factory=set)
    range_start_words: set[str] = field(default_factory=set)
    range_end_words: set[str] = field(default_factory=set)
    range_and_words: set[str] = field(default_factory=set)
    range_close_words: set[str] = field(default_factory=set)
    _answer_vocabulary: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def answer_vocabulary(self) -> frozenset[str]:
        """Every word of every ``answers`` value (read once; the lists do not change after loading)."""
        if self._answer_vocabulary is None:
            self._answer_vocabulary = frozenset(w for values in self.answers.values() for ws in values.values() for w in ws)
        return self._answer_vocabulary

    @classmethod
    def from_parsing(cls, documents: Iterable[Any]) -> Words:
        """Merges ``Parsing`` models (or dicts) of several languages; earlier ones win on conflicts."""
        w = cls()
        for doc in reversed(list(documents)):
            d = doc if isinstance(doc, Mapping) else doc.dict()
            for k, v in (d.get("number_words") or {}).items():
                w.number_words[normalise(str(k))] = int(v)
            for attr, key in (
                ("months_words", "months_words"), ("weeks_words", "weeks_words"), ("age_words", "age_words"),
                ("duration_words", "duration_words"), ("article_words", "article_words"),
                ("pregnancy_words", "pregnancy_words"), ("connectors", "number_connectors"),
                ("hour_words", "hour_words"), ("clock_words", "clock_words"), ("after_words", "after_words"), ("before_words", "before_words"),
                ("preference_cues", "preference_cues"), ("negation_words", "negation_words"),
                ("rather_than_words", "rather_than_words"), ("count_words", "count_words"),
                ("negated_after_words", "negated_after_words"), ("refuse_storage_words", "refuse_storage_words"),
                ("twin_words", "twin_words"), ("duration_lead_words", "duration_lead_words"),
                ("contact_caution_words", "contact_caution_words"),
                ("delete_request_words", "delete_request_words"),
                ("range_start_words", "range_start_words"), ("range_end_words", "range_end_words"),
                ("range_and_words", "range_and_words"),
                ("range_close_words", "range_close_words"),
            ):
                getattr(w, attr).update(n for n in (normalise(str(x)) for x in d.get(key) or []) if n)
            for attr, key in (("time_words", "time_words"), ("day_words", "day_words")):
                target = getattr(w, attr)
                for value, words in (d.get(key) or {}).items():
                    target.setdefault(str(value), set()).update(n for n in (normalise(str(x)) for x in words) if n)
            for slot, values in (d.get("answer_words") or {}).items():
                for value, words in (values or {}).items():
                    w.answers.setdefault(slot, {}).setdefault(str(value), set()).update(
                        n for n in (normalise(str(x)) for x in words) if n
                    )
        return w


@dataclass
class ContactTimes:
    """When the parent can be reached, normalised into Dutch, with their own words.

    Attributes:
        nl: e.g. ``"dinsdag en donderdag ochtend; na 17:00"``.
        text: the parent's words it was read from.
    """

    nl: str
    text: str


@dataclass
class Extraction:
    """What one message says (None = not said).

    Attributes:
        children_ages: ages in whole years (0 for babies), when the message says they are ages.
        numbers: bare numbers 0-17 with nothing saying what they are ("4 en 11").
        pregnant: True when the parent (or partner) is expecting.
        pregnancy_months: months of the pregnancy when said.
        municipality: official gemeente name.
        contact_channel: ``whatsapp`` | ``phone`` | ``visit``.
        contact_times: see :class:`ContactTimes`.
        contact_gender: ``woman`` | ``man`` | ``any``.
        contact_setting: ``individual`` | ``group`` | ``any``.
        person_type: ``klantmanager`` | ``sleutelpersoon``.
        interpreter: True (wants one) | False (does not need one).
        contact_caution: the parent's words (at most :data:`MAX_CAUTION_TEXT` characters)
            when they ask for care because someone may hear or see the contact ("don't
            call, my husband can hear"), else None.
    """

    children_ages: list[int] | None = None
    numbers: list[int] | None = None
    pregnant: bool | None = None
    pregnancy_months: int | None = None
    municipality: str | None = None
    contact_channel: str | None = None
    contact_times: ContactTimes | None = None
    contact_gender: str | None = None
    contact_setting: str | None = None
    person_type: str | None = None
    interpreter: bool | None = None
    contact_caution: str | None = None

    def as_entities(self) -> dict[str, Any]:
        """``{entity name: value}`` for every fact found (values JSON-serialisable)."""
        out = {k: v for k, v in asdict(self).items() if v is not None}
        return out


# ----------------------------------------------------------------------------- helpers

#: "9-11", "9 – 11" (a range of hours; only read as times beside a daypart or hour word)
_HOUR_RANGE = re.compile(r"(?<![\d:.])(\d{1,2})\s*[-–]\s*(\d{1,2})(?![\d:.])")
#: "17:00", "ከ17:00" (a Ge'ez or Arabic prefix typed onto it), "17.30", "17h30"
_TIME_HHMM = re.compile(r"(?<!\d)(\d{1,2})[:.h](\d{2})(?!\d)")


#: A message of at most this many words that names a contact channel is a contact answer
#: ("telefoon, subaxdii"): its dayparts are contact times without any other cue.
SHORT_CONTACT_ANSWER_WORDS = 3
#: Up to this many words a clock time or weekday is a contact time without a cue
#: ("na 17:00", "dinsdag na vijven"); in a longer message that also tells a child's age
#: ("my 5 yo screams every nite till 11") it needs one ("bel me", "call me").
STRONG_TIME_WORDS = 7
#: after/before words that are never a postposition ("na 5" only; "5 na" would be odd,
#: "voor 5" is "before 5" but "5 voor half" is not)
POSTPOSITION_EXCLUDED = {"na", "voor", "after", "before", "from", "until", "vanaf", "tot", "till"}
_CLITIC = "(?:ال|بال|وال|لل|فال|ب|ل|و|ف|ك)?"
#: Digits typed onto an Arabic- or Ge'ez-script word ("عمره5", "٣سنين"): read apart.
#: A case suffix of 2+ letters typed after an apostrophe onto a word (Turkish
#: "leerplicht'ten", "klantmanager'imi"); not after a digit ("7'den sonra": after 7), and
#: not an English contraction ("don't", "we're", "I'll": their words are read as typed).
_APOSTROPHE_SUFFIX = re.compile(r"(?<=[^\W\d_])['’](?!(?:re|ve|ll)\b)[^\W\d_]{2,}")
#: Where a clause ends: a comma, full stop, semicolon, "!" or "?" (Latin, Arabic, Ge'ez) or a line break.
_CLAUSE_END = re.compile(r"[,.;!?،؛؟።፣\n]")
_DIGITS_ON_SCRIPT = re.compile(r"(?<=\d)(?=[\u0600-\u06ff\u1200-\u139f])|(?<=[\u0600-\u06ff\u1200-\u139f])(?=\d)")
#: Digits typed onto a Latin word ("3kinderen", "6jaar"); split only when the word is a
#: known age, month, week or clock word ("5ten", "5pm"), since in Arabizi digits are letters ("3andi", "7amel").
_DIGITS_THEN_LATIN = re.compile(r"\b(\d{1,2})([a-z]{2,})\b")


#: A Latin answer word typed onto an Arabic-script or Ge'ez prefix ("ብWhatsApp": by WhatsApp).
_SCRIPT_ON_LATIN = re.compile(r"(?<=[\u0600-\u06ff\u1200-\u139f])([a-z]{2,})\b")


def _split_digits(norm: str, words: Words) -> str:
    """``norm`` with digits and the word they were typed onto read apart, and a Latin word
    from the Arabic or Ge'ez prefix it was typed onto (see above)."""
    answer_words = words.answer_vocabulary()
    norm = _SCRIPT_ON_LATIN.sub(lambda m: " " + m.group(1) if m.group(1) in answer_words else m.group(0),
                                _DIGITS_ON_SCRIPT.sub(" ", norm))
    # not "am": Levantine Arabizi "3am" (عم) is the progressive particle ("3am tebki")
    known = (words.age_words | words.months_words | words.weeks_words | words.hour_words) - {"am"}

    def split(m: re.Match[str]) -> str:
        return f"{m.group(1)} {m.group(2)}" if m.group(2) in known else m.group(0)

    return _DIGITS_THEN_LATIN.sub(split, norm)


@lru_cache(maxsize=8192)
def _patterns(words: frozenset[str]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """Compiled matchers for a word list: whole words (an Arabic word may carry a clitic
    prefix), and Arabic-script phrases of 4+ letters anywhere (clitics attach)."""
    listed = sorted((w for w in words if w), key=len, reverse=True)
    if not listed:
        return None, None
    whole = re.compile(r"(?:^|(?<=\s))" + _CLITIC + "(" + "|".join(map(re.escape, listed)) + r")(?=\s|$)")
    inner = [w for w in listed if is_arabic_script(w) and len(w) >= 4]
    anywhere = re.compile("(" + "|".join(map(re.escape, inner)) + ")") if inner else None
    return whole, anywhere


def _longest(norm: str, words: Iterable[str]) -> str | None:
    """The longest of ``words`` that occurs in ``norm`` (see :func:`_patterns`), else None."""
    whole, anywhere = _patterns(frozenset(words))
    found = [m.group(1) for p in (whole, anywhere) if p is not None for m in p.finditer(norm)]
    return max(found, key=len) if found else None


def _contains(norm: str, phrase: str) -> bool:
    """Whole-word occurrence; Arabic-script phrases also match with a clitic prefix attached."""
    return bool(phrase) and _longest(norm, (phrase,)) is not None


def _any(norm: str, words: Iterable[str]) -> bool:
    """Whether any of ``words`` occurs in ``norm``."""
    return _longest(norm, words) is not None


def _find_value(norm: str, values: Mapping[str, set[str]]) -> tuple[str, str] | None:
    """The value whose longest word occurs in ``norm``: ``(value, word)``, else None."""
    best: tuple[int, str, str] | None = None
    for value, words in values.items():
        w = _longest(norm, words)
        if w is not None and (best is None or len(w) > best[0]):
            best = (len(w), value, w)
    return (best[1], best[2]) if best else None


_TOKEN = re.compile(r"\S+")
#: punctuation that ends a clause ("nee, whatsapp", "ኣይ ይቅርታ፣ ዋትስአፕ", "نی نی، واتساپ")
_CLAUSE_END = re.compile(r"[,.;:!?،؛؟፣።፤፥፦]+(?=\s|$)|[،؛؟፣።፤]")
_HALF_YEAR = re.compile(r"(?<![\d.,:])(\d{1,2})[.,]5(?![\d.,:])")


def _clause_starts(text: str, norm: str, words: Words) -> frozenset[int]:
    """Offsets in ``norm`` (``_split_digits(normalise(text))``) where a clause of ``text``
    begins after punctuation; empty when the pieces do not line up with ``norm``."""
    pieces = [_split_digits(normalise(p), words) for p in _CLAUSE_END.split(text)]
    tokens = list(_TOKEN.finditer(norm))
    starts: set[int] = set()
    at = 0
    for piece in pieces:
        n = len(piece.split())
        if n and at:
            if at >= len(tokens):
                return frozenset()
            starts.add(tokens[at].start())
        at += n
    return frozenset(starts) if at == len(tokens) else frozenset()


def _negated_after(norm: str, end: int, words: Words, others: Sequence[int] = (),
                   bounds: frozenset[int] = frozenset()) -> int | None:
    """Whether a ``negated_after_words`` word follows the option ending at ``end`` within
    three words ("whatsapp gebruik ik niet", "واټساپ ډېر نه کاروم، زنګ"), with no other
    option (starting at one of ``others``) in between. A negation that can also stand
    before a word (``negation_words``) and is directly followed by another option
    negates that one ("whatsapp, niet bellen"); one followed by "after"/"before" is about
    a time ("whatsapp, maar niet voor 5 uur").

    Returns:
        The offset of the negation in ``norm`` when the option is negated, else None.
    """
    if not words.negated_after_words:
        return None
    pos = end
    for _ in range(3):
        m = _TOKEN.search(norm, pos)
        if m is None or any(end <= o < m.start() for o in others) or any(end < b <= m.start() for b in bounds):
            return None  # another option, or the end of the clause, comes first
        if m.group(0) in words.negated_after_words:
            nxt = _TOKEN.search(norm, m.end())
            if nxt is not None and (nxt.group(0) in words.after_words or nxt.group(0) in words.before_words):
                return None
            if nxt is not None and m.group(0) in words.negation_words and nxt.start() in others \
                    and nxt.start() not in bounds:
                return None
            return m.start()
        pos = m.end()
    return None


def _is_set_aside(norm: str, start: int, words: Words, compared: bool, used: Iterable[int] = (),
                  bounds: frozenset[int] = frozenset()) -> bool:
    """Whether the word at ``start`` is negated or compared away: "no group", "geen
    groep" (a negation in the two words before it, unless that negation already negated
    the option before it: offsets in ``used``) or, when ``compared`` (the message names
    another option too), "better than whatsapp", "in plaats van bellen" (a
    ``rather_than_words`` phrase before it; Dutch "dan" is also "then", so alone it
    sets nothing aside)."""
    clause = max((b for b in bounds if b <= start), default=0)  # only words of the same clause
    before_m = [m for m in _TOKEN.finditer(norm[:start]) if m.start() >= clause][-3:]
    before = [m.group(0) for m in before_m]
    near = before[-2:]
    if any(m.group(0) in words.negation_words and m.start() not in used for m in before_m[-2:]):
        return True
    if not compared:
        return False
    tail = " ".join(before)
    return any(tail == r or tail.endswith(" " + r) or " ".join(near) == r or (near and near[-1] == r)
               for r in words.rather_than_words)


class Choice(NamedTuple):
    """An option a message names: its value, the word it was found by, and whether it is
    sure without a cue (a phrase of several words, or chosen over another one set aside)."""

    value: str
    word: str
    strong: bool


def _chosen_value(norm: str, values: Mapping[str, set[str]], words: Words,
                  bounds: frozenset[int] = frozenset()) -> Choice | None:
    """Like :func:`_find_value`, but when a message names several values the ones it sets
    aside (:func:`_is_set_aside`) do not count: "phone call is better than whatsapp" →
    phone, "alone is fine, no group" → individual, "not whatsapp" → None."""
    found = _find_value(norm, values)
    if found is None:
        return None
    positions: dict[str, list[tuple[int, int]]] = {}
    for value, ws in values.items():
        whole, anywhere = _patterns(frozenset(ws))
        spans = [(m.start(1), m.end(1)) for p in (whole, anywhere) if p is not None for m in p.finditer(norm)]
        if spans:
            positions[value] = spans
    compared = len(positions) > 1

    def others(value: str) -> list[int]:
        return [s for v, spans in positions.items() if v != value for s, _ in spans]

    negated_after = {(v, st): _negated_after(norm, en, words, others(v), bounds)
                     for v, spans in positions.items() for st, en in spans}
    used = {at for at in negated_after.values() if at is not None}

    def set_aside(value: str, start: int, end: int) -> bool:
        return negated_after[(value, start)] is not None or _is_set_aside(norm, start, words, compared, used, bounds)

    kept = {v: values[v] for v, spans in positions.items()
            if not all(set_aside(v, st, en) for st, en in spans)}
    if len(kept) == len(positions):
        return Choice(found[0], found[1], " " in found[1])
    if not kept:
        return None
    chosen = _find_value(norm, kept)
    # an option chosen over one set aside is a stated preference ("whatsapp gebruik ik
    # niet, bel maar"), as sure as a phrase of several words
    return Choice(chosen[0], chosen[1], True) if chosen else None


def _number(token: str, words: Words) -> int | None:
    if token.isdigit():
        return int(token) if len(token) <= 2 else None
    if token in words.number_words:
        return words.number_words[token]
    if is_arabic_script(token) and token[:1] in "وفبل" and token[1:] in words.number_words:
        return words.number_words[token[1:]]
    return None


def _tokens_with_numbers(norm: str, words: Words) -> list[tuple[str, int | None]]:
    """Tokens with their number value; two-word numbers joined ("ثلاثة عشر" → 13, "laba iyo toban" → 12)."""
    toks = [t for t in norm.split() if t not in words.connectors]
    out: list[tuple[str, int | None]] = []
    i = 0
    while i < len(toks):
        # multi-word number words first ("احد عشر", "twenty one" are listed as one key)
        joined = None
        for size in (3, 2):
            key = " ".join(toks[i:i + size])
            if len(toks) - i >= size and key in words.number_words:
                joined = (key, words.number_words[key], size)
                break
        if joined:
            out.append((joined[0], joined[1]))
            i += joined[2]
            continue
        n = _number(toks[i], words)
        if n is not None and out and out[-1][1] is not None and not toks[i].isdigit() and not out[-1][0].isdigit():
            prev = out[-1][1]
            if 10 in (prev, n) and min(prev, n) < 10 and prev != n:
                out[-1] = (out[-1][0] + " " + toks[i], prev + n)  # "ዓሰርተ ክልተ" 10+2, "ثلاث عشر" 3+10
                i += 1
                continue
        out.append((toks[i], n))
        i += 1
    return out


# ----------------------------------------------------------------------------- the parts

def _times(norm: str, raw: str, words: Words, timing: bool = False) -> tuple[ContactTimes | None, set[int]]:
    """Contact times and the token indexes that were times (so they are not ages);
    ``timing``: a contact question is open (two hours side by side are a range)."""
    toks = _tokens_with_numbers(norm, words)
    used: set[int] = set()
    parts: list[str] = []
    hhmm = {(int(h), m) for h, m in _TIME_HHMM.findall(raw)}
    daypart_words = set().union(*(words.time_words.get(k, set()) for k in ("morning", "afternoon", "evening")))
    if _any(norm, daypart_words | words.hour_words):
        # "mornings, like 9-11", "'s avonds 7-9": a range of hours, not two children
        ranges = {(int(a), int(b)) for a, b in _HOUR_RANGE.findall(raw) if int(a) < int(b) <= 24}
        for idx in range(len(toks) - 1):
            a, b = toks[idx][1], toks[idx + 1][1]
            if (a, b) in ranges and idx not in used:
                pm = 1 <= a <= 7 and _any(norm, words.time_words.get("afternoon", set()) | words.time_words.get("evening", set()))
                start, end = (a + 12, b + 12) if pm else (a, b)
                parts.append(f"tussen {start:02d}:00 en {end:02d}:00")
                used.update((idx, idx + 1))
    dayparts_said = _any(norm, daypart_words)
    for (start, end), taken in _word_ranges(toks, words, used, timing=timing, dayparts=dayparts_said):
        parts.append(f"tussen {start:02d}:00 en {end:02d}:00")
        used.update(taken)
    for idx, (tok, n) in enumerate(toks):
        if n is None or idx in used:
            continue  # not a number, or the minutes of a time already read
        before = toks[idx - 1][0] if idx > 0 else ""
        before2 = toks[idx - 2][0] if idx > 1 else ""
        after = toks[idx + 1][0] if idx + 1 < len(toks) else ""
        is_after = before in words.after_words or before2 in words.after_words and before in words.hour_words
        is_before = before in words.before_words or before2 in words.before_words and before in words.hour_words
        # a postposition: "17:00 በኋላ" (Amharic), "5'ten sonra" (Turkish), "5 kadib" (Somali)
        follows = [t for t, _ in toks[idx + 1:idx + 4]]
        if not (is_after or is_before) and follows:
            skip = 1 if len(follows) > 1 and toks[idx + 1][1] is not None else 0  # the minutes of 17:00
            rest = follows[skip:]
            nxt = [t for t in rest[:2] if t not in words.hour_words][:1]
            is_after = bool(nxt) and nxt[0] in words.after_words and nxt[0] not in POSTPOSITION_EXCLUDED
            is_before = not is_after and bool(nxt) and nxt[0] in words.before_words and nxt[0] not in POSTPOSITION_EXCLUDED
        clock = before in words.clock_words
        if clock and not (is_after or is_before):
            # "بعد از ساعت ۴" (after, from, o'clock 4): the cue stands one or two words before the clock word
            lead = [t for t, _ in toks[max(0, idx - 3):idx - 1]]
            is_after = any(t in words.after_words for t in lead)
            is_before = not is_after and any(t in words.before_words for t in lead)
        cue_at = idx - 1 if before in words.after_words or before in words.before_words else idx - 2
        if (is_after or is_before) and cue_at > 0 and toks[cue_at - 1][0] in words.negation_words:
            is_after, is_before = is_before, is_after  # "not after 5" = before 17:00, "niet voor 10" = after
        if after in words.age_words or after in words.months_words or after in words.weeks_words:
            continue  # "after 3 years", "na 4 jaar": a duration or an age, not a clock time
        is_hour = after in words.hour_words or (before in words.hour_words and before not in ("am", "u")) or clock
        minutes = None
        if idx + 1 < len(toks) and toks[idx + 1][1] is not None and (n, f"{toks[idx + 1][1]:02d}") in {
            (h, m) for h, m in hhmm
        }:
            minutes = toks[idx + 1][1]
        if not (is_after or is_before or is_hour or minutes is not None):
            continue
        if not 0 <= n <= 24:
            continue
        hour = n
        pm_hint = _any(norm, words.time_words.get("afternoon", set()) | words.time_words.get("evening", set()))
        if 1 <= hour <= 7 and (minutes is None or pm_hint or is_after):
            hour += 12  # "after 5" in a conversation about being called back: 17:00
        elif 8 <= hour <= 11 and pm_hint and not _any(norm, words.time_words.get("morning", set())):
            hour += 12  # "akşam 8'den sonra", "in the evening after 9": 20:00, 21:00
        label = f"{hour:02d}:{(minutes or 0):02d}"
        parts.append(("na " if is_after else "voor " if is_before else "om ") + label)
        used.add(idx)
        if minutes is not None:
            used.add(idx + 1)
        if after in words.hour_words:
            used.add(idx + 1)
    days = [DAY_NAMES_NL[d] for d in DAYS_NL if _any(norm, words.day_words.get(d, ()))]
    dayparts = [TIME_NL[k] for k in ("morning", "afternoon", "evening") if _any(norm, words.time_words.get(k, ()))]
    other = [TIME_NL[k] for k in ("weekend", "weekdays", "anytime") if _any(norm, words.time_words.get(k, ()))]
    text_parts: list[str] = []
    if days or dayparts:
        day_text = " en ".join(days) if len(days) <= 2 else ", ".join(days[:-1]) + " en " + days[-1]
        text_parts.append(" ".join(p for p in [day_text, "/".join(dayparts)] if p))
    text_parts += other + parts
    if not text_parts:
        return None, used
    return ContactTimes(nl="; ".join(text_parts), text=raw.strip()[:200]), used


def _word_ranges(toks: Sequence[tuple[str, int | None]], words: Words, used: set[int], *,
                 timing: bool = False, dayparts: bool = False) -> list[tuple[tuple[int, int], set[int]]]:
    """Time ranges said in words: "من 9 حتى 11", "van 9 tot 11 uur", "between 9 and 11",
    "از ساعت ۹ تا ۱۱", "9'dan 11'e kadar" (read as "9 11 kadar").

    A range is two clock hours (0-24), hour words allowed beside each, joined by
    ``range_end_words`` ("tot", "حتى", "to") after a ``range_start_words`` word ("van",
    "من", "from"), next to a time word, or when the end word also means "before" ("2 until
    5"); or joined by ``range_and_words`` ("en", "و", "and") or nothing after a start word
    and next to a time word or an open contact question (``timing``; parts of the day in
    the message: ``dayparts``) — "kinderen van 3 en 5" are children; or closed by
    ``range_close_words`` after the second hour ("kadar", "arası"). A second number followed
    by an age, month or week word is no time ("van 3 tot 5 jaar"). Hours 1-7 are afternoon
    hours ("2 tot 5" = 14:00-17:00, as for "after 5").

    Returns:
        ``((start, end), token indexes)`` for each range, in 24-hour hours.
    """
    found: list[tuple[tuple[int, int], set[int]]] = []
    taken: set[int] = set(used)
    hour_like = words.hour_words | words.clock_words

    def tok(i: int) -> str:
        return toks[i][0] if 0 <= i < len(toks) else ""

    for idx, (_, a) in enumerate(toks):
        if a is None or idx in taken or not 0 <= a <= 24:
            continue
        j = idx + 1
        if tok(j) in words.hour_words:
            j += 1
        end_word = tok(j) if tok(j) in words.range_end_words else ""
        and_word = "" if end_word else tok(j) if tok(j) in words.range_and_words else ""
        if end_word or and_word:
            j += 1
        if j in taken or j >= len(toks) or toks[j][1] is None or not 0 <= (toks[j][1] or 0) <= 24:
            continue
        b = toks[j][1]
        after = j + 1 if tok(j + 1) in hour_like else j
        follows = tok(after + 1)
        if follows in words.age_words or follows in words.months_words or follows in words.weeks_words:
            continue
        hour_next = tok(idx - 1) in hour_like
        started = tok(idx - 2 if hour_next else idx - 1) in words.range_start_words
        closed = any(tok(after + k) in words.range_close_words for k in (1, 2))
        timed = timing or hour_next or tok(idx + 1) in hour_like or after != j or dayparts
        if closed:
            pass  # "9 dan 11 e kadar"
        elif end_word:
            # "from 9 to 11", "2 until 5"; "to" alone needs a time ("kids 3 to 5" are ages)
            if not (started or timed or end_word in words.before_words):
                continue
        elif not (started and timed):
            continue  # "van 3 en 5" (of 3 and 5) are children; "tussen 2 en 4 uur" is a range
        if 1 <= a <= 7:
            a, b = a + 12, b + 12 if b <= 12 else b
        elif b <= a and b + 12 <= 24:
            b += 12  # "9 tot 1": until 13:00
        if not a < b <= 24:
            continue
        found.append(((a, b), set(range(idx, j + 1))))
        taken.update(range(idx, j + 1))
    return found


def _ages(norm: str, words: Words, skip: set[int]) -> tuple[list[int] | None, list[int] | None, bool, int | None]:
    """``(ages, bare numbers, pregnant, pregnancy months)``."""
    toks = _tokens_with_numbers(norm, words)
    pregnant = _any(norm, words.pregnancy_words)
    preg_months: int | None = None
    # a number word of several words may end in its unit ("ሓደ ዓመት", "یو کلن": one year old)
    has_cue = any(t.rsplit(" ", 1)[-1] in words.age_words or t in words.months_words or t in words.weeks_words
                  for t, _ in toks) \
        or _any(norm, [w for w in words.age_words if " " in w or is_arabic_script(w)])
    ages: list[int] = []
    age_at: list[int] = []  # the token index of each age (pregnancy months and weeks are not ages)
    counted = False  # a number was read as the count of children ("3 kinderen")
    # a pregnancy phrase may be several words ("ነፍሰ ጾር", "in verwachting"): its first word's index
    preg_positions = [i for i in range(len(toks))
                      if _any(" ".join(t for t, _ in toks[i:i + 3]), words.pregnancy_words)
                      and not (i > 0 and _any(" ".join(t for t, _ in toks[i - 1:i + 2]), words.pregnancy_words))]
    for idx, (tok, n) in enumerate(toks):
        if n is None or idx in skip:
            continue
        after = toks[idx + 1][0] if idx + 1 < len(toks) else ""
        before = toks[idx - 1][0] if idx > 0 else ""
        if before in words.after_words or before in words.before_words:
            continue  # "after 3 years", "بعد ٣ سنين": a duration, not a child's age
        lead = [t for t, _ in toks[max(0, idx - 3):idx]]
        if any(" ".join(lead[-size:]) in words.duration_lead_words for size in (1, 2, 3) if len(lead) >= size):
            continue  # "ik wacht al 1 jaar", "since 2 years": how long, not how old
        if after in words.duration_words:
            continue  # "3 dagen koorts": how long, not how old
        after_two = " ".join(t for t, _ in toks[idx + 1:idx + 3])
        if after in words.count_words or after_two in words.count_words:
            counted = True
            continue  # "4 carruur", "3 kinderen", "سه تا بچه": how many, not how old
        is_weeks = after in words.weeks_words
        is_months = not is_weeks and (
            after in words.months_words or (is_arabic_script(after) and after[1:] in words.months_words)
        )
        if pregnant and (is_months or is_weeks) and any(abs(p - idx) <= 3 for p in preg_positions):
            preg_months = n if is_months else max(1, n // 4)  # "7 months pregnant" / "zwanger van 30 weken"
            continue
        if is_months or is_weeks:
            ages.append(n // 12 if is_months else 0)  # "18 maanden" is 1 year old, "9 months" 0
            age_at.append(idx)
            continue
        if n > MAX_CHILD_AGE:
            continue
        ages.append(n)
        age_at.append(idx)
    first = next((i for i, (t, n) in enumerate(toks) if n is not None and i not in skip), None)
    listed = first is not None and first + 1 < len(toks) and toks[first + 1][1] is not None
    if len(ages) >= 2 and ages[0] == len(ages) - 1 and not listed and not counted:
        # "2 kinderen: 3 en 7" — the first number counts the children; not in a plain
        # list ("3, 6, 10 iyo 13": four ages, the first is not a count)
        ages, age_at = ages[1:], age_at[1:]
    if words.twin_words and ages:
        # "een tweeling van 3", "ikizlerim 4 yaşında", "۳ کلن غبرګوني": the age said
        # nearest to a twin word, within three words (after it on a tie), is two children's
        twins = [i for i, (t, _) in enumerate(toks) if t in words.twin_words
                 or (is_arabic_script(t) and t[:1] in "وبل" and t[1:] in words.twin_words)]
        for at in twins:
            near = sorted((abs(i - at), i < at, k) for k, i in enumerate(age_at) if 0 < abs(i - at) <= 3)
            if not near:
                continue
            has_cue = True  # "twins" says the number is children's ages
            k = near[0][2]
            if len(ages) < MAX_TWIN_AGES and ages.count(ages[k]) < 2:
                # (not when the age is already said twice: "twins, both 3 and 3")
                ages.insert(k, ages[k])
                age_at.insert(k, age_at[k])
    if not ages:
        return None, None, pregnant, preg_months
    if has_cue:
        return ages, None, pregnant, preg_months
    return None, ages, pregnant, preg_months


def _preference(norm: str, words: Words, slot: str, context: bool, bounds: frozenset[int] = frozenset(),
                request: bool = False) -> str | None:
    values = words.answers.get(slot) or {}
    if _any(norm, values.get("any", ())) and sum(_any(norm, v) for k, v in values.items() if k != "any") >= 2:
        return "any"  # "man of vrouw boeit niet", "alone or in a group, doesn't matter"
    found = _chosen_value(norm, {k: v for k, v in values.items() if k != "any"}, words, bounds)
    if found and slot == "contact_setting" and found[0] == "individual" and _only_before_gender(norm, found[1], words):
        return None  # "یوازې ښځه", "alleen een vrouw": only a woman, not "alone"
    if found and not found.strong and context and not request and len(norm.split()) > LONG_STORY_WORDS:
        # a long message: the cue must stand by the wish ("a woman please"), not anywhere
        # ("mijn vrouw huilt ... het is beter als zij er niet meer is" is no wish for a woman)
        context = _cue_near(norm, found[1], words)
    if found and (context or found.strong):
        return found[0]
    return None


#: The questions of the contact form: a message typed while one is open is about contact.
CONTACT_QUESTIONS = frozenset({"person_type", "contact_channel", "contact_times", "contact_gender",
                               "contact_setting", "interpreter", "handoff_consent"})
#: A message longer than this many words needs its preference cue near the wish.
LONG_STORY_WORDS = 10
#: How many words on either side of a wish its cue may stand.
CUE_WINDOW = 4


def _cue_near(norm: str, word: str, words: Words) -> bool:
    """Whether a ``preference_cues`` phrase stands within :data:`CUE_WINDOW` words of an
    occurrence of ``word`` in ``norm`` ("only" counts: "یوازې ښځه، ..." = only a woman, ...)."""
    toks = norm.split()
    head = word.split()
    for i in range(len(toks) - len(head) + 1):
        if toks[i:i + len(head)] == head or (is_arabic_script(head[0]) and head[0] in toks[i]):
            window = " ".join(toks[max(0, i - CUE_WINDOW):i + len(head) + CUE_WINDOW])
            if _any(window, words.preference_cues):
                return True
    return False


def _only_before_gender(norm: str, word: str, words: Words) -> bool:
    """Whether every occurrence of the setting word ``word`` is followed at once (an
    ``article_words`` word such as "een" allowed) by a man/woman word: then it means "only" ("alleen een
    vrouw", "یوازې ښځه" = only a woman), not "alone"."""
    genders = {w for ws in (words.answers.get("contact_gender") or {}).values() for w in ws}
    if not genders:
        return False
    starts = [m.start() for m in re.finditer(re.escape(word), norm)]
    if not starts:
        return False
    for start in starts:
        after = norm[start + len(word):].split()
        if after and after[0] in words.article_words:
            after = after[1:]
        following = " ".join(after[:3])
        if not any(following == g or following.startswith(g + " ") for g in genders):
            return False
    return True



def _interpreter(norm: str, words: Words) -> bool | None:
    values = words.answers.get("interpreter") or {}
    found = _find_value(norm, values)
    if not found:
        return None
    value, word = found
    if value == "no":
        return False
    # "no interpreter", "geen tolk", "بدون مترجم": a negation right before the word
    toks = norm.split()
    head = word.split()[0]
    for i, t in enumerate(toks):
        if t == head or (is_arabic_script(head) and head in t):
            if any(x in words.negation_words for x in toks[max(0, i - 3):i]):
                return False
    # "tolk niet nodig", "tercüman gerekmez", "مترجم نمی‌خواهم": a negation after it
    start = norm.find(word)
    if start >= 0 and _negated_after(norm, start + len(word), words) is not None:
        return False
    return True


def extract(text: str, words: Words, gemeenten: GemeenteMatcher | None = None, *, open_question: str | None = None) -> Extraction:
    """Every fact in ``text`` (see :class:`Extraction`).

    Args:
        text: the parent's message as typed (button payloads starting with "/" give nothing).
        words: merged word lists (:meth:`Words.from_parsing`).
        gemeenten: the gemeente matcher, or None to skip places.
        open_question: the slot whose question is open, if known (the action server knows,
            the NLU pipeline does not): its facts need no context cue ("mornings" answers
            "when does it suit you?").

    Returns:
        An :class:`Extraction`; every field is None when the message does not say it.
    """
    out = Extraction()
    if not text or text.startswith("/"):
        return out
    # "1.5", "2,5 jaar": a half year is the whole years (else read as two numbers); a suffix
    # after an apostrophe is dropped ("leerplicht'ten" is not "ten", "klantmanager'imi")
    norm = _split_digits(normalise(_APOSTROPHE_SUFFIX.sub("", _HALF_YEAR.sub(r"\1", text))), words)
    if not norm:
        return out
    times, time_tokens = _times(norm, text, words, timing=open_question in CONTACT_QUESTIONS)
    out.contact_times = times
    ages, numbers, pregnant, preg_months = _ages(norm, words, time_tokens)
    out.children_ages, out.numbers = ages, numbers
    out.pregnant = True if pregnant else None
    out.pregnancy_months = preg_months
    if gemeenten is not None:
        match = gemeenten.find(text, negations=words.negation_words)
        if match:
            out.municipality = match.gemeente
    bounds = _clause_starts(_HALF_YEAR.sub(r"\1", text), norm, words)
    channel = _chosen_value(norm, dict(words.answers.get("contact_channel") or {}), words, bounds)
    person_words = words.answers.get("person_type") or {}
    person_values = {k: v for k, v in person_words.items() if k != "either"}
    # "klantmanager'ımı hiç tanımıyorum, bizden biri olsun": the klantmanager is set aside
    person = _chosen_value(norm, person_values, words, bounds)
    out.person_type = person[0] if person else None
    if person:
        # "klantmanager or someone else, doesn't matter", "klantmanager da olur anahtar kişi de"
        named = [k for k in ("klantmanager", "sleutelpersoon")
                 if k in person_values and _chosen_value(norm, {k: person_values[k]}, words, bounds) is not None]
        other_wishes = [v for slot in ("contact_gender", "contact_setting")
                        for k, v in (words.answers.get(slot) or {}).items() if k != "any"]
        indifferent: set[str] = set()
        if len(norm.split()) <= 8 and not any(_any(norm, v) for v in other_wishes):
            # "doesn't matter" is about the person only in a short answer that names no
            # man/woman or group (else it may be about those, or about the time)
            indifferent = set(person_words.get("either", ())).union(
                *((words.answers.get(slot) or {}).get("any", set()) for slot in ("contact_gender", "contact_setting")))
        if len(named) > 1 or _any(norm, indifferent):
            out.person_type = "either"
    # clock times and weekdays are contact times on their own in a short message; "at night",
    # "all day", and a clock time inside a longer story ("my 5 yo screams every nite till 11")
    # only with a cue
    strong_times = bool(times and re.search(r"\d\d:\d\d|(maan|dins|woens|donder|vrij|zater|zon)dag", times.nl)
                        and not (ages and len(norm.split()) > STRONG_TIME_WORDS))
    strong_channel = bool(channel and channel.strong)
    answering = open_question in CONTACT_QUESTIONS
    # a long story ("oja zaterdag was ze ff kwijt in de ikea ...") names a day, not when to call
    if (strong_times and not answering and len(norm.split()) > LONG_STORY_WORDS and not (person or strong_channel)
            and not _any(norm, words.preference_cues)):
        strong_times = False
    context = bool(person or strong_channel or strong_times or answering or _any(norm, words.preference_cues))
    short = len(norm.split()) <= SHORT_CONTACT_ANSWER_WORDS
    if channel and (context or short or channel[0] == "whatsapp"):
        out.contact_channel = channel[0]
    # "telefoon, subaxdii" / "تلفنی، صبح‌ها": a short answer naming a channel and a daypart
    if times and not (strong_times or context or open_question == "contact_times"
                      or (out.contact_channel and short)):
        out.contact_times = None
    elif (times and not strong_times and open_question != "contact_times" and len(norm.split()) > LONG_STORY_WORDS
          and not (person or strong_channel) and not _time_said_with_channel(text, words)):
        out.contact_times = None  # "mijn vrouw huilt de hele dag ... beter": a story, not when to call
    # a message that asks for a person or a channel, or answers a contact question, is a
    # contact request: its man/woman or alone/group wish needs no cue next to it
    request = bool(person or strong_channel or answering)
    out.contact_gender = _preference(norm, words, "contact_gender", context, bounds, request=request)
    out.contact_setting = _preference(norm, words, "contact_setting", context, bounds, request=request)
    out.interpreter = _interpreter(norm, words)
    caution = _longest(norm, words.contact_caution_words) if words.contact_caution_words else None
    if caution:
        out.contact_caution = text.strip()[:MAX_CAUTION_TEXT]  # the whole message: "don't call" and why
        gender_words = (words.answers.get("contact_gender") or {}).get(out.contact_gender or "", ())
        if out.contact_gender and _any(caution, gender_words):
            out.contact_gender = None  # "راجلي كيسمع" (my husband hears) is no wish for a man
    return out


#: The parent's words kept for a contact caution (characters).
MAX_CAUTION_TEXT = 200



def _time_said_with_channel(text: str, words: Words) -> bool:
    """Whether a clause of ``text`` names a channel and a contact time together ("..., we
    wonen in almere, bel liefst na 5"): when to call, also at the end of a long story."""
    channel_words = set().union(*(words.answers.get("contact_channel") or {}).values()) if words.answers.get(
        "contact_channel") else set()
    for clause in _CLAUSE_END.split(text):
        norm = _split_digits(normalise(clause), words)
        if norm and _any(norm, channel_words) and _times(norm, clause, words)[0] is not None:
            return True
    return False


def refuses_storage(text: str, words: Words) -> bool:
    """Whether ``text`` asks not to store anything ("bilgilerimi kaydetmeyin lutfen",
    ``refuse_storage_words``)."""
    return bool(text) and not text.startswith("/") and _any(normalise(text), words.refuse_storage_words)


def asks_deletion(text: str, words: Words) -> bool:
    """Whether ``text`` asks to delete what is stored ("..., verwijder mijn gegevens
    alstublieft", ``delete_request_words``), wherever in the message."""
    return bool(text) and not text.startswith("/") and _any(normalise(text), words.delete_request_words)


def answer_for(text: str, words: Words, slot: str, values: Sequence[str]) -> str | None:
    """The value of ``slot`` a typed answer means, when that question is open ("vrouw" → woman).

    Weaker than :func:`extract` (no context needed, "any"/"either" allowed): only used
    for the question that was asked.
    """
    norm = _split_digits(normalise(text), words)
    found = _chosen_value(norm, {k: v for k, v in (words.answers.get(slot) or {}).items() if k in values}, words,
                          _clause_starts(text, norm, words))
    return found[0] if found else None
