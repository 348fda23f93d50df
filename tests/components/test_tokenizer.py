"""MultilingualSpacyTokenizer: pipeline per detected language, Rasa tokenizer contract."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.language_id import LANGUAGE, FastTextLanguageIdentifier
from bot.components.tokenizer import MultilingualSpacyTokenizer
from tests.components.contract import TOKENIZER_CHECKS


def create_tokenizer(config: Optional[Dict[str, Any]] = None) -> MultilingualSpacyTokenizer:
    """Factory merging the default config (as Rasa's GraphNode does)."""
    return MultilingualSpacyTokenizer({**MultilingualSpacyTokenizer.get_default_config(), **(config or {})})


def message_in(text: str, lang: Optional[str], confidence: float = 0.99) -> Message:
    """A message as FastTextLanguageIdentifier leaves it."""
    data: Dict[str, Any] = {TEXT: text}
    if lang is not None:
        data[LANGUAGE] = {"code": lang, "confidence": confidence}
    return Message(data=data)


# text, detected language, expected tokens, expected start offsets
TABLE = [
    ("I don't know, my son's 12.", "en",
     ["I", "do", "n't", "know", ",", "my", "son", "'s", "12", "."], [0, 2, 4, 8, 12, 14, 17, 20, 23, 25]),
    ("Hij gaat 's avonds naar school, m'n zoon.", "nl",
     ["Hij", "gaat", "'s", "avonds", "naar", "school", ",", "m'n", "zoon", "."], [0, 4, 9, 12, 19, 24, 30, 32, 36, 40]),
    ("ابني مريض، ماذا أفعل؟", "ar", ["ابني", "مريض", "،", "ماذا", "أفعل", "؟"], [0, 5, 9, 11, 16, 20]),
    ("ወደይ ሓሚሙ። እንታይ ክገብር?", "ti", ["ወደይ", "ሓሚሙ", "።", "እንታይ", "ክገብር", "?"], [0, 4, 7, 9, 14, 18]),
    ("ልጄ ታሟል። ምን ላድርግ?", "am", ["ልጄ", "ታሟል", "።", "ምን", "ላድርግ", "?"], [0, 3, 6, 8, 11, 15]),
    ("پسرم مریض است، چه کار کنم؟", "fa", ["پسرم", "مریض", "است", "،", "چه", "کار", "کنم", "؟"], [0, 5, 10, 13, 15, 18, 22, 25]),
    ("پسرم مریض است، چه کار کنم؟", "prs", ["پسرم", "مریض", "است", "،", "چه", "کار", "کنم", "؟"], [0, 5, 10, 13, 15, 18, 22, 25]),
    ("l'école d'Amsterdam, c'est loin", "fr",
     ["l'", "école", "d'", "Amsterdam", ",", "c'", "est", "loin"], [0, 2, 8, 10, 19, 21, 23, 27]),
    ("Мой сын болен, что делать?", "ru", ["Мой", "сын", "болен", ",", "что", "делать", "?"], [0, 4, 8, 13, 15, 19, 25]),
    ("Oğlum hasta, ne yapmalıyım?", "tr", ["Oğlum", "hasta", ",", "ne", "yapmalıyım", "?"], [0, 6, 11, 13, 16, 26]),
    # no detected language / a language spaCy lacks / undetermined → "xx" rules
    ("I don't know, ሓሚሙ።", None, ["I", "don't", "know", ",", "ሓሚሙ።"], [0, 2, 8, 12, 14]),
    ("I don't know, ሓሚሙ።", "so", ["I", "don't", "know", ",", "ሓሚሙ።"], [0, 2, 8, 12, 14]),
    ("👍👍", "und", ["👍", "👍"], [0, 1]),
    ("  hi   there \n ok ", "en", ["hi", "there", "ok"], [2, 7, 15]),
]


@pytest.mark.parametrize("text, lang, expected_tokens, expected_indices", TABLE)
def test_tokens_follow_the_detected_language(
    text: str, lang: Optional[str], expected_tokens: List[str], expected_indices: List[int]
) -> None:
    tokens = create_tokenizer().tokenize(message_in(text, lang), TEXT)

    assert [t.text for t in tokens] == expected_tokens
    assert [t.start for t in tokens] == expected_indices


@pytest.mark.parametrize("check", TOKENIZER_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("text, lang", [(row[0], row[1]) for row in TABLE])
def test_tokenizer_contract(check, text: str, lang: Optional[str]) -> None:
    check(create_tokenizer(), message_in(text, lang))


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_gives_no_tokens(text: str) -> None:
    assert create_tokenizer().tokenize(message_in(text, "en"), TEXT) == []


def test_low_confidence_uses_the_default_pipeline() -> None:
    tokenizer = create_tokenizer({"min_confidence": 0.5})

    sure = tokenizer.tokenize(message_in("I don't know", "en", 0.9), TEXT)
    unsure = tokenizer.tokenize(message_in("I don't know", "en", 0.3), TEXT)

    assert [t.text for t in sure] == ["I", "do", "n't", "know"]
    assert [t.text for t in unsure] == ["I", "don't", "know"]


def test_user_config_keys_are_kept() -> None:
    tokenizer = create_tokenizer({"token_pattern": r"(?u)\b\w+\b", "default_language": "en"})

    tokens = tokenizer.tokenize(message_in("m'n zoon", None), TEXT)

    assert tokenizer._config["token_pattern"] == r"(?u)\b\w+\b"
    assert [t.text for t in tokens] == ["m", "n", "zoon"]
    assert [t.start for t in tokens] == [0, 2, 4]


def test_intent_names_are_split_when_configured() -> None:
    example = Message(data={TEXT: "school", INTENT: "topic_school"})

    create_tokenizer({"intent_tokenization_flag": True}).process_training_data(TrainingData([example]))

    assert [t.text for t in example.get(TOKENS_NAMES[INTENT])] == ["topic", "school"]
    assert [t.text for t in example.get(TOKENS_NAMES[TEXT])] == ["school"]


def test_pipelines_are_shared_per_spacy_language() -> None:
    tokenizer = create_tokenizer({"languages": ["fa", "prs", "so", "ps"]})

    assert tokenizer.pipeline_for(message_in("x", "prs")) is tokenizer.pipeline_for(message_in("x", "fa"))
    assert tokenizer.pipeline_for(message_in("x", "so")) is tokenizer.pipeline_for(message_in("x", None))
    assert tokenizer.pipeline_for(message_in("x", "ps")).lang == "xx"


def test_unknown_default_language_is_a_config_error() -> None:
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException, match="default_language"):
        create_tokenizer({"default_language": "zz-not-a-language"})


def test_works_after_the_language_identifier(tiny_lid_model, model_storage, resource, execution_context) -> None:
    identifier = FastTextLanguageIdentifier.create(
        {**FastTextLanguageIdentifier.get_default_config(), "model_path": str(tiny_lid_model)},
        model_storage,
        resource,
        execution_context,
    )
    english = Message(data={TEXT: "I don't know where the doctor is"})
    tigrinya = Message(data={TEXT: "ወደይ ሓሚሙ እዩ። እንታይ ክገብር?"})

    tokenizer = create_tokenizer()
    tokenizer.process(identifier.process([english, tigrinya]))

    assert [t.text for t in english.get(TOKENS_NAMES[TEXT])][:3] == ["I", "do", "n't"]  # English rules
    assert "።" in [t.text for t in tigrinya.get(TOKENS_NAMES[TEXT])]  # Tigrinya rules split ።
