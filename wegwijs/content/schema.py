"""Typed schema of the content a translator or municipality edits.

Every file under ``languages/`` is parsed into these pydantic (1.x, Rasa pins
``pydantic<1.10.10``) models. Limits come from the WhatsApp Cloud API message
rules (reply buttons: at most 3, title at most 20 characters; list rows: at
most 10, row title at most 24 characters; text body at most 4096 characters),
as listed in BRIEF section 3 and STYLE.md item 5.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, validator

#: WhatsApp Cloud API limits (characters / counts).
MAX_BODY = 4096
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROW_TITLE = 24
#: Our own limit for one tip: it must fit a phone screen.
MAX_TIP = 400

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class ContentError(ValueError):
    """A content file is missing, malformed or breaks a limit.

    Attributes:
        lang: language code of the folder (``"ar"``), or ``"*"`` for shared files.
        file: file name inside the language folder (``"responses.yml"``).
        key: the offending key path (``"utter_ask_consent.buttons[0].title"``).
        msg: what is wrong, with the actual value or length.
    """

    def __init__(self, lang: str, file: str, key: str, msg: str) -> None:
        self.lang, self.file, self.key, self.msg = lang, file, key, msg
        super().__init__(f"languages/{lang}/{file}: {key}: {msg}")


class Button(BaseModel):
    """One quick-reply button: a title the parent reads and a Rasa payload."""

    title: str
    payload: str

    @validator("title")
    def _title_fits(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty button title")
        if len(v) > MAX_BUTTON_TITLE:
            raise ValueError(
                f"button title is {len(v)} characters, WhatsApp allows {MAX_BUTTON_TITLE}: {v!r}"
            )
        return v

    @validator("payload")
    def _payload_is_intent(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"payload must start with '/': {v!r}")
        return v


class Response(BaseModel):
    """One response text (with optional buttons) in one language."""

    text: str
    buttons: list[Button] = Field(default_factory=list)

    @validator("text")
    def _text_fits(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty text")
        if len(v) > MAX_BODY:
            raise ValueError(f"text is {len(v)} characters, WhatsApp allows {MAX_BODY}")
        return v

    @validator("buttons")
    def _few_buttons(cls, v: list[Button]) -> list[Button]:
        if len(v) > MAX_BUTTONS:
            raise ValueError(f"{len(v)} buttons, WhatsApp allows {MAX_BUTTONS}")
        return v

    def placeholders(self) -> set[str]:
        """Names of ``{placeholder}`` fields in the text."""
        return set(PLACEHOLDER.findall(self.text))


class Meta(BaseModel):
    """``meta.yml``: who the language is and how far its text was reviewed."""

    code: str
    name: str
    english_name: str
    dutch_name: str
    direction: str = "ltr"
    spacy_lang: str
    review: str
    review_note: str = ""

    @validator("direction")
    def _direction(cls, v: str) -> str:
        if v not in ("ltr", "rtl"):
            raise ValueError(f"direction must be ltr or rtl, not {v!r}")
        return v

    @validator("review")
    def _review(cls, v: str) -> str:
        allowed = ("native-reviewed", "unreviewed", "untranslated")
        if v not in allowed:
            raise ValueError(f"review must be one of {allowed}, not {v!r}")
        return v


class Parsing(BaseModel):
    """``parsing.yml``: words the intake parser needs in this language."""

    number_words: dict[str, int]
    months_words: list[str] = Field(default_factory=list)
    pregnancy_words: list[str] = Field(default_factory=list)
    #: words joining a unit and ten in spoken teens ("laba iyo toban" = 12)
    number_connectors: list[str] = Field(default_factory=list)
    #: synonyms of button answers a parent may type: {slot: {value: [words]}}
    #: (contact_channel, contact_gender, contact_setting, person_type, interpreter, consent)
    answer_words: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    #: words that say numbers are children's ages ("years", "old", "kids", "son")
    age_words: list[str] = Field(default_factory=list)
    #: words for "week(s)" (a baby of 6 weeks is 0; "30 weeks pregnant")
    weeks_words: list[str] = Field(default_factory=list)
    #: words after a number that make it a duration, never a child's age ("3 dagen koorts",
    #: "3 maalin ayuu qandho qabaa": three days of fever)
    duration_words: list[str] = Field(default_factory=list)
    #: articles that may stand between "only" and "woman" ("alleen een vrouw")
    article_words: list[str] = Field(default_factory=list)
    #: words that make a number a clock time ("uur", "o'clock", "pm")
    hour_words: list[str] = Field(default_factory=list)
    #: words right before a number that make it a clock time, with "after"/"before" up to
    #: two words before them ("بعد از ساعت ۴" = after 16:00); unlike ``hour_words`` never
    #: read after the number ("روزی ۵ ساعت" is 5 hours a day)
    clock_words: list[str] = Field(default_factory=list)
    #: "after"/"from" and "before"/"until" (contact times)
    after_words: list[str] = Field(default_factory=list)
    before_words: list[str] = Field(default_factory=list)
    #: {morning|afternoon|evening|weekend|weekdays|anytime: [words]}
    time_words: dict[str, list[str]] = Field(default_factory=dict)
    #: {ma|di|wo|do|vr|za|zo: [words for that weekday]}
    day_words: dict[str, list[str]] = Field(default_factory=dict)
    #: words that make a message a stated preference ("please", "prefer", "liever")
    preference_cues: list[str] = Field(default_factory=list)
    #: negations before a word ("no", "geen", "بدون", "without")
    negation_words: list[str] = Field(default_factory=list)
    #: words after which an option is the one NOT wanted ("than", "instead of", "dan",
    #: "in plaats van"): "phone is better than whatsapp" → phone
    rather_than_words: list[str] = Field(default_factory=list)
    #: words right after a number that make it a count of children, not an age ("3
    #: kinderen", "4 carruur", "3 çocuk", "سه تا بچه"); one or two words each
    count_words: list[str] = Field(default_factory=list)
    #: negations that come after the word they negate ("whatsapp niet", "واټساپ نه کاروم",
    #: "whatsapp değil", "whatsapp ma isticmaalo"): within three words after an option,
    #: with no other option in between or right after, they set that option aside
    negated_after_words: list[str] = Field(default_factory=list)
    #: phrases that refuse storing data ("niet opslaan", "bilgilerimi kaydetmeyin"): typed
    #: in a first message, before the privacy question, they are the parent's no
    refuse_storage_words: list[str] = Field(default_factory=list)
    #: words for twins ("tweeling", "twins", "توأم", "ikiz"): the age said next to one
    #: counts for two children ("een tweeling van 3" = 3 and 3)
    twin_words: list[str] = Field(default_factory=list)
    #: phrases that ask for care in how the parent is contacted because someone may hear
    #: or see it ("mijn man kan meeluisteren", "kocam duyuyor", "شوهرم میشنوه"): the
    #: summary tells the person to be careful, with the parent's words
    contact_caution_words: list[str] = Field(default_factory=list)
    #: words right before a place name that make an ordinary word a gemeente ("in Best",
    #: "ساكنين ب..."), and postpositions right after it ("Leiden ውስጥ"); the gemeente
    #: matcher (wegwijs/intake/gemeenten.py) merges them over all languages
    place_cues: list[str] = Field(default_factory=list)
    place_post_cues: list[str] = Field(default_factory=list)
    #: phrases that ask to delete what is stored ("verwijder mijn gegevens", "bilgilerimi
    #: silin"): a message with one is a deletion request whatever the classifier read
    #: (the deletion is confirmed first); an emergency stays an emergency
    delete_request_words: list[str] = Field(default_factory=list)
    #: one to three words right before a number that make it a duration, never an age
    #: ("sinds 2 jaar", "ik wacht al 1 jaar", "منذ سنتين")
    duration_lead_words: list[str] = Field(default_factory=list)
    #: a contact time range said in words ("van 9 tot 11", "من 9 حتى 11", "9'dan 11'e
    #: kadar"): the words before the first hour ("van", "من", "between"), between the two
    #: hours ("tot", "حتى", "to"; "and" words apart: they need a time word beside them),
    #: and after the second ("kadar", "arası")
    range_start_words: list[str] = Field(default_factory=list)
    range_end_words: list[str] = Field(default_factory=list)
    range_and_words: list[str] = Field(default_factory=list)
    range_close_words: list[str] = Field(default_factory=list)
    #: words parents of this language type in Latin letters as a whole first message
    #: ("salam", "selam", "na3am"): a message of one or two such words is offered this
    #: language too, whatever its own script (actions/language.py)
    latin_short_words: list[str] = Field(default_factory=list)


class SafetyCategory(BaseModel):
    """One danger category of ``safety.yml``: keywords plus misspellings."""

    keywords: list[str]
    misspellings: list[str] = Field(default_factory=list)

    def all_terms(self) -> list[str]:
        """Keywords and misspellings together, without empty strings."""
        return [t for t in [*self.keywords, *self.misspellings] if t and t.strip()]


class LanguagePack(BaseModel):
    """Everything one language folder holds, validated."""

    meta: Meta
    responses: dict[str, Response]
    labels: dict[str, dict[str, str]]
    topics: dict[str, str]
    tips: dict[str, dict[str, list[str]]]
    safety: dict[str, SafetyCategory]
    parsing: Parsing

    @validator("topics")
    def _topic_titles_fit(cls, v: dict[str, str]) -> dict[str, str]:
        for key, title in v.items():
            if len(title) > MAX_LIST_ROW_TITLE:
                raise ValueError(
                    f"topic {key!r} title is {len(title)} characters, "
                    f"a WhatsApp list row allows {MAX_LIST_ROW_TITLE}: {title!r}"
                )
        return v

    @validator("tips")
    def _tips_fit(cls, v: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
        for topic, groups in v.items():
            for group, tips in groups.items():
                for i, tip in enumerate(tips):
                    if len(tip) > MAX_TIP:
                        raise ValueError(
                            f"tips.{topic}.{group}[{i}] is {len(tip)} characters, limit {MAX_TIP}"
                        )
        return v

    def label(self, kind: str, value: Any) -> str:
        """The translated label for ``value`` of ``kind`` (``person_type``...), else ``str(value)``."""
        return self.labels.get(kind, {}).get(str(value), str(value))


class Registry(BaseModel):
    """``languages/registry.yml``: supported languages, topics, age groups."""

    supported: list[str]
    in_progress: list[str] = Field(default_factory=list)
    reference: str
    topics: list[str]
    menu_size: int = 10
    required_tip_topics: list[str]
    pregnancy_tip_topics: list[str] = Field(default_factory=list)
    age_groups: dict[str, tuple[int, int]]
    safety_categories: list[str]
    #: other names parents type for a language (besides meta.yml's three)
    language_aliases: dict[str, list[str]] = Field(default_factory=dict)
    #: groups of languages the detector cannot tell apart reliably: offered together
    confusable: list[list[str]] = Field(default_factory=list)
    #: languages parents also write in Latin letters with digits for missing sounds (Arabizi
    #: "ma3lumati"): such a message never switches the conversation away from them
    digit_letter_languages: list[str] = Field(default_factory=list)
    #: words that turn "someone who speaks Tigrinya" into a request for a person
    language_choice_blockers: list[str] = Field(default_factory=list)
