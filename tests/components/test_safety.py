"""The safety net: wegwijs.safety (normaliser, matcher) and SafetyKeywordClassifier.

Keyword files are written to a temp folder here, so the tests do not depend on the
real ``languages/*/safety.yml`` (which translators edit).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.language_id import LANGUAGE
from bot.components.safety import SAFETY, SafetyKeywordClassifier
from wegwijs.safety import Keyword, KeywordMatcher, files_fingerprint, normalise

SAFETY_FILES: Dict[str, Dict[str, Any]] = {
    "en": {
        "categories": {
            "self_harm": {"keywords": ["kill myself", "suicide", "end my life"], "misspellings": ["sucide"]},
            "violence_at_home": {"keywords": ["husband hits me", "domestic violence"], "misspellings": None},
            "medical_emergency": {"keywords": ["not breathing", "unconscious"]},
            "child_missing": {"keywords": ["child is missing", "cannot find my child"]},
            "child_abuse": {"keywords": ["touches my daughter"]},
        }
    },
    "nl": {
        "categories": {
            "self_harm": {"keywords": ["zelfmoord", "mezelf van kant maken"], "misspellings": ["zelfmoort"]},
            "violence_at_home": {"keywords": ["huiselijk geweld", "mijn man slaat mij"]},
            "medical_emergency": {"keywords": ["ademt niet", "bewusteloos"]},
            "child_missing": {"keywords": ["kind is vermist", "kind kwijt"]},
            "child_abuse": {"keywords": ["misbruikt"]},
        }
    },
    "ar": {
        "categories": {
            "self_harm": {"keywords": ["انتحار", "أقتل نفسي"]},
            "violence_at_home": {"keywords": ["زوجي يضربني", "عنف أسري"]},
            "medical_emergency": {"keywords": ["لا يتنفس", "فاقد الوعي"]},
            "child_missing": {"keywords": ["ابني مفقود", "طفلي ضائع"]},
            "child_abuse": {"keywords": ["تحرش بابنتي"]},
        }
    },
    "ti": {
        "categories": {
            "self_harm": {"keywords": ["ርእሰይ ክቐትል"]},
            "violence_at_home": {"keywords": ["ሰብኣየይ ይወቕዐኒ"]},
            "medical_emergency": {"keywords": ["ትንፋስ የብሉን"]},
            "child_missing": {"keywords": ["ወደይ ጠፊኡ"]},
            "child_abuse": {"keywords": ["ብጾታ ተተንኪፉ"]},
        }
    },
    "fr": {"categories": {"self_harm": {"keywords": ["suicide", "me tuer"]}}},
}


def write_languages(folder: Path, files: Dict[str, Any]) -> Path:
    """Writes ``<folder>/<lang>/safety.yml`` for each language; returns ``folder``."""
    for lang, document in files.items():
        (folder / lang).mkdir(parents=True, exist_ok=True)
        (folder / lang / "safety.yml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.fixture
def languages_dir(tmp_path: Path) -> Path:
    """A languages folder with safety.yml for en, nl, ar, ti, fr (and a folder without one)."""
    folder = write_languages(tmp_path / "languages", SAFETY_FILES)
    (folder / "so").mkdir()  # a language without safety.yml yet
    (folder / "registry.yml").write_text("supported: [nl, en, ar, ti]\n", encoding="utf-8")
    return folder


@pytest.fixture
def matcher(languages_dir: Path) -> KeywordMatcher:
    return KeywordMatcher.from_dir(languages_dir)


@pytest.fixture
def create_classifier(languages_dir: Path, model_storage, resource, execution_context):
    """Factory: ``create_classifier(config)`` merges the default config."""

    def make(config: Optional[Dict[str, Any]] = None) -> SafetyKeywordClassifier:
        merged = {**SafetyKeywordClassifier.get_default_config(), "languages_dir": str(languages_dir), **(config or {})}
        return SafetyKeywordClassifier.create(merged, model_storage, resource, execution_context)

    return make


# ------------------------------------------------------------------ normaliser


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Kill MYSELF!!", "kill myself"),
        ("  zelf-moord\n", "zelf moord"),
        ("Ça va très MAL", "ca va tres mal"),  # Latin accents stripped
        ("İNTİHAR ıntihar", "intihar intihar"),  # Turkish dotted/dotless i
        ("الاِنْتِحَارُ", "الانتحار"),  # Arabic diacritics removed
        ("أقتل إنتحار آخر", "اقتل انتحار اخر"),  # alef with hamza/madda → bare alef
        ("مدرسة", "مدرسه"),  # taa marbuta → haa
        ("زوجى يضربنى", "زوجي يضربني"),  # alef maksura → yaa
        ("زوجی یضربنی کودک", "زوجي يضربني كودك"),  # Persian yeh and keheh
        ("عنـــف", "عنف"),  # tatweel
        ("رقم \u2068١١٢\u2069", "رقم 112"),  # bidi isolates, Arabic-Indic digits
        ("ወደይ ጠፊኡ።", "ወደይ ጠፊኡ"),  # Ethiopic full stop
        ("Мой сын", "мои сын"),  # Cyrillic й loses its breve, consistently on both sides
        ("👍 🙏", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


# ------------------------------------------------------------------ matcher, per language


@pytest.mark.parametrize(
    "text, lang, category",
    [
        ("I want to kill myself", "en", "self_harm"),
        ("i think about SUICIDE every day", "en", "self_harm"),
        ("sucide", "en", "self_harm"),  # misspelling list
        ("my husband hits me, what do I do", "en", "violence_at_home"),
        ("the baby is not breathing!!", "en", "medical_emergency"),
        ("Ik denk aan zelfmoord", "nl", "self_harm"),
        ("zelfmoort", "nl", "self_harm"),
        ("mijn man slaat mij", "nl", "violence_at_home"),
        ("Mijn kind is vermist sinds gisteren", "nl", "child_missing"),
        ("أفكر في الانتحار", "ar", "self_harm"),  # clitic attached: matched anywhere
        ("أُفَكِّرُ فِي الاِنْتِحَارِ", "ar", "self_harm"),  # fully vocalised
        ("زوجى يضربنى كل يوم", "ar", "violence_at_home"),  # alef maksura spelling
        ("عنف اسري في البيت", "ar", "violence_at_home"),  # no hamza
        ("وابني مفقود منذ امس", "ar", "child_missing"),  # wa- prefix
        ("ሰብኣየይ ይወቕዐኒ እዩ", "ti", "violence_at_home"),
        ("ወደይ ጠፊኡ። ሓግዙኒ", "ti", "child_missing"),
        ("ርእሰይ ክቐትል ደልየ", "ti", "self_harm"),
    ],
)
def test_keywords_match(matcher: KeywordMatcher, text: str, lang: str, category: str) -> None:
    match = matcher.match(text, prefer_lang=lang)

    assert match is not None
    assert (match.category, match.lang) == (category, lang)


@pytest.mark.parametrize(
    "text",
    [
        "my child hits his brother",
        "my son is missing school",
        "an antisuicide campaign",  # Latin keyword inside a word: no word start
        "he killed it at the football match",
        "mijn kind slaat zijn broer",
        "mijn zoon mist school",
        "ابني يضرب أخاه",
        "المدرسة بعيدة عن البيت",
        "ወደይ ናብ ቤት ትምህርቲ ይኸይድ",
        "ሰላም ከመይ ኣለኹም",
        "",
        "👍",
    ],
)
def test_normal_parenting_talk_does_not_match(matcher: KeywordMatcher, text: str) -> None:
    assert matcher.match(text) is None


def test_every_language_is_checked_whatever_was_detected(matcher: KeywordMatcher) -> None:
    match = matcher.match("my neighbour said انتحار", prefer_lang="en")

    assert match is not None and (match.category, match.lang) == ("self_harm", "ar")


def test_the_detected_language_wins_when_several_lists_match(matcher: KeywordMatcher) -> None:
    assert matcher.match("suicide", prefer_lang="fr").lang == "fr"
    assert matcher.match("suicide", prefer_lang="en").lang == "en"
    assert matcher.match("suicide").lang == "en"  # same length: file order (en before fr)


def test_longest_keyword_wins() -> None:
    matcher = KeywordMatcher(
        [Keyword.make("kill", "self_harm", "en"), Keyword.make("kill myself", "self_harm", "en")]
    )

    assert matcher.match("I will kill myself").keyword == "kill myself"


def test_word_start_rule_per_script() -> None:
    latin = Keyword.make("moord", "self_harm", "nl")
    ethiopic = Keyword.make("ጠፊኡ", "child_missing", "ti")
    arabic = Keyword.make("قتل", "self_harm", "ar")

    assert latin.found_in(normalise("moorden"))  # starts at a word start
    assert not latin.found_in(normalise("zelfmoord"))  # inside a word
    assert ethiopic.found_in(normalise("ወደይ ጠፊኡ"))
    assert not ethiopic.found_in(normalise("ዘይጠፊኡ"))
    assert arabic.anywhere and arabic.found_in(normalise("سيقتلني"))


def test_match_all_lists_every_keyword(matcher: KeywordMatcher) -> None:
    found = matcher.match_all("suicide, my husband hits me")

    assert {(m.category, m.lang) for m in found} == {
        ("self_harm", "en"), ("self_harm", "fr"), ("violence_at_home", "en")
    }


def test_context_phrases_silence_every_keyword_of_the_message() -> None:
    matcher = KeywordMatcher.from_mapping({
        "en": {
            "categories": {"violence_at_home": {"keywords": ["will kill me"]}, "medical_emergency": {"keywords": ["seizure"]}},
            "not_urgent_context": ["now he is fine", "haha", "😂"],
        },
        "tr": {"categories": {}, "not_urgent_context": ["şimdi iyi"]},
    })

    assert matcher.match("my husband will kill me").category == "violence_at_home"
    assert matcher.match("my husband will kill me if he sees the new shoes haha") is None
    assert matcher.match("my husband will kill me when he sees this 😂") is None  # emoji: raw text
    assert matcher.match("he had a seizure last year, now he is fine, which doctor?") is None
    assert matcher.match("he had a seizure, simdi iyi") is None  # every language's context phrases count
    assert matcher.match_all("seizure haha") == []
    assert matcher.context_veto("plain text") is None


def test_malformed_files_are_reported_with_their_path(tmp_path: Path) -> None:
    (tmp_path / "xx").mkdir()
    (tmp_path / "xx" / "safety.yml").write_text("categories: [unclosed", encoding="utf-8")

    with pytest.raises(ValueError, match="xx/safety.yml"):
        KeywordMatcher.from_dir(tmp_path)


def test_wrong_shape_is_an_error(tmp_path: Path) -> None:
    write_languages(tmp_path, {"xx": {"categories": {"self_harm": {"keywords": [{"text": "x"}]}}}})

    with pytest.raises(ValueError, match="self_harm"):
        KeywordMatcher.from_dir(tmp_path)


# ------------------------------------------------------------------ the Rasa component


def parsed(text: str, lang: str = "en") -> Message:
    """A message as DIET + FallbackClassifier leave it."""
    return Message(
        data={
            TEXT: text,
            LANGUAGE: {"code": lang, "confidence": 0.9},
            INTENT: {"name": "topic_behaviour", "confidence": 0.61},
            INTENT_RANKING_KEY: [
                {"name": "topic_behaviour", "confidence": 0.61},
                {"name": "urgent_help", "confidence": 0.2},
            ],
        }
    )


def test_match_sets_urgent_help_and_keeps_the_ranking(create_classifier) -> None:
    message = parsed("mijn man slaat mij elke dag", "nl")
    ranking = copy.deepcopy(message.get(INTENT_RANKING_KEY))

    create_classifier().process([message])

    assert message.get(INTENT) == {"name": "urgent_help", "confidence": 1.0}
    assert message.get(INTENT_RANKING_KEY) == ranking
    output = message.as_dict(only_output_properties=True)
    assert output[SAFETY] == {"category": "violence_at_home", "keyword": "mijn man slaat mij", "lang": "nl"}
    assert output[INTENT]["name"] == "urgent_help"


@pytest.mark.parametrize(
    "text, lang, expected_lang",
    [("I want to end my life", "en", "en"), ("أفكر في الانتحار", "ar", "ar"), ("ወደይ ጠፊኡ", "ti", "ti"),
     ("ወደይ ጠፊኡ", "am", "ti")],  # detected as Amharic: the Tigrinya list still fires
)
def test_component_matches_per_language(create_classifier, text: str, lang: str, expected_lang: str) -> None:
    message = parsed(text, lang)

    create_classifier().process([message])

    assert message.get(SAFETY)["lang"] == expected_lang
    assert message.get(INTENT)["name"] == "urgent_help"


def test_no_match_leaves_the_intent_and_sets_safety_none(create_classifier) -> None:
    message = parsed("my child hits his brother")

    create_classifier().process([message])

    assert message.get(INTENT) == {"name": "topic_behaviour", "confidence": 0.61}
    assert message.get(SAFETY) is None
    assert SAFETY not in message.as_dict(only_output_properties=True)  # Rasa drops None values


def test_custom_intent_name(create_classifier) -> None:
    message = parsed("suicide")

    create_classifier({"intent": "emergency"}).process([message])

    assert message.get(INTENT)["name"] == "emergency"


def test_fingerprint_follows_the_keyword_files(languages_dir: Path) -> None:
    config = {"languages_dir": str(languages_dir)}
    before = SafetyKeywordClassifier.fingerprint_addon(config)
    assert SafetyKeywordClassifier.fingerprint_addon(config) == before

    write_languages(languages_dir, {"so": {"categories": {"self_harm": {"keywords": ["is dil"]}}}})

    assert SafetyKeywordClassifier.fingerprint_addon(config) != before
    assert files_fingerprint(languages_dir) == SafetyKeywordClassifier.fingerprint_addon(config)


def test_missing_folder_is_an_error(create_classifier, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        create_classifier({"languages_dir": str(tmp_path / "nowhere")})


def test_empty_safety_net_needs_allow_empty(create_classifier, tmp_path: Path) -> None:
    (tmp_path / "empty" / "nl").mkdir(parents=True)

    with pytest.raises(ValueError, match="no safety keywords"):
        create_classifier({"languages_dir": str(tmp_path / "empty")})
    classifier = create_classifier({"languages_dir": str(tmp_path / "empty"), "allow_empty": True})
    message = parsed("suicide")
    classifier.process([message])
    assert message.get(SAFETY) is None
