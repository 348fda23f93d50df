"""The sticky conversation-language rule."""

from __future__ import annotations

import pytest

from wegwijs.language import choose_language, script_of

SUPPORTED = ["nl", "en", "ar", "ti"]
SCRIPTS = {"nl": "LATIN", "en": "LATIN", "ar": "ARABIC", "ti": "ETHIOPIC"}


@pytest.mark.parametrize(
    "current, detected, conf, text, choice, expected",
    [
        (None, "ar", 0.99, "مرحبا كيف الحال", None, "ar"),   # first message sets it
        (None, "am", 0.99, "ሰላም ነው", None, "en"),            # unsupported → default
        (None, "und", 0.0, "👍", None, "en"),
        ("ar", "en", 0.99, "ok", None, "ar"),                  # short: keep
        ("ar", "tr", 0.99, "salam", None, "ar"),
        ("ti", "am", 0.95, "እሺ አመሰግናለሁ በጣም", None, "ti"),    # unsupported: keep
        ("ar", "en", 0.97, "can we talk in English please", None, "en"),  # long + confident: switch
        ("ar", "en", 0.60, "can we talk in English please", None, "ar"),  # not confident: keep
        ("nl", "en", 0.99, '/inform{"language_choice":"ti"}', "ti", "ti"),  # menu choice wins
        ("nl", "en", 0.99, '/inform{"language_choice":"xx"}', "xx", "nl"),  # unknown choice ignored
        (None, "nl", 0.58, "salam", None, "en"),               # unsure first message → default
        ("ti", "nl", 0.97, "ኣብ gemeente Amersfoort እየ ዘለኹ", None, "ti"),  # Ge'ez text with Dutch words
        ("nl", "ar", 0.97, "ابني عمره سبع سنين", None, "ar"),   # Arabic script, Arabic detected
        ("en", "ar", 0.95, "kifak ibni 3ando 7arara", None, "en"),  # Arabizi: no switch to Arabic script
        ("en", "ar", 0.97, "ابني في school ما بدو يروح", None, "ar"),  # Dutch/English words in Arabic ok
    ],
)
def test_choose_language(current, detected, conf, text, choice, expected) -> None:
    got = choose_language(
        current=current, detected=detected, confidence=conf, text=text,
        choice=choice, supported=SUPPORTED, default="en", scripts=SCRIPTS,
    )
    assert got == expected


def test_a_guess_after_a_short_first_message_is_not_sticky() -> None:
    def lang(current, detected, conf, text, confirmed, hint=None):
        return choose_language(current=current, detected=detected, confidence=conf, text=text, choice=None,
                               supported=SUPPORTED, default="en", scripts=SCRIPTS, confirmed=confirmed, hint=hint)

    assert lang(None, "nl", 0.9, "hallo", False, hint="nl") == "nl"       # one language types "hallo"
    assert lang(None, "nl", 0.98, "salam", False) == "en"                 # several do: no guess
    assert lang("en", "nl", 0.6, "ja", False, hint="nl") == "nl"          # "hallo", then "ja": Dutch
    assert lang("en", "nl", 0.9, "ik heb een vraag over school", False) == "nl"  # 0.7 is enough now
    assert lang("en", "nl", 0.9, "ik heb een vraag over school", True) == "nl"
    assert lang("en", "nl", 0.75, "ik heb een vraag over school", True) == "en"  # confirmed: sticky
    assert lang("en", "nl", 0.6, "ja", True, hint="nl") == "en"           # confirmed: one word never switches


def test_script_of() -> None:
    assert script_of("ኣብ gemeente Amersfoort እየ ዘለኹ") == "LATIN"  # letters counted, not words
    assert script_of("ሰላም ከመይ ኣለኹም") == "ETHIOPIC"
    assert script_of("مرحبا") == "ARABIC"
    assert script_of("👍 123") is None


def test_persian_and_dari_never_switch_by_detection() -> None:
    kwargs = dict(detected="fa", confidence=0.97, text="دخترم ۶ ساله است، در هوفدورپ هستیم", choice=None,
                  supported=["nl", "en", "fa", "prs", "ar"], default="nl", confusable=[["fa", "prs"]])
    assert choose_language(current="prs", **kwargs) == "prs"
    assert choose_language(current="ar", **kwargs) == "fa"  # Arabic to Persian is told apart
    assert choose_language(current="prs", **{**kwargs, "choice": "fa"}) == "fa"


def test_arabizi_never_switches_an_arabic_conversation() -> None:
    from wegwijs.language import choose_language

    from wegwijs.content.loader import load_registry

    kw = dict(supported=["nl", "en", "ar", "so"], default="en", confirmed=True, confidence=0.95, choice=None,
              digit_letter_languages=load_registry().digit_letter_languages)
    assert choose_language(current="ar", detected="so", text="imsa7 kel ma3lumati law sama7t", **kw) == "ar"
    assert choose_language(current="ar", detected="so", text="waan helnay alxamdulilaah wiilkeygii waa nabad", **kw) == "so"
    assert choose_language(current="ar", detected="en", text="my son is 3 and 5 years old now", **kw) == "en"


def test_a_chosen_language_and_a_non_latin_one_are_sticky() -> None:
    scripts = {"nl": "LATIN", "en": "LATIN", "fa": "ARABIC", "prs": "ARABIC", "ps": "ARABIC"}
    kw = dict(supported=list(scripts), default="nl", confirmed=True, confidence=0.95, choice=None, scripts=scripts)
    # a Pashto father who chose Pashto answers with a Dari phrase
    assert choose_language(current="ps", detected="prs", text="بلی، مشکل نیست", chosen=True, **kw) == "ps"
    assert choose_language(current="ps", detected="prs", text="بلی، مشکل نیست", chosen=False, **kw) == "prs"
    assert choose_language(current="ps", detected="prs", chosen=True, **kw,
                           text="زه غواړم دری خبرې وکړم ځکه چې زما ښځه یې پوهیږي") == "prs"
    # Finglish in a Persian conversation: Latin letters, a few words
    assert choose_language(current="fa", detected="nl", text="na merci, zakhire nakonid", **kw) == "fa"
    assert choose_language(current="fa", detected="en", text="sorry I want to write in English from now on", **kw) == "en"
